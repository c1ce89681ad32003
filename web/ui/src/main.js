// quire's pages are one shell (index.html); the path picks the page.
import './style.css'
import { token } from './util.js'

const main = document.getElementById('main')
const path = location.pathname

function markNav (href) {
  for (const a of document.querySelectorAll('header nav a')) {
    if (new URL(a.href).pathname === href) a.setAttribute('aria-current', 'page')
  }
}

// With authentication on, the dashboard's page itself needs the (admin)
// token in its URL; the other pages find it in sessionStorage.
if (token) {
  for (const a of document.querySelectorAll('header nav a[href="/admin"]')) {
    a.href = '/admin?token=' + encodeURIComponent(token)
  }
}

async function route () {
  if (path.startsWith('/d/') && path.length > 3) {
    const { mount } = await import('./editor.js')
    await mount(main)
  } else if (path === '/admin' || path.startsWith('/admin/')) {
    markNav('/admin')
    const { mount } = await import('./admin.js')
    await mount(main)
  } else {
    markNav('/')
    const { mount } = await import('./list.js')
    await mount(main)
  }
}

route().catch((err) => {
  console.error(err)
  main.textContent = 'This page failed to load: ' + err.message
})

// The service worker keeps the pages available offline, so that a document
// can be reloaded without a network (its edits wait in IndexedDB).
if ('serviceWorker' in navigator && !import.meta.env.DEV) {
  navigator.serviceWorker.register('/sw.js').catch((err) => console.warn('service worker:', err))
}
