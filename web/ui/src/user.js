// Who you are to the others: a name and a colour, picked at random the
// first time and kept in localStorage.

const KEY = 'quire:user'

const ADJECTIVES = ['Amber', 'Brave', 'Calm', 'Clever', 'Eager', 'Gentle', 'Happy', 'Jolly', 'Kind', 'Lucky', 'Merry', 'Nimble', 'Proud', 'Quick', 'Quiet', 'Swift', 'Witty', 'Zesty']
const ANIMALS = ['Badger', 'Crane', 'Dolphin', 'Falcon', 'Fox', 'Heron', 'Koala', 'Lynx', 'Marten', 'Otter', 'Owl', 'Panda', 'Puffin', 'Raven', 'Seal', 'Tiger', 'Walrus', 'Wren']

/** Colours dark enough for white text (contrast at least 4.5:1). */
export const COLOURS = ['#b42318', '#b54708', '#8a6100', '#2e7d32', '#0e7490', '#1d4ed8', '#6d28d9', '#a21caf', '#be185d', '#475467']

const pick = (list) => list[Math.floor(Math.random() * list.length)]

export function loadUser () {
  try {
    const u = JSON.parse(localStorage.getItem(KEY) || 'null')
    if (u && typeof u.name === 'string' && u.name.trim() && /^#[0-9a-f]{6}$/i.test(u.color)) {
      return { name: u.name.slice(0, 60), color: u.color.toLowerCase() }
    }
  } catch {}
  const u = { name: pick(ADJECTIVES) + ' ' + pick(ANIMALS), color: pick(COLOURS) }
  saveUser(u)
  return u
}

export function saveUser (u) {
  try { localStorage.setItem(KEY, JSON.stringify(u)) } catch {}
}

/** textOn gives black or white, whichever reads better on the colour. */
export function textOn (hex) {
  const n = parseInt(hex.slice(1), 16)
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4 }
  const l = 0.2126 * lin(n >> 16) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255)
  return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? '#ffffff' : '#000000'
}
