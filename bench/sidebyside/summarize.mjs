// Summarizes a bench/sidebyside/run.sh results directory: medians over the
// rounds of every quire-load JSON result, as markdown, with the bars of the
// load issue checked. With --write FILE, the markdown replaces what lies
// between the sidebyside markers of FILE (docs/benchmarks.md).
//
//   node bench/sidebyside/summarize.mjs RESULTS_DIR [--write docs/benchmarks.md]
import fs from 'node:fs'
import path from 'node:path'

const dir = process.argv[2]
if (!dir) {
  console.error('usage: summarize.mjs RESULTS_DIR [--write FILE]')
  process.exit(2)
}
const wi = process.argv.indexOf('--write')
const writeTo = wi > 0 ? process.argv[wi + 1] : null

const meta = {}
for (const line of fs.readFileSync(path.join(dir, 'meta.txt'), 'utf8').split('\n')) {
  const i = line.indexOf('=')
  if (i > 0) meta[line.slice(0, i)] = line.slice(i + 1)
}
const commands = fs.existsSync(path.join(dir, 'commands.txt')) ? fs.readFileSync(path.join(dir, 'commands.txt'), 'utf8').trim().split('\n') : []
const caseOrder = fs.readFileSync(path.join(dir, 'cases.txt'), 'utf8').trim().split(/\s+/)
const serverOrder = ['quire', 'ywebsocket', 'hocuspocus']
const serverName = { quire: 'quire', ywebsocket: 'y-websocket-server', hocuspocus: 'Hocuspocus' }

// results[case][server] = [result, ...]
const results = {}
for (const f of fs.readdirSync(dir)) {
  const m = f.match(/^r(\d+)-(.+)-(quire|ywebsocket|hocuspocus)\.json$/)
  if (!m) continue
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))
  ;((results[m[2]] ??= {})[m[3]] ??= []).push(r)
}
// Runs that produced no JSON (crashed, timed out) count as failed runs.
const txtRuns = {}
for (const f of fs.readdirSync(dir)) {
  const m = f.match(/^r(\d+)-(.+)-(quire|ywebsocket|hocuspocus)\.txt$/)
  if (m) ((txtRuns[m[2]] ??= {})[m[3]] ??= 0), txtRuns[m[2]][m[3]]++
}

const median = (xs) => {
  xs = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b)
  if (!xs.length) return NaN
  const h = Math.floor(xs.length / 2)
  return xs.length % 2 ? xs[h] : (xs[h - 1] + xs[h]) / 2
}
const fmt = (x, unit = '', digits) => {
  if (typeof x !== 'number' || Number.isNaN(x)) return '–'
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2)
  return x.toFixed(d) + unit
}
const MB = (b) => b / 1e6
const med = (rs, f) => median(rs.map((r) => { try { return f(r) } catch { return NaN } }))

const lines = []
const out = (s = '') => lines.push(s)

out(`### Run of ${meta.date}`)
out()
out(`${meta.machine}; uptime at the start: \`${meta.uptime_start}\`; at the end: \`${meta.uptime_end}\`.`)
out(`quire ${meta.quire} (${meta.go}, bbolt data file, fsync on); @hocuspocus/server ${meta.hocuspocus} (no extensions: in memory);`)
out(`@y/websocket-server ${meta.ywebsocket} (no YPERSISTENCE: in memory) with yjs ${meta.yjs}; both on Node ${meta.node}.`)
out(`Medians of ${meta.rounds} rounds; every run starts its server fresh; the servers' order rotates between rounds.`)
out(`Command: \`${meta.rate && meta.rate !== '1' ? `RATE=${meta.rate} ` : ''}bench/sidebyside/run.sh --rounds ${meta.rounds} --write-docs\` (results and per-run tables in \`$TMPDIR/quire-sidebyside/results/\`).`)
out()
out('| case | server | converged | p50 | p95 | p99 | max | server CPU | server RSS peak | generator CPU | box busy | more |')
out('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|')

