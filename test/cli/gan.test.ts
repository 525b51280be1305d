/**
 * @file A multi-step run end to end through the CLI: `nnc train examples/gan.nn` on a few
 * hundred MNIST images runs both steps on every batch, reports each step's finite loss (in
 * `--json`, `metrics.jsonl` and the progress lines), prints null for the accuracy and
 * validation keys it has no value for, and writes one checkpoint with both models' tensors,
 * the ones `nnc summary` lists. `nnc eval` and `nnc predict` refuse it with a message, not a
 * stack trace.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCheckpoint } from "../../runtime/checkpoint-node.js";
import { fromRoot } from "../util/golden.js";
import { type CliResult, nncIn } from "./util.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-gan-"));
const ckpt = join(dir, "Gan.safetensors");

const run = (args: string[]): CliResult => nncIn(fromRoot(), args);

function noStackTrace(stderr: string): void {
  assert.not.match(stderr, /\n\s+at /, `stack trace in:\n${stderr}`);
  assert.not.match(stderr, /internal error/);
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test("nnc train runs both steps of examples/gan.nn and saves both models", () => {
  const r = run([
    "train",
    "examples/gan.nn",
    "--epochs",
    "1",
    "--limit",
    "640",
    "--out",
    dir,
    "--json",
  ]);
  assert.is(r.code, 0, r.stderr);
  noStackTrace(r.stderr);
  const s = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  assert.is(s.model, "Gan");
  assert.is(s.epochs, 1);
  assert.is(s.checkpoint, ckpt);
  for (const k of ["train_accuracy", "val_loss", "val_accuracy"]) assert.is(s[k], null, k);
  const d = s.loss_discriminator as number;
  const g = s.loss_generator as number;
  // Ten batches from random weights: the discriminator's two cross-entropies sum to about
  // 2 ln 2, the generator's one to about ln 2; neither is exactly 0 or blows up.
  assert.ok(Number.isFinite(d) && d > 0.1 && d < 10, `loss_discriminator ${d}`);
  assert.ok(Number.isFinite(g) && g > 0.05 && g < 10, `loss_generator ${g}`);
  assert.ok(Math.abs((s.train_loss as number) - (d + g)) < 1e-6, "train_loss is their sum");
  assert.ok((s.images_per_second as number) > 0);
  assert.match(r.stderr, /loss_discriminator \d\.\d{4} loss_generator \d\.\d{4}/);
  assert.not.match(r.stderr, /NaN/);

  const lines = readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n");
  assert.is(lines.length, 1);
  const m = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.is(m.loss_discriminator, d);
  assert.is(m.loss_generator, g);
  assert.is(m.accuracy, null);

  const c = readCheckpoint(ckpt);
  assert.is(c.metadata.model, "Gan");
  const shapes = Object.fromEntries(c.tensors.map((t) => [t.name, t.shape]));
  assert.equal(shapes, {
    "Discriminator/dense.w": [784, 256],
    "Discriminator/dense.b": [256],
    "Discriminator/dense_1.w": [256, 1],
    "Discriminator/dense_1.b": [1],
    "Generator/dense.w": [64, 256],
    "Generator/dense.b": [256],
    "Generator/dense_1.w": [256, 784],
    "Generator/dense_1.b": [784],
  });
  for (const t of c.tensors) assert.ok(t.data.every(Number.isFinite), `${t.name} is finite`);
  // nnc summary lists both models, with the counts the checkpoint holds.
  const sum = run(["summary", "examples/gan.nn"]);
  assert.is(sum.code, 0, sum.stderr);
  const count = (prefix: string) =>
    c.tensors.filter((t) => t.name.startsWith(prefix)).reduce((a, t) => a + t.data.length, 0);
  assert.is(count("Discriminator/"), 201_217);
  assert.is(count("Generator/"), 218_128);
  assert.match(sum.stdout, /Model: "Discriminator"[^]*Total params: 201,217/);
  assert.match(sum.stdout, /Model: "Generator"[^]*Total params: 218,128/);
});

test("nnc eval and nnc predict refuse a multi-step run with a message", () => {
  for (const args of [
    ["eval", "examples/gan.nn", "--weights", ckpt],
    ["predict", "examples/gan.nn", "--weights", ckpt, "README.md"],
  ]) {
    const r = run(args);
    assert.is(r.code, 1, r.stderr);
    noStackTrace(r.stderr);
    assert.match(r.stderr, `nnc ${args[0]}: examples/gan.nn: train Gan is a multi-step run`);
    assert.match(r.stderr, "steps discriminator, generator");
  }
});

test.run();
