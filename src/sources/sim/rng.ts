/**
 * Small deterministic random numbers for the simulator. No `Math.random`: the same seed gives the same fleet
 * and the same samples on every machine.
 */

/** A 32-bit hash of a seed and any number of integers (splitmix-style mixing). */
export function hash32(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

/** A uniform number in [0, 1) from a hash, for one-off draws (fleet layout). */
export function unitHash(seed: number, ...parts: number[]): number {
  return hash32(seed, ...parts) / 4294967296;
}

/** A stream of uniform numbers in [0, 1): mulberry32, whose whole state is one integer the caller keeps. */
export interface RngState {
  rng: number;
}

export function nextUniform(state: RngState): number {
  state.rng = (state.rng + 0x6d2b79f5) | 0;
  let t = Math.imul(state.rng ^ (state.rng >>> 15), 1 | state.rng);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Roughly standard normal (the sum of three uniforms, scaled): cheap, bounded to about ±3. */
export function nextNormal(state: RngState): number {
  return (nextUniform(state) + nextUniform(state) + nextUniform(state) - 1.5) * 2;
}
