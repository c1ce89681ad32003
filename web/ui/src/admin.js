// The dashboard, /admin: live figures read from /metrics (Prometheus text),
// the documents with their peers, and actions on them.
import { h, getJSON, apiFetch, apiURL, docURL, formatBytes, formatAgo, formatTime, every, announce } from './util.js'

const REFRESH_MS = 3000

export async function mount (main) {
  document.title = 'Admin · quire'
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite', id: 'admin-live' })
  const figures = h('dl', { class: 'figures', id: 'figures' })
  const updated = h('p', { class: 'muted small', id: 'figures-updated' })
  const tbody = h('tbody')
  const table = h('table', { class: 'docs cards', id: 'admin-docs' },
    h('caption', { class: 'sr-only' }, 'Documents with their peers'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Name'),
      h('th', { scope: 'col', class: 'num' }, 'Peers'),
      h('th', { scope: 'col', class: 'num' }, 'Size'),
      h('th', { scope: 'col', class: 'num wide-only' }, 'Log'),
      h('th', { scope: 'col' }, 'Last change'),
      h('th', { scope: 'col', class: 'wide-only' }, 'In memory'),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody)
  const empty = h('p', { class: 'muted', hidden: true }, 'No documents yet.')
  const compactNote = h('p', { class: 'muted small', hidden: true, id: 'compact-note' },
    'Compacting on request needs a newer server; documents are compacted automatically as their logs grow.')

  main.replaceChildren(
    h('h1', {}, 'Admin'),
    h('section', { 'aria-labelledby': 'figures-heading' },
      h('h2', { id: 'figures-heading' }, 'Live figures'),
      figures, updated),
    h('section', { 'aria-labelledby': 'docs-heading' },
      h('h2', { id: 'docs-heading' }, 'Documents'),
      h('div', { class: 'table-wrap' }, table), empty, compactNote),
    live)

  let prev = null
  // Compacting on request needs POST /api/v1/docs/<name>/compact. Probe
  // for it without side effects: a GET on a route that exists for POST
  // only is a 405, on no route a 404.
  let compactSupported = false
  try {
    const res = await apiFetch(apiURL('-', 'compact'), { cache: 'no-store' })
    compactSupported = res.status === 405
  } catch {}
  compactNote.hidden = compactSupported

  async function refreshFigures () {
    let text
    try {
      const res = await apiFetch('/metrics', { cache: 'no-store' })
      if (!res.ok) throw new Error(res.status === 404 ? 'this server does not export metrics' : res.status + ' ' + res.statusText)
      text = await res.text()
    } catch (err) {
      updated.textContent = 'Could not read /metrics: ' + err.message
      return
    }
    const now = performance.now()
    const m = parseMetrics(text)
    const cur = {
      t: now,
      msgIn: sum(m, 'quire_messages_in_total'),
      msgOut: sum(m, 'quire_messages_out_total'),
      bytesIn: sum(m, 'quire_bytes_in_total'),
      bytesOut: sum(m, 'quire_bytes_out_total'),
      persistSum: sum(m, 'quire_persist_seconds_sum'),
      persistCount: sum(m, 'quire_persist_seconds_count'),
      persistBuckets: buckets(m, 'quire_persist_seconds_bucket')
    }
    const rate = (k) => prev ? Math.max(0, (cur[k] - prev[k]) / ((cur.t - prev.t) / 1000)) : NaN
    let latency = '–'
    let latencyNote = 'no writes yet'
    if (prev && cur.persistCount > prev.persistCount) {
      const n = cur.persistCount - prev.persistCount
      const mean = (cur.persistSum - prev.persistSum) / n
      const p99 = quantile(prev.persistBuckets, cur.persistBuckets, 0.99)
      latency = formatSeconds(mean)
      latencyNote = `mean of ${n} ${n === 1 ? 'write' : 'writes'}` + (Number.isFinite(p99) ? `, p99 ≤ ${formatSeconds(p99)}` : '')
    } else if (cur.persistCount > 0) {
      latency = formatSeconds(cur.persistSum / cur.persistCount)
      latencyNote = `mean since start, ${cur.persistCount} writes`
    }
    const rows = [
      ['connections', 'Connections', fmtInt(sum(m, 'quire_connections')), 'WebSocket peers now'],
      ['documents', 'Loaded documents', fmtInt(sum(m, 'quire_documents_loaded')), 'open sessions in memory'],
      ['messages', 'Messages/s', fmtRate(rate('msgIn') + rate('msgOut')), prev ? `in ${fmtRate(rate('msgIn'))} · out ${fmtRate(rate('msgOut'))}` : 'measuring…'],
      ['bytes', 'Bytes/s', fmtBytesRate(rate('bytesIn') + rate('bytesOut')), prev ? `in ${fmtBytesRate(rate('bytesIn'))} · out ${fmtBytesRate(rate('bytesOut'))}` : 'measuring…'],
      ['persist', 'Persist latency', latency, latencyNote],
      ['errors', 'Errors', fmtInt(sum(m, 'quire_errors_total')), 'bad input, slow peers, failed writes'],
      ['compactions', 'Compactions', fmtInt(sum(m, 'quire_compactions_total')), 'since start'],
      ['memory', 'Memory', has(m, 'process_resident_memory_bytes') ? formatBytes(sum(m, 'process_resident_memory_bytes')) : '–',
        has(m, 'go_goroutines') ? fmtInt(sum(m, 'go_goroutines')) + ' goroutines' : '']
    ]
    figures.replaceChildren(...rows.map(([id, label, value, note]) => h('div', { class: 'figure', dataset: { figure: id } },
      h('dt', {}, label),
      h('dd', {}, h('span', { class: 'value' }, value), note ? h('span', { class: 'note' }, note) : null))))
    updated.textContent = `Refreshed every ${REFRESH_MS / 1000} s · last ${new Date().toLocaleTimeString()}`
    prev = cur
  }

  async function refreshDocs () {
    let docs
    try {
      docs = (await getJSON('/api/v1/docs')).docs || []
    } catch (err) {
      announce(live, 'Could not load the documents: ' + err.message)
      return
    }
    empty.hidden = docs.length > 0
    table.hidden = docs.length === 0
    const focused = document.activeElement && document.activeElement.closest('tr') && document.activeElement.dataset.action
    const focusedDoc = focused && document.activeElement.closest('tr').dataset.doc
    tbody.replaceChildren(...docs.map((d) => {
      const compact = compactSupported && h('button', {
        type: 'button', dataset: { action: 'compact' },
        'aria-label': `Compact ${d.name}`, onclick: () => doCompact(d.name)
      }, 'Compact')
      const del = h('button', {
        type: 'button', class: 'danger', dataset: { action: 'delete' },
        'aria-label': `Delete ${d.name}`, onclick: () => doDelete(d.name)
      }, 'Delete')
      return h('tr', { dataset: { doc: d.name } },
        h('th', { scope: 'row' }, h('a', { href: docURL(d.name) }, d.name)),
        h('td', { class: 'num peers', dataset: { label: 'Peers' } }, String(d.peers ?? 0)),
        h('td', { class: 'num', dataset: { label: 'Size' } }, formatBytes(d.size)),
        h('td', { class: 'num wide-only', title: `snapshot ${formatBytes(d.snapshotBytes)}, log ${formatBytes(d.logBytes)}` },
          d.logCount == null ? '–' : `${d.logCount} (${formatBytes(d.logBytes)})`),
        h('td', { dataset: { label: 'Changed' } }, d.updated ? h('time', { datetime: d.updated, title: formatTime(d.updated) }, formatAgo(d.updated)) : '–'),
        h('td', { class: 'wide-only' }, d.loaded ? 'yes' : 'no'),
        h('td', { class: 'actions-cell' }, h('div', { class: 'actions' }, compact, del)))
    }))
    if (focused) {
      const again = [...tbody.querySelectorAll('tr')].find((tr) => tr.dataset.doc === focusedDoc)
      const btn = again && again.querySelector(`[data-action="${focused}"]`)
      if (btn && !btn.disabled) btn.focus()
    }
  }

  async function doCompact (name) {
    try {
      const res = await apiFetch(apiURL(name, 'compact'), { method: 'POST' })
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || res.statusText)
      announce(live, `Compacted ${name}.`)
    } catch (err) {
      announce(live, `Could not compact ${name}: ${err.message}`)
    }
    refreshDocs()
  }

  async function doDelete (name) {
    if (!confirm(`Delete “${name}”? Everyone editing it is disconnected and its content is gone for good.`)) return
    try {
      await getJSON(apiURL(name), { method: 'DELETE' })
      announce(live, `Deleted ${name}.`)
    } catch (err) {
      announce(live, `Could not delete ${name}: ${err.message}`)
    }
    refreshDocs()
  }

  every(REFRESH_MS, () => Promise.all([refreshFigures(), refreshDocs()]))
}

