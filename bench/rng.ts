/**
 * @file A small seeded PRNG (mulberry32) and the Glorot-uniform initializer
 * the benchmark uses for every system, so all of them start from the very
 * same weights (in a canonical layout each adapter permutes to its own) and
 * shuffle the data the same way.
 */

/** mulberry32: 32-bit state, uniform floats in [0, 1). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** Glorot (Xavier) uniform: U(-l, l), l = sqrt(6 / (fanIn + fanOut)), as Keras' `glorot_uniform`. */
export function glorotUniform(rng: Rng, size: number, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}
