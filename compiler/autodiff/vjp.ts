/**
 * @file One vector-Jacobian product rule per primitive, in an exhaustive table. A rule gets the
 * forward node and the id of its cotangent `g` (shaped like the node) and returns, per input,
 * either `null` (no gradient flows there: indices, conditions, counters, piecewise-constant ops)
 * or a thunk that appends the nodes computing that input's cotangent, shaped exactly like the
 * input (broadcasting is summed back). The reverse walk in grad.ts calls a thunk only for inputs
 * that lead to some wanted gradient, so no node is built for a gradient nobody reads. Every node
 * a rule builds carries the span of the forward node it differentiates.
 */
import { dimEq, type Shape, shapeEq } from "../dims.js";
import type { GraphBuilder } from "../ir/builder.js";
import type { Node } from "../ir/graph.js";
import type { BinaryOp, OpAttrs, OpKind, Pool2dAttrs, UnaryOp } from "../primitives.js";
import type { Span } from "../source.js";

/** A gradient the compiler cannot build (e.g. second order through a max pool's gradient). */
export class GradientError extends Error {
  constructor(
    readonly op: OpKind,
    readonly detail: string,
    readonly span: Span,
  ) {
    super(`${op}: ${detail}`);
  }
}

export interface VjpContext<K extends OpKind> {
  readonly b: GraphBuilder;
  readonly node: Node<K>;
  /** The cotangent of the node's value, shaped like the node. */
  readonly g: number;
}

export type VjpThunk = () => number;
export type VjpRule<K extends OpKind> = (c: VjpContext<K>) => readonly (VjpThunk | null)[];

/** Node-building shorthands that all carry one span. */
class Emit {
  constructor(
    readonly b: GraphBuilder,
    readonly span: Span,
  ) {}
  c(value: number): number {
    return this.b.constant(value, this.span);
  }
  u(op: UnaryOp, x: number): number {
    return this.b.add(op, [x], {}, this.span);
  }
  bin(op: BinaryOp, x: number, y: number): number {
    return this.b.add(op, [x, y], {}, this.span);
  }
  mul(x: number, y: number): number {
    return this.bin("mul", x, y);
  }
  div(x: number, y: number): number {
    return this.bin("div", x, y);
  }
  where(c: number, x: number, y: number): number {
    return this.b.add("where", [c, x, y], {}, this.span);
  }
  reshape(x: number, shape: Shape): number {
    return shapeEq(this.b.shape(x), shape) ? x : this.b.add("reshape", [x], { shape }, this.span);
  }
  /** Sums `g` over the axes that broadcasting stretched, back to `shape`. */
  unbroadcast(g: number, shape: Shape): number {
    const from = this.b.shape(g);
    if (shapeEq(from, shape)) return g;
    const lead = from.length - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) {
      if (i < lead) axes.push(i);
      else if (shape[i - lead] === 1 && !dimEq(from[i]!, 1)) axes.push(i);
    }
    const r = axes.length ? this.b.add("reduce_sum", [g], { axes, keepDims: false }, this.span) : g;
    return this.reshape(r, shape);
  }
  /** A reduced value brought back to the shape of the reduction's input. */
  unreduce(y: number, xShape: Shape, axes: readonly number[]): number {
    const kept = xShape.map((d, i) => (axes.includes(i) ? 1 : d));
    return this.b.add("broadcast_to", [this.reshape(y, kept)], { shape: xShape }, this.span);
  }
}

function emit<K extends OpKind>(c: VjpContext<K>): Emit {
  return new Emit(c.b, c.node.span);
}

/** d/dx f(x) = g * f'(x), with f' given in terms of the input `x` and the output `y`. */
function unary<K extends UnaryOp>(
  df: (e: Emit, g: number, x: number, y: number) => number,
): VjpRule<K> {
  return (c) => [() => df(emit(c), c.g, c.node.inputs[0]!, c.node.id)];
}

/** Rules for broadcasting binary ops: `da`/`db` give the cotangent at the output's shape. */
function binary<K extends BinaryOp>(
  da: ((e: Emit, g: number, a: number, b: number, y: number) => number) | null,
  db: ((e: Emit, g: number, a: number, b: number, y: number) => number) | null,
): VjpRule<K> {
  return (c) => {
    const [a, b] = c.node.inputs as [number, number];
    const e = emit(c);
    const side = (d: typeof da, target: number): VjpThunk | null =>
      d && (() => e.unbroadcast(d(e, c.g, a, b, c.node.id), c.b.shape(target)));
    return [side(da, a), side(db, b)];
  };
}

function poolAttrs(a: Pool2dAttrs): Pool2dAttrs {
  return { window: a.window, strides: a.strides, pads: a.pads };
}