const more = (c, rs) => {
  const m = (k) => med(rs, (r) => r.metrics[k])
  if (c.startsWith('room')) return `sent ${fmt(m('edits sent/s'), '/s')} of ${fmt(m('edits nominal/s'), '/s')}; missing ${fmt(m('deliveries missing'), '', 0)}; drain ${fmt(m('drain after edits stopped (s)'), ' s')}`
  if (c === 'docs') return `sent ${fmt(m('edits sent/s'), '/s')}; docs differing ${fmt(m('docs whose replicas differ'), '', 0)}; missing ${fmt(m('deliveries missing'), '', 0)}`
  if (c === 'idle') return `RSS end ${fmt(med(rs, (r) => MB(r.usage.server_rss_end)), ' MB')}; ${fmt(m('server RSS per connection (KB)'), ' KB')}/conn; ${fmt(m('server CPU per connection (µs/s)'), ' µs/s')}/conn; lost ${fmt(m('connections lost'), '', 0)}`
  if (c.startsWith('catchup')) return `**converge ${fmt(m('time to converge (s)') * 1000, ' ms')}**; update ${fmt(m('update broadcast to the observer (bytes)') / 1e3, ' KB')}`
  if (c.startsWith('join-storm')) return `all synced in ${fmt(m('time until all synced (s)'), ' s')}; failed ${fmt(m('clients failed'), '', 0)}`
  return ''
}

const summary = {}
for (const c of caseOrder) {
  for (const s of serverOrder) {
    const rs = results[c]?.[s]
    if (!rs && !txtRuns[c]?.[s]) continue
    const runs = txtRuns[c]?.[s] ?? rs.length
    const list = rs ?? []
    const conv = list.filter((r) => r.converged).length
    const lat = (k) => med(list, (r) => r.latency[k])
    const row = {
      p50: lat('p50_ms'), p95: lat('p95_ms'), p99: lat('p99_ms'), max: lat('max_ms'),
      cpu: med(list, (r) => r.usage.server_cpu_pct),
      rss: med(list, (r) => MB(r.usage.server_rss_peak)),
      rssEnd: med(list, (r) => MB(r.usage.server_rss_end)),
      gen: med(list, (r) => r.usage.gen_cpu_pct),
      box: med(list, (r) => r.usage.box_busy_pct),
      conv, runs,
      metric: (k) => med(list, (r) => r.metrics[k]),
    }
    ;(summary[c] ??= {})[s] = row
    const hasLat = list.some((r) => r.latency)
    out(`| ${c} | ${serverName[s]} | ${conv}/${runs} | ${hasLat ? fmt(row.p50, ' ms') : ''} | ${hasLat ? fmt(row.p95, ' ms') : ''} | ${hasLat ? fmt(row.p99, ' ms') : ''} | ${hasLat ? fmt(row.max, ' ms') : ''} | ${fmt(row.cpu, '%', 0)} | ${fmt(row.rss, ' MB')} | ${fmt(row.gen, '%', 0)} | ${fmt(row.box, '%', 0)} | ${more(c, list)} |`)
  }
}
out()
out('Latency: room and docs, from an edit\'s send to its arrival at each other client (every delivery counted); join-storm, from a client\'s dial to its sync step 2 fully received. CPU: percent of one core over the measured phase (editing, holding, reconnecting, storming). RSS peak: sampled every 100 ms during the phase. Generator CPU is quire-load\'s own; box busy counts every process on the machine, other agents\' included.')
out()

