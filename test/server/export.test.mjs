// REST export goldens over the wire: a real yjs client writes a
// Tiptap/ProseMirror-shaped document (Y.XmlFragment "default", in
// y-prosemirror's encoding: elements named after the node types, node
// attributes as element attributes, marks as formatting attributes of the
// XmlText) and a Quill-shaped rich Y.Text, syncs them through y-websocket,
// and the server's Markdown and HTML exports must equal the hand-written
// goldens in testdata/ (CommonMark + GFM, and Tiptap's getHTML()).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Server, connect, closeAll, until, synced, tempDir, Y } from './helpers.mjs'

const testdata = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata')
const golden = name => readFileSync(path.join(testdata, name), 'utf8')

let server
before(async () => { server = await Server.start({ data: path.join(tempDir(), 'quire.db') }) })
after(async () => { if (server) assert.equal((await server.stop('SIGTERM')).code, 0) })

// A ProseMirror node as y-prosemirror writes it. Text runs are
// [text, marks] with marks {name: attrs}; y-prosemirror stores a mark
// without attributes as {} and writes every mark attribute, null included.
const link = href => ({ link: { href, target: '_blank', rel: 'noopener noreferrer nofollow', class: null, title: null } })
const el = (name, attrs, ...children) => ({ name, attrs, children })
const p = (...runs) => el('paragraph', {}, ...runs)
const li = (...blocks) => el('listItem', {}, ...blocks)
const task = (checked, ...blocks) => el('taskItem', { checked }, ...blocks)

const doc = [
  el('heading', { level: 1 }, ['Release notes']),
  p(['This release makes '], ['exports', { bold: {} }], [' faster, '], ['safer', { italic: {} }], [' and '],
    ['slower', { strike: {} }], ['; see '], ['the changelog', link('https://example.org/changelog?v=2&lang=en')],
    [' or run '], ['quire export', { code: {} }], ['.']),
  el('heading', { level: 2 }, ['What changed']),
  el('bulletList', {},
    li(p(['Markdown export'])),
    li(p(['HTML export']), el('bulletList', {}, li(p(['Tiptap names']))))),
  el('taskList', {},
    task(true, p(['Write goldens'])),
    task(false, p(['Review '], ['them', { bold: {} }]))),
  el('heading', { level: 3 }, ['Steps']),
  el('orderedList', { start: 1 }, li(p(['Build'])), li(p(['Test']))),
  el('orderedList', { start: 3 }, li(p(['Ship']))),
  el('blockquote', {}, p(['Quoted '], ['words', { italic: {} }], ['.'])),
  el('codeBlock', { language: 'js' }, ["const a = 1\nif (a < 2) console.log('<ok>')"]),
  el('horizontalRule', {}),
  p(['first line'], el('hardBreak', {}), ['second line']),
  el('image', { src: 'https://example.org/logo.png', alt: 'Logo', title: 'The logo' }),
  p(['both', { bold: {}, italic: {} }], [' and '], ['a bold link', { ...link('https://example.org/'), bold: {} }])
]

// Builds the Yjs types of nodes: consecutive text runs share one XmlText,
// as in y-prosemirror.
const build = nodes => {
  const out = []
  let runs = null
  for (const n of nodes) {
    if (Array.isArray(n)) {
      if (runs === null) out.push(runs = [])
      runs.push(n)
      continue
    }
    runs = null
    const e = new Y.XmlElement(n.name)
    for (const [k, v] of Object.entries(n.attrs)) if (v !== null) e.setAttribute(k, v)
    e.insert(0, build(n.children))
    out.push(e)
  }
  return out.map(x => {
    if (!Array.isArray(x)) return x
    const t = new Y.XmlText()
    t.applyDelta(x.map(([insert, attributes = {}]) => ({ insert, attributes })))
    return t
  })
}

const synced2server = async (c, room) => {
  const want = JSON.stringify(c.doc.toJSON())
  await until(async () => {
    const res = await server.fetch(`/api/v1/docs/${room}/export?format=json`)
    return res.status === 200 && res.text === want
  }, 10_000, `the server to have ${room}`)
}

test('Tiptap-shaped XmlFragment: Markdown and HTML exports equal the goldens', { timeout: 60_000 }, async () => {
  const c = connect(server, 'golden-tiptap')
  await synced(c)
  c.doc.transact(() => c.doc.getXmlFragment('default').insert(0, build(doc)))
  await synced2server(c, 'golden-tiptap')

  const md = await server.fetch('/api/v1/docs/golden-tiptap/export?format=markdown')
  assert.equal(md.status, 200, md.text)
  assert.match(md.type, /^text\/markdown/)
  assert.equal(md.text, golden('export.md'))

  const html = await server.fetch('/api/v1/docs/golden-tiptap/export?format=html')
  assert.equal(html.status, 200, html.text)
  assert.match(html.type, /^text\/html/)
  assert.equal(html.text, golden('export.html').replace(/\n$/, ''))

  // Naming the field gives the same.
  const named = await server.fetch('/api/v1/docs/golden-tiptap/export?format=markdown&field=default')
  assert.equal(named.text, md.text)
  closeAll(c)
})

test('Quill-shaped rich Text: Markdown export equals the golden', { timeout: 60_000 }, async () => {
  const c = connect(server, 'golden-quill')
  await synced(c)
  c.doc.getText('quill').applyDelta([
    { insert: 'Notes' }, { insert: '\n', attributes: { header: 1 } },
    { insert: 'Plain, ' }, { insert: 'bold', attributes: { bold: true } }, { insert: ', ' },
    { insert: 'italic', attributes: { italic: true } }, { insert: ' and a ' },
    { insert: 'link', attributes: { link: 'https://example.org/' } }, { insert: '.\n' },
    { insert: 'One' }, { insert: '\n', attributes: { list: 'bullet' } },
    { insert: 'Two' }, { insert: '\n', attributes: { list: 'bullet' } },
    { insert: 'First' }, { insert: '\n', attributes: { list: 'ordered' } },
    { insert: 'Quoted' }, { insert: '\n', attributes: { blockquote: true } }
  ])
  await synced2server(c, 'golden-quill')
  const md = await server.fetch('/api/v1/docs/golden-quill/export?format=markdown&field=quill')
  assert.equal(md.status, 200, md.text)
  assert.equal(md.text, golden('quill.md'))
  closeAll(c)
})
