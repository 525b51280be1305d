/**
 * @file A multi-step run end to end through the CLI: `nnc train examples/gan.nn` on a few
 * hundred MNIST images runs both steps on every batch, reports each step's finite loss (in
 * `--json`, `metrics.jsonl` and the progress lines), prints null for the accuracy and
 * validation keys it has no value for, and writes one checkpoint with both models' tensors,
 * the ones `nnc summary` lists. `nnc eval` and `nnc predict` refuse it with a message, not a
 * stack trace. A run of one of its models loads that model's `<Model>/` tensors from such a file
 * (`nnc predict`, `nnc eval`, `init`); another model's file stays an error.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCheckpoint } from "../../runtime/checkpoint-node.js";
import { encodeIdx } from "../../runtime/data/idx.js";
import { loadMnist } from "../../runtime/data/node.js";
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

test("a run of one model of a multi-step run loads that model's weights from its file", () => {
  const mlp = `model Mlp(image: [28, 28, 1]) -> [10] {
  image |> flatten |> dense(8, activation: relu) |> dense(10)
}
`;
  const noisy = join(dir, "noisy.nn");
  writeFileSync(
    noisy,
    `${mlp}train Noisy {
  data  = mnist(split: "train")
  batch = 32
  noise z: [28, 28, 1] = normal(std: 0.3)
  step fit {
    loss      = softmax_cross_entropy(Mlp(image + z), label)
    optimizer = adam(lr: 0.01)
    updates   = Mlp
  }
}
`,
  );
  const out = join(dir, "noisy");
  const t = run(["train", noisy, "--epochs", "1", "--limit", "64", "--out", out]);
  assert.is(t.code, 0, t.stderr);
  const weights = join(out, "Noisy.safetensors");
  const saved = new Map(readCheckpoint(weights).tensors.map((x) => [x.name, x.data]));
  assert.equal([...saved.keys()], ["Mlp/dense.w", "Mlp/dense.b", "Mlp/dense_1.w", "Mlp/dense_1.b"]);
  // A plain run of Mlp that starts from them and never moves (lr 0).
  const plain = join(dir, "plain.nn");
  writeFileSync(
    plain,
    `import "noisy.nn"
train Plain: Mlp {
  data      = mnist(split: "train")
  loss      = softmax_cross_entropy
  optimizer = sgd(lr: 0.0)
  batch     = 32
  init      = "noisy/Noisy.safetensors"
}
`,
  );
  const p = run(["train", plain, "--epochs", "1", "--limit", "32", "--out", join(dir, "plain")]);
  assert.is(p.code, 0, p.stderr);
  for (const x of readCheckpoint(join(dir, "plain", "Mlp.safetensors")).tensors) {
    assert.equal([...x.data], [...saved.get(`Mlp/${x.name}`)!], x.name);
  }
  // nnc predict and nnc eval of that run take the file as --weights: the probabilities are
  // the ones its tensors give.
  const images = loadMnist({ split: "test", limit: 2 }).inputs;
  const idx = join(dir, "two.idx");
  writeFileSync(idx, encodeIdx("u8", [2, 28, 28], images));
  const r = run(["predict", plain, "--weights", weights, idx, "--json"]);
  assert.is(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { probabilities: number[] }[];
  const dense = (x: number[], w: string, b: string) => {
    const [wd, bd] = [saved.get(w)!, saved.get(b)!];
    return [...bd].map((v, j) => x.reduce((a, xi, i) => a + xi * wd[i * bd.length + j]!, v));
  };
  rows.forEach((row, n) => {
    const x = [...images.subarray(n * 784, (n + 1) * 784)].map((v) => v / 255);
    const h = dense(x, "Mlp/dense.w", "Mlp/dense.b").map((v) => Math.max(v, 0));
    const e = dense(h, "Mlp/dense_1.w", "Mlp/dense_1.b").map(Math.exp);
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => assert.ok(Math.abs(row.probabilities[c]! - v / sum) < 1e-5, `${n} ${c}`));
  });
  const e = run(["eval", plain, "--weights", weights, "--limit", "32", "--json"]);
  assert.is(e.code, 0, e.stderr);
  assert.is(JSON.parse(e.stdout).samples, 32);
  // Another model's file is still refused, naming what does not match.
  const other = run(["eval", plain, "--weights", ckpt]);
  assert.is(other.code, 1);
  assert.match(
    other.stderr,
    `${ckpt}: error NN5406: the model's dense.w, dense.b, dense_1.w, dense_1.b are missing; Discriminator/dense.w,`,
  );
});

test.run();
