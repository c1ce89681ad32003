// The editor page, /d/<name>: Tiptap on the XmlFragment "default" (the
// field the REST Markdown and HTML exports render), synced with the server
// by y-websocket, kept in IndexedDB for offline work, with the others'
// cursors, the list of people here and a connection badge. With ?mode=text
// the same document is edited as plain text in CodeMirror, on the Text
// "codemirror" (see code.js).
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import { TaskList, TaskItem } from '@tiptap/extension-list'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence } from 'y-indexeddb'

import { h, apiURL, apiFetch, nameFromPath, httpError, announce, token, tokenClaims } from './util.js'
import { loadUser, saveUser, textOn, COLOURS } from './user.js'
import { Pending, watchServer } from './pending.js'

/** FIELD is the XmlFragment the editor binds: Tiptap's default. */
const FIELD = 'default'

/** CODE_FIELD is the Text the plain-text mode edits (code.js). */
const CODE_FIELD = 'codemirror'

/** CLOSE_DELETED is the close code quire sends when a document is deleted. */
const CLOSE_DELETED = 4410
/** CLOSE_AUTH_EXPIRED: the access token lapsed (the client does not retry). */
const CLOSE_AUTH_EXPIRED = 4401

export async function mount (main) {
  const name = nameFromPath(location.pathname)
  const mode = new URLSearchParams(location.search).get('mode') === 'text' ? 'text' : 'rich'
  document.title = name + ' · quire'

  const doc = new Y.Doc()
  const idb = new IndexeddbPersistence('quire:' + name, doc)
  const wsBase = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/ws'
  const provider = new WebsocketProvider(wsBase, encodeURIComponent(name), doc, {
    connect: navigator.onLine,
    params: token ? { token } : {},
    maxBackoffTime: 5000
  })
  const pending = new Pending(doc, name, (origin) => origin !== provider && origin !== idb)
  watchServer(provider, (type, payload) => pending.fromServer(type, payload))

  let user = loadUser()

  // ---- layout
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite' })
  const badge = h('p', { class: 'badge', id: 'connection', role: 'status', 'aria-live': 'polite' })
  const notice = h('div', { class: 'notice', role: 'alert', hidden: true })
  const downloads = h('div', { class: 'downloads', role: 'group', 'aria-label': 'Download' },
    h('span', { class: 'muted small', 'aria-hidden': 'true' }, 'Download'),
    mode === 'rich'
      ? [downloadLink(name, 'markdown', FIELD, 'Markdown', '.md', live), downloadLink(name, 'html', FIELD, 'HTML', '.html', live)]
      : downloadLink(name, 'text', CODE_FIELD, 'Text', '.txt', live),
    downloadLink(name, 'json', '', 'JSON', '.json', live))
  const modes = h('nav', { class: 'modes', 'aria-label': 'Editing mode' },
    h('a', { href: location.pathname, 'aria-current': mode === 'rich' ? 'page' : null }, 'Rich text'),
    h('a', { href: location.pathname + '?mode=text', 'aria-current': mode === 'text' ? 'page' : null }, 'Plain text'))
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Formatting', 'aria-controls': 'editor' })
  const editorHost = h('div', { class: 'editor-host' })
  const people = h('ul', { class: 'people', id: 'people' })
  const peopleHeading = h('h2', { id: 'people-heading' }, 'People here')
  const nameInput = h('input', { id: 'user-name', type: 'text', value: user.name, maxlength: '60', autocomplete: 'nickname' })
  const colourInput = h('input', { id: 'user-colour', type: 'color', value: user.color })
  const you = h('form', { class: 'you', 'aria-labelledby': 'you-heading' },
    h('h2', { id: 'you-heading' }, 'You'),
    h('label', { for: 'user-name' }, 'Your name'), nameInput,
    h('label', { for: 'user-colour' }, 'Your colour'),
    h('div', { class: 'row' }, colourInput,
      h('div', { class: 'swatches', role: 'group', 'aria-label': 'Suggested colours' },
        COLOURS.map((c) => h('button', {
          type: 'button', class: 'swatch', style: 'background:' + c, title: c, 'aria-label': 'Colour ' + c,
          onclick: () => { colourInput.value = c; setUser({ color: c }) }
        })))))

  main.replaceChildren(
    h('div', { class: 'doc-head' },
      h('h1', { class: 'doc-title' }, h('span', { class: 'sr-only' }, 'Document '), name),
      badge, downloads, modes),
    notice,
    h('div', { class: 'doc-layout' },
      h('section', { class: 'doc-main', 'aria-label': 'Editor' }, mode === 'rich' ? toolbar : null, editorHost),
      h('aside', { class: 'doc-side', 'aria-label': 'Collaboration' },
        h('section', { 'aria-labelledby': 'people-heading' }, peopleHeading, people), you)),
    live)

  // ---- editor
  let binding
  if (mode === 'rich') {
    binding = createRich(editorHost, doc, provider, user)
    buildToolbar(toolbar, binding.editor)
  } else {
    const { createCode } = await import('./code.js')
    binding = createCode(editorHost, doc, provider, user)
  }

  // A read-only token: the server refuses this page's edits, so it does
  // not offer them.
  const claims = tokenClaims()
  if (claims && claims.mode !== 'write' && !claims.admin) {
    binding.setEditable(false)
    showNotice(notice, 'Read only: your access token lets you read this document, not change it.')
  }

  // ---- you
  function setUser (patch) {
    const next = { ...user, ...patch }
    if (!next.name.trim()) return
    user = { name: next.name.trim().slice(0, 60), color: next.color.toLowerCase() }
    saveUser(user)
    binding.setUser(user)
  }
  nameInput.addEventListener('change', () => setUser({ name: nameInput.value }))
  nameInput.addEventListener('input', () => { if (nameInput.value.trim()) setUser({ name: nameInput.value }) })
  colourInput.addEventListener('input', () => setUser({ color: colourInput.value }))
  you.addEventListener('submit', (e) => { e.preventDefault(); setUser({ name: nameInput.value }) })

  // ---- people here
  const renderPeople = () => {
    const list = []
    for (const [client, state] of provider.awareness.getStates()) {
      if (!state || !state.user) continue
      list.push({ client, me: client === doc.clientID, ...state.user })
    }
    list.sort((a, b) => (b.me - a.me) || String(a.name).localeCompare(String(b.name)))
    peopleHeading.textContent = `People here (${list.length})`
    people.replaceChildren(...list.map((p) => h('li', { dataset: { client: String(p.client) } },
      h('span', { class: 'dot', style: 'background:' + safeColour(p.color), 'aria-hidden': 'true' }),
      h('span', { class: 'person' }, String(p.name || 'Someone')),
      p.me ? h('span', { class: 'muted small' }, ' (you)') : null)))
  }
  provider.awareness.on('change', renderPeople)
  renderPeople()

  // ---- connection badge
  let everConnected = false
  let deleted = false
  let refused = false
  let pendingSince = 0
  const renderBadge = () => {
    let state, label
    const n = pending.count
    if (n === 0) pendingSince = 0
    else if (!pendingSince) pendingSince = Date.now()
    if (deleted) {
      state = 'deleted'; label = 'Deleted'
    } else if (refused) {
      state = 'refused'; label = 'Access refused'
    } else if (!navigator.onLine) {
      state = 'offline'; label = 'Offline'
    } else if (provider.wsconnected && provider.synced) {
      state = 'connected'; label = 'Connected'
    } else if (everConnected && provider.wsUnsuccessfulReconnects >= 4) {
      state = 'offline'; label = 'Offline (server unreachable)'
    } else if (everConnected) {
      state = 'reconnecting'; label = 'Reconnecting…'
    } else {
      state = 'connecting'; label = 'Connecting…'
    }
    // While connected, edits are confirmed within milliseconds: only a
    // count that lingers is worth showing.
    const showCount = n > 0 && (state !== 'connected' || Date.now() - pendingSince > 2000)
    const text = label + (showCount ? ` · ${n} ${n === 1 ? 'edit' : 'edits'} waiting` : '')
    if (badge.textContent !== text) badge.textContent = text
    badge.dataset.state = state
    badge.dataset.pending = String(n)
  }
  provider.on('status', ({ status }) => {
    if (status === 'connected') everConnected = true
    renderBadge()
  })
  provider.on('sync', renderBadge)
  pending.onChange(renderBadge)
  setInterval(renderBadge, 1000)
  window.addEventListener('online', () => { if (!deleted) provider.connect(); renderBadge() })
  window.addEventListener('offline', () => { provider.disconnect(); renderBadge() })
  renderBadge()

  provider.on('closed', async ({ code, reason }) => {
    if (code === CLOSE_DELETED) {
      deleted = true
      binding.setEditable(false)
      pending.clear()
      await idb.clearData().catch(() => {})
      showNotice(notice, 'This document was deleted on the server. ',
        h('a', { href: location.pathname, onclick: () => location.reload() }, 'Start it again'), ' or ',
        h('a', { href: '/' }, 'go to the documents'), '.')
    } else if (code === CLOSE_AUTH_EXPIRED) {
      binding.setEditable(false)
      showNotice(notice, 'Your access to this document has expired: open it again with a new link or token.')
    } else {
      showNotice(notice, `The server closed this document (${code}${reason ? ': ' + reason : ''}). `,
        h('button', { type: 'button', onclick: () => { notice.hidden = true; provider.connect() } }, 'Try again'))
    }
    renderBadge()
  })

  // A refused upgrade (no token, an invalid or expired one, a document
  // the token does not open) looks like a network failure to a WebSocket:
  // when a connection closes, ask the REST API why (at most every 10 s),
  // and stop reconnecting if the answer is 401 or 403.
  let lastProbe = 0
  provider.on('connection-close', async () => {
    if (deleted || refused || Date.now() - lastProbe < 10000) return
    lastProbe = Date.now()
    try {
      const res = await apiFetch(apiURL(name), { cache: 'no-store' })
      if (res.status !== 401 && res.status !== 403) return
      const err = await httpError(res)
      refused = true
      provider.disconnect()
      binding.setEditable(false)
      showNotice(notice, `The server refused access to this document: ${err.message}. Open it with a valid link (one with ?token=).`)
      renderBadge()
    } catch {}
  })

  window.addEventListener('pagehide', () => {
    // leave at once rather than when the server notices the socket is gone
    provider.awareness.setLocalState(null)
  })

  // for tests and for curious people with a console
  window.quire = { doc, provider, editor: binding.editor, view: binding.view, mode, idb, pending, Y }
}