// Bars.
const S = (c, s) => summary[c]?.[s]
const bars = []
const yes = (b) => (b ? 'met' : '**missed**')
{
  const param = (c, s, k) => results[c]?.[s]?.[0]?.params?.[k]
  // The bar's rate: the room case where Hocuspocus's p99 is closest to 100 ms.
  const rooms = ['room', 'room-2x'].filter((c) => S(c, 'hocuspocus') && S(c, 'quire'))
  rooms.sort((a, b) => Math.abs(Math.log(S(a, 'hocuspocus').p99 / 100)) - Math.abs(Math.log(S(b, 'hocuspocus').p99 / 100)))
  for (const c of ['room', 'room-2x']) {
    const hp = S(c, 'hocuspocus'), q = S(c, 'quire')
    if (!hp || !q) continue
    const rate = param(c, 'quire', 'rate per editor')
    bars.push(`${c}, 250 editors at ${rate}: Hocuspocus p99 ${fmt(hp.p99, ' ms')} (converged ${hp.conv}/${hp.runs}), quire p99 ${fmt(q.p99, ' ms')} (converged ${q.conv}/${q.runs})` + (c === rooms[0] ? `: the rate closest to Hocuspocus's 100 ms; bar (quire under 25 ms): ${yes(q.p99 < 25)}` : ''))
  }
  const q5 = S('room-5x', 'quire')
  if (q5) bars.push(`room-5x, 250 editors at ${param('room-5x', 'quire', 'rate per editor')} (5× room): quire p99 ${fmt(q5.p99, ' ms')}, converged ${q5.conv}/${q5.runs}, bar under 100 ms: ${yes(q5.p99 < 100 && q5.conv === q5.runs)} (generator at ${fmt(q5.gen, '%', 0)} of a core)`)
  const qi = S('idle', 'quire'), hi = S('idle', 'hocuspocus')
  if (qi && hi) bars.push(`idle, ${param('idle', 'quire', 'connections')} connections: quire RSS ${fmt(qi.rssEnd, ' MB')} vs Hocuspocus ${fmt(hi.rssEnd, ' MB')} (${fmt(qi.rssEnd / hi.rssEnd, '×')}), bar at most half: ${yes(qi.rssEnd <= hi.rssEnd / 2)}`)
  const qd = S('docs', 'quire'), yd = S('docs', 'ywebsocket')
  if (qd && yd) bars.push(`docs, ${param('docs', 'quire', 'docs')} × 2: converged quire ${qd.conv}/${qd.runs}, y-websocket-server ${yd.conv}/${yd.runs}, Hocuspocus ${S('docs', 'hocuspocus')?.conv ?? '–'}/${S('docs', 'hocuspocus')?.runs ?? '–'}; quire RSS peak ${fmt(qd.rss, ' MB')} vs y-websocket-server ${fmt(yd.rss, ' MB')} (${fmt(qd.rss / yd.rss, '×')}), bar at most half: ${yes(qd.rss <= yd.rss / 2 && qd.conv === qd.runs)}`)
  const qc = S('catchup-100k', 'quire')
  if (qc) { const t = qc.metric('time to converge (s)'); bars.push(`catchup of ${param('catchup-100k', 'quire', 'offline edits')} queued edits into automerge-paper: quire ${fmt(t, ' s')}, converged ${qc.conv}/${qc.runs}, bar under 2 s: ${yes(t < 2 && qc.conv === qc.runs)}`) }
}
if (bars.length) {
  out('Bars:')
  out()
  for (const b of bars) out(`- ${b}`)
  out()
}
if (commands.length) {
  out('Cases (`go run ./cmd/quire-load` arguments; `--url`, `--envelope`, `--pid` added per server, `--rest` for quire):')
  out()
  for (const c of commands) out(`- \`${c.replace(/ \[servers: (.*)\]$/, '` on $1')}`)
  out()
}

const md = lines.join('\n')
if (writeTo) {
  const doc = fs.readFileSync(writeTo, 'utf8')
  const begin = '<!-- sidebyside:begin -->'
  const end = '<!-- sidebyside:end -->'
  const i = doc.indexOf(begin), j = doc.indexOf(end)
  if (i < 0 || j < i) {
    console.error(`${writeTo}: markers ${begin} … ${end} not found`)
    process.exit(1)
  }
  fs.writeFileSync(writeTo, doc.slice(0, i + begin.length) + '\n' + md + '\n' + doc.slice(j))
} else {
  process.stdout.write(md + '\n')
}
