/**
 * @file Kernel parameters without a device: heuristics, the lookup of tuned configurations
 * (exact key, per-op wildcard, a cached "heuristic won" entry, another adapter's entries), the
 * cache file round trip, and that every configuration the emitters clamp still yields valid
 * block shapes (the WGSL itself is checked on the device, test/device/kernels.test.ts).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  convKey,
  matmulKey,
  readTuneCache,
  tuned,
  useTuning,
  writeTuneCache,
} from "../../compiler/codegen/tune.js";
import { matmulHeuristic } from "../../compiler/codegen/matmul.js";
import { convHeuristic, gradFilterHeuristic } from "../../compiler/codegen/conv.js";
import { planGraph } from "../../compiler/codegen/index.js";
import { defaultLimits } from "../../runtime/plan.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";

const span = { file: "t.nn", start: 0, end: 1 };

test("heuristics: 8x8 matmul blocks, long pixel runs for thin convolutions", () => {
  assert.equal(matmulHeuristic(512, 512, 512), { bm: 8, bn: 8, wg: 64 });
  assert.equal(matmulHeuristic(3, 2, 9), { bm: 2, bn: 4, wg: 64 });
  assert.equal(convHeuristic(26, 1, 32), { px: 13, ch: 4, wg: 64 });
  assert.equal(convHeuristic(14, 32, 64), { px: 7, ch: 8, wg: 64 });
  assert.equal(gradFilterHeuristic(9, 1, 32), { bt: 9, bf: 16, wg: 32 });
  // F = 20: the filter block divides F.
  assert.equal(gradFilterHeuristic(25, 4, 20).bf, 4);
});

test("tuned: exact key, wildcard, heuristic marker, other adapters", () => {
  const fb = { bm: 8, bn: 8, wg: 64 };
  const k = matmulKey([2], 4, 5, 6, true, false);
  assert.is(k, "2|4x5x6|TN");
  try {
    assert.equal(tuned("matmul", k, fb), fb);
    useTuning("A", { A: { [`matmul ${k}`]: { bm: 2, bn: 4, wg: 32 } }, B: { "matmul *": {} } });
    assert.equal(tuned("matmul", k, fb), { bm: 2, bn: 4, wg: 32 });
    assert.equal(tuned("matmul", "other", fb), fb);
    useTuning("A", {
      A: { "matmul *": { bm: 1, bn: 4, wg: 8 }, [`matmul ${k}`]: { heuristic: true } },
    });
    assert.equal(tuned("matmul", k, fb), fb);
    assert.equal(tuned("matmul", "other", fb), { bm: 1, bn: 4, wg: 8 });
    useTuning("C", { A: { "matmul *": { bm: 1, bn: 4, wg: 8 } } });
    assert.equal(tuned("matmul", "other", fb), fb);
  } finally {
    useTuning(undefined);
  }
  assert.is(
    convKey([64, 28, 28, 1], 3, 3, 32, [1, 1], [0, 0, 0, 0]),
    "64x28x28x1 3x3x32 s1,1 p0,0,0,0",
  );
});

test("tune cache: round trip, missing and corrupt files read as empty", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-tune-"));
  try {
    const path = join(dir, "sub", "tune.json");
    assert.equal(readTuneCache(path), {});
    const t = {
      "llvmpipe (x)": {
        "matmul 1|2x3x4|NN": { bm: 4, bn: 4, wg: 64, ms: 1.5, space: 2 },
        "conv2d 1x4x4x1 3x3x2 s1,1 p0,0,0,0": { px: 2, ch: 4, wg: 64, ms: 1 },
      },
    };
    writeTuneCache(t, path);
    assert.equal(readTuneCache(path), t);
    writeTuneCache({}, path);
    assert.equal(readTuneCache(path), {});
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{not json");
    assert.equal(readTuneCache(bad), {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tuned configurations reach the emitted kernels, clamped to valid blocks", () => {
  const b = new GraphBuilder();
  const a = b.source("input", "a", { shape: [10, 12], dtype: "f32" }, span);
  const c = b.source("input", "c", { shape: [12, 6], dtype: "f32" }, span);
  b.output("y", b.add("matmul", [a, c], { transA: false, transB: false }, span));
  const g = b.build();
  const wgsl = (cfg: object) => {
    useTuning("A", { A: { "matmul *": cfg } });
    try {
      return planGraph(g, { limits: defaultLimits, fuse: false }).kernels[0]!.wgsl;
    } finally {
      useTuning(undefined);
    }
  };
  assert.match(wgsl({ bm: 2, bn: 4, wg: 16 }), "let m0 = tm * 2u;");
  assert.match(wgsl({ bm: 2, bn: 4, wg: 16 }), "@workgroup_size(8)"); // 15 items: 2 groups of 8
  assert.match(wgsl({ bm: 99, bn: 3, wg: 64 }), "let m0 = tm * 16u;"); // clamped
  assert.match(wgsl({ bm: 99, bn: 3, wg: 64 }), "let n0 = tn * 4u;");
  assert.match(wgsl({ bm: 12, bn: 99, wg: 64 }), "let n0 = tn * 16u;");
  assert.match(wgsl({ bm: 12, bn: 10, wg: 64 }), "let n0 = tn * 12u;");
});

test.run();
