// quire's pages in a real browser: two people editing one document, offline
// edits, formatting through the exports, the document list and the
// dashboard. Run: npm test (in test/browser), after `apt-get install -y chromium`.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, launchBrowser, waitFor, sleep, screenshotPath } from './harness.mjs'

let server, browser
const pageErrors = []

before(async () => {
  server = await startServer()
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await server?.stop()
})

const ADA = { name: 'Ada', color: '#1d4ed8' }
const BOB = { name: 'Bob', color: '#b42318' }

/** person is a browser context (its own storage) with a name and colour. */
async function person (user, viewport = { width: 1200, height: 800 }) {
  const ctx = await browser.newContext({ baseURL: server.base, viewport })
  await ctx.addInitScript((u) => {
    if (!localStorage.getItem('quire:user')) localStorage.setItem('quire:user', JSON.stringify(u))
  }, user)
  return ctx
}

function watch (page) {
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/ERR_INTERNET_DISCONNECTED|WebSocket connection|Failed to load resource/.test(msg.text())) {
      pageErrors.push(`${page.url()}: console: ${msg.text()}`)
    }
  })
  return page
}

/** open opens a document's editor page and waits until it is synced. */
async function open (ctx, name) {
  const page = watch(await ctx.newPage())
  await page.goto('/d/' + encodeURIComponent(name))
  await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 10000 })
  return page
}

const docJSON = (page) => page.evaluate(() => JSON.stringify(window.quire.editor.getJSON()))
const docText = (page) => page.evaluate(() => window.quire.editor.getText())
const paragraphs = (page) => page.evaluate(() => {
  const out = []
  window.quire.editor.state.doc.forEach((n) => out.push(n.textContent))
  return out
})

/** caretAt puts the cursor at the end of the i-th paragraph by clicking and pressing End. */
async function caretAt (page, i) {
  await page.locator('#editor > p').nth(i).click()
  await page.keyboard.press('End')
}

async function exported (name, format, field = 'default') {
  const res = await fetch(`${server.base}/api/v1/docs/${encodeURIComponent(name)}/export?format=${format}${field ? '&field=' + field : ''}`)
  assert.equal(res.status, 200, `export ${format}: ${res.status} ${await res.clone().text()}`)
  return res.text()
}

test('two people typing at once converge within a second and see each other\'s cursors', async () => {
  const a = await person(ADA)
  const b = await person(BOB)
  const name = 'concurrent'
  const pa = await open(a, name)
  const pb = await open(b, name)

  await pa.locator('#editor').click()
  await pa.keyboard.type('First paragraph.')
  await pa.keyboard.press('Enter')
  await pa.keyboard.type('Second paragraph.')
  await waitFor(async () => (await docText(pb)).includes('Second paragraph.'), { message: 'B to see A\'s text' })

  // different paragraphs
  await caretAt(pa, 0)
  await caretAt(pb, 1)
  await Promise.all([
    pa.keyboard.type(' Ada was here.', { delay: 15 }),
    pb.keyboard.type(' Bob was here.', { delay: 15 })
  ])
  const t0 = Date.now()
  await waitFor(async () => (await docJSON(pa)) === (await docJSON(pb)), { timeout: 1000, message: 'identical documents' })
  const tookDifferent = Date.now() - t0

  // the same paragraph, at the same place
  await caretAt(pa, 0)
  await caretAt(pb, 0)
  await Promise.all([
    pa.keyboard.type(' [ada typing]', { delay: 15 }),
    pb.keyboard.type(' [bob typing]', { delay: 15 })
  ])
  const t1 = Date.now()
  await waitFor(async () => (await docJSON(pa)) === (await docJSON(pb)), { timeout: 1000, message: 'identical documents' })
  const tookSame = Date.now() - t1
  console.log(`# converged ${tookDifferent} ms after typing in different paragraphs, ${tookSame} ms in the same one`)

  const ps = await paragraphs(pa)
  assert.equal(ps.length, 2)
  assert.ok(ps[0].startsWith('First paragraph. Ada was here.'), ps[0])
  // Where two carets sit at one place, each editor's caret may jump past
  // the other's text: every character is there, the order is YATA's.
  const sorted = (s) => [...s].sort().join('')
  assert.equal(sorted(ps[0].slice('First paragraph. Ada was here.'.length)), sorted(' [ada typing] [bob typing]'), ps[0])
  assert.equal(ps[1], 'Second paragraph. Bob was here.')

  // each sees the other's caret, labelled with the name, and both in the list of people
  await pa.locator('.collaboration-carets__label', { hasText: 'Bob' }).waitFor({ timeout: 2000 })
  await pb.locator('.collaboration-carets__label', { hasText: 'Ada' }).waitFor({ timeout: 2000 })
  assert.equal(await pa.locator('.collaboration-carets__label', { hasText: 'Ada' }).count(), 0, 'A sees no caret of its own')
  await waitFor(async () => (await pa.locator('#people li').allTextContents()).join('|') === 'Ada (you)|Bob', { message: 'people list' })

  // what the server exports is what they see
  // The export escapes brackets and, so that they survive, a space at the
  // start or end of a paragraph (which concurrent typing can leave).
  const md = await exported(name, 'markdown')
  assert.equal(md, ps.map((p) => p.replace(/[[\]]/g, (c) => '\\' + c).replace(/^ | $/g, '&#32;')).join('\n\n') + '\n')

  await pa.screenshot({ path: screenshotPath('editor.png') })
  await pb.screenshot({ path: screenshotPath('editor-bob.png') })
  await a.close()
  await b.close()
})

