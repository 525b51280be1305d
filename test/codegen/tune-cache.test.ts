/**
 * @file The tune cache without a device: a corrupt or malformed file is ignored with a warning
 * (never an exception), writes replace the file by rename (atomic: a hard link to the old file
 * keeps the old text, no temp file is left, an unwritable path is a warning), the device
 * choice -> adapter record, NNC_TUNE, which shapes a search would measure, and that a cached
 * winner for one shape changes that shape's kernel and no other.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cachedAdapter,
  deviceChoice,
  loadTuning,
  matmulKey,
  pendingShapes,
  readTuneCache,
  rememberAdapter,
  tuneEnabled,
  tuneShapes,
  useTuning,
  writeTuneCache,
} from "../../compiler/codegen/tune.js";
import { planGraph } from "../../compiler/codegen/index.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { defaultLimits } from "../../runtime/plan.js";

const span = { file: "t.nn", start: 0, end: 1 };

function scratch(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "nnc-tune-cache-"));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test("a corrupt or malformed cache file is ignored with a warning", () => {
  const { dir, done } = scratch();
  try {
    const path = join(dir, "tune.json");
    for (const [text, why] of [
      ["{not json", /ignoring the kernel tuning cache .*tune\.json: .*JSON/],
      ["[1, 2]", /not a JSON object/],
      ['"text"', /not a JSON object/],
    ] as const) {
      writeFileSync(path, text);
      const warnings: string[] = [];
      assert.equal(
        readTuneCache(path, (w) => warnings.push(w)),
        {},
        text,
      );
      assert.is(warnings.length, 1, text);
      assert.match(warnings[0]!, why);
    }
    // Entries of the wrong kind are dropped quietly; the rest is kept.
    writeFileSync(
      path,
      JSON.stringify({
        A: { "matmul x": { bm: 2, bn: 4, wg: 8 }, "matmul y": 3 },
        B: 7,
        "@devices": { auto: "A", gpu: 1 },
      }),
    );
    const warnings: string[] = [];
    assert.equal(
      readTuneCache(path, (w) => warnings.push(w)),
      {
        A: { "matmul x": { bm: 2, bn: 4, wg: 8 } },
        "@devices": { auto: "A" },
      },
    );
    assert.equal(warnings, []);
    // loadTuning on a corrupt file: a warning, and heuristics (no winners) active.
    writeFileSync(path, "{");
    const loaded = loadTuning({ description: "A" }, path, (w) => warnings.push(w));
    assert.equal(loaded, {});
    assert.is(warnings.length, 1);
  } finally {
    useTuning(undefined);
    done();
  }
});

test("the cache is replaced atomically, and an unwritable cache is a warning", () => {
  const { dir, done } = scratch();
  try {
    const path = join(dir, "sub", "tune.json");
    const first = { A: { "matmul 1|2x3x4|NN": { bm: 4, bn: 4, wg: 64, ms: 1.5 } } };
    writeTuneCache(first, path);
    assert.equal(readTuneCache(path), first);
    // A rename gives the path a new file; writing in place would change the linked one too.
    const link = join(dir, "old.json");
    linkSync(path, link);
    const second = { A: { "matmul 1|2x3x4|NN": { heuristic: true } } };
    writeTuneCache(second, path);
    assert.equal(readTuneCache(path), second);
    assert.equal(JSON.parse(readFileSync(link, "utf8")), first);
    assert.equal(readdirSync(join(dir, "sub")), ["tune.json"]); // no temp file left
    // A cache path under a regular file cannot be written: a warning, not an exception.
    const warnings: string[] = [];
    writeTuneCache(first, join(link, "tune.json"), (w) => warnings.push(w));
    assert.is(warnings.length, 1);
    assert.match(warnings[0]!, /could not write the kernel tuning cache/);
  } finally {
    done();
  }
});

test("the device choice -> adapter record picks the winners a device-free build uses", () => {
  const { dir, done } = scratch();
  try {
    const path = join(dir, "tune.json");
    assert.is(deviceChoice(undefined, {}), "auto");
    assert.is(deviceChoice("gpu", {}), "gpu");
    assert.is(deviceChoice("gpu", { NNC_DEVICE: "llvmpipe" }), "llvmpipe"); // as acquireDevice
    writeTuneCache({ "llvmpipe (x)": { "matmul *": { bm: 2, bn: 4, wg: 8 } } }, path);
    assert.is(cachedAdapter(readTuneCache(path), "auto"), "llvmpipe (x)"); // the only adapter
    rememberAdapter("gpu", "GPU (y)", path);
    writeTuneCache({ ...readTuneCache(path), "GPU (y)": {} }, path);
    const t = readTuneCache(path);
    assert.is(cachedAdapter(t, "gpu"), "GPU (y)");
    assert.is(cachedAdapter(t, "auto"), undefined); // two adapters, none recorded for auto
    rememberAdapter("auto", "llvmpipe (x)", path);
    assert.is(cachedAdapter(readTuneCache(path), "auto"), "llvmpipe (x)");
    assert.ok("matmul *" in readTuneCache(path)["llvmpipe (x)"]!, "winners kept");
  } finally {
    done();
  }
});

test("NNC_TUNE=0 (or false, off, no) turns tuning off", () => {
  assert.ok(tuneEnabled({}));
  assert.ok(tuneEnabled({ NNC_TUNE: "1" }));
  for (const v of ["0", "false", "OFF", " no "]) assert.not.ok(tuneEnabled({ NNC_TUNE: v }), v);
});

/** Three matmuls of two shapes: y = a w, y2 = a2 w (the same shape), z = y v. */
function twoMatmuls(): Graph {
  const b = new GraphBuilder();
  const a = b.source("input", "a", { shape: [16, 24], dtype: "f32" }, span);
  const a2 = b.source("input", "a2", { shape: [16, 24], dtype: "f32" }, span);
  const w = b.source("input", "w", { shape: [24, 32], dtype: "f32" }, span);
  const v = b.source("input", "v", { shape: [32, 8], dtype: "f32" }, span);
  const y = b.add("matmul", [a, w], { transA: false, transB: false }, span);
  const y2 = b.add("matmul", [a2, w], { transA: false, transB: false }, span);
  b.output("z", b.add("matmul", [y, v], { transA: false, transB: false }, span));
  b.output("y2", y2);
  return b.build();
}

