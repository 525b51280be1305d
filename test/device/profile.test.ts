/**
 * @file Per-kernel profiling (runtime/profile.ts, issue 5's `NNC_DEBUG` kernel times): a model
 * created with NNC_DEBUG set reports every kernel of its training step with a non-negative
 * time, and profiling leaves training exactly where it was (a twin model trained without it is
 * the reference); time lands on the kernel that does the work; an executor made without
 * profiling has no profile. Where SwiftShader with timestamp queries can be had (libvulkan1 and
 * Chromium's ICD), the timestamp path is checked too: same outputs as unprofiled passes, every
 * step sampled.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { planGraph } from "../../compiler/codegen/index.js";
import { compileFile } from "../../compiler/compile.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { acquireDevice, Executor, type NncDevice } from "../../runtime/index.js";
import { NncModel } from "../../runtime/model.js";
import type { KernelPlan } from "../../runtime/plan.js";
import {
  formatProfile,
  type KernelProfile,
  kernelProfileOf,
  profilingRequested,
} from "../../runtime/profile.js";
import { device, randomArray, releaseDevice, rng, span } from "./util.js";

const mlpFile = fileURLToPath(new URL("../../../examples/mlp.nn", import.meta.url));
const nncCli = fileURLToPath(new URL("../../bin/nnc.js", import.meta.url));

/** Runs `f` with NNC_DEBUG set as `value` (or unset), restoring it after. */
async function withDebug<T>(value: string | undefined, f: () => Promise<T>): Promise<T> {
  const old = process.env.NNC_DEBUG;
  if (value === undefined) delete process.env.NNC_DEBUG;
  else process.env.NNC_DEBUG = value;
  try {
    return await f();
  } finally {
    if (old === undefined) delete process.env.NNC_DEBUG;
    else process.env.NNC_DEBUG = old;
  }
}

/** The profile lists the plan's kernels in order, each time finite and non-negative. */
function assertCovers(p: KernelProfile, plan: KernelPlan): void {
  assert.equal(
    p.kernels.map((k) => k.name),
    plan.kernels.map((k) => k.name),
  );
  for (const k of p.kernels) {
    assert.ok(Number.isFinite(k.ms) && k.ms >= 0, `${k.name}: ${k.ms} ms`);
    assert.ok(k.share >= 0 && k.share <= 1, `${k.name}: share ${k.share}`);
  }
  assert.ok(p.kernelMs > 0, `kernels took ${p.kernelMs} ms in all`);
  const shares = p.kernels.reduce((a, k) => a + k.share, 0);
  assert.ok(Math.abs(shares - 1) < 1e-9, `shares add up to ${shares}`);
  const table = formatProfile(p, "the test plan");
  for (const k of plan.kernels) assert.match(table, k.name);
}

test("NNC_DEBUG is read as set when non-empty", async () => {
  await withDebug("1", async () => assert.ok(profilingRequested()));
  await withDebug("kernels", async () => assert.ok(profilingRequested()));
  await withDebug("", async () => assert.not.ok(profilingRequested()));
  await withDebug(undefined, async () => assert.not.ok(profilingRequested()));
});

test("a model made under NNC_DEBUG profiles every kernel of its step; training is unchanged", async () => {
  const dev = await device();
  const r = compileFile(mlpFile, { limits: dev.limits, batch: 16, inferBatch: 16 });
  assert.ok(r.program, r.diagnostics.map((d) => d.message).join("\n"));
  const program = r.program!;
  const twinProgram = compileFile(mlpFile, {
    limits: dev.limits,
    batch: 16,
    inferBatch: 16,
  }).program!;
  const profiled = await withDebug("1", () => NncModel.create(program, dev, { seed: 3 }));
  const twin = await withDebug(undefined, () => NncModel.create(twinProgram, dev, { seed: 3 }));
  try {
    const g = rng(7);
    const x = randomArray(16 * 784, g, 0, 1) as Float32Array;
    const y = new Float32Array(16 * 10);
    for (let i = 0; i < 16; i++) y[i * 10 + (i % 10)] = 1;
    for (let s = 0; s < 3; s++) {
      await profiled.trainStep(x, y);
      await twin.trainStep(x, y);
    }
    const p = await kernelProfileOf(program.step);
    assert.ok(p, "a profile for the step plan");
    assert.is(kernelProfileOf(twinProgram.step), undefined, "no profile without NNC_DEBUG");
    assertCovers(p!, program.step);
    const timestamps = dev.device.features.has("timestamp-query");
    assert.is(p!.method, timestamps ? "timestamp-query" : "host-timed");
    // Host timing ran the optimizer kernels again, which update variables in place: they were
    // restored, so both models take the next step from the same state.
    const a = await profiled.trainStep(x, y);
    const b = await twin.trainStep(x, y);
    assert.is(a.loss, b.loss, "the next loss");
    const wa = await profiled.getWeights();
    const wb = await twin.getWeights();
    assert.equal(
      wa.map((t) => [t.name, Array.from(t.data)]),
      wb.map((t) => [t.name, Array.from(t.data)]),
    );
  } finally {
    profiled.dispose();
    twin.dispose();
  }
});

