/**
 * @file The measured kernel search on the device: it times distinct candidate kernels, caches
 * the winner per (adapter, op, shape) in the JSON file it is given, makes it active so the
 * next plan uses it, and answers from the cache the second time.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planGraph } from "../../compiler/codegen/index.js";
import { autotune, matmulKey, tuned, useTuning } from "../../compiler/codegen/tune.js";
import { matmulHeuristic } from "../../compiler/codegen/matmul.js";
import { device, graphOf, releaseDevice, span } from "./util.js";

test("autotune: measures, caches per adapter, activates, then answers from the cache", async () => {
  const dev = await device();
  const dir = mkdtempSync(join(tmpdir(), "nnc-tune-"));
  const cachePath = join(dir, "tune.json");
  try {
    const g = graphOf([{ shape: [64, 96] }, { shape: [96, 64] }], (b, [a, c]) =>
      b.add("matmul", [a!, c!], { transA: false, transB: false }, span),
    );
    const cands = [
      { bm: 1, bn: 4, wg: 64 },
      { bm: 8, bn: 8, wg: 64 }, // the heuristic's kernel: timed once
    ];
    const lines: string[] = [];
    const [r] = await autotune(dev, [g], {
      cachePath,
      candidates: { matmul: cands },
      reps: 1,
      trials: 1,
      log: (l) => lines.push(l),
    });
    const key = matmulKey([], 64, 64, 96, false, false);
    assert.is(r!.key, key);
    assert.is(r!.cached, false);
    assert.is(r!.tried, 2);
    assert.ok(r!.ms > 0 && r!.ms <= r!.heuristicMs);
    assert.is(lines.length, 1);
    const cache = JSON.parse(readFileSync(cachePath, "utf8"));
    const entry = cache[dev.description][`matmul ${key}`];
    assert.ok(entry && typeof entry.ms === "number");
    const fallback = matmulHeuristic(64, 64, 96);
    const active = tuned("matmul", key, fallback);
    assert.equal(active, entry.heuristic ? fallback : entry);
    // The plan now carries the winner's kernel.
    const bm = (active as { bm: number }).bm;
    const wgsl = planGraph(g, { limits: dev.limits, fuse: false }).kernels[0]!.wgsl;
    assert.ok(wgsl.includes(`let m0 = tm * ${bm}u;`));
    const [again] = await autotune(dev, [g], { cachePath, candidates: { matmul: cands } });
    assert.is(again!.cached, true);
  } finally {
    useTuning(undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.after(releaseDevice);
test.run();
