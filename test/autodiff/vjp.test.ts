/**
 * @file Every VJP rule against central finite differences on the float64 reference, on random
 * inputs with odd sizes and broadcasting. The case table is typed by OpKind, so a primitive
 * added without a gradient case does not compile; non-differentiable primitives must yield a
 * zeros constant and no backward nodes at all. Inputs stay away from kinks and ties (relu at 0,
 * max/min of equal values, max pool windows with equal cells).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GradientError, vjpRules } from "../../compiler/autodiff/vjp.js";
import { addGradients } from "../../compiler/autodiff/grad.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import {
  type BinaryOp,
  type Conv2dAttrs,
  opKinds,
  type OpKind,
  type Pool2dAttrs,
  type UnaryOp,
} from "../../compiler/primitives.js";
import { count, input, param, rng, span } from "../reference/util.js";
import {
  differentiate,
  finiteDifferences,
  type GradSetup,
  gradientError,
  type Tensor,
} from "./check.js";

const next = rng(42);

function t(shape: number[], gen: (i: number) => number = () => next() * 2 - 1): Tensor {
  return { shape, data: Array.from({ length: count(shape) }, (_, i) => gen(i)) };
}

/** |x| in [lo, hi] with a random sign: away from 0 (kinks, poles). */
const away =
  (lo = 0.2, hi = 1.5) =>
  () =>
    (next() < 0.5 ? -1 : 1) * (lo + (hi - lo) * next());
const positive =
  (lo = 0.3, hi = 2) =>
  () =>
    lo + (hi - lo) * next();

/** Distinct values at least 0.05 apart, in random order (no ties for max and pools). */
function distinct(n: number): (i: number) => number {
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return (i) => v[i]!;
}

type Case =
  | { readonly kind: "grad"; readonly setups: readonly GradSetup[] }
  | { readonly kind: "none"; readonly setups: readonly GradSetup[] }
  | { readonly kind: "custom"; readonly run: () => void };

const grad = (...setups: GradSetup[]): Case => ({ kind: "grad", setups });
const none = (...setups: GradSetup[]): Case => ({ kind: "none", setups });

function unaryCase(op: UnaryOp, gen: () => number = () => next() * 2 - 1): Case {
  return grad({ params: { x: t([3, 5], gen) }, build: (b, i) => b.add(op, [i.x!], {}, span) });
}

function binaryCase(op: BinaryOp, genA?: () => number, genB?: () => number): Case {
  return grad(
    {
      params: { a: t([3, 1, 5], genA), b: t([4, 1], genB) },
      build: (b, i) => b.add(op, [i.a!, i.b!], {}, span),
    },
    {
      params: { a: t([], genA), b: t([2, 3], genB) },
      build: (b, i) => b.add(op, [i.a!, i.b!], {}, span),
    },
  );
}

function comparisonCase(op: BinaryOp): Case {
  return none({
    params: { a: t([3, 4]), b: t([4]) },
    build: (b, i) => b.add(op, [i.a!, i.b!], {}, span),
  });
}

function matmulCase(transA: boolean, transB: boolean): GradSetup {
  const [M, K, N] = [2, 3, 4];
  return {
    params: {
      a: t([2, 1, ...(transA ? [K, M] : [M, K])]),
      b: t([3, ...(transB ? [N, K] : [K, N])]),
    },
    build: (b, i) => b.add("matmul", [i.a!, i.b!], { transA, transB }, span),
  };
}

const convA: Conv2dAttrs = { strides: [2, 1], pads: [1, 0, 1, 1] };
const convB: Conv2dAttrs = { strides: [1, 1], pads: [0, 0, 0, 0] };

const poolA: Pool2dAttrs = { window: [2, 2], strides: [2, 1], pads: [0, 1, 1, 0] };
const poolB: Pool2dAttrs = { window: [3, 2], strides: [2, 2], pads: [1, 1, 0, 1] };

