/**
 * @file How `nnc train` and `nnc eval` load a run's data and check it against the model before
 * training: a CSV file without `classes` trains a regression (its label column the targets,
 * reported by loss alone), two classes feed an output of [1] as targets 0 and 1, and data the
 * model cannot take (labels outside the classes, another number of features, token ids outside
 * the embedding, values no f32 holds, IDX items of other dimensions) fails with exit 1 and one
 * message naming the file, and the row and column where the file has them, before training.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeIdx } from "../../runtime/data/idx.js";
import { type CliResult, nncIn } from "./util.js";
import { rng } from "../device/util.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-data-"));

const run = (args: string[]): CliResult => nncIn(dir, args);

/** Writes `name` in the test folder; returns its path. */
function write(name: string, text: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** `nnc train FILE` that must fail before training with exactly `message` on stderr. */
function failsBeforeTraining(file: string, message: string, args: string[] = []): void {
  const r = run(["train", file, "--out", join(dir, "out-fail"), ...args]);
  assert.is(r.code, 1, r.stderr);
  assert.is(r.stderr, message + "\n");
}

/** A CSV of `rows` rows: features a, b, c, d uniform in [-1, 1] and y = 2a - b + c/2 + 0.3. */
function linear(rows: number): string {
  const next = rng(5);
  const lines = ["a,b,c,d,y"];
  for (let i = 0; i < rows; i++) {
    const x = Array.from({ length: 4 }, () => next() * 2 - 1);
    const y = 2 * x[0]! - x[1]! + 0.5 * x[2]! + 0.3;
    lines.push([...x, y].map((v) => v.toFixed(4)).join(","));
  }
  return lines.join("\n") + "\n";
}

const regression = (output: string, data = "lin.csv") => `model M(x: [4]) -> ${output} {
  x |> dense(${output === "[3]" ? 3 : 1})
}
train M {
  data      = csv(path: "${data}", label: "y")
  validate  = csv(path: "${data}", label: "y")
  loss      = mse
  optimizer = adam(lr: 0.05)
  batch     = 16
  epochs    = 4
}
`;

test("a CSV without classes trains a regression on its label column; the loss falls", () => {
  write("lin.csv", linear(256));
  const file = write("lin.nn", regression("[1]"));
  const out = join(dir, "out-lin");
  const r = run(["train", file, "--out", out, "--json"]);
  assert.is(r.code, 0, r.stderr);
  // Regression targets have no classes: no accuracy on the progress lines or in the summary.
  assert.match(r.stderr, /epoch 4\/4 loss \d+\.\d+ val_loss \d+\.\d+ /);
  assert.not.match(r.stderr, /acc/);
  const summary = JSON.parse(r.stdout) as Record<string, number | null>;
  assert.is(summary.train_accuracy, null);
  assert.is(summary.val_accuracy, null);
  const epochs = readFileSync(join(out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { loss: number; val_loss: number; accuracy: null });
  assert.is(epochs.length, 4);
  assert.ok(epochs[0]!.loss > 0.2, `first epoch's loss ${epochs[0]!.loss}`);
  assert.ok(epochs[3]!.val_loss < 0.01, `last epoch's validation loss ${epochs[3]!.val_loss}`);
  assert.is(epochs[3]!.accuracy, null);
  const e = run(["eval", file, "--weights", join(out, "M.safetensors")]);
  assert.is(e.code, 0, e.stderr);
  assert.is(e.stdout, `M: 256 validation samples, loss ${summary.val_loss!.toFixed(4)}\n`);
  const json = run(["eval", file, "--weights", join(out, "M.safetensors"), "--json"]);
  const evaluated = JSON.parse(json.stdout) as { data: string; loss: number; accuracy: null };
  assert.is(evaluated.data, "validate");
  assert.is(evaluated.accuracy, null);
  assert.ok(Math.abs(evaluated.loss - summary.val_loss!) < 1e-6);
  // A run without validate data: --data validate is an error; without --data, eval says it
  // evaluates the training data (here the same rows, so the same loss).
  const noVal = write("noval.nn", regression("[1]").replace(/ *validate .*\n/, ""));
  const weights = ["--weights", join(out, "M.safetensors")];
  const refused = run(["eval", noVal, ...weights, "--data", "validate"]);
  assert.is(refused.code, 1);
  assert.is(
    refused.stderr,
    `${noVal}: train M has no validate data; --data train evaluates the training data\n`,
  );
  assert.is(refused.stdout, "");
  const train = run(["eval", noVal, ...weights]);
  assert.is(train.code, 0, train.stderr);
  assert.is(train.stdout, `M: 256 training samples, loss ${summary.val_loss!.toFixed(4)}\n`);
  const trainJson = run(["eval", noVal, ...weights, "--data", "train", "--json"]);
  assert.is((JSON.parse(trainJson.stdout) as { data: string }).data, "train");
});

test("one regression column for an output of [3] is NN5601 naming the file", () => {
  const file = write("lin3.nn", regression("[3]"));
  failsBeforeTraining(
    file,
    `${join(dir, "lin.csv")}:1:1: error NN5601: column 'y' holds one regression target per row, but model M's output is [3] (3 values); one column is the target of an output of [1] or [] (for classes, give csv(...) classes: N)`,
  );
});

test("two classes feed an output of [1] as targets 0 and 1", () => {
  const next = rng(9);
  const rows = ["a,b,y"];
  for (let i = 0; i < 64; i++) {
    const a = next() * 2 - 1;
    rows.push(`${a.toFixed(3)},${(next() - 0.5).toFixed(3)},${a > 0 ? 1 : 0}`);
  }
  write("bin.csv", rows.join("\n") + "\n");
  const file = write(
    "bin.nn",
    `model B(x: [2]) -> [1] { x |> dense(1) }
train B {
  data      = csv(path: "bin.csv", label: "y", classes: 2)
  loss      = bce_logits
  optimizer = adam(lr: 0.1)
  batch     = 16
  epochs    = 3
}
`,
  );
  const r = run(["train", file, "--out", join(dir, "out-bin"), "--json"]);
  assert.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { train_accuracy: number };
  assert.ok(summary.train_accuracy > 0.8, `accuracy ${summary.train_accuracy}`);
});

test("a CSV label outside the run's classes fails before training at its row and column", () => {
  const text = (label: string) => `a,b,y\n1,2,0\n3,4,1\n5,6,${label}\n`;
  const file = write(
    "cls.nn",
    `model C(x: [2]) -> [2] { x |> dense(2) }
train C {
  data      = csv(path: "cls.csv", label: "y", classes: 2)
  loss      = softmax_cross_entropy
  optimizer = adam
  batch     = 1
  epochs    = 1
}
`,
  );
  for (const label of ["5", "-1", "0.5"]) {
    const csv = write("cls.csv", text(label));
    failsBeforeTraining(
      file,
      `${csv}:4:5: error NN5205: label ${label} in column 'y' is not a class index 0 to 1 (classes: 2)`,
    );
  }
});

test("an IDX label outside the classes, or items of other dimensions, name the file", () => {
  const images = (dims: number[]) => encodeIdx("u8", [4, ...dims], new Uint8Array(4 * 784));
  write("img.idx", images([28, 28]));
  write("wide.idx", images([14, 56]));
  write("lab.idx", encodeIdx("u8", [4], [0, 1, 2, 3]));
  write("lab-bad.idx", encodeIdx("u8", [4], [0, 1, 200, 3]));
  const source = (images: string, labels: string) => `model Mlp(image: [28, 28, 1]) -> [10] {
  image |> flatten |> dense(10)
}
train Mlp {
  data      = idx(images: "${images}", labels: "${labels}")
  loss      = softmax_cross_entropy
  optimizer = adam
  batch     = 2
  epochs    = 1
}
`;
  failsBeforeTraining(
    write("lab-bad.nn", source("img.idx", "lab-bad.idx")),
    `${join(dir, "lab-bad.idx")}: error NN5105: the label of item 2 (from 0) is 200, but labels are class indices 0 to 9 (10 classes)`,
  );
  failsBeforeTraining(
    write("wide.nn", source("wide.idx", "lab.idx")),
    `${join(dir, "wide.idx")}: error NN5601: the file holds 4 images of 14x56, but model Mlp's input image takes [28, 28, 1]`,
  );
  // Items of 28x28 feed a [28, 28, 1] input: the axes of size 1 do not count.
  const r = run(["train", write("ok.nn", source("img.idx", "lab.idx")), "--out", join(dir, "o")]);
  assert.is(r.code, 0, r.stderr);
});

test("features the model does not take fail before training, naming file, row and column", () => {
  const seq = (columns: number) => `model S(tokens: [${columns}] int) -> [2] {
  tokens |> embedding(vocab: 10, dim: 4) |> flatten |> dense(2)
}
train S {
  data      = csv(path: "tok.csv", label: "y", classes: 2)
  loss      = softmax_cross_entropy
  optimizer = adam
  batch     = 1
  epochs    = 1
}
`;
  const csv = (row: string) => write("tok.csv", `t0,t1,t2,y\n1,2,3,0\n${row},1\n`);
  const file = write("tok.nn", seq(3));
  const path = csv("10,0,0");
  failsBeforeTraining(
    file,
    `${path}:3:1: error NN5602: 10 in column 't0' is out of range; input tokens takes ids 0 to 9`,
  );
  csv("0,-7,0");
  failsBeforeTraining(
    file,
    `${path}:3:3: error NN5602: -7 in column 't1' is out of range; input tokens takes ids 0 to 9`,
  );
  csv("0,1,1.5");
  failsBeforeTraining(
    file,
    `${path}:3:5: error NN5602: 1.5 in column 't2' is not a whole number; input tokens takes integer ids`,
  );
  csv("0,1e999,1");
  failsBeforeTraining(
    file,
    `${path}:3:3: error NN5207: '1e999' in column 't1' is out of the range of 32-bit floats (about ±3.4e38)`,
  );
  csv("0,1,2");
  failsBeforeTraining(
    write("tok4.nn", seq(4)),
    `${path}:1:1: error NN5601: the file has 3 feature columns besides the label 'y', but model S's input tokens takes [4] (4 values per sample)`,
  );
  const r = run(["train", file, "--out", join(dir, "out-tok")]);
  assert.is(r.code, 0, r.stderr);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
