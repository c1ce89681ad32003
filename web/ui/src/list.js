// The document list: every document on this server, and a field to create
// or open one.
import { h, getJSON, docURL, formatBytes, formatAgo, formatTime, validName, every } from './util.js'

export async function mount (main) {
  document.title = 'Documents · quire'
  const input = h('input', {
    id: 'doc-name', name: 'name', type: 'text', required: true, autocomplete: 'off',
    spellcheck: 'false', maxlength: '255', 'aria-describedby': 'doc-name-hint doc-name-error'
  })
  const error = h('p', { id: 'doc-name-error', class: 'error', role: 'alert' })
  const form = h('form', { class: 'open-form', 'aria-labelledby': 'open-heading' },
    h('h2', { id: 'open-heading' }, 'Create or open a document'),
    h('label', { for: 'doc-name' }, 'Document name'),
    h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Open')),
    h('p', { id: 'doc-name-hint', class: 'muted small' }, 'A new name creates the document as soon as someone types in it.'),
    error
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const name = input.value.trim()
    const problem = validName(name)
    error.textContent = problem
    input.setAttribute('aria-invalid', problem ? 'true' : 'false')
    if (!problem) location.assign(docURL(name))
  })

  const status = h('p', { class: 'muted small', role: 'status' })
  const tbody = h('tbody')
  const table = h('table', { class: 'docs', id: 'docs' },
    h('caption', { class: 'sr-only' }, 'Documents on this server'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Name'),
      h('th', { scope: 'col', class: 'num' }, 'Size'),
      h('th', { scope: 'col' }, 'Last change'),
      h('th', { scope: 'col', class: 'num' }, 'People now'))),
    tbody)
  const empty = h('p', { class: 'muted', hidden: true }, 'No documents yet: name one above to start writing.')

  main.replaceChildren(
    h('h1', {}, 'Documents'),
    form,
    h('section', { 'aria-labelledby': 'list-heading' },
      h('h2', { id: 'list-heading' }, 'On this server'),
      h('div', { class: 'table-wrap' }, table), empty, status)
  )
  input.focus()

  every(5000, async () => {
    let docs
    try {
      docs = (await getJSON('/api/v1/docs')).docs || []
    } catch (err) {
      status.textContent = 'Could not load the list: ' + err.message
      return
    }
    status.textContent = 'Updated ' + new Date().toLocaleTimeString()
    empty.hidden = docs.length > 0
    table.hidden = docs.length === 0
    tbody.replaceChildren(...docs.map((d) => h('tr', { dataset: { doc: d.name } },
      h('th', { scope: 'row' }, h('a', { href: docURL(d.name) }, d.name)),
      h('td', { class: 'num' }, formatBytes(d.size)),
      h('td', {}, d.updated ? h('time', { datetime: d.updated, title: formatTime(d.updated) }, formatAgo(d.updated)) : '–'),
      h('td', { class: 'num peers' }, String(d.peers ?? 0))
    )))
  })
}
