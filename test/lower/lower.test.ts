/**
 * @file Lowering tests: the MNIST example's graphs (input and variable names and shapes, update
 * count, outputs), and one training step of small models evaluated by the float64 reference
 * interpreter (compiler/reference.ts) against updates computed by hand here: SGD and Adam on a
 * dense layer with MSE, softmax cross-entropy with the `correct` count, freezing, a GAN's two
 * steps, batchnorm state, symbolic lengths and search trials.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkFile } from "../../compiler/index.js";
import type { CheckedProgram } from "../../compiler/check/index.js";
import { lowerTrain, lowerTrainChecked } from "../../compiler/ir/lower.js";
import { evaluateOutputs } from "../../compiler/reference.js";
import { verifyGraph } from "../../compiler/ir/verify.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { fromRoot, repoRoot } from "../util/golden.js";

function program(path: string): CheckedProgram {
  const r = checkFile(fromRoot(path), { displayRoot: repoRoot });
  assert.equal(
    r.diagnostics.map((d) => d.message),
    [],
  );
  return r.program!;
}

function inline(text: string): CheckedProgram {
  const r = checkFile(fromRoot("test/lower/inline.nn"), { text, displayRoot: repoRoot });
  assert.equal(
    r.diagnostics.map((d) => d.message),
    [],
  );
  return r.program!;
}

function shapeOf(g: Graph, name: string): readonly (number | string)[] | undefined {
  const n = g.nodes.find((x) => x.op === "input" && (x.attrs as { name: string }).name === name);
  return n?.shape;
}

test("MNIST: step graph inputs, variables, updates and outputs", () => {
  const t = lowerTrain(program("examples/mnist.nn"), "Mnist", { batch: 64 });
  assert.equal(shapeOf(t.step, "image"), [64, 28, 28, 1]);
  assert.equal(shapeOf(t.step, "label"), [64, 10]);
  assert.equal(shapeOf(t.step, "step"), []);
  const vars = Object.fromEntries(t.variables.map((v) => [v.name, v]));
  assert.equal(vars["conv2d.w"]!.shape, [3, 3, 1, 32]);
  assert.equal(vars["conv2d.b"]!.shape, [32]);
  assert.equal(vars["dense.w"]!.shape, [5408, 10]);
  assert.equal(vars["dense.b"]!.shape, [10]);
  assert.equal(vars["adam.m/dense.w"]!.shape, [5408, 10]);
  assert.is(vars["adam.v/conv2d.b"]!.kind, "state");
  const g = Math.sqrt(6 / (5408 + 10));
  assert.equal(vars["dense.w"]!.init, { dist: "uniform", lo: -g, hi: g });
  assert.equal(vars["dense.b"]!.init, { dist: "constant", value: 0 });
  assert.is(t.variables.length, 12);
  assert.is(t.step.updates.length, 12); // 4 parameters + 2 Adam states each
  assert.equal(
    new Set(t.step.updates.map((u) => u.target)),
    new Set(t.variables.map((v) => v.name)),
  );
  assert.equal(
    t.step.outputs.map((o) => [o.name, t.step.nodes[o.node]!.shape]),
    [
      ["loss", []],
      ["correct", []],
    ],
  );
  assert.equal(
    t.evaluate!.outputs.map((o) => o.name),
    ["loss", "correct"],
  );
  assert.equal(
    t.predict!.outputs.map((o) => [o.name, t.predict!.nodes[o.node]!.shape]),
    [["probabilities", [64, 10]]],
  );
  assert.is(t.predict!.updates.length, 0);
  assert.equal([t.epochs, t.batch, t.configuredBatch, t.stepsPerEpoch], [10, 64, 64, 938]);
  assert.equal(t.metrics, ["accuracy"]);
  assert.equal(t.data, { kind: "mnist", split: "train" });
  assert.equal(t.validate, { kind: "mnist", split: "test" });
  for (const n of t.step.nodes)
    assert.ok(
      n.shape.every((d) => typeof d === "number"),
      `node ${n.id} is concrete`,
    );
});

// A dense layer 3 -> 2 on two samples, and its data.
const X = [0.5, -1, 2, 1.5, 0.25, -0.5];
const Y = [0.3, -0.2, 1.1, 0.4];
const W = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6];
const B = [0.05, -0.05];

function denseGrads(): { loss: number; dw: number[]; db: number[] } {
  const pred = [0, 0, 0, 0];
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 2; j++) {
      let s = B[j]!;
      for (let k = 0; k < 3; k++) s += X[i * 3 + k]! * W[k * 2 + j]!;
      pred[i * 2 + j] = s;
    }
  const err = pred.map((p, i) => p - Y[i]!);
  const loss = err.reduce((a, e) => a + e * e, 0) / 4; // mean over 2 outputs, mean over 2 samples
  const dpred = err.map((e) => (2 * e) / 4);
  const dw = W.map((_, idx) => {
    const k = Math.floor(idx / 2);
    const j = idx % 2;
    return dpred[j]! * X[k]! + dpred[2 + j]! * X[3 + k]!;
  });
  const db = [dpred[0]! + dpred[2]!, dpred[1]! + dpred[3]!];
  return { loss, dw, db };
}

function tinyStep(optimizer: string, step = 1) {
  const p = inline(`
    model Tiny(x: [3]) -> [2] { x |> dense(2) }
    train Tiny {
      data = csv(path: "tiny.csv", label: "y")
      loss = mse
      optimizer = ${optimizer}
    }`);
  const t = lowerTrain(p, "Tiny", { batch: 2 });
  const vars = new Map<string, number[]>([
    ["dense.w", W],
    ["dense.b", B],
  ]);
  for (const v of t.variables)
    if (!vars.has(v.name))
      vars.set(v.name, new Array(v.shape.reduce((a: number, d) => a * Number(d), 1)).fill(0));
  const out = evaluateOutputs(t.step, {
    inputs: new Map([
      ["x", X],
      ["label", Y],
      ["step", [step]],
    ]),
    variables: vars,
  });
  return { t, out };
}

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-9): void {
  assert.is(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!)),
      `[${i}] ${actual[i]} vs ${expected[i]}`,
    );
  }
}

test("one SGD step on a dense layer with MSE matches the hand-computed update", () => {
  const { out } = tinyStep("sgd(lr: 0.1)");
  const g = denseGrads();
  close(out.get("loss")!.data, [g.loss]);
  close(
    out.get("update:dense.w")!.data,
    W.map((w, i) => w - 0.1 * g.dw[i]!),
  );
  close(
    out.get("update:dense.b")!.data,
    B.map((b, i) => b - 0.1 * g.db[i]!),
  );
});

test("one Adam step (Keras formula, eps 1e-7) matches the hand-computed update", () => {
  const { t, out } = tinyStep("adam(lr: 0.01)");
  const g = denseGrads();
  const adam = (p: number, gr: number) => {
    const m = 0.1 * gr;
    const v = 0.001 * gr * gr;
    return p - ((0.01 * Math.sqrt(1 - 0.999)) / (1 - 0.9)) * (m / (Math.sqrt(v) + 1e-7));
  };
  close(
    out.get("update:dense.w")!.data,
    W.map((w, i) => adam(w, g.dw[i]!)),
    1e-9,
  );
  close(
    out.get("update:adam.m/dense.b")!.data,
    g.db.map((d) => 0.1 * d),
  );
  close(
    out.get("update:adam.v/dense.b")!.data,
    g.db.map((d) => 0.001 * d * d),
  );
  assert.is(t.step.updates.length, 6);
});

test("momentum with nesterov follows Keras", () => {
  const { out } = tinyStep("momentum(lr: 0.1, momentum: 0.9, nesterov: true)");
  const g = denseGrads();
  // v = 0.9 * 0 - lr * g; p + 0.9 * v - lr * g
  close(
    out.get("update:dense.b")!.data,
    B.map((b, i) => b + 0.9 * (-0.1 * g.db[i]!) - 0.1 * g.db[i]!),
  );
});

test("RMSprop and AdamW follow Keras", () => {
  const g = denseGrads();
  const rms = tinyStep("rmsprop(lr: 0.01)").out;
  close(
    rms.get("update:dense.b")!.data,
    B.map((b, i) => b - (0.01 * g.db[i]!) / (Math.sqrt(0.1 * g.db[i]! ** 2) + 1e-7)),
  );
  const aw = tinyStep("adamw(lr: 0.01, weight_decay: 0.1)").out;
  const step = (p: number, gr: number) =>
    p -
    0.01 * 0.1 * p -
    ((0.01 * Math.sqrt(1 - 0.999)) / 0.1) * ((0.1 * gr) / (Math.sqrt(0.001 * gr * gr) + 1e-7));
  close(
    aw.get("update:dense.w")!.data,
    W.map((w, i) => step(w, g.dw[i]!)),
  );
});

test("a cosine schedule is evaluated at the step fed in", () => {
  const g = denseGrads();
  const lr = 0.5 * 0.1 * (1 + Math.cos((Math.PI * 3) / 10));
  const { out } = tinyStep("sgd(lr: cosine(from: 0.1, total: 10))", 3);
  close(
    out.get("update:dense.b")!.data,
    B.map((b, i) => b - lr * g.db[i]!),
  );
});

test("softmax cross-entropy loss and the correct count", () => {
  const p = inline(`
    model C(x: [3]) -> [4] { x |> dense(4, bias: false) }
    train C {
      data = csv(path: "c.csv", label: "y", classes: 4)
      loss = softmax_cross_entropy
      optimizer = sgd
    }`);
  const t = lowerTrain(p, "C", { batch: 2 });
  const w = [0.2, -0.1, 0.4, 0.3, -0.3, 0.5, 0.1, -0.2, 0.6, 0.2, -0.4, 0.1];
  const labels = [0, 0, 1, 0, 1, 0, 0, 0]; // classes 2 and 0
  const out = evaluateOutputs(t.step, {
    inputs: new Map([
      ["x", X],
      ["label", labels],
      ["step", [1]],
    ]),
    variables: new Map([["dense.w", w]]),
  });
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < 2; i++) {
    const z = [0, 1, 2, 3].map((j) =>
      [0, 1, 2].reduce((a, k) => a + X[i * 3 + k]! * w[k * 4 + j]!, 0),
    );
    const lse = Math.log(z.reduce((a, v) => a + Math.exp(v), 0));
    const cls = i === 0 ? 2 : 0;
    loss += lse - z[cls]!;
    if (z.indexOf(Math.max(...z)) === cls) correct++;
  }
  close(out.get("loss")!.data, [loss / 2]);
  close(out.get("correct")!.data, [correct]);
});

test("a per-sample scalar broadcasts against each sample: x - mean(x) centres every row", () => {
  const p = inline(`
    model M(x: [3]) -> [3] { x - mean(x) }
    train M { data = csv(path: "c.csv", label: "y"); loss = mse; optimizer = sgd }`);
  const t = lowerTrain(p, "M", { batch: 2 });
  const out = evaluateOutputs(t.predict!, { inputs: new Map([["x", X]]), variables: new Map() });
  const rows = [0, 1].map((i) => X.slice(i * 3, i * 3 + 3));
  close(
    [...out.values()][0]!.data,
    rows.flatMap((r) => r.map((v) => v - (r[0]! + r[1]! + r[2]!) / 3)),
  );
});

test("fine-tuning: frozen layers get no update and no optimizer state", () => {
  const t = lowerTrain(program("examples/finetune.nn"), "FineTune", { batch: 8 });
  const targets = t.step.updates.map((u) => u.target);
  assert.ok(!targets.includes("conv2d.w"));
  assert.ok(!targets.some((x) => x.includes("/conv2d.")));
  assert.ok(targets.includes("dense.w"));
  assert.ok(targets.includes("adamw.m/dense.w"));
  assert.equal(t.freeze, ["conv2d"]);
  assert.is(t.init, "checkpoints/mnist.safetensors");
  assert.equal(
    t.augment.map((a) => a.name),
    ["random_shift", "random_rotate"],
  );
  assert.equal(t.earlyStop, { metric: "val_accuracy", patience: 3, minDelta: 0 });
});

test("GAN: two step graphs, each updating only its model", () => {
  const t = lowerTrain(program("examples/gan.nn"), "Gan", { batch: 4 });
  assert.equal(
    t.steps.map((s) => s.name),
    ["discriminator", "generator"],
  );
  const [d, g] = t.steps;
  const params = (s: typeof d) =>
    s!.graph.updates.map((u) => u.target).filter((x) => !x.includes("adam."));
  assert.equal(params(d).sort(), [
    "Discriminator/dense.b",
    "Discriminator/dense.w",
    "Discriminator/dense_1.b",
    "Discriminator/dense_1.w",
  ]);
  assert.equal(params(g).sort(), [
    "Generator/dense.b",
    "Generator/dense.w",
    "Generator/dense_1.b",
    "Generator/dense_1.w",
  ]);
  assert.ok(
    g!.graph.nodes.some((n) => n.op === "random_normal"),
    "noise is drawn each step",
  );
  assert.equal(t.models, ["Discriminator", "Generator"]);
});

test("batchnorm running statistics are updated in the step graph only", () => {
  const t = lowerTrain(program("examples/residual.nn"), "ResNet", { batch: 2 });
  const targets = t.step.updates.map((u) => u.target);
  assert.ok(targets.includes("batchnorm.mean"));
  assert.ok(targets.includes("batchnorm.var"));
  assert.is(t.evaluate!.updates.length, 0);
});

test("dropout draws random numbers while training, not when evaluating", () => {
  const t = lowerTrain(program("examples/search.nn"), "Search", { batch: 2 });
  assert.ok(t.step.nodes.some((n) => n.op === "random_uniform"));
  assert.ok(!t.evaluate!.nodes.some((n) => n.op === "random_uniform"));
});

test("search: trials index the grid; each trial lowers its own choice", () => {
  const p = program("examples/search.nn");
  const first = lowerTrain(p, "Search", { batch: 2, trial: 0 });
  assert.is(first.trials, 12);
  assert.equal(first.choices, [0, 0, 0]);
  assert.equal(first.variables.find((v) => v.name === "dense.w")!.shape, [784, 64]);
  assert.is(first.configuredBatch, 32);
  const last = lowerTrain(p, "Search", { batch: 2, trial: 11 });
  assert.equal(last.choices, [2, 1, 1]);
  assert.equal(last.variables.find((v) => v.name === "dense.w")!.shape, [784, 256]);
  assert.is(last.configuredBatch, 64);
});

test("symbolic lengths must be bound to lower", () => {
  const p = program("examples/sentiment.nn");
  const bad = lowerTrainChecked(p, "Sentiment", { batch: 2 });
  assert.is(bad.train, null);
  assert.equal(
    bad.diagnostics.map((d) => d.code),
    ["NN3019"],
  );
  const t = lowerTrain(p, "Sentiment", { batch: 2, bindings: { T: 4 } });
  assert.equal(shapeOf(t.step, "tokens"), [2, 4]);
  assert.is(t.step.nodes.filter((n) => n.op === "concat").length >= 1, true);
});

test("every example lowers to graphs the IR verifier accepts", () => {
  const cases: [string, string, Record<string, number>][] = [
    ["examples/mnist.nn", "Mnist", {}],
    ["examples/mlp.nn", "Mlp", {}],
    ["examples/residual.nn", "ResNet", {}],
    ["examples/rows.nn", "Rows", {}],
    ["examples/sentiment.nn", "Sentiment", { T: 3 }],
    ["examples/gan.nn", "Gan", {}],
    ["examples/finetune.nn", "FineTune", {}],
    ["examples/search.nn", "Search", {}],
  ];
  for (const [file, train, bindings] of cases) {
    const t = lowerTrain(program(file), train, { batch: 2, bindings });
    const graphs = [...t.steps.map((s) => s.graph), t.evaluate, t.predict].filter(
      (g): g is Graph => g !== null,
    );
    for (const g of graphs)
      assert.equal(verifyGraph(g, { concrete: true }), [], `${file} ${train}`);
  }
});

test("schedules' total is the run's step count: --limit and --epochs when given", () => {
  // It was the data's size times the file's epochs whatever the trainer ran.
  const p = inline(`
model M(image: [28, 28, 1]) -> [10] { image |> flatten |> dense(10) }
train M {
  data = mnist(split: "train")
  loss = softmax_cross_entropy
  optimizer = sgd(lr: cosine(from: 0.5))
  batch = 64
  epochs = 2
}
`);
  const constants = (opts: { limit?: number; epochs?: number }) =>
    lowerTrain(p, "M", { batch: 64, ...opts })
      .steps[0]!.graph.nodes.filter((n) => n.op === "constant")
      .map((n) => (n.attrs as { value: number }).value);
  assert.ok(constants({}).includes(938 * 2));
  const limited = constants({ limit: 320, epochs: 3 });
  assert.ok(limited.includes(15), String(limited));
  assert.not.ok(limited.includes(938 * 2));
  assert.not.ok(limited.includes(938 * 3));
});

test.run();
