/**
 * @file Every stdlib name is exercised: each activation, initializer, layer, loss, optimizer,
 * schedule and regulariser is used in a program that must check cleanly and lower to a training
 * step (with gradients and updates) without diagnostics. Parameter counts of the recurrent layers
 * are compared with Keras's formulas.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkFile, summarize } from "../../compiler/index.js";
import { lowerTrainChecked } from "../../compiler/ir/lower.js";
import { fromRoot, repoRoot } from "../util/golden.js";

function lowers(text: string, train: string, batch = 2): void {
  const r = checkFile(fromRoot("test/lower/stdlib.nn"), { text, displayRoot: repoRoot });
  assert.equal(
    r.diagnostics.map((d) => `${d.code} ${d.message}`),
    [],
    text,
  );
  const l = lowerTrainChecked(r.program!, train, { batch });
  assert.equal(
    l.diagnostics.map((d) => `${d.code} ${d.message}`),
    [],
    text,
  );
  assert.ok(l.train!.step.updates.length > 0);
}

const mlp = (activation: string, init = "glorot_uniform") => `
  model M(image: [28, 28, 1]) -> [10] {
    image |> flatten |> dense(8, activation: ${activation}, kernel_init: ${init}) |> dense(10)
  }`;
const run = (loss: string, optimizer: string, extra = "") => `
  train M {
    data = mnist(split: "train")
    loss = ${loss}
    optimizer = ${optimizer}
    ${extra}
  }`;

for (const act of [
  "relu",
  "sigmoid",
  "tanh",
  "identity",
  "leaky_relu",
  "leaky_relu(alpha: 0.1)",
  "elu",
  "selu",
  "softplus",
  "swish",
  "gelu",
  "gelu(approximate: true)",
  "softmax",
  "log_softmax",
]) {
  test(`activation ${act}`, () => lowers(mlp(act) + run("softmax_cross_entropy", "sgd"), "M"));
}

for (const init of [
  "zeros",
  "ones",
  "full_of(0.1)",
  "uniform",
  "normal",
  "truncated_normal",
  "glorot_uniform",
  "glorot_normal",
  "he_normal",
  "he_uniform",
  "lecun_normal",
  "0.01",
]) {
  test(`initializer ${init}`, () =>
    lowers(mlp("relu", init) + run("softmax_cross_entropy", "sgd"), "M"));
}

const probs = `
  model P(image: [28, 28, 1]) -> [10] { image |> flatten |> dense(10, activation: softmax) }
  model S(image: [28, 28, 1]) -> [10] { image |> flatten |> dense(10, activation: sigmoid) }`;
for (const [model, loss] of [
  ["P", "categorical_crossentropy"],
  ["S", "binary_crossentropy"],
  ["M", "bce_logits"],
  ["M", "mse"],
  ["M", "mae"],
  ["M", "huber"],
  ["M", "huber(delta: 0.5)"],
] as const) {
  test(`loss ${loss}`, () =>
    lowers(
      mlp("relu") +
        probs +
        `train T: ${model} { data = mnist(split: "train") loss = ${loss} optimizer = sgd }`,
      "T",
    ));
}

for (const opt of [
  "sgd",
  "sgd(lr: 0.1)",
  "momentum",
  "momentum(nesterov: true)",
  "rmsprop",
  "adam",
  "adamw(weight_decay: 0.01)",
]) {
  test(`optimizer ${opt}`, () => lowers(mlp("relu") + run("softmax_cross_entropy", opt), "M"));
}

for (const lr of [
  "constant(0.01)",
  "step_decay(from: 0.1, every: 100)",
  "exponential(from: 0.1)",
  "exponential(from: 0.1, staircase: true)",
  "cosine(from: 0.1)",
  "cosine(from: 0.1, to: 0.001, total: 50)",
  "warmup(steps: 10, then: 0.01)",
  "warmup(steps: 10, then: cosine(from: 0.01))",
]) {
  test(`schedule ${lr}`, () =>
    lowers(mlp("relu") + run("softmax_cross_entropy", `adam(lr: ${lr})`), "M"));
}

for (const reg of [
  "l1(0.001)",
  "l2(1e-4)",
  "l1_l2(l1: 1e-5, l2: 1e-4)",
  "[l1(0.001), l2(0.001)]",
]) {
  test(`regulariser ${reg}`, () =>
    lowers(mlp("relu") + run("softmax_cross_entropy", "sgd", `regularize = ${reg}`), "M"));
}

test("layers: conv2d (kernel pair, stride, same), pools, norms, dropout, recurrent", () => {
  const text =
    `
    model M(image: [28, 28, 1]) -> [10] {
      let a = image
        |> conv2d(4, [3, 5], stride: 2, padding: same, activation: relu, bias: false)
        |> maxpool2d(2, stride: 1, padding: same)
        |> avgpool2d(2)
        |> batchnorm
        |> global_avgpool2d
      let b = image |> conv2d(2, 3) |> global_maxpool2d |> layernorm |> dropout(0.25)
      let s = image |> reshape([28, 28])
      let c = s |> lstm(3) |> last
      let d = s |> gru(3) |> last
      let e = s |> rnn(3) |> last
      concat([a, b, c, d, e]) |> dense(10)
    }` + run("softmax_cross_entropy", "adam");
  lowers(text, "M");
});

test("recurrent parameter counts match Keras", () => {
  const r = checkFile(fromRoot("test/lower/stdlib.nn"), {
    text: `model R(x: [T, 16]) -> [5] {
      let a = x |> lstm(8) |> last
      let b = x |> gru(8) |> last
      let c = x |> rnn(8) |> last
      concat([a, b, c]) |> dense(5)
    }`,
    displayRoot: repoRoot,
  });
  assert.equal(r.diagnostics, []);
  const rows = Object.fromEntries(summarize(r.program!)!.rows.map((x) => [x.layer, x.params]));
  assert.is(rows.lstm, 4 * 8 * (16 + 8 + 1));
  assert.is(rows.gru, 3 * 8 * (16 + 8) + 2 * 3 * 8); // reset_after: two bias rows
  assert.is(rows.rnn, 8 * (16 + 8 + 1));
});

test("embedding on int tokens with a symbolic length lowers once T is bound", () => {
  const text = `
    model E(tokens: [T] int) -> [3] { tokens |> embedding(50, 4) |> global_avg |> dense(3) }
    block global_avg(x: [T, d]) -> [d] { mean(x, axis: 0) }
    train E { data = csv(path: "e.csv", label: "y", classes: 3) loss = softmax_cross_entropy optimizer = adam }`;
  const r = checkFile(fromRoot("test/lower/stdlib.nn"), { text, displayRoot: repoRoot });
  assert.equal(r.diagnostics, []);
  const l = lowerTrainChecked(r.program!, "E", { batch: 2, bindings: { T: 7 } });
  assert.equal(l.diagnostics, []);
});

test.run();
