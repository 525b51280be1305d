/**
 * @file Helpers for device tests: one shared device per test file, seeded random feeds, and
 * `checkOnDevice`, which plans a graph, runs it through the Executor and compares every output
 * with the float64 reference interpreter (relative tolerance with a floor near zero).
 */
import * as assert from "uvu/assert";
import { planGraph } from "../../compiler/codegen/index.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { evaluateOutputs, type Feeds, type RefTensor } from "../../compiler/reference.js";
import type { DeviceLimitsLike } from "../../runtime/plan.js";
import { acquireDevice, Executor, type HostArray, type NncDevice } from "../../runtime/index.js";
import type { Span } from "../../compiler/source.js";

export const span: Span = { file: "test.nn", start: 0, end: 1 };

let shared: Promise<NncDevice> | undefined;
/** The one device a test file uses. */
export function device(): Promise<NncDevice> {
  shared ??= acquireDevice();
  return shared;
}

/** Destroys this file's device (call from `test.after`); the next file gets a fresh one. */
export async function releaseDevice(): Promise<void> {
  const d = shared;
  shared = undefined;
  if (d) (await d).destroy();
}

/** mulberry32: a small seeded PRNG for test data. */
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

export function randomArray(
  n: number,
  r: () => number,
  lo = -1,
  hi = 1,
  dtype: "f32" | "i32" = "f32",
): HostArray {
  if (dtype === "i32")
    return Int32Array.from({ length: n }, () => Math.floor(lo + (hi - lo) * r()));
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export interface Tolerance {
  readonly rtol?: number;
  readonly atol?: number;
}

export function assertClose(
  name: string,
  got: ArrayLike<number>,
  want: RefTensor | ArrayLike<number>,
  tol: Tolerance = {},
): void {
  const w = "data" in want ? want.data : want;
  assert.is(got.length, w.length, `${name}: length`);
  const rtol = tol.rtol ?? 1e-4;
  let scale = 0;
  for (let k = 0; k < w.length; k++)
    if (Number.isFinite(w[k]!)) scale = Math.max(scale, Math.abs(w[k]!));
  const atol = tol.atol ?? 1e-5 * Math.max(1, scale);
  for (let k = 0; k < w.length; k++) {
    const g = got[k]!;
    const e = w[k]!;
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(g), `${name}[${k}]: expected NaN, got ${g}`);
      continue;
    }
    if (!Number.isFinite(Math.fround(e))) {
      assert.is(g, Math.fround(e), `${name}[${k}]`);
      continue;
    }
    const err = Math.abs(g - e);
    if (!(err <= atol + rtol * Math.abs(e))) {
      assert.unreachable(`${name}[${k}]: got ${g}, expected ${e} (error ${err})`);
    }
  }
}

/** Random feeds for every input and variable of a graph, uniform in [lo, hi). */
export function randomFeeds(
  g: Graph,
  seed: number,
  ranges: Record<string, [number, number]> = {},
): { inputs: Map<string, HostArray>; variables: Map<string, HostArray> } {
  const r = rng(seed);
  const inputs = new Map<string, HostArray>();
  const variables = new Map<string, HostArray>();
  for (const n of g.nodes) {
    if (n.op !== "input" && n.op !== "param" && n.op !== "state") continue;
    const name = n.attrs.name;
    const [lo, hi] = ranges[name] ?? (n.dtype === "i32" ? [-5, 5] : [-1, 1]);
    const data = randomArray(
      (n.shape as number[]).reduce((a, b) => a * b, 1),
      r,
      lo,
      hi,
      n.dtype,
    );
    (n.op === "input" ? inputs : variables).set(name, data);
  }
  return { inputs, variables };
}

/** Runs `g` on the device with `feeds` and returns every output. */
export async function runOnDevice(
  g: Graph,
  feeds: Feeds,
  limits?: DeviceLimitsLike,
): Promise<Record<string, HostArray>> {
  const dev = await device();
  const plan = planGraph(g, { limits: limits ?? dev.limits });
  const ex = await Executor.create(dev, plan);
  try {
    for (const [k, v] of feeds.inputs) ex.writeInput(k, v);
    for (const [k, v] of feeds.variables) ex.setVariable(k, v);
    return await ex.run();
  } finally {
    ex.dispose();
  }
}

/** Plans and runs `g`, and compares every output with the reference. */
export async function checkOnDevice(
  g: Graph,
  feeds: Feeds,
  tol: Tolerance = {},
  limits?: DeviceLimitsLike,
): Promise<void> {
  const got = await runOnDevice(g, feeds, limits);
  const want = evaluateOutputs(g, feeds);
  for (const o of g.outputs) {
    const w = want.get(o.name)!;
    const d = got[o.name]!;
    assert.is(d instanceof Int32Array, w.dtype === "i32", `${o.name}: dtype`);
    assertClose(o.name, d, w, tol);
  }
}

/** A graph with one input per shape and `f` applied to them, its result the output "y". */
export function graphOf(
  inputs: readonly { shape: number[]; dtype?: "f32" | "i32" }[],
  f: (b: GraphBuilder, xs: number[]) => number,
): Graph {
  const b = new GraphBuilder();
  const xs = inputs.map((t, k) =>
    b.source("input", `x${k}`, { shape: t.shape, dtype: t.dtype ?? "f32" }, span),
  );
  b.output("y", f(b, xs));
  return b.build();
}

/**
 * A tiny GAN on MNIST (two models, two steps, noise) in `.nn`; `settings` go in its train
 * section, `width` is the discriminator's hidden layer (a multiple of 4 lets its first matmul
 * read the batch as vec4s).
 */
export const tinyGan = (settings = "", width = 5): string => `
model Gen(z: [8]) -> [28, 28, 1] {
  z |> dense(6, activation: tanh) |> dense(784, activation: tanh) |> reshape([28, 28, 1])
}
model Disc(x: [28, 28, 1]) -> [1] {
  x |> flatten |> dense(${width}, activation: leaky_relu) |> dense(1)
}
train Tiny {
  data = mnist(split: "train")
  batch = 4
  ${settings}
  noise z: [8] = normal(std: 0.5)
  step disc {
    loss = bce_logits(Disc(image), 1) + bce_logits(Disc(Gen(z)), 0)
    optimizer = adam(lr: 0.01, beta1: 0.5)
    updates = Disc
  }
  step gen {
    loss = bce_logits(Disc(Gen(z)), 1)
    optimizer = momentum(lr: 0.1)
    updates = Gen
  }
}
`;
