/**
 * @file `nnc train --seed S` seeds all of a run's randomness, the GAN's noise included: it
 * trains exactly as the file with `seed = S` does (the noise streams used to stay keyed to the
 * file's seed), another seed gives other losses; the compiled step plans show why (the noise
 * streams are compiled in). And the GAN, with its two optimizers and noise, resumes bit for
 * bit: 1 epoch then `--resume` to 2 equals 2 epochs straight.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileFile } from "../../compiler/compile.js";
import { readCheckpoint } from "../../runtime/checkpoint-node.js";
import { defaultLimits } from "../../runtime/plan.js";
import { fromRoot } from "../util/golden.js";
import { type CliResult, nncIn } from "./util.js";

const gan = fromRoot("examples/gan.nn");
const dir = mkdtempSync(join(tmpdir(), "nnc-seed-"));
// examples/gan.nn with `seed = 5` in its train section.
const seeded = join(dir, "gan5.nn");
writeFileSync(
  seeded,
  readFileSync(gan, "utf8").replace("  epochs = 20\n", "  epochs = 20\n  seed   = 5\n"),
);

function run(args: string[]): CliResult {
  const r = nncIn(dir, args);
  assert.not.match(r.stderr, /\n\s+at /, `stack trace in:\n${r.stderr}`);
  return r;
}

function train(nn: string, out: string, ...more: string[]): void {
  const r = run(["train", nn, "--limit", "320", "--out", join(dir, out), ...more]);
  assert.is(r.code, 0, r.stderr);
}

/** The epochs' step losses of a run's metrics.jsonl. */
function losses(out: string): [number, number][] {
  return readFileSync(join(dir, out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const m = JSON.parse(l) as { loss_discriminator: number; loss_generator: number };
      return [m.loss_discriminator, m.loss_generator];
    });
}

function weights(out: string): Buffer {
  return readFileSync(join(dir, out, "Gan.safetensors"));
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test("--seed is compiled in: the step plans equal those of `seed = S` in the file", () => {
  const plans = (path: string, seed?: number) => {
    const r = compileFile(path, { limits: defaultLimits, ...(seed !== undefined ? { seed } : {}) });
    assert.ok(r.program, JSON.stringify(r.diagnostics));
    assert.is(r.program!.settings.seed, seed ?? (path === seeded ? 5 : 0));
    return r.program!.steps!.flatMap((s) => s.plan.kernels.map((k) => k.wgsl)).join("\n");
  };
  const flag = plans(gan, 5);
  // The noise kernels differ by their stream constant only.
  assert.ok(flag === plans(seeded), "--seed 5 compiles the kernels of seed = 5");
  assert.ok(flag !== plans(gan, 6), "--seed 6 compiles other noise streams");
  assert.ok(flag !== plans(gan), "--seed 5 is not the file's seed 0");
});

test("--seed S trains the GAN as `seed = S` does; another seed, other losses", () => {
  train(gan, "flag5", "--seed", "5", "--epochs", "2");
  train(seeded, "file5", "--epochs", "1");
  train(gan, "flag6", "--seed", "6", "--epochs", "1");
  const [five] = losses("flag5");
  assert.equal(losses("file5"), [five!], "the same seed, by flag or by file: the same losses");
  const [six] = losses("flag6");
  assert.ok(six![0] !== five![0] && six![1] !== five![1], `${six} vs ${five}`);
  for (const v of [...five!, ...six!]) assert.ok(Number.isFinite(v) && v > 0);
});

test("the GAN resumes bit for bit: 1 epoch + --resume to 2 equals 2 straight", () => {
  // file5 trained 1 epoch with seed 5; flag5 trained 2 with seed 5.
  assert.is.not(Buffer.compare(weights("file5"), weights("flag5")), 0);
  const r = run(["train", seeded, "--resume", "--epochs", "2", "--out", join(dir, "file5")]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /resuming Gan from .*: 1 epoch done \(step 5\), training to epoch 2/);
  assert.is(Buffer.compare(weights("file5"), weights("flag5")), 0);
  assert.equal(losses("file5"), losses("flag5"));
  const names = readCheckpoint(join(dir, "file5", "Gan.state.safetensors")).tensors.map(
    (t) => t.name,
  );
  for (const n of [
    "adam.m/Discriminator/dense.w",
    "adam.v/Generator/dense_1.b",
    "Generator/dense.w",
  ]) {
    assert.ok(names.includes(n), n);
  }
});

test.run();