const cases: { [K in OpKind]: Case } = {
  input: {
    kind: "custom",
    run: () => {
      // An input asked for explicitly gets its gradient (e.g. for adversarial examples).
      const b = new GraphBuilder();
      const x = input(b, "x", [3]);
      const loss = b.add(
        "reduce_sum",
        [b.add("square", [x], {}, span)],
        { axes: [0], keepDims: false },
        span,
      );
      const [gx] = addGradients(b, loss, [x]);
      assert.is(b.node(gx!).op, "mul");
    },
  },
  param: grad({ params: { p: t([2, 3]) }, build: (_b, i) => i.p! }),
  state: {
    kind: "custom",
    run: () => {
      const b = new GraphBuilder();
      const s = b.variable({
        name: "s",
        kind: "state",
        shape: [2],
        dtype: "f32",
        init: { dist: "constant", value: 0 },
        layer: "x",
        span,
      });
      const loss = b.add("reduce_sum", [s], { axes: [0], keepDims: false }, span);
      const [gs] = addGradients(b, loss, [s]);
      assert.is(b.node(gs!).op, "broadcast_to");
    },
  },
  constant: none({
    params: { p: t([2, 2]) },
    build: (b, i) =>
      b.add("add", [b.constant(3, span, [2, 2]), b.add("sign", [i.p!], {}, span)], {}, span),
  }),
  random_uniform: none({
    params: { p: t([], () => 7.5) },
    build: (b, i) =>
      b.add("random_uniform", [i.p!], { stream: 1 }, span, { shape: [3], dtype: "f32" }),
  }),
  random_normal: none({
    params: { p: t([], () => 7.5) },
    build: (b, i) =>
      b.add("random_normal", [i.p!], { stream: 1 }, span, { shape: [3], dtype: "f32" }),
  }),

  neg: unaryCase("neg"),
  exp: unaryCase("exp"),
  log: unaryCase("log", positive()),
  sqrt: unaryCase("sqrt", positive()),
  rsqrt: unaryCase("rsqrt", positive()),
  tanh: unaryCase("tanh", () => next() * 4 - 2),
  sigmoid: unaryCase("sigmoid", () => next() * 6 - 3),
  relu: unaryCase("relu", away(0.1, 1)),
  abs: unaryCase("abs", away(0.1, 1)),
  sign: none({
    params: { x: t([3, 5], away()) },
    build: (b, i) => b.add("sign", [i.x!], {}, span),
  }),
  sin: unaryCase("sin", () => next() * 6 - 3),
  cos: unaryCase("cos", () => next() * 6 - 3),
  floor: none({
    params: { x: t([3, 5], () => Math.floor(next() * 8) - 4 + 0.5) },
    build: (b, i) => b.add("floor", [i.x!], {}, span),
  }),
  square: unaryCase("square"),
  reciprocal: unaryCase("reciprocal", away(0.5, 2)),

  add: binaryCase("add"),
  sub: binaryCase("sub"),
  mul: binaryCase("mul"),
  div: binaryCase("div", undefined, away(0.5, 2)),
  pow: binaryCase("pow", positive(0.5, 2), () => next() * 3 - 1.5),
  max: binaryCase("max"),
  min: binaryCase("min"),
  greater: comparisonCase("greater"),
  greater_equal: comparisonCase("greater_equal"),
  less: comparisonCase("less"),
  less_equal: comparisonCase("less_equal"),
  equal: comparisonCase("equal"),
  not_equal: comparisonCase("not_equal"),
  where: grad({
    params: { a: t([1, 5]), b: t([3, 5]) },
    inputs: { c: t([3, 1], (i) => i % 2) },
    build: (b, i) => b.add("where", [i.c!, i.a!, i.b!], {}, span),
  }),
  cast: grad({
    params: { x: t([2, 3]) },
    build: (b, i) => b.add("cast", [i.x!], { to: "f32" }, span),
  }),

  reduce_sum: grad(
    {
      params: { x: t([3, 4, 5]) },
      build: (b, i) => b.add("reduce_sum", [i.x!], { axes: [0, 2], keepDims: false }, span),
    },
    {
      params: { x: t([3, 4]) },
      build: (b, i) => b.add("reduce_sum", [i.x!], { axes: [1], keepDims: true }, span),
    },
  ),
  reduce_max: grad(
    {
      params: { x: t([3, 4, 5], distinct(60)) },
      build: (b, i) => b.add("reduce_max", [i.x!], { axes: [1], keepDims: false }, span),
    },
    {
      params: { x: t([3, 4, 5], distinct(60)) },
      build: (b, i) => b.add("reduce_max", [i.x!], { axes: [0, 2], keepDims: true }, span),
    },
  ),
  argmax: none({
    params: { x: t([3, 5], distinct(15)) },
    build: (b, i) => b.add("argmax", [i.x!], { axis: 1 }, span),
  }),

  reshape: grad({
    params: { x: t([3, 4, 5]) },
    build: (b, i) => b.add("reshape", [i.x!], { shape: [12, 5] }, span),
  }),
  transpose: grad({
    params: { x: t([2, 3, 4]) },
    build: (b, i) => b.add("transpose", [i.x!], { perm: [1, 2, 0] }, span),
  }),
  broadcast_to: grad({
    params: { x: t([3, 1]) },
    build: (b, i) => b.add("broadcast_to", [i.x!], { shape: [2, 3, 5] }, span),
  }),
  slice: grad({
    params: { x: t([4, 5]) },
    build: (b, i) => b.add("slice", [i.x!], { starts: [1, 2], sizes: [2, 3] }, span),
  }),
  pad: grad({
    params: { x: t([2, 3]) },
    build: (b, i) => b.add("pad", [i.x!], { lo: [1, 0], hi: [2, 1] }, span),
  }),
  concat: grad({
    params: { a: t([2, 1]), b: t([2, 3]), c: t([2, 2]) },
    build: (b, i) => b.add("concat", [i.a!, i.b!, i.c!], { axis: 1 }, span),
  }),

  matmul: grad(
    matmulCase(false, false),
    matmulCase(true, false),
    matmulCase(false, true),
    matmulCase(true, true),
  ),
  conv2d: grad(
    {
      params: { x: t([1, 5, 4, 2]), w: t([3, 2, 2, 3]) },
      build: (b, i) => b.add("conv2d", [i.x!, i.w!], convA, span),
    },
    {
      params: { x: t([2, 4, 4, 1]), w: t([3, 3, 1, 2]) },
      build: (b, i) => b.add("conv2d", [i.x!, i.w!], convB, span),
    },
  ),
  conv2d_grad_input: grad({
    params: { dy: t([1, 2, 5, 3]), w: t([3, 2, 2, 3]) },
    build: (b, i) =>
      b.add("conv2d_grad_input", [i.dy!, i.w!], { ...convA, inputShape: [1, 5, 4, 2] }, span),
  }),
  conv2d_grad_filter: grad({
    params: { x: t([1, 5, 4, 2]), dy: t([1, 2, 5, 3]) },
    build: (b, i) =>
      b.add("conv2d_grad_filter", [i.x!, i.dy!], { ...convA, filterShape: [3, 2, 2, 3] }, span),
  }),
  maxpool2d: grad(
    {
      params: { x: t([1, 4, 5, 2], distinct(40)) },
      build: (b, i) => b.add("maxpool2d", [i.x!], poolA, span),
    },
    {
      params: { x: t([2, 5, 4, 1], distinct(40)) },
      build: (b, i) => b.add("maxpool2d", [i.x!], poolB, span),
    },
  ),
  maxpool2d_grad: {
    kind: "custom",
    run: () => {
      const make = () => {
        const b = new GraphBuilder();
        const x = param(b, "x", [1, 4, 5, 2]);
        const dy = param(b, "dy", [1, 4, 5, 2]);
        const dx = b.add("maxpool2d_grad", [x, dy], poolA, span);
        const loss = b.add("reduce_sum", [dx], { axes: [0, 1, 2, 3], keepDims: false }, span);
        return { b, x, dy, loss };
      };
      // Piecewise constant in x: a zeros constant and nothing else.
      const m = make();
      const before = m.b.nodes.length;
      const [gx] = addGradients(m.b, m.loss, [m.x]);
      assert.is(m.b.node(gx!).op, "constant");
      assert.is(m.b.nodes.length, before + 1);
      // Second order through the pool is refused with the node's span.
      const n = make();
      assert.throws(
        () => addGradients(n.b, n.loss, [n.dy]),
        (e: unknown) => e instanceof GradientError && e.op === "maxpool2d_grad",
      );
    },
  },
  avgpool2d: grad(
    { params: { x: t([1, 4, 5, 2]) }, build: (b, i) => b.add("avgpool2d", [i.x!], poolA, span) },
    { params: { x: t([2, 5, 4, 1]) }, build: (b, i) => b.add("avgpool2d", [i.x!], poolB, span) },
  ),
  avgpool2d_grad: grad({
    params: { dy: t([2, 3, 2, 1]) },
    build: (b, i) => b.add("avgpool2d_grad", [i.dy!], { ...poolB, inputShape: [2, 5, 4, 1] }, span),
  }),

  gather: grad({
    params: { table: t([5, 3]) },
    inputs: { idx: { shape: [2, 3], data: [4, 0, 4, 2, 1, 4], dtype: "i32" } },
    build: (b, i) => b.add("gather", [i.table!, i.idx!], {}, span),
  }),
  scatter_add: grad({
    params: { upd: t([4, 3]) },
    inputs: { idx: { shape: [4], data: [3, 0, 3, 1], dtype: "i32" } },
    build: (b, i) => b.add("scatter_add", [i.upd!, i.idx!], { rows: 5 }, span),
  }),
};

const sources: ReadonlySet<OpKind> = new Set(["input", "param", "state", "constant"]);

for (const op of opKinds) {
  const c = cases[op];
  test(`${op} gradient`, () => {
    if (c.kind === "custom") return c.run();
    for (const setup of c.setups) {
      const r = differentiate(setup, next);
      if (c.kind === "grad") {
        if (!sources.has(op)) assert.ok(vjpRules[op] !== null, `${op} has a VJP rule`);
        const err = gradientError(r, finiteDifferences(r));
        assert.ok(err <= 1e-6, `${op}: relative error ${err}`);
      } else {
        // Not differentiable: one zeros constant per parameter and no other node.
        const n = Object.keys(setup.params).length;
        assert.is(r.added, n, `${op}: nodes added`);
        for (const g of Object.values(r.grads)) {
          assert.is(r.full.nodes[g]!.op, "constant");
          assert.ok(r.values.get(g)!.data.every((v) => v === 0));
        }
        assert.is(gradientError(r, finiteDifferences(r)), 0, `${op}: finite differences`);
      }
    }
  });
}

test("every primitive has a gradient case", () => {
  for (const op of opKinds) assert.ok(cases[op], op);
});

test.run();
