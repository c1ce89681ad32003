// Readable listing of a v1 update, for divergence reports.

import * as Y from 'yjs'

const id = (x) => x ? `${x.client}:${x.clock}` : '-'

const content = (c) => {
  switch (c.constructor) {
    case Y.ContentString: return `String ${JSON.stringify(c.str)}`
    case Y.ContentDeleted: return `Deleted(${c.len})`
    case Y.ContentAny: return `Any ${JSON.stringify(c.arr)}`
    case Y.ContentJSON: return `JSON ${JSON.stringify(c.arr)}`
    case Y.ContentEmbed: return `Embed ${JSON.stringify(c.embed)}`
    case Y.ContentFormat: return `Format ${c.key}=${JSON.stringify(c.value)}`
    case Y.ContentBinary: return `Binary(${c.content.length})`
    case Y.ContentType: {
      const t = c.type
      const name = t.constructor.name.replace(/^_?Y/, '')
      return `Type ${name}${t.nodeName ? '<' + t.nodeName + '>' : ''}`
    }
    case Y.ContentDoc: return 'Doc'
  }
  return c.constructor.name
}

/** @param {Uint8Array} u v1 update */
export const describeUpdate = (u) => {
  try {
    const { structs, ds } = Y.decodeUpdate(u)
    const lines = structs.map(s => {
      if (s instanceof Y.GC) return `GC ${id(s.id)} len ${s.length}`
      if (s instanceof Y.Skip) return `Skip ${id(s.id)} len ${s.length}`
      let parent = ''
      if (!s.origin && !s.rightOrigin) {
        parent = typeof s.parent === 'string' ? ` parent "${s.parent}"` : ` parent ${id(s.parent)}`
        if (s.parentSub !== null) parent += ` key ${JSON.stringify(s.parentSub)}`
      }
      return `Item ${id(s.id)} len ${s.length} origin ${id(s.origin)} right ${id(s.rightOrigin)}${parent} ${content(s.content)}`
    })
    const dsl = []
    for (const [client, items] of ds.clients) dsl.push(`${client}:[${items.map(i => `${i.clock}+${i.len}`).join(',')}]`)
    lines.push(`DS {${dsl.join(' ')}}`)
    return lines.join('\n')
  } catch (e) {
    return `(yjs cannot decode this v1 update: ${e.message})`
  }
}
