/**
 * @file Gradient checking against central finite differences on the float64 reference: build a
 * forward graph, take a random linear functional of its value as the loss (so every output
 * element matters), append gradients with addGradients, and compare each gradient element with
 * (L(p + h) - L(p - h)) / 2h computed on the forward graph alone.
 */
import * as assert from "uvu/assert";
import { addGradients } from "../../compiler/autodiff/grad.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { verifyGraph } from "../../compiler/ir/verify.js";
import { evaluate, type Feeds } from "../../compiler/reference.js";
import { count, input, param, randomArray, span } from "../reference/util.js";

export interface Tensor {
  readonly shape: number[];
  readonly data: number[];
}

export interface GradSetup {
  /** Trained values, fed as parameters: the `wrt` of the check. */
  readonly params: Record<string, Tensor>;
  /** Other values (indices, conditions), fed as inputs. */
  readonly inputs?: Record<string, Tensor & { readonly dtype?: "f32" | "i32" }>;
  readonly build: (b: GraphBuilder, ids: Record<string, number>) => number;
}

export interface GradResult {
  readonly forward: Graph;
  readonly full: Graph;
  readonly feeds: Feeds;
  readonly loss: number;
  readonly grads: Record<string, number>;
  /** Nodes appended by addGradients. */
  readonly added: number;
  readonly values: ReturnType<typeof evaluate>;
}

function feedsOf(params: Map<string, number[]>, inputs: Map<string, number[]>): Feeds {
  return { inputs, variables: params };
}

/** Builds, differentiates and evaluates; the loss is sum(y * r) for a random r (or y if scalar). */
export function differentiate(setup: GradSetup, next: () => number): GradResult {
  const b = new GraphBuilder();
  const ids: Record<string, number> = {};
  const params = new Map<string, number[]>();
  const inputs = new Map<string, number[]>();
  for (const [name, t] of Object.entries(setup.params)) {
    ids[name] = param(b, name, t.shape);
    params.set(name, t.data);
  }
  for (const [name, t] of Object.entries(setup.inputs ?? {})) {
    ids[name] = input(b, name, t.shape, t.dtype);
    inputs.set(name, t.data);
  }
  let y = setup.build(b, ids);
  if (b.node(y).dtype === "i32") y = b.add("cast", [y], { to: "f32" }, span);
  const shape = b.shape(y) as number[];
  let loss = y;
  if (shape.length > 0) {
    const r = input(b, "__r", shape);
    inputs.set("__r", randomArray(count(shape), next));
    const axes = shape.map((_, i) => i);
    loss = b.add("reduce_sum", [b.add("mul", [y, r], {}, span)], { axes, keepDims: false }, span);
  }
  const forward = b.build();
  const before = b.nodes.length;
  const names = Object.keys(setup.params);
  const gradIds = addGradients(
    b,
    loss,
    names.map((n) => ids[n]!),
  );
  const full = b.build();
  assert.equal(verifyGraph(full, { concrete: true }), [], "the differentiated graph verifies");
  const feeds = feedsOf(params, inputs);
  const values = evaluate(full, feeds);
  const grads = Object.fromEntries(names.map((n, i) => [n, gradIds[i]!]));
  return { forward, full, feeds, loss, grads, added: b.nodes.length - before, values };
}

/** Central differences of the loss for every element of every parameter. */
export function finiteDifferences(
  r: GradResult,
  h = 1e-5,
  sample?: (name: string, size: number) => number[],
): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  const lossAt = (variables: Map<string, number[]>) =>
    evaluate(r.forward, { inputs: r.feeds.inputs, variables }).get(r.loss)!.data[0]!;
  for (const [name, data] of r.feeds.variables) {
    const values = data as number[];
    const entries = sample ? sample(name, values.length) : values.map((_, i) => i);
    const fd = new Map<number, number>();
    for (const j of entries) {
      const plus = [...values];
      const minus = [...values];
      plus[j]! += h;
      minus[j]! -= h;
      const vp = new Map(r.feeds.variables as Map<string, number[]>).set(name, plus);
      const vm = new Map(r.feeds.variables as Map<string, number[]>).set(name, minus);
      fd.set(j, (lossAt(vp) - lossAt(vm)) / (2 * h));
    }
    out.set(name, fd);
  }
  return out;
}

/** Worst error over all checked entries, relative to the largest gradient of each parameter. */
export function gradientError(r: GradResult, fd: Map<string, Map<number, number>>): number {
  let worst = 0;
  for (const [name, entries] of fd) {
    const analytic = r.values.get(r.grads[name]!)!;
    assert.equal(
      analytic.shape,
      r.forward.nodes.find((n) => n.op === "param" && n.attrs.name === name)!.shape as number[],
      `gradient of ${name} has the parameter's shape`,
    );
    let scale = 1e-2;
    for (const v of entries.values()) scale = Math.max(scale, Math.abs(v));
    for (const [j, v] of entries) {
      const err = Math.abs(analytic.data[j]! - v) / scale;
      if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
    }
  }
  return worst;
}
