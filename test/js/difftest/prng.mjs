// Small deterministic PRNG for the differential harness. Never use Math.random
// in the harness: a seed must reproduce the same session bit for bit.

const TWO32 = 4294967296

// mulberry32 (Tommy Ettinger), 32-bit state. Returns uint32 values.
export class Rng {
  /** @param {number} seed any integer; only its low 32 bits matter */
  constructor (seed) {
    this.s = seed >>> 0
  }

  /** @returns {number} uint32 */
  u32 () {
    this.s = (this.s + 0x6D2B79F5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** @returns {number} float in [0,1) (exact: u32/2^32) */
  float () {
    return this.u32() / TWO32
  }

  /** @returns {number} integer in [lo, hi] */
  int (lo, hi) {
    return lo + Math.floor(this.float() * (hi - lo + 1))
  }

  /** @returns {boolean} true with probability p */
  chance (p) {
    return this.float() < p
  }

  pick (arr) {
    return arr[Math.floor(this.float() * arr.length)]
  }

  /**
   * Pick a key of `weights` ({name: weight}) proportionally to its weight.
   * Iteration order is the object's own key order, which is deterministic.
   */
  weighted (weights) {
    let total = 0
    for (const k in weights) total += weights[k]
    let x = this.float() * total
    for (const k in weights) {
      x -= weights[k]
      if (x < 0) return k
    }
    return Object.keys(weights).at(-1)
  }

  /** A derived, independent generator (for sub-streams that must not shift others). */
  fork (salt) {
    return new Rng((this.u32() ^ Math.imul(salt >>> 0, 0x9E3779B1)) >>> 0)
  }
}

/**
 * Position from a uint32 "fraction" u (u/2^32 in [0,1)) over n+1 slots:
 * floor(u/2^32 * (n+1)), computed exactly in integers on both sides
 * (the Go peer does (u*(n+1))>>32 with uint64).
 */
export const fracIndex = (u, n) => Math.floor(u * (n + 1) / TWO32)

/** Index of an existing element (n > 0): floor(u/2^32 * n). */
export const fracElem = (u, n) => Math.floor(u * n / TWO32)