/**
 * parseMetrics reads Prometheus's text format into name -> samples.
 * @returns {Map<string, Array<{labels: Record<string,string>, value: number}>>}
 */
export function parseMetrics (text) {
  const out = new Map()
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line)
    if (!m) continue
    const labels = {}
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4])
    if (!out.has(m[1])) out.set(m[1], [])
    out.get(m[1]).push({ labels, value })
  }
  return out
}

const has = (m, name) => m.has(name)
const sum = (m, name) => (m.get(name) || []).reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0)

function buckets (m, name) {
  return (m.get(name) || []).map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]).sort((a, b) => a[0] - b[0])
}

/** quantile estimates the q-quantile of what was observed between two snapshots of a histogram (its bucket's upper bound). */
function quantile (before, after, q) {
  if (!before.length || before.length !== after.length) return NaN
  const d = after.map(([le, c], i) => [le, c - before[i][1]])
  const total = d[d.length - 1][1]
  if (total <= 0) return NaN
  for (const [le, c] of d) if (c >= q * total) return le
  return NaN
}

function formatSeconds (s) {
  if (!Number.isFinite(s)) return '–'
  if (s < 1e-3) return (s * 1e6).toFixed(0) + ' µs'
  if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + ' ms'
  return s.toFixed(2) + ' s'
}

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '–')
const fmtRate = (n) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en')) : '…')
const fmtBytesRate = (n) => (Number.isFinite(n) ? formatBytes(Math.round(n)) + '/s' : '…')