/** createRich binds Tiptap to the XmlFragment FIELD. */
function createRich (host, doc, provider, user) {
  const editor = new Editor({
    element: host,
    extensions: [
      StarterKit.configure({ undoRedo: false, link: { openOnClick: false } }),
      TaskList,
      TaskItem.configure({ nested: true }),
      Collaboration.configure({ document: doc, field: FIELD }),
      CollaborationCaret.configure({ provider, user, render: renderCaret })
    ],
    editorProps: {
      attributes: {
        id: 'editor',
        class: 'prose',
        role: 'textbox',
        'aria-multiline': 'true',
        'aria-label': 'Document text',
        spellcheck: 'true'
      }
    }
  })
  return {
    editor,
    setUser: (u) => editor.commands.updateUser(u),
    setEditable: (on) => editor.setEditable(on)
  }
}

function showNotice (el, ...children) {
  el.replaceChildren(h('p', {}, ...children))
  el.hidden = false
}

const safeColour = (c) => (/^#[0-9a-f]{6}$/i.test(c) ? c : '#475467')

/** renderCaret draws a remote cursor with its person's name. */
function renderCaret (u) {
  const colour = safeColour(u.color)
  const caret = h('span', { class: 'collaboration-carets__caret', style: 'border-color:' + colour })
  const label = h('span', {
    class: 'collaboration-carets__label',
    style: `background:${colour};color:${textOn(colour)}`
  }, String(u.name || 'Someone'))
  caret.append(label)
  return caret
}

/** downloadLink fetches an export and saves it, or says why it cannot. */
function downloadLink (name, format, field, label, ext, live) {
  const href = apiURL(name, 'export') + '?format=' + format + (field ? '&field=' + encodeURIComponent(field) : '')
  const file = name.replace(/[\\/:*?"<>|]+/g, '_') + ext
  const a = h('a', { href, class: 'button', download: file, dataset: { format } }, label)
  a.addEventListener('click', async (e) => {
    e.preventDefault()
    try {
      const res = await apiFetch(href, { cache: 'no-store' })
      if (!res.ok) {
        const err = await httpError(res)
        throw new Error(res.status === 404 ? 'nothing is saved yet: type something first' : err.message)
      }
      const url = URL.createObjectURL(await res.blob())
      const tmp = h('a', { href: url, download: file, hidden: true })
      document.body.append(tmp)
      tmp.click()
      tmp.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10000)
      announce(live, `${label} download started.`)
    } catch (err) {
      announce(live, `Cannot download ${label}: ${err.message}.`)
      alert(`Cannot download ${label}: ${err.message}.`)
    }
  })
  return a
}

/** The formatting buttons; their shortcuts work in the editor too. */
const TOOLS = [
  { label: 'Bold', text: 'B', key: 'Mod-B', mark: 'bold', run: (c) => c.toggleBold() },
  { label: 'Italic', text: 'I', key: 'Mod-I', mark: 'italic', run: (c) => c.toggleItalic() },
  { label: 'Strikethrough', text: 'S', key: 'Mod-Shift-S', mark: 'strike', run: (c) => c.toggleStrike() },
  { label: 'Inline code', text: '</>', key: 'Mod-E', mark: 'code', run: (c) => c.toggleCode() },
  null,
  { label: 'Heading 1', text: 'H1', key: 'Mod-Alt-1', node: ['heading', { level: 1 }], run: (c) => c.toggleHeading({ level: 1 }) },
  { label: 'Heading 2', text: 'H2', key: 'Mod-Alt-2', node: ['heading', { level: 2 }], run: (c) => c.toggleHeading({ level: 2 }) },
  { label: 'Heading 3', text: 'H3', key: 'Mod-Alt-3', node: ['heading', { level: 3 }], run: (c) => c.toggleHeading({ level: 3 }) },
  null,
  { label: 'Bulleted list', text: '•', key: 'Mod-Shift-8', node: ['bulletList'], run: (c) => c.toggleBulletList() },
  { label: 'Numbered list', text: '1.', key: 'Mod-Shift-7', node: ['orderedList'], run: (c) => c.toggleOrderedList() },
  { label: 'Task list', text: '☐', key: 'Mod-Shift-9', node: ['taskList'], run: (c) => c.toggleTaskList() },
  { label: 'Quote', text: '❝', key: 'Mod-Shift-B', node: ['blockquote'], run: (c) => c.toggleBlockquote() },
  { label: 'Code block', text: '{ }', key: 'Mod-Alt-C', node: ['codeBlock'], run: (c) => c.toggleCodeBlock() },
  null,
  { label: 'Undo', text: '↶', key: 'Mod-Z', run: (c) => c.undo() },
  { label: 'Redo', text: '↷', key: 'Mod-Shift-Z', run: (c) => c.redo() }
]

const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)
const keyLabel = (k) => k.replace('Mod', isMac ? '⌘' : 'Ctrl').replace('Alt', isMac ? '⌥' : 'Alt').replaceAll('-', '+')

function buildToolbar (bar, editor) {
  const buttons = []
  for (const t of TOOLS) {
    if (!t) {
      bar.append(h('span', { class: 'sep', 'aria-hidden': 'true' }))
      continue
    }
    const b = h('button', {
      type: 'button',
      class: 'tool',
      tabindex: buttons.length === 0 ? '0' : '-1',
      title: `${t.label} (${keyLabel(t.key)})`,
      'aria-label': t.label,
      'aria-keyshortcuts': t.key.replace('Mod', isMac ? 'Meta' : 'Control'),
      'aria-pressed': t.mark || t.node ? 'false' : null,
      dataset: { tool: t.label }
    }, h('span', { 'aria-hidden': 'true' }, t.text))
    b.addEventListener('mousedown', (e) => e.preventDefault()) // keep the editor's selection
    b.addEventListener('click', () => t.run(editor.chain().focus()).run())
    b._tool = t
    buttons.push(b)
    bar.append(b)
  }
  // Arrow keys move between the buttons; Tab leaves the toolbar.
  bar.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement)
    if (i < 0) return
    let j = -1
    if (e.key === 'ArrowRight') j = (i + 1) % buttons.length
    else if (e.key === 'ArrowLeft') j = (i - 1 + buttons.length) % buttons.length
    else if (e.key === 'Home') j = 0
    else if (e.key === 'End') j = buttons.length - 1
    if (j < 0) return
    e.preventDefault()
    buttons[i].tabIndex = -1
    buttons[j].tabIndex = 0
    buttons[j].focus()
  })
  const update = () => {
    for (const b of buttons) {
      const t = b._tool
      if (t.mark) b.setAttribute('aria-pressed', String(editor.isActive(t.mark)))
      else if (t.node) b.setAttribute('aria-pressed', String(editor.isActive(...t.node)))
      b.disabled = !editor.isEditable
    }
  }
  editor.on('transaction', update)
  update()
}