test("a search measures each shape once, and only those the cache lacks", () => {
  const g = twoMatmuls();
  const keys = tuneShapes([g, g], defaultLimits).map((s) => `${s.op} ${s.key}`);
  const first = `matmul ${matmulKey([], 16, 32, 24, false, false)}`;
  const second = `matmul ${matmulKey([], 16, 8, 32, false, false)}`;
  assert.equal(keys, [first, second]);
  const table = {
    A: { [first]: { heuristic: true, space: 2 } },
    B: { [second]: { bm: 2, bn: 4, wg: 8, space: 2 } },
    // Searched among the older matmul candidates (no `space`): measured again.
    D: { [first]: { heuristic: true }, [second]: { bm: 2, bn: 4, wg: 8, space: 2 } },
  };
  assert.equal(
    pendingShapes("A", [g], defaultLimits, table).map((s) => `${s.op} ${s.key}`),
    [second],
  );
  assert.equal(
    pendingShapes("D", [g], defaultLimits, table).map((s) => `${s.op} ${s.key}`),
    [first],
  );
  assert.equal(
    pendingShapes("B", [g], defaultLimits, table).map((s) => `${s.op} ${s.key}`),
    [first],
  );
  assert.equal(pendingShapes("C", [g], defaultLimits, table).length, 2);
});

test("a cached winner changes the emitted WGSL of its shape, and of no other", () => {
  const g = twoMatmuls();
  const wgsl = () =>
    planGraph(g, { limits: defaultLimits, fuse: false }).kernels.map((k) => k.wgsl);
  const base = wgsl();
  assert.is(base.length, 3); // y, y2 (the tuned shape) and z
  const key = `matmul ${matmulKey([], 16, 32, 24, false, false)}`;
  try {
    useTuning("A", { A: { [key]: { bm: 2, bn: 4, wg: 16, ms: 1, heuristicMs: 2 } } });
    const tuned = wgsl();
    const changed = tuned.filter((w, i) => w !== base[i]);
    assert.is(changed.length, 2, "both kernels of the tuned shape, not the other");
    for (const w of changed) assert.match(w, "let m0 = tm * 2u;");
    for (const w of base) assert.match(w, "let m0 = tm * 8u;"); // the heuristic's 8-row block
    // The same entry on another adapter, or marked as the heuristic, changes nothing.
    useTuning("B", { A: { [key]: { bm: 2, bn: 4, wg: 16 } } });
    assert.equal(wgsl(), base);
    useTuning("A", { A: { [key]: { heuristic: true, ms: 1, heuristicMs: 1 } } });
    assert.equal(wgsl(), base);
    // Nor does a malformed winner (a hand-edited cache): the heuristic, not a broken kernel.
    for (const bad of [
      { bm: "2", bn: 4, wg: 16 },
      { bm: 2, bn: 4 },
      { bm: 0, bn: 4, wg: 16 },
    ]) {
      useTuning("A", { A: { [key]: bad } });
      assert.equal(wgsl(), base, JSON.stringify(bad));
    }
  } finally {
    useTuning(undefined);
  }
});

test.run();
