/**
 * @file Whole-model gradient check of the seed's MNIST CNN, built by hand with GraphBuilder:
 * conv2d 32 3x3 valid + bias + relu, 2x2 max pool, flatten, dense 10, softmax cross-entropy on
 * one-hot labels written with primitives, mean over a batch of 4. Every parameter gradient is
 * compared with central differences on a sample of entries (the largest ones and random ones),
 * after checking that no relu input or pool window sits near a kink or tie.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { addGradients } from "../../compiler/autodiff/grad.js";
import { verifyGraph } from "../../compiler/ir/verify.js";
import { evaluate, type Feeds } from "../../compiler/reference.js";
import { at, input, param, randomArray, rng, span } from "../reference/util.js";

const N = 4;
const next = rng(7);

function model() {
  const b = new GraphBuilder();
  const x = input(b, "x", [N, 28, 28, 1]);
  const labels = input(b, "labels", [N, 10]);
  const w1 = param(b, "conv2d.w", [3, 3, 1, 32]);
  const b1 = param(b, "conv2d.b", [32]);
  const w2 = param(b, "dense.w", [5408, 10]);
  const b2 = param(b, "dense.b", [10]);
  const conv = b.add("conv2d", [x, w1], { strides: [1, 1], pads: [0, 0, 0, 0] }, span);
  const z1 = b.add("add", [conv, b1], {}, span);
  const a1 = b.add("relu", [z1], {}, span);
  const pool = b.add(
    "maxpool2d",
    [a1],
    { window: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
    span,
  );
  const flat = b.add("reshape", [pool], { shape: [N, 5408] }, span);
  const mm = b.add("matmul", [flat, w2], { transA: false, transB: false }, span);
  const logits = b.add("add", [mm, b2], {}, span);
  // Softmax cross-entropy: -sum(labels * (z - log(sum(exp(z))))), z = logits - max(logits).
  const m = b.add("reduce_max", [logits], { axes: [1], keepDims: true }, span);
  const z = b.add("sub", [logits, m], {}, span);
  const sumExp = b.add(
    "reduce_sum",
    [b.add("exp", [z], {}, span)],
    { axes: [1], keepDims: true },
    span,
  );
  const logp = b.add("sub", [z, b.add("log", [sumExp], {}, span)], {}, span);
  const picked = b.add(
    "reduce_sum",
    [b.add("mul", [labels, logp], {}, span)],
    { axes: [1], keepDims: false },
    span,
  );
  const total = b.add(
    "reduce_sum",
    [b.add("neg", [picked], {}, span)],
    { axes: [0], keepDims: false },
    span,
  );
  const loss = b.add("mul", [total, b.constant(1 / N, span)], {}, span);
  return { b, loss, z1, a1, params: [w1, b1, w2, b2] };
}

function feeds(): Feeds {
  const labels = new Array<number>(N * 10).fill(0);
  for (let n = 0; n < N; n++) labels[n * 10 + ((n * 3 + 1) % 10)] = 1;
  return {
    inputs: new Map([
      ["x", randomArray(N * 28 * 28, next, 0, 1)],
      ["labels", labels],
    ]),
    variables: new Map([
      ["conv2d.w", randomArray(3 * 3 * 32, next, -0.5, 0.5)],
      ["conv2d.b", randomArray(32, next, -0.1, 0.1)],
      ["dense.w", randomArray(5408 * 10, next, -0.05, 0.05)],
      ["dense.b", randomArray(10, next, -0.1, 0.1)],
    ]),
  };
}

test("MNIST CNN: every parameter gradient matches central differences", () => {
  const { b, loss, z1, a1, params } = model();
  const forward = b.build();
  const before = b.nodes.length;
  const grads = addGradients(b, loss, params);
  const full = b.build();
  assert.equal(verifyGraph(full, { concrete: true }), []);
  // Nothing is computed for the images: no conv2d_grad_input in the backward graph.
  const backward = full.nodes.slice(before);
  assert.not.ok(backward.some((n) => n.op === "conv2d_grad_input"));
  assert.is(backward.filter((n) => n.op === "conv2d_grad_filter").length, 1);
  assert.is(backward.filter((n) => n.op === "maxpool2d_grad").length, 1);

  const f = feeds();
  const values = evaluate(full, f);

  // Preconditions: relu inputs away from 0, pool windows with a positive max untied.
  const pre = values.get(z1)!.data;
  // A step of h in one conv parameter moves each pre-activation by at most h (|x| < 1).
  const h = 1e-7;
  const nearest = pre.reduce((a, v) => Math.min(a, Math.abs(v)), Infinity);
  assert.ok(nearest > 2 * h, `a relu input is near its kink: ${nearest}`);
  const act = values.get(a1)!.data;
  const shape = [N, 26, 26, 32];
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < 13; oy++)
      for (let ox = 0; ox < 13; ox++)
        for (let c = 0; c < 32; c++) {
          const cells = [0, 1, 2, 3].map(
            (k) => act[at(shape, n, 2 * oy + (k >> 1), 2 * ox + (k & 1), c)]!,
          );
          cells.sort((p, q) => q - p);
          if (cells[0]! > 0)
            assert.ok(cells[0]! - cells[1]! > 4 * h, "a pool window is near a tie");
        }

  const lossAt = (variables: Map<string, number[]>) =>
    evaluate(forward, { inputs: f.inputs, variables }).get(loss)!.data[0]!;
  const names = ["conv2d.w", "conv2d.b", "dense.w", "dense.b"];
  names.forEach((name, k) => {
    const g = values.get(grads[k]!)!;
    const p = f.variables.get(name) as number[];
    assert.equal(g.shape, [...(full.nodes[params[k]!]!.shape as number[])]);
    // The four largest entries and four random ones.
    const order = Array.from(g.data.keys()).sort(
      (i, j) => Math.abs(g.data[j]!) - Math.abs(g.data[i]!),
    );
    const sample = new Set([
      ...order.slice(0, 4),
      ...[0, 1, 2, 3].map(() => Math.floor(next() * p.length)),
    ]);
    const scale = Math.abs(g.data[order[0]!]!);
    assert.ok(scale > 1e-3, `${name}: gradient is not trivially zero`);
    for (const j of sample) {
      const plus = [...p];
      const minus = [...p];
      plus[j]! += h;
      minus[j]! -= h;
      const fd =
        (lossAt(new Map(f.variables as Map<string, number[]>).set(name, plus)) -
          lossAt(new Map(f.variables as Map<string, number[]>).set(name, minus))) /
        (2 * h);
      const err = Math.abs(fd - g.data[j]!) / scale;
      assert.ok(err < 1e-6, `${name}[${j}]: analytic ${g.data[j]}, finite differences ${fd}`);
    }
  });
});

test.run();
