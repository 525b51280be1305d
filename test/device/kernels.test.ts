/**
 * @file The heavy kernels' variants on the device against the float64 reference: every path of
 * each size-based choice (reductions by workgroup or by invocation, scalar or vec4; grad-filter
 * partial sums; pooled-gradient scatter for non-overlapping windows; register-blocked
 * convolutions and matmuls at every tuning configuration), odd sizes, NaN/-inf edge cases, and
 * grids folded past the per-dimension workgroup limit (forced with a small limit).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { planGraph } from "../../compiler/codegen/index.js";
import type { Graph } from "../../compiler/ir/graph.js";
import type { DeviceLimitsLike } from "../../runtime/plan.js";
import { useTuning } from "../../compiler/codegen/tune.js";
import { evaluateOutputs, type Feeds } from "../../compiler/reference.js";
import { Executor, type HostArray } from "../../runtime/index.js";
import {
  assertClose,
  checkOnDevice as checkFused,
  device,
  graphOf,
  randomFeeds,
  releaseDevice,
  span,
  type Tolerance,
} from "./util.js";

/** The WGSL of the kernels `g` plans to on this device (to assert which path was taken). */
async function wgslOf(g: Graph, limits?: DeviceLimitsLike): Promise<string[]> {
  const dev = await device();
  return planGraph(g, { limits: limits ?? dev.limits, fuse: false }).kernels.map((k) => k.wgsl);
}

/**
 * checkOnDevice without fusion: each node runs through its own emitter (the code under test
 * here), then every output is compared with the reference.
 */
async function checkOnDevice(
  g: Graph,
  feeds: Feeds,
  tol: Tolerance = {},
  limits?: DeviceLimitsLike,
): Promise<void> {
  const dev = await device();
  const plan = planGraph(g, { limits: limits ?? dev.limits, fuse: false });
  const ex = await Executor.create(dev, plan);
  let got: Record<string, HostArray>;
  try {
    for (const [k, v] of feeds.inputs) ex.writeInput(k, v);
    for (const [k, v] of feeds.variables) ex.setVariable(k, v);
    got = await ex.run();
  } finally {
    ex.dispose();
  }
  const want = evaluateOutputs(g, feeds);
  for (const o of g.outputs) {
    const w = want.get(o.name)!;
    const d = got[o.name]!;
    assert.is(d instanceof Int32Array, w.dtype === "i32", `${o.name}: dtype`);
    assertClose(o.name, d, w, tol);
  }
}

/** This device's limits with a tiny grid, so that grids fold into 2-D. */
async function tinyGrid(): Promise<DeviceLimitsLike> {
  const dev = await device();
  return { ...dev.limits, maxComputeWorkgroupsPerDimension: 16 };
}

const sum =
  (axes: number[], keepDims = false) =>
  (b: Parameters<Parameters<typeof graphOf>[1]>[0], x: number) =>
    b.add("reduce_sum", [x], { axes, keepDims }, span);

test("reductions: workgroup and invocation paths, scalar and vec4", async () => {
  // [shape, axes, expect workgroup path, expect vec4]
  const cases: [number[], number[], boolean, boolean][] = [
    [[16, 13, 13, 8], [0, 1, 2], true, true], // bias gradient: few channels, many rows
    [[16, 13, 13, 6], [0, 1, 2], true, false],
    [[100003], [0], true, false], // a whole sum, past one block of 256 per invocation
    [[3, 700, 5], [1], true, false],
    [[3, 700, 8], [1], true, true],
    [[40, 3, 30, 8], [0, 2], true, true], // non-consecutive axes
    [[5, 7, 12], [1], false, true],
    [[9, 11, 5], [0, 2], false, false],
    [[2, 3], [], false, false],
  ];
  for (const [shape, axes, group, vec] of cases) {
    for (const op of ["reduce_sum", "reduce_max"] as const) {
      const g = graphOf([{ shape }], (b, [x]) => b.add(op, [x!], { axes, keepDims: false }, span));
      const [w] = await wgslOf(g);
      assert.is(w!.includes("workgroupBarrier"), group, `${op} ${shape} by workgroup`);
      assert.is(w!.includes("vec4"), vec && axes.length > 0, `${op} ${shape} vec4`);
      await checkOnDevice(g, randomFeeds(g, shape.length + axes.length));
    }
  }
});