test('edits made offline survive a reload and reach the others when back online', async () => {
  const a = await person(ADA)
  const b = await person(BOB)
  const name = 'offline notes'
  const pa = await open(a, name)
  const pb = await open(b, name)
  await pa.locator('#editor').click()
  await pa.keyboard.type('Written online.')
  await waitFor(async () => (await docText(pb)) === 'Written online.', { message: 'B to see A\'s text' })
  // the service worker has the page cached, so it reloads without a network
  await pb.evaluate(() => navigator.serviceWorker.ready.then(() => true))

  await b.setOffline(true)
  await pb.locator('#connection[data-state="offline"]').waitFor({ timeout: 5000 })
  await caretAt(pb, 0)
  await pb.keyboard.press('Enter')
  await pb.keyboard.type('Written offline.')
  await pb.locator('#connection', { hasText: /\d+ edits waiting/ }).waitFor({ timeout: 3000 })
  const waiting = Number(await pb.locator('#connection').getAttribute('data-pending'))
  assert.ok(waiting >= 'Written offline.'.length, `${waiting} edits waiting`)
  await sleep(300) // let IndexedDB commit the last keystrokes

  await pb.reload()
  await pb.locator('#editor').waitFor()
  await waitFor(async () => (await docText(pb)) === 'Written online.\n\nWritten offline.', { message: 'the offline edits after the reload' })
  await pb.locator('#connection[data-state="offline"]', { hasText: /\d+ edits waiting/ }).waitFor({ timeout: 3000 })
  assert.equal(Number(await pb.locator('#connection').getAttribute('data-pending')), waiting, 'the count survives the reload')
  await pb.screenshot({ path: screenshotPath('editor-offline.png') })
  assert.equal(await docText(pa), 'Written online.', 'A has not seen the offline edits yet')
  assert.equal(await exported(name, 'markdown'), 'Written online.\n')

  await b.setOffline(false)
  await waitFor(async () => (await docText(pa)) === 'Written online.\n\nWritten offline.', { timeout: 10000, message: 'A to get the offline edits' })
  await pb.locator('#connection[data-state="connected"][data-pending="0"]').waitFor({ timeout: 5000 })
  assert.equal(await pb.locator('#connection').textContent(), 'Connected')
  assert.equal(await exported(name, 'markdown'), 'Written online.\n\nWritten offline.\n')
  assert.equal(await docJSON(pa), await docJSON(pb))
  await a.close()
  await b.close()
})

test('when the server goes away the badge says so, counts the edits, and they land when it is back', async () => {
  const a = await person(ADA)
  const name = 'restart'
  const pa = await open(a, name)
  await pa.locator('#editor').click()
  await pa.keyboard.type('Before.')
  await pa.locator('#connection[data-state="connected"][data-pending="0"]').waitFor({ timeout: 3000 })

  await server.down()
  await pa.locator('#connection:is([data-state="reconnecting"], [data-state="offline"])').waitFor({ timeout: 5000 })
  await pa.keyboard.type(' During.')
  await pa.locator('#connection', { hasText: /8 edits waiting/ }).waitFor({ timeout: 3000 })
  await pa.screenshot({ path: screenshotPath('editor-reconnecting.png') })

  await server.up()
  // y-websocket backs off up to 5 s between attempts
  await pa.locator('#connection[data-state="connected"][data-pending="0"]').waitFor({ timeout: 15000 })
  assert.equal(await exported(name, 'markdown'), 'Before. During.\n')
  await a.close()
})

