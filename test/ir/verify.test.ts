/**
 * @file The IR verifier accepts well-formed graphs (including every differentiated graph of the
 * autodiff tests) and rejects each kind of malformed one with a message naming the problem.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { addGradients } from "../../compiler/autodiff/grad.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { AnyNode, Graph } from "../../compiler/ir/graph.js";
import { verifyGraph } from "../../compiler/ir/verify.js";
import { input, param, span } from "../reference/util.js";

/** A small training graph: conv, pool, dense, loss, gradients, an SGD update and a state. */
function sample(): Graph {
  const b = new GraphBuilder();
  const x = input(b, "x", [2, 6, 6, 1]);
  const w = param(b, "conv.w", [3, 3, 1, 4]);
  const d = param(b, "dense.w", [16, 3]);
  const steps = b.variable({
    name: "steps",
    kind: "state",
    shape: [],
    dtype: "f32",
    init: { dist: "constant", value: 0 },
    layer: "trainer",
    span,
  });
  const c = b.add("conv2d", [x, w], { strides: [1, 1], pads: [0, 0, 0, 0] }, span);
  const p = b.add("maxpool2d", [c], { window: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] }, span);
  const f = b.add("reshape", [p], { shape: [2, 16] }, span);
  const y = b.add("matmul", [f, d], { transA: false, transB: false }, span);
  const loss = b.add(
    "reduce_sum",
    [b.add("square", [y], {}, span)],
    { axes: [0, 1], keepDims: false },
    span,
  );
  const [gw, gd] = addGradients(b, loss, [w, d]);
  const lr = b.constant(0.1, span);
  b.update("conv.w", b.add("sub", [w, b.add("mul", [gw!, lr], {}, span)], {}, span));
  b.update("dense.w", b.add("sub", [d, b.add("mul", [gd!, lr], {}, span)], {}, span));
  b.update("steps", b.add("add", [steps, b.constant(1, span)], {}, span));
  b.output("loss", loss);
  return b.build();
}

function withNode(g: Graph, id: number, change: (n: AnyNode) => object): Graph {
  const nodes = g.nodes.map((n) => (n.id === id ? ({ ...n, ...change(n) } as AnyNode) : n));
  return { ...g, nodes };
}

function firstOf(g: Graph, op: string): AnyNode {
  return g.nodes.find((n) => n.op === op)!;
}

function expectError(g: Graph, pattern: RegExp, options = {}): void {
  const errors = verifyGraph(g, options);
  assert.ok(
    errors.some((e) => pattern.test(e)),
    `expected an error matching ${pattern}, got ${JSON.stringify(errors)}`,
  );
}

test("a well-formed training graph verifies", () => {
  assert.equal(verifyGraph(sample(), { concrete: true }), []);
});

test("ids must equal indices", () => {
  const g = sample();
  expectError(
    withNode(g, 3, () => ({ id: 7 })),
    /%3 \(.*\): id is %7, expected %3/,
  );
});

test("inputs must be earlier nodes", () => {
  const g = sample();
  const c = firstOf(g, "conv2d");
  expectError(
    withNode(g, c.id, (n) => ({ inputs: [n.id + 1, n.inputs[1]] })),
    /is not an earlier node/,
  );
  expectError(
    withNode(g, c.id, (n) => ({ inputs: [n.id, n.inputs[1]] })),
    /is not an earlier node/,
  );
  expectError(
    withNode(g, c.id, () => ({ inputs: [-1, 1] })),
    /is not an earlier node/,
  );
});

test("arity", () => {
  const g = sample();
  const sq = firstOf(g, "square");
  expectError(
    withNode(g, sq.id, (n) => ({ inputs: [n.inputs[0], n.inputs[0]] })),
    /takes 1 inputs, has 2/,
  );
});

test("shape and dtype must equal the shape rule's", () => {
  const g = sample();
  const mm = firstOf(g, "matmul");
  expectError(
    withNode(g, mm.id, () => ({ shape: [2, 4] })),
    /is \[2, 4\] f32 but its inputs give \[2, 3\] f32/,
  );
  expectError(
    withNode(g, mm.id, () => ({ dtype: "i32" })),
    /is \[2, 3\] i32 but its inputs give/,
  );
  expectError(
    withNode(g, mm.id, () => ({ attrs: { transA: true, transB: false } })),
    /inner dimensions differ/,
  );
  const r = firstOf(g, "reduce_sum");
  expectError(
    withNode(g, r.id, () => ({ attrs: { axes: [5], keepDims: false } })),
    /axis 5 is out of range/,
  );
  expectError(
    withNode(g, r.id, () => ({ attrs: undefined })),
    /malformed attributes/,
  );
});