test("reductions: i32, -inf, keepDims and folded grids", async () => {
  const ints = graphOf([{ shape: [600, 4], dtype: "i32" }], (b, [x]) => sum([0])(b, x!));
  await checkOnDevice(ints, randomFeeds(ints, 1, { x0: [-1000, 1000] }));
  const g = graphOf([{ shape: [2, 600, 3] }], (b, [x]) =>
    b.add("reduce_max", [x!], { axes: [1], keepDims: true }, span),
  );
  const feeds = randomFeeds(g, 2);
  feeds.inputs.get("x0")!.fill(-Infinity, 0, 1800);
  await checkOnDevice(g, feeds);
  // 100 workgroups (one per output) and 2,000 invocations on a grid of at most 16 per axis.
  const limits = await tinyGrid();
  const many = graphOf([{ shape: [100, 1000] }], (b, [x]) => sum([1])(b, x!));
  assert.ok((await wgslOf(many, limits))[0]!.includes("wid.y * 15u + wid.x"));
  await checkOnDevice(many, randomFeeds(many, 3), {}, limits);
  const rows = graphOf([{ shape: [2000, 5] }], (b, [x]) => sum([1])(b, x!));
  await checkOnDevice(rows, randomFeeds(rows, 4), {}, limits);
});

test("argmax: long rows by workgroup, first maximum, NaN only at element 0 wins", async () => {
  const g = graphOf([{ shape: [3, 2000] }], (b, [x]) => b.add("argmax", [x!], { axis: 1 }, span));
  assert.ok((await wgslOf(g))[0]!.includes("workgroupBarrier"));
  const feeds = randomFeeds(g, 5);
  const x = feeds.inputs.get("x0")!;
  for (let k = 0; k < x.length; k++) x[k] = Math.floor(x[k]! * 3); // many ties
  x[70] = NaN; // row 0: NaN in the middle of an invocation's slice is skipped
  x[2000] = NaN; // row 1: NaN at element 0 wins
  x[4005] = NaN; // row 2: NaN as some invocation's first element is skipped
  x[4900] = 5;
  await checkOnDevice(g, feeds);
  const cols = graphOf([{ shape: [900, 3] }], (b, [x]) => b.add("argmax", [x!], { axis: 0 }, span));
  const f2 = randomFeeds(cols, 6);
  const y = f2.inputs.get("x0")!;
  for (let k = 0; k < y.length; k++) y[k] = Math.floor(y[k]! * 2);
  await checkOnDevice(cols, f2);
  const short = graphOf([{ shape: [7, 10] }], (b, [x]) => b.add("argmax", [x!], { axis: 1 }, span));
  assert.not.ok((await wgslOf(short))[0]!.includes("workgroupBarrier"));
  await checkOnDevice(short, randomFeeds(short, 7));
});

type Builder = Parameters<Parameters<typeof graphOf>[1]>[0];
type ConvCase = {
  x: number[];
  w: number[];
  strides: [number, number];
  pads: [number, number, number, number];
};

function outShape(c: ConvCase): number[] {
  const [n, h, w] = c.x as [number, number, number];
  const [kh, kw, , f] = c.w as [number, number, number, number];
  const oh = Math.floor((h + c.pads[0] + c.pads[1] - kh) / c.strides[0]) + 1;
  const ow = Math.floor((w + c.pads[2] + c.pads[3] - kw) / c.strides[1]) + 1;
  return [n, oh, ow, f];
}

const convCases: ConvCase[] = [
  { x: [4, 12, 12, 1], w: [3, 3, 1, 32], strides: [1, 1], pads: [0, 0, 0, 0] }, // the seed CNN's
  { x: [3, 9, 8, 8], w: [3, 3, 8, 12], strides: [1, 1], pads: [1, 1, 1, 1] }, // vec4 channels
  { x: [2, 7, 6, 3], w: [3, 2, 3, 5], strides: [2, 1], pads: [1, 1, 0, 2] }, // odd everything
  { x: [2, 11, 10, 4], w: [5, 5, 4, 20], strides: [2, 3], pads: [2, 1, 0, 3] }, // F % 16 != 0
  { x: [1, 5, 5, 2], w: [1, 1, 2, 1], strides: [1, 1], pads: [0, 0, 0, 0] },
  { x: [1, 4, 13, 2], w: [2, 9, 2, 4], strides: [1, 2], pads: [0, 1, 3, 2] }, // wide window
];

const gradFilter =
  (c: ConvCase) =>
  (b: Builder, [x, dy]: number[]) =>
    b.add(
      "conv2d_grad_filter",
      [x!, dy!],
      { strides: c.strides, pads: c.pads, filterShape: c.w },
      span,
    );