/** matmul cotangents for each transpose setting, as [lhs, rhs, transA, transB] of a matmul. */
function matmulGrads(
  attrs: OpAttrs["matmul"],
  g: number,
  a: number,
  b: number,
): { da: [number, number, boolean, boolean]; db: [number, number, boolean, boolean] } {
  const { transA, transB } = attrs;
  if (!transA && !transB) return { da: [g, b, false, true], db: [a, g, true, false] };
  if (transA && !transB) return { da: [b, g, false, true], db: [a, g, false, false] };
  if (!transA && transB) return { da: [g, b, false, false], db: [g, a, true, false] };
  return { da: [b, g, true, true], db: [g, a, true, true] };
}

export const vjpRules: { readonly [K in OpKind]: VjpRule<K> | null } = {
  input: null,
  param: null,
  state: null,
  constant: null,
  random_uniform: null,
  random_normal: null,

  neg: unary((e, g) => e.u("neg", g)),
  exp: unary((e, g, _x, y) => e.mul(g, y)),
  log: unary((e, g, x) => e.div(g, x)),
  sqrt: unary((e, g, _x, y) => e.div(e.mul(g, e.c(0.5)), y)),
  // d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 y^3
  rsqrt: unary((e, g, _x, y) => e.mul(e.mul(g, e.c(-0.5)), e.mul(y, e.u("square", y)))),
  tanh: unary((e, g, _x, y) => e.mul(g, e.bin("sub", e.c(1), e.u("square", y)))),
  sigmoid: unary((e, g, _x, y) => e.mul(g, e.mul(y, e.bin("sub", e.c(1), y)))),
  relu: unary((e, g, x) => e.mul(g, e.bin("greater", x, e.c(0)))),
  abs: unary((e, g, x) => e.mul(g, e.u("sign", x))),
  sign: null,
  sin: unary((e, g, x) => e.mul(g, e.u("cos", x))),
  cos: unary((e, g, x) => e.u("neg", e.mul(g, e.u("sin", x)))),
  floor: null,
  square: unary((e, g, x) => e.mul(g, e.mul(x, e.c(2)))),
  reciprocal: unary((e, g, _x, y) => e.u("neg", e.mul(g, e.u("square", y)))),

  add: binary(
    (_e, g) => g,
    (_e, g) => g,
  ),
  sub: binary(
    (_e, g) => g,
    (e, g) => e.u("neg", g),
  ),
  mul: binary(
    (e, g, _a, b) => e.mul(g, b),
    (e, g, a) => e.mul(g, a),
  ),
  div: binary(
    (e, g, _a, b) => e.div(g, b),
    (e, g, _a, b, y) => e.u("neg", e.div(e.mul(g, y), b)),
  ),
  // d/db a^b = a^b ln a, taken as 0 where a <= 0 (as TensorFlow does) rather than NaN.
  pow: binary(
    (e, g, a, b) => e.mul(g, e.mul(b, e.bin("pow", a, e.bin("sub", b, e.c(1))))),
    (e, g, a, _b, y) => {
      const safe = e.where(e.bin("greater", a, e.c(0)), a, e.c(1));
      return e.mul(g, e.mul(y, e.u("log", safe)));
    },
  ),
  // Ties send the whole cotangent to the first operand.
  max: binary(
    (e, g, a, b) => e.mul(g, e.bin("greater_equal", a, b)),
    (e, g, a, b) => e.mul(g, e.bin("less", a, b)),
  ),
  min: binary(
    (e, g, a, b) => e.mul(g, e.bin("less_equal", a, b)),
    (e, g, a, b) => e.mul(g, e.bin("greater", a, b)),
  ),
  greater: null,
  greater_equal: null,
  less: null,
  less_equal: null,
  equal: null,
  not_equal: null,
  where: (c) => {
    const [cond, a, b] = c.node.inputs as [number, number, number];
    const e = emit(c);
    return [
      null,
      () => e.unbroadcast(e.where(cond, c.g, e.c(0)), c.b.shape(a)),
      () => e.unbroadcast(e.where(cond, e.c(0), c.g), c.b.shape(b)),
    ];
  },
  cast: (c) => (c.node.attrs.to === "f32" ? [() => c.g] : [null]),

  reduce_sum: (c) => {
    const x = c.node.inputs[0]!;
    return [() => emit(c).unreduce(c.g, c.b.shape(x), c.node.attrs.axes)];
  },
  // The cotangent goes to the positions equal to the max, shared equally between ties.
  reduce_max: (c) => [
    () => {
      const e = emit(c);
      const x = c.node.inputs[0]!;
      const { axes } = c.node.attrs;
      const xShape = c.b.shape(x);
      const mask = e.bin("equal", x, e.unreduce(c.node.id, xShape, axes));
      const count = c.b.add("reduce_sum", [mask], { axes, keepDims: false }, c.node.span);
      return e.mul(mask, e.unreduce(e.div(c.g, e.reshape(count, c.b.shape(c.g))), xShape, axes));
    },
  ],
  argmax: null,

  reshape: (c) => [() => emit(c).reshape(c.g, c.b.shape(c.node.inputs[0]!))],
  transpose: (c) => [
    () => {
      const perm = c.node.attrs.perm;
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return c.b.add("transpose", [c.g], { perm: inverse }, c.node.span);
    },
  ],
  broadcast_to: (c) => [() => emit(c).unbroadcast(c.g, c.b.shape(c.node.inputs[0]!))],
  slice: (c) => [
    () => {
      const xShape = c.b.shape(c.node.inputs[0]!);
      const { starts, sizes } = c.node.attrs;
      const hi = xShape.map((d, i) => {
        const s = sizes[i]!;
        if (typeof d === "number" && typeof s === "number") return d - starts[i]! - s;
        if (starts[i] === 0 && dimEq(d, s)) return 0;
        throw new GradientError("slice", `cannot pad back along symbolic axis ${i}`, c.node.span);
      });
      return c.b.add("pad", [c.g], { lo: [...starts], hi }, c.node.span);
    },
  ],
  pad: (c) => [
    () => {
      const xShape = c.b.shape(c.node.inputs[0]!);
      return c.b.add("slice", [c.g], { starts: [...c.node.attrs.lo], sizes: xShape }, c.node.span);
    },
  ],
  concat: (c) => {
    const axis = c.node.attrs.axis;
    let offset = 0;
    return c.node.inputs.map((input) => {
      const shape = c.b.shape(input);
      const start = offset;
      const d = shape[axis]!;
      offset = typeof d === "number" ? offset + d : NaN;
      return () => {
        if (Number.isNaN(start)) {
          throw new GradientError("concat", "cannot split along a symbolic axis", c.node.span);
        }
        const starts = shape.map((_, i) => (i === axis ? start : 0));
        return c.b.add("slice", [c.g], { starts, sizes: shape }, c.node.span);
      };
    });
  },

  matmul: (c) => {
    const [a, b] = c.node.inputs as [number, number];
    const e = emit(c);
    const { da, db } = matmulGrads(c.node.attrs, c.g, a, b);
    const mm = ([l, r, transA, transB]: [number, number, boolean, boolean], target: number) =>
      e.unbroadcast(c.b.add("matmul", [l, r], { transA, transB }, c.node.span), c.b.shape(target));
    return [() => mm(da, a), () => mm(db, b)];
  },
  conv2d: (c) => {
    const [x, w] = c.node.inputs as [number, number];
    const { strides, pads } = c.node.attrs;
    const span = c.node.span;
    return [
      () =>
        c.b.add("conv2d_grad_input", [c.g, w], { strides, pads, inputShape: c.b.shape(x) }, span),
      () =>
        c.b.add("conv2d_grad_filter", [x, c.g], { strides, pads, filterShape: c.b.shape(w) }, span),
    ];
  },
  // dx = A_w^T dy is linear in dy and in w.
  conv2d_grad_input: (c) => {
    const [dy, w] = c.node.inputs as [number, number];
    const { strides, pads } = c.node.attrs;
    const span = c.node.span;
    return [
      () => c.b.add("conv2d", [c.g, w], { strides, pads }, span),
      () =>
        c.b.add(
          "conv2d_grad_filter",
          [c.g, dy],
          { strides, pads, filterShape: c.b.shape(w) },
          span,
        ),
    ];
  },
  conv2d_grad_filter: (c) => {
    const [x, dy] = c.node.inputs as [number, number];
    const { strides, pads } = c.node.attrs;
    const span = c.node.span;
    return [
      () =>
        c.b.add("conv2d_grad_input", [dy, c.g], { strides, pads, inputShape: c.b.shape(x) }, span),
      () => c.b.add("conv2d", [x, c.g], { strides, pads }, span),
    ];
  },
  maxpool2d: (c) => [
    () => c.b.add("maxpool2d_grad", [c.node.inputs[0]!, c.g], poolAttrs(c.node.attrs), c.node.span),
  ],
  maxpool2d_grad: (c) => [
    null,
    () => {
      throw new GradientError(
        "maxpool2d_grad",
        "second-order gradients through a max pool are not supported",
        c.node.span,
      );
    },
  ],
  avgpool2d: (c) => [
    () =>
      c.b.add(
        "avgpool2d_grad",
        [c.g],
        { ...poolAttrs(c.node.attrs), inputShape: c.b.shape(c.node.inputs[0]!) },
        c.node.span,
      ),
  ],
  // avgpool2d_grad is the transpose of avgpool2d, and the other way round.
  avgpool2d_grad: (c) => [() => c.b.add("avgpool2d", [c.g], poolAttrs(c.node.attrs), c.node.span)],

  gather: (c) => {
    const [table, idx] = c.node.inputs as [number, number];
    const rows = c.b.shape(table)[0]!;
    return [() => c.b.add("scatter_add", [c.g, idx], { rows }, c.node.span), null];
  },
  scatter_add: (c) => {
    const idx = c.node.inputs[1]!;
    return [() => c.b.add("gather", [c.g, idx], {}, c.node.span), null];
  },
};

/** Ops whose every input is cut off from gradients (also the sources). */
export function isDifferentiable(op: OpKind): boolean {
  return vjpRules[op] !== null;
}
