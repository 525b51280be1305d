/**
 * @file A search may pick any candidate, so every candidate configuration in `candidates`
 * (tune.ts) for matmul, conv2d and its gradients must compute the float64 reference's values
 * on odd shapes (edges clamped, vec4 and scalar paths), exactly as the heuristic kernel does;
 * and a search with a spent time budget measures one shape and leaves the rest uncached.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { autotune, candidates, useTuning } from "../../compiler/codegen/tune.js";
import { planGraph } from "../../compiler/codegen/index.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { checkOnDevice, device, graphOf, randomFeeds, releaseDevice, span } from "./util.js";

/** Checks `g` on the device once per configuration, each active for every shape of `op`. */
async function everyCandidate(op: string, cfgs: readonly object[], graphs: Graph[]) {
  const dev = await device();
  const kernels = graphs.map(() => new Set<string>());
  try {
    for (const [i, cfg] of cfgs.entries()) {
      useTuning("test", { test: { [`${op} *`]: cfg } });
      for (const [j, g] of graphs.entries()) {
        kernels[j]!.add(planGraph(g, { limits: dev.limits, fuse: false }).kernels[0]!.wgsl);
      }
      for (const [j, g] of graphs.entries()) {
        try {
          await checkOnDevice(g, randomFeeds(g, 10 * i + j));
        } catch (e) {
          throw new Error(`${op} ${JSON.stringify(cfg)}, graph ${j}: ${(e as Error).message}`);
        }
      }
    }
  } finally {
    useTuning(undefined);
  }
  // The configurations reached the emitter: several distinct kernels on some shape (many
  // clamp alike on small shapes; shapes off the blocked path ignore them).
  const most = Math.max(...kernels.map((k) => k.size));
  assert.ok(most >= 3, `${op}: ${most} distinct kernels`);
}

const matmul = (m: number, k: number, n: number, transA: boolean, transB: boolean) =>
  graphOf([{ shape: transA ? [k, m] : [m, k] }, { shape: transB ? [n, k] : [k, n] }], (b, [a, c]) =>
    b.add("matmul", [a!, c!], { transA, transB }, span),
  );

test("matmul: every search candidate matches the reference on odd shapes", async () => {
  await everyCandidate("matmul", candidates.matmul, [
    matmul(13, 9, 11, false, false), // scalar loads, partial blocks both ways
    matmul(9, 12, 20, false, false), // vec4 loads, 9 rows
    matmul(12, 8, 13, true, true), // transposed operands, N % 4 != 0
    matmul(37, 12, 30, false, false), // 16-row blocks, partial in both ways
    matmul(36, 8, 20, true, false), // vec4 transposed A, a partial 16-row block
  ]);
});

type Conv = {
  x: number[];
  w: number[];
  strides: [number, number];
  pads: [number, number, number, number];
};
const convs: Conv[] = [
  { x: [2, 9, 11, 3], w: [3, 3, 3, 5], strides: [1, 1], pads: [1, 1, 0, 1] }, // odd everything
  { x: [1, 7, 10, 8], w: [3, 2, 8, 12], strides: [2, 1], pads: [0, 1, 1, 0] }, // vec4 channels
];

function outShape(c: Conv): number[] {
  const oh = Math.floor((c.x[1]! + c.pads[0]! + c.pads[1]! - c.w[0]!) / c.strides[0]!) + 1;
  const ow = Math.floor((c.x[2]! + c.pads[2]! + c.pads[3]! - c.w[1]!) / c.strides[1]!) + 1;
  return [c.x[0]!, oh, ow, c.w[3]!];
}

test("conv2d: every search candidate matches the reference on odd shapes", async () => {
  await everyCandidate(
    "conv2d",
    candidates.conv2d,
    convs.map((c) =>
      graphOf([{ shape: c.x }, { shape: c.w }], (b, [x, w]) =>
        b.add("conv2d", [x!, w!], { strides: c.strides, pads: c.pads }, span),
      ),
    ),
  );
});

test("conv2d gradients: every search candidate matches the reference", async () => {
  await everyCandidate(
    "conv2d_grad_input",
    candidates.conv2d_grad_input,
    convs.map((c) =>
      graphOf([{ shape: outShape(c) }, { shape: c.w }], (b, [dy, w]) =>
        b.add(
          "conv2d_grad_input",
          [dy!, w!],
          { strides: c.strides, pads: c.pads, inputShape: c.x },
          span,
        ),
      ),
    ),
  );
  await everyCandidate(
    "conv2d_grad_filter",
    candidates.conv2d_grad_filter,
    convs.map((c) =>
      graphOf([{ shape: c.x }, { shape: outShape(c) }], (b, [x, dy]) =>
        b.add(
          "conv2d_grad_filter",
          [x!, dy!],
          { strides: c.strides, pads: c.pads, filterShape: c.w },
          span,
        ),
      ),
    ),
  );
});

test("autotune: a spent budget measures the first shape only and caches only it", async () => {
  const dev = await device();
  const dir = mkdtempSync(join(tmpdir(), "nnc-tune-budget-"));
  const cachePath = join(dir, "tune.json");
  try {
    const g = graphOf(
      [{ shape: [16, 8] }, { shape: [8, 12] }, { shape: [12, 8] }],
      (b, [a, c, d]) => {
        const y = b.add("matmul", [a!, c!], { transA: false, transB: false }, span);
        return b.add("matmul", [y, d!], { transA: false, transB: false }, span);
      },
    );
    const cands = { matmul: [{ bm: 2, bn: 4, wg: 32 }] };
    const shapes: string[] = [];
    const opts = { cachePath, candidates: cands, reps: 1, trials: 1, budgetMs: 0 };
    const rs = await autotune(dev, [g], {
      ...opts,
      onShape: (_op, key) => shapes.push(key),
    });
    assert.equal(
      rs.map((r) => [r.key, r.cached, r.skipped === true]),
      [
        ["|16x12x8|NN", false, false],
        ["|16x8x12|NN", false, true],
      ],
    );
    assert.equal(shapes, ["|16x12x8|NN"]);
    const cached = Object.keys(JSON.parse(readFileSync(cachePath, "utf8"))[dev.description]);
    assert.equal(cached, ["matmul |16x12x8|NN"]);
    // The next search starts where this one stopped.
    const again = await autotune(dev, [g], opts);
    assert.equal(
      again.map((r) => [r.cached, r.skipped === true]),
      [
        [true, false],
        [false, false],
      ],
    );
  } finally {
    useTuning(undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.after(releaseDevice);
test.run();
