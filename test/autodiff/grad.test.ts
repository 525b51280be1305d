/**
 * @file The reverse walk of addGradients: exactly which backward nodes it builds (none for
 * inputs, for parameters not asked for, or behind non-differentiable ops), fan-out sums, the
 * seed of a non-scalar loss, tie conventions, zeros for unrelated parameters, and spans.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { addGradients } from "../../compiler/autodiff/grad.js";
import { CompilerBug } from "../../compiler/diagnostics.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { verifyGraph } from "../../compiler/ir/verify.js";
import { evaluate } from "../../compiler/reference.js";
import type { Span } from "../../compiler/source.js";
import { input, param, span } from "../reference/util.js";

const at = (start: number): Span => ({ file: "mlp.nn", start, end: start + 1 });

/** relu(x @ w1 + b1) @ w2, summed; every op has its own span. */
function mlp() {
  const b = new GraphBuilder();
  const x = input(b, "x", [5, 3]);
  const w1 = param(b, "w1", [3, 4]);
  const b1 = param(b, "b1", [4]);
  const w2 = param(b, "w2", [4, 2]);
  const mm1 = b.add("matmul", [x, w1], { transA: false, transB: false }, at(10));
  const z = b.add("add", [mm1, b1], {}, at(20));
  const h = b.add("relu", [z], {}, at(30));
  const mm2 = b.add("matmul", [h, w2], { transA: false, transB: false }, at(40));
  const loss = b.add("reduce_sum", [mm2], { axes: [0, 1], keepDims: false }, at(50));
  return { b, x, w1, b1, w2, loss };
}

function backwardOps(b: GraphBuilder, before: number): string[] {
  return b.nodes.slice(before).map((n) => n.op);
}

test("only the asked-for gradient is built: w2 alone", () => {
  const m = mlp();
  const before = m.b.nodes.length;
  const [g] = addGradients(m.b, m.loss, [m.w2]);
  assert.equal(backwardOps(m.b, before), ["constant", "reshape", "broadcast_to", "matmul"]);
  const mm = m.b.node(g!);
  assert.equal(mm.attrs, { transA: true, transB: false });
  assert.equal(verifyGraph(m.b.build()), []);
});

test("w1 alone: nothing for the input x, the bias or w2", () => {
  const m = mlp();
  const before = m.b.nodes.length;
  addGradients(m.b, m.loss, [m.w1]);
  assert.equal(backwardOps(m.b, before), [
    "constant", // seed
    "reshape",
    "broadcast_to", // d sum
    "matmul", // dh = g w2^T
    "constant",
    "greater",
    "mul", // relu
    "matmul", // dw1 = x^T g
  ]);
  const mms = m.b.nodes.slice(before).filter((n) => n.op === "matmul");
  // Neither matmul reads w1 (that would be dx = g w1^T).
  assert.ok(mms.every((n) => !n.inputs.includes(m.w1)));
});

test("all parameters: the bias gradient sums over the batch", () => {
  const m = mlp();
  const before = m.b.nodes.length;
  const [, gb] = addGradients(m.b, m.loss, [m.w1, m.b1, m.w2]);
  const ops = backwardOps(m.b, before);
  assert.is(ops.filter((o) => o === "matmul").length, 3);
  assert.is(m.b.node(gb!).op, "reduce_sum");
  assert.equal(m.b.node(gb!).attrs, { axes: [0], keepDims: false });
  assert.equal(m.b.shape(gb!), [4]);
});

test("backward nodes carry the span of the node they differentiate", () => {
  const m = mlp();
  const before = m.b.nodes.length;
  const [g] = addGradients(m.b, m.loss, [m.w1]);
  const spans = new Set([10, 20, 30, 40, 50]);
  for (const n of m.b.nodes.slice(before)) assert.ok(spans.has(n.span.start), n.op);
  assert.is(m.b.node(g!).span.start, 10);
});

test("fan-out cotangents are summed", () => {
  const b = new GraphBuilder();
  const p = param(b, "p", [3]);
  const y = b.add("add", [b.add("mul", [p, p], {}, span), b.add("sin", [p], {}, span)], {}, span);
  const loss = b.add("reduce_sum", [y], { axes: [0], keepDims: false }, span);
  const [g] = addGradients(b, loss, [p]);
  const pv = [0.5, -1, 2];
  const v = evaluate(b.build(), { inputs: new Map(), variables: new Map([["p", pv]]) });
  const want = pv.map((x) => 2 * x + Math.cos(x));
  Array.from(v.get(g!)!.data).forEach((a, i) => assert.ok(Math.abs(a - want[i]!) < 1e-14));
});

test("a non-scalar loss is seeded with ones", () => {
  const b = new GraphBuilder();
  const p = param(b, "p", [3]);
  const loss = b.add("mul", [p, b.constant(2, span)], {}, span);
  const [g] = addGradients(b, loss, [p]);
  const v = evaluate(b.build(), { inputs: new Map(), variables: new Map([["p", [1, 2, 3]]]) });
  assert.equal(Array.from(v.get(g!)!.data), [2, 2, 2]);
});

