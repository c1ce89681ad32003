// Small DOM and REST helpers shared by the pages.

/**
 * h builds an element: h('a', { href: '/', class: 'x', onclick: fn }, 'text', child).
 * Attributes whose value is null, undefined or false are left out.
 */
export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'class') el.className = v
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k in el && typeof v !== 'string') el[k] = v
    else el.setAttribute(k, v === true ? '' : v)
  }
  append(el, children)
  return el
}

function append (el, children) {
  for (const c of children) {
    if (c == null || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.append(c instanceof Node ? c : String(c))
  }
}

/** seg writes a document name as one URL path segment (a slash becomes %2F). */
export const seg = (name) => encodeURIComponent(name)

/** docURL is the editor page of a document. */
export const docURL = (name) => '/d/' + seg(name)

/** apiURL is a document's REST resource, with an optional action. */
export const apiURL = (name, action = '') => '/api/v1/docs/' + seg(name) + (action ? '/' + action : '')

/** nameFromPath reads the document name from /d/<name>. */
export function nameFromPath (pathname) {
  const raw = pathname.replace(/^\/d\//, '')
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** validName mirrors the server's rule: 1 to 255 bytes, no control characters. */
export function validName (name) {
  const bytes = new TextEncoder().encode(name).length
  if (bytes === 0) return 'Enter a name.'
  if (bytes > 255) return 'A name is at most 255 bytes long.'
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'A name cannot contain control characters.'
  return ''
}

const TOKEN_KEY = 'quire:token'

/**
 * token is the access token the page was opened with (?token=, when the
 * server wants one), kept in sessionStorage for the tab's other pages;
 * '' without one.
 */
export const token = (() => {
  let t = ''
  try {
    t = new URLSearchParams(location.search).get('token') || ''
    if (t) sessionStorage.setItem(TOKEN_KEY, t)
    else t = sessionStorage.getItem(TOKEN_KEY) || ''
  } catch {}
  return t
})()

/** tokenClaims reads the token's claims (not verifying it: the server does). */
export function tokenClaims () {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))))
  } catch {
    return null
  }
}

/** apiFetch is fetch with the page's token, if any, as Authorization: Bearer. */
export function apiFetch (url, init = {}) {
  if (!token) return fetch(url, init)
  const headers = new Headers(init.headers)
  headers.set('Authorization', 'Bearer ' + token)
  return fetch(url, { ...init, headers })
}

/** getJSON fetches JSON, throwing an Error with the server's message. */
export async function getJSON (url, init) {
  const res = await apiFetch(url, { cache: 'no-store', ...init })
  if (!res.ok) throw await httpError(res)
  return res.status === 204 ? null : res.json()
}

export async function httpError (res) {
  let msg = res.status + ' ' + res.statusText
  try {
    const body = await res.json()
    if (body && body.error) msg = body.error
  } catch {}
  const err = new Error(msg)
  err.status = res.status
  return err
}

export function formatBytes (n) {
  if (!Number.isFinite(n)) return '–'
  if (n < 1024) return n + ' B'
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let i = -1
  do { n /= 1024; i++ } while (n >= 1024 && i < units.length - 1)
  return n.toFixed(n < 10 ? 1 : 0) + ' ' + units[i]
}

const rtf = typeof Intl !== 'undefined' && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat('en', { numeric: 'auto' }) : null

/** formatAgo says how long ago an RFC 3339 time was ("2 minutes ago"). */
export function formatAgo (iso, now = Date.now()) {
  if (!iso) return '–'
  const t = Date.parse(iso)
  if (!Number.isFinite(t)) return '–'
  const s = Math.round((t - now) / 1000)
  const abs = Math.abs(s)
  if (!rtf) return new Date(t).toLocaleString()
  if (abs < 45) return rtf.format(s, 'second')
  if (abs < 2700) return rtf.format(Math.round(s / 60), 'minute')
  if (abs < 64800) return rtf.format(Math.round(s / 3600), 'hour')
  return rtf.format(Math.round(s / 86400), 'day')
}

export function formatTime (iso) {
  const t = Date.parse(iso)
  return Number.isFinite(t) ? new Date(t).toLocaleString() : ''
}

/** every runs fn now and then every ms while the page is visible. */
export function every (ms, fn) {
  let timer = 0
  let running = false
  const tick = async () => {
    timer = 0
    running = true
    try {
      await fn()
    } catch (err) {
      console.error(err)
    } finally {
      running = false
      if (!document.hidden) timer = setTimeout(tick, ms)
    }
  }
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && !timer && !running) tick()
  })
  tick()
}

/** announce sets the text of a live region. */
export function announce (el, text) {
  el.textContent = ''
  // a fresh text node makes screen readers speak a repeated message
  setTimeout(() => { el.textContent = text }, 30)
}
