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
import { checkOnDevice, device, graphOf, randomFeeds, releaseDevice, span } from "./util.js";

/** The WGSL of the kernels `g` plans to on this device (to assert which path was taken). */
async function wgslOf(g: Graph, limits?: DeviceLimitsLike): Promise<string[]> {
  const dev = await device();
  return planGraph(g, { limits: limits ?? dev.limits }).kernels.map((k) => k.wgsl);
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

test.after(releaseDevice);
test.run();
