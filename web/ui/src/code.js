// The plain-text mode of the editor page: CodeMirror 6 on the Y.Text
// "codemirror" of the same document, with the others' cursors.
import { EditorState } from '@codemirror/state'
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } from '@codemirror/view'
import { defaultKeymap } from '@codemirror/commands'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import * as Y from 'yjs'

/** FIELD is the Text the plain-text mode binds, as the REST export calls it. */
export const FIELD = 'codemirror'

export function createCode (host, doc, provider, user) {
  const text = doc.getText(FIELD)
  const undoManager = new Y.UndoManager(text)
  const setUser = (u) => provider.awareness.setLocalStateField('user', { name: u.name, color: u.color, colorLight: u.color + '33' })
  setUser(user)
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: text.toString(),
      extensions: [
        lineNumbers(),
        drawSelection(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
        yCollab(text, provider.awareness, { undoManager }),
        EditorView.contentAttributes.of({ id: 'editor', 'aria-label': 'Document text (plain)', 'aria-multiline': 'true' })
      ]
    })
  })
  return {
    view,
    setUser,
    setEditable (on) { view.contentDOM.contentEditable = String(on) },
    text: () => text.toString()
  }
}