test('bold, a heading and a list typed with shortcuts export as Markdown and HTML', async () => {
  const a = await person(ADA)
  const name = 'formatting'
  const pa = await open(a, name)
  await pa.locator('#editor').click()
  const mod = 'Control'
  await pa.keyboard.press(`${mod}+Alt+1`)
  await pa.keyboard.type('Plan')
  await pa.keyboard.press('Enter')
  await pa.keyboard.type('This is ')
  await pa.keyboard.press(`${mod}+B`)
  await pa.keyboard.type('very')
  await pa.keyboard.press(`${mod}+B`)
  await pa.keyboard.type(' important.')
  await pa.keyboard.press('Enter')
  await pa.keyboard.press(`${mod}+Shift+8`)
  await pa.keyboard.type('one')
  await pa.keyboard.press('Enter')
  await pa.keyboard.type('two')
  await pa.keyboard.press('Enter')
  await pa.keyboard.press('Enter') // leaves the list
  await pa.keyboard.press(`${mod}+Shift+9`)
  await pa.keyboard.type('ship it')
  await pa.locator('#connection[data-state="connected"][data-pending="0"]').waitFor({ timeout: 3000 })

  const md = await waitFor(async () => {
    const s = await exported(name, 'markdown')
    return s.includes('ship it') && s
  }, { message: 'the last edit on the server' })
  assert.equal(md, '# Plan\n\nThis is **very** important.\n\n- one\n- two\n\n* [ ] ship it\n')
  const html = await exported(name, 'html')
  assert.equal(html.trim(), (await pa.evaluate(() => window.quire.editor.getHTML())).trim(), 'the HTML export is what Tiptap renders')
  assert.match(html, /<h1>Plan<\/h1>/)
  assert.match(html, /<strong>very<\/strong>/)
  assert.match(html, /<ul><li><p>one<\/p><\/li><li><p>two<\/p><\/li><\/ul>/)
  // the toolbar says what is on
  await caretAt(pa, 0)
  assert.equal(await pa.locator('[data-tool="Bold"]').getAttribute('aria-pressed'), 'false')
  await a.close()
})

test('the document list and the dashboard show the document and its two peers', async () => {
  const a = await person(ADA)
  const b = await person(BOB)
  const name = 'team/plans'
  const pa = await open(a, name)
  const pb = await open(b, name)
  await pa.locator('#editor').click()
  await pa.keyboard.type('Agenda for the week.')
  await waitFor(async () => (await docText(pb)) === 'Agenda for the week.', { message: 'B to see A\'s text' })

  const viewer = await person({ name: 'Viewer', color: '#475467' })
  const list = watch(await viewer.newPage())
  await list.goto('/')
  const row = list.locator('#docs tbody tr', { has: list.locator(`a[href="/d/${encodeURIComponent(name)}"]`) })
  await waitFor(async () => (await row.locator('.peers').textContent()) === '2', { timeout: 8000, message: 'two peers in the list' })
  assert.equal(await row.locator('th').textContent(), name)
  await list.screenshot({ path: screenshotPath('list.png') })

  const admin = watch(await viewer.newPage())
  await admin.goto('/admin')
  const arow = admin.locator('#admin-docs tbody tr', { has: admin.locator(`a[href="/d/${encodeURIComponent(name)}"]`) })
  await waitFor(async () => (await arow.locator('.peers').textContent()) === '2', { timeout: 8000, message: 'two peers on the dashboard' })
  const conns = admin.locator('[data-figure="connections"] .value')
  await waitFor(async () => Number(await conns.textContent()) >= 2, { message: 'connections' })
  // rates need two samples
  await pa.keyboard.type(' More.', { delay: 30 })
  await waitFor(async () => /^[\d.,]+$/.test(await admin.locator('[data-figure="messages"] .value').textContent()), { timeout: 8000, message: 'a message rate' })
  await waitFor(async () => /s$/.test(await admin.locator('[data-figure="persist"] .value').textContent()), { timeout: 8000, message: 'a persist latency' })
  await admin.screenshot({ path: screenshotPath('admin.png'), fullPage: true })

  // compact, where the server offers it (POST /api/v1/docs/<name>/compact)
  if (await arow.locator('[data-action="compact"]').count()) {
    await arow.locator('[data-action="compact"]').click()
    await waitFor(async () => {
      const info = await (await fetch(`${server.base}/api/v1/docs/${encodeURIComponent(name)}`)).json()
      return info.logCount === 0
    }, { message: 'an empty log after compacting' })
  } else {
    assert.ok(await admin.locator('#compact-note').isVisible(), 'a note says why there is no compact button')
  }

  // delete from the dashboard: the editors are told, and the list forgets it
  admin.once('dialog', (d) => d.accept())
  await arow.locator('[data-action="delete"]').click()
  await pa.locator('#connection[data-state="deleted"]').waitFor({ timeout: 5000 })
  await pb.locator('#connection[data-state="deleted"]').waitFor({ timeout: 5000 })
  await waitFor(async () => (await arow.count()) === 0, { timeout: 8000, message: 'the row to go' })
  const res = await fetch(`${server.base}/api/v1/docs/${encodeURIComponent(name)}`)
  assert.equal(res.status, 404)
  await a.close()
  await b.close()
  await viewer.close()
})

