// Builds the Yjs fixtures the render tests read, with the real editor
// libraries, and checks the hand-written HTML golden against Tiptap itself.
//
//   tiptap.json  -> tiptap.yjs   (y-prosemirror encoding, via @tiptap/y-tiptap,
//                                 the y-prosemirror fork Tiptap's Collaboration
//                                 extension uses; root "default")
//   quill.json   -> quill.yjs    (a Quill delta applied to Y.Text "quill", as
//                                 y-quill stores it)
//   check:          editor.getHTML() of tiptap.json must equal tiptap.html
//
// The .json inputs and the .md/.html goldens are written by hand. Run from
// a scratch directory (not the repository), with this file copied there
// (Node resolves packages from the script's directory):
//
//   npm install --legacy-peer-deps @tiptap/core @tiptap/starter-kit \
//     @tiptap/extension-list @tiptap/extension-image @tiptap/extension-highlight \
//     @tiptap/extension-subscript @tiptap/extension-superscript \
//     @tiptap/y-tiptap @tiptap/pm yjs y-protocols happy-dom
//   cp /path/to/render/testdata/gen/fixtures.mjs . && node fixtures.mjs /path/to/render/testdata
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Window } from 'happy-dom'

const dir = process.argv[2]
if (!dir) {
  console.error('usage: node fixtures.mjs <render/testdata>')
  process.exit(2)
}

const window = new Window()
for (const k of ['window', 'document', 'navigator', 'Node', 'HTMLElement', 'Element', 'DocumentFragment', 'MutationObserver', 'getComputedStyle', 'requestAnimationFrame', 'cancelAnimationFrame']) {
  if (!(k in globalThis)) globalThis[k] = k === 'window' ? window : window[k]
}

const Y = await import('yjs')
const { Editor, getSchema } = await import('@tiptap/core')
const { default: StarterKit } = await import('@tiptap/starter-kit')
const { TaskList, TaskItem } = await import('@tiptap/extension-list')
const { default: Image } = await import('@tiptap/extension-image')
const { default: Highlight } = await import('@tiptap/extension-highlight')
const { default: Subscript } = await import('@tiptap/extension-subscript')
const { default: Superscript } = await import('@tiptap/extension-superscript')
const { prosemirrorJSONToYDoc } = await import('@tiptap/y-tiptap')

// The editor page's extensions (web/): StarterKit, task lists that nest,
// block images, highlight, subscript, superscript.
const extensions = [StarterKit, TaskList, TaskItem.configure({ nested: true }), Image, Highlight, Subscript, Superscript]

const json = JSON.parse(readFileSync(join(dir, 'tiptap.json'), 'utf8'))
const schema = getSchema(extensions)
const ydoc = prosemirrorJSONToYDoc(schema, json, 'default')
writeFileSync(join(dir, 'tiptap.yjs'), Y.encodeStateAsUpdate(ydoc))

const editor = new Editor({ extensions, content: json })
const got = editor.getHTML()
const want = readFileSync(join(dir, 'tiptap.html'), 'utf8').replace(/\n$/, '')
if (got !== want) {
  console.error('tiptap.html differs from Tiptap getHTML():\n' + got)
  process.exitCode = 1
} else {
  console.log('tiptap.html matches Tiptap getHTML()')
}

const delta = JSON.parse(readFileSync(join(dir, 'quill.json'), 'utf8'))
const qdoc = new Y.Doc()
qdoc.getText('quill').applyDelta(delta.ops)
writeFileSync(join(dir, 'quill.yjs'), Y.encodeStateAsUpdate(qdoc))