test("conv2d_grad_filter: blocks of taps x channels x filters summed by workgroup", async () => {
  for (const c of convCases) {
    const g = graphOf([{ shape: c.x }, { shape: outShape(c) }], gradFilter(c));
    await checkOnDevice(g, randomFeeds(g, c.x[1]!));
  }
});

test("conv2d_grad_filter: tuned blocks, partial tap and filter blocks, chunked sums, folded grids", async () => {
  const dev = await device();
  const small: DeviceLimitsLike = {
    ...dev.limits,
    maxComputeWorkgroupStorageSize: 1024,
    maxComputeWorkgroupsPerDimension: 12,
  };
  const configs = [
    { bt: 1, bf: 4, wg: 8 },
    { bt: 4, bf: 8, wg: 64 },
    { bt: 7, bf: 12, wg: 16 },
    { bt: 25, bf: 32, wg: 32 }, // clamped to 160 accumulators,
  ];
  try {
    for (const cfg of configs) {
      useTuning("test", { test: { "conv2d_grad_filter *": cfg } });
      for (const c of convCases) {
        const g = graphOf([{ shape: c.x }, { shape: outShape(c) }], gradFilter(c));
        await checkOnDevice(g, randomFeeds(g, cfg.bt), {}, small);
      }
    }
  } finally {
    useTuning(undefined);
  }
});

const conv2d =
  (c: ConvCase) =>
  (b: Builder, [x, w]: number[]) =>
    b.add("conv2d", [x!, w!], { strides: c.strides, pads: c.pads }, span);

test("conv2d: register blocks of pixels x filters at every tuning configuration", async () => {
  const configs = [
    undefined,
    { px: 1, ch: 1, wg: 8 },
    { px: 3, ch: 8, wg: 64 },
    { px: 5, ch: 12, wg: 16 },
    { px: 13, ch: 32, wg: 32 }, // clamped to 128 accumulators
  ];
  try {
    for (const cfg of configs) {
      useTuning(cfg && "test", cfg && { test: { "conv2d *": cfg } });
      for (const c of convCases) {
        const g = graphOf([{ shape: c.x }, { shape: c.w }], conv2d(c));
        await checkOnDevice(g, randomFeeds(g, c.x[2]!));
      }
    }
  } finally {
    useTuning(undefined);
  }
  // More than 65,535 workgroups' worth of invocations, on a small grid.
  const dev = await device();
  const c: ConvCase = { x: [2, 40, 40, 2], w: [3, 3, 2, 3], strides: [1, 1], pads: [1, 1, 1, 1] };
  useTuning("test", { test: { "conv2d *": { px: 1, ch: 1, wg: 8 } } });
  try {
    const g = graphOf([{ shape: c.x }, { shape: c.w }], conv2d(c));
    const limits = { ...dev.limits, maxComputeWorkgroupsPerDimension: 1000 };
    assert.ok((await wgslOf(g, limits))[0]!.includes("wid.y * "));
    await checkOnDevice(g, randomFeeds(g, 8), {}, limits);
  } finally {
    useTuning(undefined);
  }
});

test("conv2d applies a fused epilogue (bias and relu) in its own kernel", async () => {
  const dev = await device();
  for (const c of [...convCases.slice(0, 3), convCases[5]!]) {
    const f = c.w[3]!;
    const g = graphOf([{ shape: c.x }, { shape: c.w }, { shape: [f] }], (b, [x, w, bias]) => {
      const y = conv2d(c)(b, [x!, w!]);
      return b.add("relu", [b.add("add", [y, bias!], {}, span)], {}, span);
    });
    const plan = planGraph(g, { limits: dev.limits });
    assert.is(plan.kernels.length, 1, `${c.w}: one kernel`);
    assert.ok(plan.kernels[0]!.wgsl.includes("nnc_epilogue"));
    await checkFused(g, randomFeeds(g, f));
  }
});

