/**
 * @file Checker unit tests: every example checks clean; shapes, layer names, parameter names and
 * counts agree with Keras's for the same models (counted by hand below); symbolic dimensions,
 * spelling suggestions, initializer specs and argument binding behave as documented.
 */
import { readdirSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkFile, formatSummary, summarize } from "../../compiler/index.js";
import { closest, editDistance } from "../../compiler/check/suggest.js";
import { fans } from "../../compiler/check/builtins.js";
import { fromRoot, repoRoot } from "../util/golden.js";

function check(text: string) {
  return checkFile(fromRoot("test/check/inline.nn"), { text, displayRoot: repoRoot });
}

function messages(text: string): string[] {
  return check(text).diagnostics.map((d) => `${d.code} ${d.message}`);
}

test("every example checks clean", () => {
  const examples = readdirSync(fromRoot("examples")).filter((f) => f.endsWith(".nn"));
  assert.ok(examples.length >= 7, `expected at least 7 examples, found ${examples.length}`);
  for (const f of examples) {
    const r = checkFile(fromRoot("examples", f), { displayRoot: repoRoot });
    assert.equal(
      r.diagnostics.map((d) => d.message),
      [],
      f,
    );
    assert.ok(r.program, f);
  }
});

test("MNIST summary: Keras's layer shapes and 54,410 parameters", () => {
  const r = checkFile(fromRoot("examples/mnist.nn"));
  const s = summarize(r.program!, "Mnist")!;
  assert.equal(
    s.rows.map((x) => [x.layer, x.shape, x.params]),
    [
      ["conv2d", [26, 26, 32], 3 * 3 * 1 * 32 + 32],
      ["maxpool2d", [13, 13, 32], 0],
      ["flatten", [5408], 0],
      ["dense", [10], 5408 * 10 + 10],
    ],
  );
  assert.is(s.total, 54410);
  assert.is(s.trainable, 54410);
  assert.is(s.nonTrainable, 0);
  const m = r.program!.models.get("Mnist")!;
  assert.equal(
    m.variables.map((v) => `${v.name} ${v.shape.join("x")} ${v.layer}`),
    ["conv2d.w 3x3x1x32 conv2d", "conv2d.b 32 conv2d", "dense.w 5408x10 dense", "dense.b 10 dense"],
  );
});

test("a layer the model's train run freezes counts as non-trainable, as in Keras", () => {
  const r = checkFile(fromRoot("examples/finetune.nn"));
  const s = summarize(r.program!, "Mnist")!;
  assert.is(s.total, 54410);
  assert.is(s.trainable, 5408 * 10 + 10);
  assert.is(s.nonTrainable, 3 * 3 * 1 * 32 + 32);
  assert.equal(s.frozenBy, { train: "FineTune", layers: ["conv2d"] });
  assert.match(
    formatSummary(s),
    "Trainable params: 54,090\nNon-trainable params: 320 (train FineTune freezes conv2d)",
  );
});

test("LSTM and embedding counts match Keras; T stays symbolic", () => {
  const r = checkFile(fromRoot("examples/sentiment.nn"));
  const s = summarize(r.program!)!;
  const rows = Object.fromEntries(s.rows.map((x) => [x.layer, x]));
  assert.is(rows.embedding!.params, 10000 * 64);
  assert.is(rows.lstm!.params, 4 * 128 * (64 + 128 + 1));
  assert.equal(rows.lstm!.shape, ["T", 128]);
  assert.equal(rows.last!.shape, [128]);
  assert.equal(r.program!.models.get("Sentiment")!.inputs, [
    { name: "tokens", shape: ["T"], dtype: "i32" },
  ]);
});

test("batchnorm state is non-trainable; residual blocks number their layers", () => {
  const r = checkFile(fromRoot("examples/residual.nn"));
  const s = summarize(r.program!)!;
  assert.is(s.nonTrainable, 32);
  assert.is(s.trainable, 9642);
  const names = r.program!.models.get("ResNet")!.variables.map((v) => v.name);
  assert.ok(names.includes("conv2d_4.w"));
  assert.ok(names.includes("batchnorm.mean"));
  assert.ok(!names.includes("conv2d_5.w"));
});

test("a second call of a layer block is a new layer; bias = false omits b", () => {
  const r = check(`model M(x: [4]) -> [2] { x |> dense(3, bias: false) |> dense(2) }`);
  assert.equal(r.diagnostics, []);
  const vars = r.program!.models.get("M")!.variables.map((v) => `${v.name}:${v.shape.join("x")}`);
  assert.equal(vars, ["dense.w:4x3", "dense_1.w:3x2", "dense_1.b:2"]);
});

test("layer names skip names already taken (a user block called dense_1)", () => {
  const r = check(
    `block dense_1(x) { x } model N(x: [4]) -> [2] { x |> dense(3) |> dense_1 |> dense(2) }`,
  );
  assert.equal(r.diagnostics, []);
  assert.equal(
    summarize(r.program!)!.rows.map((x) => x.layer),
    ["dense", "dense_1", "dense_2"],
  );
  assert.equal(
    r.program!.models.get("N")!.variables.map((v) => v.name),
    ["dense.w", "dense.b", "dense_2.w", "dense_2.b"],
  );
});