test('plain-text mode: CodeMirror on the Text "codemirror", with the others\' cursors', async () => {
  const a = await person(ADA)
  const b = await person(BOB)
  const name = 'notes.txt'
  const openText = async (ctx) => {
    const page = watch(await ctx.newPage())
    await page.goto('/d/' + encodeURIComponent(name) + '?mode=text')
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 10000 })
    return page
  }
  const pa = await openText(a)
  const pb = await openText(b)
  const text = (page) => page.evaluate(() => window.quire.doc.getText('codemirror').toString())
  await pa.locator('#editor').click()
  await pa.keyboard.type('line one')
  await waitFor(async () => (await text(pb)) === 'line one', { message: 'B to see A\'s line' })
  await pb.locator('#editor').click()
  await pb.keyboard.press('Control+End')
  await Promise.all([
    pb.keyboard.type(' and two', { delay: 15 }),
    pa.keyboard.type('!', { delay: 15 })
  ])
  await waitFor(async () => (await text(pa)) === (await text(pb)), { timeout: 1000, message: 'identical texts' })
  const t = await text(pa)
  assert.equal([...t].sort().join(''), [...'line one! and two'].sort().join(''), t)
  await waitFor(async () => (await exported(name, 'text', 'codemirror')) === t, { message: 'the text on the server' })
  await pa.locator('.cm-ySelectionInfo', { hasText: 'Bob' }).waitFor({ timeout: 2000 })
  await pb.locator('.cm-ySelectionInfo', { hasText: 'Ada' }).waitFor({ timeout: 2000 })
  assert.equal(await pa.locator('.modes [aria-current="page"]').textContent(), 'Plain text')
  await pa.screenshot({ path: screenshotPath('editor-text.png') })
  await a.close()
  await b.close()
})

test('keyboard only, at phone width', async () => {
  const ctx = await person({ name: 'Kim', color: '#6d28d9' }, { width: 375, height: 740 })
  const page = watch(await ctx.newPage())
  await page.goto('/')
  // the name field has focus and a label; Enter opens the document
  await waitFor(async () => (await page.evaluate(() => document.activeElement.id)) === 'doc-name', { message: 'the name field to have focus' })
  assert.equal(await page.getByLabel('Document name').count(), 1)
  await page.keyboard.type('phone doc')
  await page.keyboard.press('Enter')
  await page.waitForURL('**/d/phone%20doc')
  await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 10000 })
  // Tab reaches the toolbar, arrow keys move in it, Tab again reaches the text
  await page.locator('.modes a').last().focus()
  await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement.dataset.tool), 'Bold')
  await page.keyboard.press('ArrowRight')
  assert.equal(await page.evaluate(() => document.activeElement.dataset.tool), 'Italic')
  await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement.id), 'editor')
  await page.keyboard.type('Typed on a phone.')
  await waitFor(async () => (await exported('phone doc', 'text', '')) === 'Typed on a phone.', { message: 'the text on the server' })
  for (const path of ['/d/phone%20doc', '/', '/admin']) {
    if (path !== '/d/phone%20doc') await page.goto(path)
    await sleep(200)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 375px`)
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, button, [role="textbox"]')]
      .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 80)))
    assert.deepEqual(unlabelled, [], `${path} has unlabelled controls`)
  }
  await page.goto('/d/phone%20doc')
  await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 10000 })
  await page.screenshot({ path: screenshotPath('editor-375.png'), fullPage: true })
  await page.goto('/admin')
  await page.locator('#admin-docs tbody tr').first().waitFor()
  await page.screenshot({ path: screenshotPath('admin-375.png'), fullPage: true })
  await ctx.close()
})

test('no errors in the pages', () => {
  assert.deepEqual(pageErrors, [])
})