test("matmul: every block configuration on the vec4 and scalar paths, batches, epilogue", async () => {
  const configs = [
    undefined,
    { bm: 1, bn: 4, wg: 8 },
    { bm: 2, bn: 8, wg: 16 },
    { bm: 8, bn: 4, wg: 32 },
  ];
  const sizes: [number, number, number][] = [
    [5, 7, 6],
    [8, 12, 16],
    [13, 8, 12],
  ];
  try {
    for (const cfg of configs) {
      useTuning(cfg && "test", cfg && { test: { "matmul *": cfg } });
      for (const [m, k, n] of sizes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const g = graphOf(
              [{ shape: transA ? [k, m] : [m, k] }, { shape: transB ? [n, k] : [k, n] }],
              (b, [a, c]) => b.add("matmul", [a!, c!], { transA, transB }, span),
            );
            await checkOnDevice(g, randomFeeds(g, m + n));
          }
        }
      }
      const batched = graphOf([{ shape: [2, 3, 9, 8] }, { shape: [3, 8, 12] }], (b, [a, c]) =>
        b.add("matmul", [a!, c!], { transA: false, transB: false }, span),
      );
      await checkOnDevice(batched, randomFeeds(batched, 14));
      // A dense layer with its bias and relu fused into the matmul's stores.
      const dense = graphOf(
        [{ shape: [9, 8] }, { shape: [8, 12] }, { shape: [12] }],
        (b, [x, w, c]) => {
          const y = b.add("matmul", [x!, w!], { transA: false, transB: false }, span);
          return b.add("relu", [b.add("add", [y, c!], {}, span)], {}, span);
        },
      );
      const dev = await device();
      const plan = planGraph(dense, { limits: dev.limits });
      assert.is(plan.kernels.length, 1);
      assert.ok(plan.kernels[0]!.wgsl.includes("nnc_epilogue"));
      await checkFused(dense, randomFeeds(dense, 15));
    }
  } finally {
    useTuning(undefined);
  }
});

test("conv2d_grad_input: pixel x channel blocks over vec4 filters, per element otherwise", async () => {
  const configs = [
    undefined,
    { px: 1, ch: 1, wg: 8 },
    { px: 5, ch: 3, wg: 16 },
    { px: 8, ch: 8, wg: 64 },
  ];
  try {
    for (const cfg of configs) {
      useTuning(cfg && "test", cfg && { test: { "conv2d_grad_input *": cfg } });
      for (const c of convCases) {
        const g = graphOf([{ shape: outShape(c) }, { shape: c.w }], (b, [dy, w]) =>
          b.add(
            "conv2d_grad_input",
            [dy!, w!],
            { strides: c.strides, pads: c.pads, inputShape: c.x },
            span,
          ),
        );
        const [wgsl] = await wgslOf(g);
        assert.is(wgsl!.includes("dot(a0_0"), c.w[3]! % 4 === 0, `${c.w}: blocked`);
        await checkOnDevice(g, randomFeeds(g, c.x[3]!));
      }
    }
  } finally {
    useTuning(undefined);
  }
});

test("max pooling: vec4 channels; gradients by cell when windows do not overlap", async () => {
  // [x shape, window, strides, pads, expect the cell path]
  const cases: [number[], [number, number], [number, number], number[], boolean][] = [
    [[3, 10, 10, 8], [2, 2], [2, 2], [0, 0, 0, 0], true], // the seed CNN's, vec4
    [[2, 7, 9, 3], [2, 2], [2, 2], [0, 0, 0, 0], true], // odd sizes: uncovered last row/col
    [[2, 8, 9, 4], [2, 3], [3, 3], [0, 0, 0, 0], true], // gaps between windows
    [[2, 9, 7, 5], [3, 1], [3, 2], [0, 0, 0, 0], true],
    [[2, 7, 5, 4], [3, 2], [2, 2], [1, 0, 1, 1], false], // overlapping, padded
    [[2, 6, 6, 3], [2, 2], [2, 2], [1, 1, 1, 1], false], // padded
    [[1, 6, 6, 8], [3, 3], [1, 1], [0, 0, 0, 0], false],
  ];
  for (const [xs, window, strides, pads, cells] of cases) {
    const attrs = { window, strides, pads: pads as [number, number, number, number] };
    const fwd = graphOf([{ shape: xs }], (b, [x]) => b.add("maxpool2d", [x!], attrs, span));
    const ys = fwd.nodes[fwd.outputs[0]!.node]!.shape as number[];
    const feeds = randomFeeds(fwd, xs[1]!);
    const x = feeds.inputs.get("x0")!;
    for (let k = 0; k < x.length; k += 3) x[k] = Math.round(x[k]! * 2); // ties
    await checkOnDevice(fwd, feeds);
    const g = graphOf([{ shape: xs }, { shape: ys }], (b, [x, dy]) =>
      b.add("maxpool2d_grad", [x!, dy!], attrs, span),
    );
    const [w] = await wgslOf(g);
    assert.is(w!.includes("let valid"), cells, `${xs} ${window} ${strides} ${pads}: by cell`);
    const gf = randomFeeds(g, xs[2]!);
    gf.inputs.set("x0", x);
    await checkOnDevice(g, gf);
  }
});

test.after(releaseDevice);
test.run();
