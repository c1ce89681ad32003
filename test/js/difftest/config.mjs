// Environment knobs of the differential harness.
//   QUIRE_DIFF_SEEDS      number of seeds (default 1000; the soak uses 50000)
//   QUIRE_DIFF_SEED_BASE  first seed (default 1): seeds BASE .. BASE+SEEDS-1
//   QUIRE_DIFF_SEED       run only this seed, verbosely
//   QUIRE_DIFF_OPS        ops per seed (default 60)
//   QUIRE_DIFF_TIMEOUT    ms the Go peer may take for one command (default 20000)
//   QUIRE_DIFF_MAX_FAIL   stop after this many failing seeds (default 10)

const int = (name, def) => {
  const v = process.env[name]
  if (v === undefined || v === '') return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v}: want a non-negative integer`)
  return n
}

export const config = () => {
  const one = process.env.QUIRE_DIFF_SEED
  const ops = int('QUIRE_DIFF_OPS', 60)
  if (one !== undefined && one !== '') {
    return { seeds: [int('QUIRE_DIFF_SEED', 0)], verbose: true, ops, timeout: int('QUIRE_DIFF_TIMEOUT', 20000), maxFail: 1 }
  }
  const n = int('QUIRE_DIFF_SEEDS', 1000)
  const base = int('QUIRE_DIFF_SEED_BASE', 1)
  const seeds = []
  for (let i = 0; i < n; i++) seeds.push(base + i)
  return { seeds, verbose: false, ops, timeout: int('QUIRE_DIFF_TIMEOUT', 20000), maxFail: int('QUIRE_DIFF_MAX_FAIL', 10) }
}

export const reproduce = (file, seed, ops) =>
  `QUIRE_DIFF_SEED=${seed}${ops !== 60 ? ` QUIRE_DIFF_OPS=${ops}` : ''} node --test ${file}`