test("ties: reduce_max shares, max gives all to the first operand, relu gives 0 at 0", () => {
  const b = new GraphBuilder();
  const p = param(b, "p", [4]);
  const q = param(b, "q", [4]);
  const m = b.add("reduce_max", [p], { axes: [0], keepDims: false }, span);
  const mx = b.add(
    "reduce_sum",
    [b.add("max", [p, q], {}, span)],
    { axes: [0], keepDims: false },
    span,
  );
  const r = b.add(
    "reduce_sum",
    [b.add("relu", [q], {}, span)],
    { axes: [0], keepDims: false },
    span,
  );
  const loss = b.add("add", [b.add("add", [m, mx], {}, span), r], {}, span);
  const [gp, gq] = addGradients(b, loss, [p, q]);
  const v = evaluate(b.build(), {
    inputs: new Map(),
    variables: new Map([
      ["p", [1, 3, 3, 2]],
      ["q", [1, 0, 4, 0]],
    ]),
  });
  // p: 0.5 at each tied max, plus 1 where p >= q.
  assert.equal(Array.from(v.get(gp!)!.data), [1, 1.5, 0.5, 1]);
  // q: 1 where q > p, plus relu' (0 at 0).
  assert.equal(Array.from(v.get(gq!)!.data), [1, 0, 2, 0]);
});

test("unrelated and non-differentiable paths give a zeros constant and nothing else", () => {
  const b = new GraphBuilder();
  const p = param(b, "p", [2, 3]);
  const q = param(b, "q", [4]);
  const idx = b.add("cast", [b.add("argmax", [p], { axis: 1 }, span)], { to: "f32" }, span);
  const floor = b.add(
    "floor",
    [b.add("reduce_sum", [p], { axes: [0], keepDims: false }, span)],
    {},
    span,
  );
  const loss = b.add(
    "add",
    [
      b.add("reduce_sum", [idx], { axes: [0], keepDims: false }, span),
      b.add("reduce_sum", [floor], { axes: [0], keepDims: false }, span),
    ],
    {},
    span,
  );
  const after = b.add("neg", [p], {}, span); // made after the loss
  const before = b.nodes.length;
  const [gp, gq, ga] = addGradients(b, loss, [p, q, after]);
  assert.equal(backwardOps(b, before), ["constant", "constant", "constant"]);
  assert.equal(b.shape(gp!), [2, 3]);
  assert.equal(b.shape(gq!), [4]);
  assert.equal(b.shape(ga!), [2, 3]);
  for (const g of [gp, gq, ga]) assert.equal(b.node(g!).attrs, { value: 0 });
});

test("pow: the exponent's gradient is 0 where the base is not positive", () => {
  const b = new GraphBuilder();
  const a = param(b, "a", [3]);
  const e = param(b, "e", [3]);
  const loss = b.add(
    "reduce_sum",
    [b.add("pow", [a, e], {}, span)],
    { axes: [0], keepDims: false },
    span,
  );
  const [ga, ge] = addGradients(b, loss, [a, e]);
  const v = evaluate(b.build(), {
    inputs: new Map(),
    variables: new Map([
      ["a", [0, -2, 2]],
      ["e", [2, 2, 3]],
    ]),
  });
  assert.equal(Array.from(v.get(ga!)!.data), [0, -4, 12]);
  assert.equal(Array.from(v.get(ge!)!.data), [0, 0, 8 * Math.log(2)]);
});

test("a parameter asked for twice gets the same gradient node", () => {
  const b = new GraphBuilder();
  const p = param(b, "p", [2]);
  const loss = b.add(
    "reduce_sum",
    [b.add("exp", [p], {}, span)],
    { axes: [0], keepDims: false },
    span,
  );
  const [g1, g2] = addGradients(b, loss, [p, p]);
  assert.is(g1, g2);
});

test("symbolic shapes differentiate too", () => {
  const b = new GraphBuilder();
  const x = input(b, "x", ["batch", 3]);
  const w = param(b, "w", [3, 2]);
  const bias = param(b, "bias", [2]);
  const y = b.add(
    "add",
    [b.add("matmul", [x, w], { transA: false, transB: false }, span), bias],
    {},
    span,
  );
  const loss = b.add(
    "reduce_sum",
    [b.add("tanh", [y], {}, span)],
    { axes: [0, 1], keepDims: false },
    span,
  );
  const [gw, gb] = addGradients(b, loss, [w, bias]);
  assert.equal(b.shape(gw!), [3, 2]);
  assert.equal(b.shape(gb!), [2]);
  assert.equal(verifyGraph(b.build()), []);
});

test("an integer loss is a compiler bug", () => {
  const b = new GraphBuilder();
  const p = param(b, "p", [3]);
  const loss = b.add("argmax", [p], { axis: 0 }, span);
  assert.throws(
    () => addGradients(b, loss, [p]),
    (e: unknown) => e instanceof CompilerBug,
  );
});

test.run();