test("initializers become InitSpecs from the variable's shape (Keras formulas)", () => {
  const r = check(`
    block probe(x: [n]) {
      param a: [n, 6] = glorot_uniform
      param b: [3, 3, n, 8] = he_normal
      param c: [6] = 0.5
      param d: [6] = uniform(-0.1, 0.2)
      param e: [6] = normal(std: 0.3)
      x
    }
    model M(x: [4]) -> [4] { probe(x) }`);
  assert.equal(r.diagnostics, []);
  const v = Object.fromEntries(
    r.program!.models.get("M")!.variables.map((x) => [x.name.split(".")[1], x.init]),
  );
  const g = Math.sqrt(6 / (4 + 6));
  assert.equal(v.a, { dist: "uniform", lo: -g, hi: g });
  assert.equal(v.b, { dist: "truncated_normal", mean: 0, std: Math.sqrt(2 / (9 * 4)) });
  assert.equal(v.c, { dist: "constant", value: 0.5 });
  assert.equal(v.d, { dist: "uniform", lo: -0.1, hi: 0.2 });
  assert.equal(v.e, { dist: "normal", mean: 0, std: 0.3 });
});

test("fans follow Keras", () => {
  assert.equal(fans([784, 10]), { fanIn: 784, fanOut: 10 });
  assert.equal(fans([3, 3, 1, 32]), { fanIn: 9, fanOut: 288 });
  assert.equal(fans([7]), { fanIn: 7, fanOut: 7 });
});

test("conv2d padding same keeps the size; stride 2 halves it (ceil)", () => {
  const r = check(
    `model M(x: [27, 27, 3]) -> [14, 14, 4] { x |> conv2d(4, 3, padding: same) |> conv2d(4, 3, stride: 2, padding: same) }`,
  );
  assert.equal(r.diagnostics, []);
  const rows = summarize(r.program!)!.rows;
  assert.equal(rows[0]!.shape, [27, 27, 4]);
  assert.equal(rows[1]!.shape, [14, 14, 4]);
});

test("dims bind on first use and must agree after", () => {
  assert.equal(
    messages(`block f(a: [n], b: [n]) { a + b } model M(x: [3], y: [3]) -> [3] { f(x, y) }`),
    [],
  );
  const m = messages(
    `block f(a: [n], b: [n]) { a + b } model M(x: [3], y: [5]) -> [3] { f(x, y) }`,
  );
  assert.equal(m, ["NN2008 f expects b: [3], found [5]"]);
});

test("[..., n] matches any leading axes and the result keeps them", () => {
  const r = check(`model M(x: [5, 7]) -> [5, 2] { x |> dense(2) }`);
  assert.equal(r.diagnostics, []);
});

test("partial application: activation arguments and missing arguments", () => {
  assert.equal(
    messages(`model M(x: [4]) -> [2] { x |> dense(2, activation: leaky_relu(alpha: 0.1)) }`),
    [],
  );
  assert.equal(messages(`model M(x: [4]) -> [2] { x |> dense(activation: relu) }`), [
    "NN2003 missing argument 'units' in call to dense",
  ]);
});

test("several independent errors are all reported", () => {
  const m = messages(`
    model A(x: [4]) -> [2] { x |> dense(3) }
    model B(x: [4]) -> [2] { x |> dens(2) }`);
  assert.equal(
    m.map((x) => x.slice(0, 6)),
    ["NN2013", "NN2001"],
  );
});

test("edit distance and suggestions", () => {
  assert.is(editDistance("conv2D", "conv2d"), 1);
  assert.is(editDistance("acitvation", "activation"), 1); // a swap is one edit
  assert.is(editDistance("", "abc"), 3);
  assert.is(closest("Dense", ["dense", "dropout"]), "dense");
  assert.is(closest("epoch", ["epochs", "batch"]), "epochs");
  assert.is(closest("zzz", ["dense", "relu"]), undefined);
});

test("compile-time arithmetic folds; ints stay ints", () => {
  assert.equal(messages(`model M(x: [4]) -> [8] { x |> dense(2 * 4) }`), []);
  assert.equal(messages(`model M(x: [4]) -> [8] { x |> dense(16 / 2) }`), [
    "NN2009 dense expects units to be an int, found the number 8",
  ]);
});

test("training-only branches: dropout is the identity when checking a model", () => {
  const r = check(`model M(x: [4]) -> [4] { x |> dropout(0.5) }`);
  assert.equal(r.diagnostics, []);
  const nodes = r.program!.models.get("M")!;
  assert.ok(nodes.output);
});

test("scan over a concrete length unrolls and keeps names stable", () => {
  const r = check(`model M(x: [6, 3]) -> [6, 5] { x |> rnn(5) }`);
  assert.equal(r.diagnostics, []);
  const vars = r.program!.models.get("M")!.variables.map((v) => v.name);
  assert.equal(vars, ["rnn.w", "rnn.u", "rnn.b"]);
});

test("a program with a syntax error stops after parsing", () => {
  const r = check(`model M(x: [4] -> [2] { x }`);
  assert.ok(r.diagnostics.length > 0);
  assert.ok(r.diagnostics.every((d) => d.code.startsWith("NN1")));
  assert.is(r.program, null);
});

test("chains of 5,000 terms check without overflowing the stack (`+`, `|>`)", () => {
  const plus = Array(5000).fill("x").join(" + ");
  assert.equal(messages(`model M(x: [4]) -> [4] { ${plus} }`), []);
  const pipe = "x" + " |> relu".repeat(5000);
  assert.equal(messages(`model M(x: [4]) -> [4] { ${pipe} }`), []);
  // The chain is still checked term by term: one wrong term is reported at its place.
  const r = check(`model M(x: [4]) -> [4] { ${plus} + true }`);
  assert.equal(
    r.diagnostics.map((d) => [d.code, d.message, d.span.start]),
    [["NN2007", "'+' expects a tensor, found the bool true", 25 + plus.length + 3]],
  );
});

test.run();