test("NNC_DEBUG=1 nnc train prints the step's kernel table at the end", async () => {
  const dev = await device();
  const out = mkdtempSync(join(tmpdir(), "nnc-profile-"));
  try {
    const args = [nncCli, "train", mlpFile, "--epochs", "1", "--limit", "256", "--batch", "32"];
    const r = spawnSync(process.execPath, [...args, "-o", out], {
      encoding: "utf8",
      timeout: 300_000,
      env: { ...process.env, NNC_DEBUG: "1", NNC_TUNE: "0" },
    });
    assert.is(r.status, 0, r.stderr);
    const lines = r.stderr.split("\n");
    const head = lines.findIndex((l) => l.startsWith("nnc: kernel times of the training step"));
    assert.ok(head >= 0, `no kernel table in:\n${r.stderr}`);
    assert.ok(lines[head - 1]!.startsWith("nnc: done"), "the table follows the summary line");
    // The plan nnc train ran: the same file and batch compiled for the same device (no tuning).
    const plan = compileFile(mlpFile, { limits: dev.limits, batch: 32 }).program!.step;
    const rows = lines.slice(head + 2, head + 2 + plan.kernels.length);
    const named = rows.map((l) => l.trim().split(/\s+/));
    // Kernels that read the batch read it from the dataset (runtime/feed-fusion.ts): "+feed".
    const batch = new Set(plan.inputs.filter((i) => i.name !== "step").map((i) => i.buffer));
    const fed = (k: (typeof plan.kernels)[number]) => k.bindings.some((b) => batch.has(b.buffer));
    const expected = plan.kernels.map((k) => (fed(k) ? `${k.name}+feed` : k.name));
    assert.ok(plan.kernels.some(fed));
    assert.equal(named.map((cells) => cells[5]).sort(), expected.sort());
    for (const cells of named) {
      const ms = Number(cells[0]);
      assert.ok(Number.isFinite(ms) && ms >= 0, `${cells.join(" ")}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

/** A 128x256 @ 256x256 product and, apart, a relu of 4 values: two kernels, one heavy. */
function heavyAndLight(): Graph {
  const b = new GraphBuilder();
  const a = b.source("input", "a", { shape: [128, 256], dtype: "f32" }, span);
  const w = b.source("input", "w", { shape: [256, 256], dtype: "f32" }, span);
  const c = b.source("input", "c", { shape: [4], dtype: "f32" }, span);
  b.output("product", b.add("matmul", [a, w], { transA: false, transB: false }, span));
  b.output("small", b.add("relu", [c], {}, span));
  return b.build();
}

/** Inputs of heavyAndLight, seeded. */
function feed(ex: Executor): void {
  const g = rng(11);
  ex.writeInput("a", randomArray(128 * 256, g));
  ex.writeInput("w", randomArray(256 * 256, g));
  ex.writeInput("c", randomArray(4, g));
}

/** The name of the kernel computing a matmul, from the plan. */
function matmulKernel(plan: KernelPlan): string {
  const k = plan.kernels.find((k) => k.op === "matmul");
  assert.ok(k, `a matmul kernel among ${plan.kernels.map((k) => k.op).join(", ")}`);
  return k!.name;
}

test("the time lands on the kernel that does the work", async () => {
  const dev = await device();
  const plan = planGraph(heavyAndLight(), { limits: dev.limits });
  assert.is(plan.kernels.length, 2, plan.kernels.map((k) => k.name).join(", "));
  const ex = await Executor.create(dev, plan, { profile: true });
  try {
    feed(ex);
    await ex.run();
    const p = (await ex.kernelProfile())!;
    assertCovers(p, plan);
    const heavy = p.kernels.find((k) => k.name === matmulKernel(plan))!;
    assert.ok(heavy.share > 0.7, formatProfile(p, "heavy and light"));
  } finally {
    ex.dispose();
  }
});

test("an executor made without profiling has no profile", async () => {
  const dev = await device();
  const plan = planGraph(heavyAndLight(), { limits: dev.limits });
  const ex = await withDebug(undefined, () => Executor.create(dev, plan));
  try {
    assert.is(await ex.kernelProfile(), undefined);
    assert.is(kernelProfileOf(plan), undefined);
  } finally {
    ex.dispose();
  }
});

/** SwiftShader with timestamp queries, or undefined where it cannot be had here. */
async function timestampDevice(): Promise<NncDevice | undefined> {
  if (process.env.NNC_DEVICE) return undefined; // it would override the choice
  try {
    const dev = await acquireDevice({ device: "swiftshader", profile: true });
    if (dev.device.features.has("timestamp-query")) return dev;
    dev.destroy();
  } catch {
    // no libvulkan1 or no ICD: nothing to check on this machine
  }
  return undefined;
}

test("timestamp queries: profiled passes compute the same outputs, every step sampled", async () => {
  const dev = await timestampDevice();
  if (!dev) {
    console.log("  (no adapter with timestamp queries here: the timestamp path is not checked)");
    return;
  }
  const plain = await acquireDevice({ device: "swiftshader", profile: false });
  try {
    assert.not.ok(plain.device.features.has("timestamp-query"), "no feature unless profiling");
    const plan = planGraph(heavyAndLight(), { limits: dev.limits });
    const timed = await Executor.create(dev, plan, { profile: true });
    const reference = await Executor.create(dev, plan, { profile: false });
    feed(timed);
    feed(reference);
    const want = await reference.run();
    const got = await timed.run();
    assert.equal(Array.from(got.product!), Array.from(want.product!));
    assert.equal(Array.from(got.small!), Array.from(want.small!));
    await timed.submit(3);
    const p = (await timed.kernelProfile())!;
    assert.is(p.method, "timestamp-query");
    assert.is(p.samples, 4, "one run and three submitted steps");
    assertCovers(p, plan);
    assert.ok(p.stepMs >= p.kernelMs * 0.99, `span ${p.stepMs} covers kernels ${p.kernelMs}`);
    const heavy = p.kernels.find((k) => k.name === matmulKernel(plan))!;
    assert.ok(heavy.share > 0.7, formatProfile(p, "heavy and light"));
    timed.dispose();
    reference.dispose();
  } finally {
    plain.destroy();
    dev.destroy();
  }
});

test.after(releaseDevice);
test.run();
