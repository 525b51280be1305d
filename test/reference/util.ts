/**
 * @file Helpers shared by the reference, autodiff and IR tests: a seeded random source, a test
 * span, one-call evaluation of a graph built with GraphBuilder, naive row-major indexing, and
 * closeness assertions that name the first differing element.
 */
import * as assert from "uvu/assert";
import type { Shape } from "../../compiler/dims.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { DType, InitSpec } from "../../compiler/primitives.js";
import { evaluate, type Feeds, type RefTensor } from "../../compiler/reference.js";
import type { Span } from "../../compiler/source.js";

export const span: Span = { file: "test.nn", start: 0, end: 1 };

/** mulberry32: a small seeded generator of floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function count(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

export function randomArray(n: number, next: () => number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * next());
}

/** Flat row-major index of a multi-index. */
export function at(shape: readonly number[], ...idx: number[]): number {
  let f = 0;
  for (let i = 0; i < shape.length; i++) f = f * shape[i]! + idx[i]!;
  return f;
}

/** The multi-index of a flat row-major index. */
export function unflat(shape: readonly number[], f: number): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = f % shape[i]!;
    f = Math.floor(f / shape[i]!);
  }
  return idx;
}

export function inputFeeds(entries: Record<string, ArrayLike<number>>): Feeds {
  return { inputs: new Map(Object.entries(entries)), variables: new Map() };
}

/** Adds an `input` source node. */
export function input(b: GraphBuilder, name: string, shape: Shape, dtype: DType = "f32"): number {
  return b.source("input", name, { shape, dtype }, span);
}

/** Adds a trainable parameter (variable plus source node). */
export function param(
  b: GraphBuilder,
  name: string,
  shape: Shape,
  init: InitSpec = { dist: "constant", value: 0 },
): number {
  return b.variable({ name, kind: "param", shape, dtype: "f32", init, layer: "test", span });
}

/** Builds a graph of inputs, evaluates it, returns the value of the node `build` returns. */
export function run(
  build: (b: GraphBuilder, inputs: Record<string, number>) => number,
  feeds: Record<string, { shape: number[]; data: ArrayLike<number>; dtype?: DType }>,
): RefTensor {
  const b = new GraphBuilder();
  const ids: Record<string, number> = {};
  for (const [name, f] of Object.entries(feeds)) ids[name] = input(b, name, f.shape, f.dtype);
  const out = build(b, ids);
  const data = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, f.data]));
  return evaluate(b.build(), inputFeeds(data)).get(out)!;
}

export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-12,
  what = "value",
): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const err = Math.abs(a - e) / Math.max(1, Math.abs(e));
    if (!(err <= tol)) assert.unreachable(`${what}[${i}]: got ${a}, expected ${e}`);
  }
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