test("unknown primitives", () => {
  const g = sample();
  expectError(
    withNode(g, 5, () => ({ op: "softmax" })),
    /unknown primitive/,
  );
});

test("param and state nodes need a variable of the same kind and type", () => {
  const g = sample();
  expectError(
    { ...g, variables: g.variables.filter((v) => v.name !== "dense.w") },
    /no variable named dense\.w/,
  );
  const resized = g.variables.map((v) => (v.name === "conv.w" ? { ...v, shape: [3, 3, 1, 5] } : v));
  expectError({ ...g, variables: resized }, /variable conv\.w is \[3, 3, 1, 5\] f32/);
  const kinds = g.variables.map((v) => (v.name === "steps" ? { ...v, kind: "param" as const } : v));
  expectError({ ...g, variables: kinds }, /variable steps is a param/);
  expectError(
    { ...g, variables: [...g.variables, g.variables[0]!] },
    /variable conv\.w is declared twice/,
  );
});

test("updates name variables of equal type, once", () => {
  const g = sample();
  expectError(
    { ...g, updates: [...g.updates, { target: "nope", node: 0 }] },
    /update of nope: no such variable/,
  );
  const loss = g.outputs[0]!.node;
  const wrong = g.updates.map((u) => (u.target === "dense.w" ? { ...u, node: loss } : u));
  expectError(
    { ...g, updates: wrong },
    /update of dense\.w: %\d+ is \[\] f32 but the variable is \[16, 3\] f32/,
  );
  expectError({ ...g, updates: [...g.updates, g.updates[0]!] }, /updated twice/);
  expectError({ ...g, updates: [{ target: "steps", node: 999 }] }, /update of steps: no node %999/);
});

test("outputs name existing nodes, once", () => {
  const g = sample();
  expectError({ ...g, outputs: [{ name: "y", node: g.nodes.length }] }, /output y: no node/);
  expectError({ ...g, outputs: [...g.outputs, ...g.outputs] }, /output loss is declared twice/);
});

test("concrete shapes when asked", () => {
  const b = new GraphBuilder();
  const x = input(b, "x", ["batch", 3]);
  b.output("y", b.add("relu", [x], {}, span));
  const g = b.build();
  assert.equal(verifyGraph(g), []);
  expectError(g, /symbolic shape \[batch, 3\]/, { concrete: true });
});

test("gradient primitives must agree with the forward op they undo", () => {
  const b = new GraphBuilder();
  const dy = input(b, "dy", [1, 4, 4, 2]);
  const w = input(b, "w", [3, 3, 1, 2]);
  const x = input(b, "x", [1, 6, 6, 1]);
  const attrs = { strides: [1, 1], pads: [0, 0, 0, 0] } as const;
  b.add("conv2d_grad_input", [dy, w], { ...attrs, inputShape: [1, 7, 6, 1] }, span);
  b.add("conv2d_grad_filter", [x, dy], { ...attrs, filterShape: [2, 3, 1, 2] }, span);
  const pool = { window: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] } as const;
  b.add("maxpool2d_grad", [x, dy], pool, span);
  b.add("avgpool2d_grad", [dy], { ...pool, inputShape: [1, 10, 8, 2] }, span);
  const idx = input(b, "idx", [3], "i32");
  b.add("scatter_add", [input(b, "u", [4, 2]), idx], { rows: 5 }, span);
  const errors = verifyGraph(b.build());
  assert.equal(errors.length, 5, errors.join("\n"));
  assert.match(
    errors[0]!,
    /conv2d of \[1, 7, 6, 1\] gives \[1, 5, 4, 2\], but the cotangent is \[1, 4, 4, 2\]/,
  );
  assert.match(errors[1]!, /conv2d with filters \[2, 3, 1, 2\]/);
  assert.match(errors[2]!, /the pool gives \[1, 3, 3, 1\]/);
  assert.match(errors[3]!, /the pool of \[1, 10, 8, 2\] gives \[1, 5, 4, 2\]/);
  assert.match(errors[4]!, /indices \[3\] do not lead updates \[4, 2\]/);
});

test("random counters are scalars", () => {
  const b = new GraphBuilder();
  const t = input(b, "t", [2]);
  b.add("random_uniform", [t], { stream: 0 }, span, { shape: [3], dtype: "f32" });
  expectError(b.build(), /the counter must be a scalar, found \[2\]/);
});

test.run();
