// Seeded pseudo-random numbers for the dialer simulator. mulberry32: a 32-bit state, fast and
// good enough for simulation; `streamFor(seed, index)` gives an independent stream per call index,
// so the k-th dialed call draws the same numbers whatever pacer dialed it (common random numbers).

export type Random = () => number;

export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed and an index into a 32-bit stream seed (murmur3's finaliser). */
function mix(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function streamFor(seed: number, index: number): Random {
  return mulberry32(mix(seed, index));
}

/** Standard normal draw from two uniforms (Box-Muller). */
export function standardNormal(random: Random): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
