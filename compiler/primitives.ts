/**
 * @file The one exhaustive table of primitives: every operation the compiler knows, its
 * attributes, its arity, and its shape rule. Everything else (layers, activations, losses,
 * optimizers) is written in `.nn` on top of these. Other per-primitive tables (VJP rules, the
 * float64 reference, WGSL emitters) are typed `{ [K in OpKind]: ... }` so that adding a primitive
 * here makes the compiler name every table that lacks it.
 *
 * Shapes in the IR are batched (axis 0 is the batch where a value depends on the batch). Shape
 * rules work on symbolic dimensions too, so the checker and the IR verifier share them.
 */
import {
  type Dim,
  type Shape,
  dimDiv,
  dimEq,
  dimMul,
  formatShape,
  numel,
  shapeEq,
} from "./dims.js";

export type DType = "f32" | "i32";

export interface TensorType {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** How a parameter or state variable gets its first value (drawn on the host, seeded). */
export type InitSpec =
  | { readonly dist: "constant"; readonly value: number }
  | { readonly dist: "uniform"; readonly lo: number; readonly hi: number }
  | { readonly dist: "normal"; readonly mean: number; readonly std: number }
  | { readonly dist: "truncated_normal"; readonly mean: number; readonly std: number };

export const unaryOps = [
  "neg",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "tanh",
  "sigmoid",
  "relu",
  "abs",
  "sign",
  "sin",
  "cos",
  "floor",
  "square",
  "reciprocal",
] as const;
export type UnaryOp = (typeof unaryOps)[number];

/** Numpy-style broadcasting binary operations. Comparisons yield 1.0 / 0.0 in f32. */
export const binaryOps = [
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "max",
  "min",
  "greater",
  "greater_equal",
  "less",
  "less_equal",
  "equal",
  "not_equal",
] as const;
export type BinaryOp = (typeof binaryOps)[number];

export type Pads = readonly [top: number, bottom: number, left: number, right: number];
export type Pair = readonly [number, number];

export interface Conv2dAttrs {
  readonly strides: Pair;
  readonly pads: Pads;
}
export interface Pool2dAttrs {
  readonly window: Pair;
  readonly strides: Pair;
  readonly pads: Pads;
}

/** Attributes of each primitive. The keys of this interface are the primitive set. */
export interface OpAttrs {
  // Sources: a value fed each step, a trained parameter, persistent state, a constant.
  input: { readonly name: string };
  param: { readonly name: string };
  state: { readonly name: string };
  constant: { readonly value: number }; // filled to the node's shape
  // Counter-based random numbers: input 0 is a scalar counter (e.g. the step, f32 or i32, taken
  // as u32); `stream` keeps different uses apart. Same (stream, counter, index) gives the same
  // number on every backend. With pcg(v) the PCG-RXS-M-XS hash on u32:
  //   s = v * 747796405 + 2891336453; w = ((s >> ((s >> 28) + 4)) ^ s) * 277803737; (w >> 22) ^ w
  // uniform(i) = f32(pcg(pcg(pcg(i) + counter) + stream) >> 8) / 16777216   (in [0, 1))
  // normal(i)  = sqrt(-2 ln(1 - u1)) * cos(2 pi u2), u1 = uniform at index 2i, u2 at 2i + 1
  // where i is the flat row-major index of the element in the node's shape.
  random_uniform: { readonly stream: number };
  random_normal: { readonly stream: number };

  // Elementwise
  neg: {};
  exp: {};
  log: {};
  sqrt: {};
  rsqrt: {};
  tanh: {};
  sigmoid: {};
  relu: {};
  abs: {};
  sign: {};
  sin: {};
  cos: {};
  floor: {};
  square: {};
  reciprocal: {};
  add: {};
  sub: {};
  mul: {};
  div: {};
  pow: {};
  max: {};
  min: {};
  greater: {};
  greater_equal: {};
  less: {};
  less_equal: {};
  equal: {};
  not_equal: {};
  where: {}; // (cond != 0 ? a : b), broadcasting all three
  cast: { readonly to: DType };

  // Reductions over the given axes (non-negative, sorted).
  reduce_sum: { readonly axes: readonly number[]; readonly keepDims: boolean };
  reduce_max: { readonly axes: readonly number[]; readonly keepDims: boolean };
  argmax: { readonly axis: number }; // i32 result, axis removed

  // Layout
  reshape: { readonly shape: Shape };
  transpose: { readonly perm: readonly number[] };
  broadcast_to: { readonly shape: Shape };
  slice: { readonly starts: readonly number[]; readonly sizes: Shape };
  pad: { readonly lo: readonly number[]; readonly hi: readonly number[] }; // zero padding
  concat: { readonly axis: number }; // any number of inputs

  // Linear algebra and images (NHWC; filters HWIO)
  matmul: { readonly transA: boolean; readonly transB: boolean };
  conv2d: Conv2dAttrs; // (x [N,H,W,C], w [KH,KW,C,F]) -> [N,OH,OW,F]
  conv2d_grad_input: Conv2dAttrs & { readonly inputShape: Shape }; // (dy, w) -> dx
  conv2d_grad_filter: Conv2dAttrs & { readonly filterShape: Shape }; // (x, dy) -> dw
  maxpool2d: Pool2dAttrs; // (x) -> y
  maxpool2d_grad: Pool2dAttrs; // (x, dy) -> dx; ties go to the first maximum
  avgpool2d: Pool2dAttrs; // padding cells are not counted
  avgpool2d_grad: Pool2dAttrs & { readonly inputShape: Shape }; // (dy) -> dx

  // Tables
  gather: {}; // (table [V, ...D], indices i32 [...I]) -> [...I, ...D]
  scatter_add: { readonly rows: Dim }; // (updates [...I, ...D], indices i32 [...I]) -> [rows, ...D]
}

export type OpKind = keyof OpAttrs;

export const opKinds: readonly OpKind[] = Object.keys({
  input: 0,
  param: 0,
  state: 0,
  constant: 0,
  random_uniform: 0,
  random_normal: 0,
  neg: 0,
  exp: 0,
  log: 0,
  sqrt: 0,
  rsqrt: 0,
  tanh: 0,
  sigmoid: 0,
  relu: 0,
  abs: 0,
  sign: 0,
  sin: 0,
  cos: 0,
  floor: 0,
  square: 0,
  reciprocal: 0,
  add: 0,
  sub: 0,
  mul: 0,
  div: 0,
  pow: 0,
  max: 0,
  min: 0,
  greater: 0,
  greater_equal: 0,
  less: 0,
  less_equal: 0,
  equal: 0,
  not_equal: 0,
  where: 0,
  cast: 0,
  reduce_sum: 0,
  reduce_max: 0,
  argmax: 0,
  reshape: 0,
  transpose: 0,
  broadcast_to: 0,
  slice: 0,
  pad: 0,
  concat: 0,
  matmul: 0,
  conv2d: 0,
  conv2d_grad_input: 0,
  conv2d_grad_filter: 0,
  maxpool2d: 0,
  maxpool2d_grad: 0,
  avgpool2d: 0,
  avgpool2d_grad: 0,
  gather: 0,
  scatter_add: 0,
} satisfies Record<OpKind, 0>) as OpKind[];

export function isUnary(op: OpKind): op is UnaryOp {
  return (unaryOps as readonly string[]).includes(op);
}
export function isBinary(op: OpKind): op is BinaryOp {
  return (binaryOps as readonly string[]).includes(op);
}
export function isElementwise(op: OpKind): boolean {
  return isUnary(op) || isBinary(op) || op === "where" || op === "cast";
}

/** A shape rule returns the result type, or a message saying what was expected and found. */
export type ShapeRule<K extends OpKind> = (
  inputs: readonly TensorType[],
  attrs: OpAttrs[K],
  /** The result shape for sources (`input`, `param`, `state`, `constant`, `random_*`). */
  declared: TensorType | undefined,
) => TensorType | string;

/** Broadcast shapes numpy-style (right-aligned; 1 stretches). */
export function broadcastShapes(a: Shape, b: Shape): Shape | undefined {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else return undefined;
  }
  return out;
}

function source(_i: readonly TensorType[], _a: unknown, declared: TensorType | undefined) {
  return declared ?? "a source needs a declared type";
}

function unary(inputs: readonly TensorType[]): TensorType | string {
  const x = inputs[0]!;
  if (x.dtype !== "f32") return `expected a float tensor, found ${x.dtype}`;
  return x;
}

function binary(inputs: readonly TensorType[]): TensorType | string {
  const [a, b] = inputs as [TensorType, TensorType];
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shape) return `shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} do not broadcast`;
  if (a.dtype !== b.dtype) return `dtypes differ: ${a.dtype} and ${b.dtype}`;
  return { shape, dtype: a.dtype };
}

function comparison(inputs: readonly TensorType[]): TensorType | string {
  const t = binary(inputs);
  return typeof t === "string" ? t : { shape: t.shape, dtype: "f32" };
}

function checkAxes(rank: number, axes: readonly number[]): string | undefined {
  for (const a of axes) if (a < 0 || a >= rank) return `axis ${a} is out of range for rank ${rank}`;
  return undefined;
}

function reduce(inputs: readonly TensorType[], attrs: OpAttrs["reduce_sum"]): TensorType | string {
  const x = inputs[0]!;
  const bad = checkAxes(x.shape.length, attrs.axes);
  if (bad) return bad;
  const shape = attrs.keepDims
    ? x.shape.map((d, i) => (attrs.axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !attrs.axes.includes(i));
  return { shape, dtype: x.dtype };
}

/** Output size of a windowed op along one axis. */
export function windowOut(
  size: Dim,
  window: number,
  stride: number,
  padLo: number,
  padHi: number,
): Dim {
  if (typeof size !== "number") {
    if (window === 1 && stride === 1 && padLo === 0 && padHi === 0) return size;
    if (stride === 1 && padLo + padHi === window - 1) return size;
    return `conv(${size})`;
  }
  return Math.floor((size + padLo + padHi - window) / stride) + 1;
}

function conv2dShape(x: TensorType, w: TensorType, a: Conv2dAttrs): TensorType | string {
  if (x.shape.length !== 4)
    return `expected an image batch [N, H, W, C], found ${formatShape(x.shape)}`;
  if (w.shape.length !== 4) return `expected filters [KH, KW, C, F], found ${formatShape(w.shape)}`;
  const [n, h, wd, c] = x.shape as [Dim, Dim, Dim, Dim];
  const [kh, kw, ci, f] = w.shape as [Dim, Dim, Dim, Dim];
  if (!dimEq(c, ci)) return `filters expect ${ci} input channels, found ${c}`;
  if (typeof kh !== "number" || typeof kw !== "number") return "kernel sizes must be numbers";
  const oh = windowOut(h, kh, a.strides[0], a.pads[0], a.pads[1]);
  const ow = windowOut(wd, kw, a.strides[1], a.pads[2], a.pads[3]);
  if ((typeof oh === "number" && oh <= 0) || (typeof ow === "number" && ow <= 0)) {
    return `a ${kh}x${kw} window does not fit in a ${h}x${wd} image`;
  }
  return { shape: [n, oh, ow, f], dtype: "f32" };
}

function poolShape(x: TensorType, a: Pool2dAttrs): TensorType | string {
  if (x.shape.length !== 4)
    return `expected an image batch [N, H, W, C], found ${formatShape(x.shape)}`;
  const [n, h, w, c] = x.shape as [Dim, Dim, Dim, Dim];
  const oh = windowOut(h, a.window[0], a.strides[0], a.pads[0], a.pads[1]);
  const ow = windowOut(w, a.window[1], a.strides[1], a.pads[2], a.pads[3]);
  if ((typeof oh === "number" && oh <= 0) || (typeof ow === "number" && ow <= 0)) {
    return `a ${a.window[0]}x${a.window[1]} window does not fit in a ${h}x${w} image`;
  }
  return { shape: [n, oh, ow, c], dtype: x.dtype };
}

function matmulShape(a: TensorType, b: TensorType, attrs: OpAttrs["matmul"]): TensorType | string {
  if (a.shape.length < 2 || b.shape.length < 2) {
    return `matmul needs matrices, found ${formatShape(a.shape)} and ${formatShape(b.shape)}`;
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = attrs.transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const ka = attrs.transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = attrs.transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = attrs.transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (!dimEq(ka, kb)) {
    return `inner dimensions differ: ${formatShape(a.shape)} @ ${formatShape(b.shape)} (${ka} vs ${kb})`;
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (!batch)
    return `batch dimensions of ${formatShape(a.shape)} and ${formatShape(b.shape)} do not broadcast`;
  return { shape: [...batch, m, n], dtype: "f32" };
}

export const shapeRules: { readonly [K in OpKind]: ShapeRule<K> } = {
  input: source,
  param: source,
  state: source,
  constant: source,
  random_uniform: source,
  random_normal: source,
  neg: unary,
  exp: unary,
  log: unary,
  sqrt: unary,
  rsqrt: unary,
  tanh: unary,
  sigmoid: unary,
  relu: unary,
  abs: unary,
  sign: unary,
  sin: unary,
  cos: unary,
  floor: unary,
  square: unary,
  reciprocal: unary,
  add: binary,
  sub: binary,
  mul: binary,
  div: binary,
  pow: binary,
  max: binary,
  min: binary,
  greater: comparison,
  greater_equal: comparison,
  less: comparison,
  less_equal: comparison,
  equal: comparison,
  not_equal: comparison,
  where: (inputs) => {
    const [c, a, b] = inputs as [TensorType, TensorType, TensorType];
    const ab = binary([a, b]);
    if (typeof ab === "string") return ab;
    const shape = broadcastShapes(c.shape, ab.shape);
    if (!shape)
      return `condition ${formatShape(c.shape)} does not broadcast with ${formatShape(ab.shape)}`;
    return { shape, dtype: ab.dtype };
  },
  cast: (inputs, attrs) => ({ shape: inputs[0]!.shape, dtype: attrs.to }),
  reduce_sum: reduce,
  reduce_max: reduce,
  argmax: (inputs, attrs) => {
    const x = inputs[0]!;
    const bad = checkAxes(x.shape.length, [attrs.axis]);
    if (bad) return bad;
    return { shape: x.shape.filter((_, i) => i !== attrs.axis), dtype: "i32" };
  },
  reshape: (inputs, attrs) => {
    const x = inputs[0]!;
    if (!dimEq(numel(x.shape), numel(attrs.shape))) {
      return `cannot reshape ${formatShape(x.shape)} (${numel(x.shape)} elements) to ${formatShape(attrs.shape)} (${numel(attrs.shape)} elements)`;
    }
    return { shape: attrs.shape, dtype: x.dtype };
  },
  transpose: (inputs, attrs) => {
    const x = inputs[0]!;
    const sorted = [...attrs.perm].sort((a, b) => a - b);
    if (sorted.length !== x.shape.length || sorted.some((p, i) => p !== i)) {
      return `permutation [${attrs.perm.join(", ")}] does not fit rank ${x.shape.length}`;
    }
    return { shape: attrs.perm.map((p) => x.shape[p]!), dtype: x.dtype };
  },
  broadcast_to: (inputs, attrs) => {
    const x = inputs[0]!;
    const s = broadcastShapes(x.shape, attrs.shape);
    if (!s || !shapeEq(s, attrs.shape)) {
      return `cannot broadcast ${formatShape(x.shape)} to ${formatShape(attrs.shape)}`;
    }
    return { shape: attrs.shape, dtype: x.dtype };
  },
  slice: (inputs, attrs) => {
    const x = inputs[0]!;
    if (attrs.starts.length !== x.shape.length || attrs.sizes.length !== x.shape.length) {
      return `slice needs ${x.shape.length} starts and sizes`;
    }
    for (let i = 0; i < x.shape.length; i++) {
      const d = x.shape[i]!;
      const size = attrs.sizes[i]!;
      if (typeof d === "number" && typeof size === "number" && attrs.starts[i]! + size > d) {
        return `slice [${attrs.starts[i]}, ${attrs.starts[i]! + size}) is out of range for axis ${i} of size ${d}`;
      }
    }
    return { shape: attrs.sizes, dtype: x.dtype };
  },
  pad: (inputs, attrs) => {
    const x = inputs[0]!;
    if (attrs.lo.length !== x.shape.length || attrs.hi.length !== x.shape.length) {
      return `pad needs ${x.shape.length} amounts on each side`;
    }
    return {
      shape: x.shape.map((d, i) =>
        typeof d === "number"
          ? d + attrs.lo[i]! + attrs.hi[i]!
          : attrs.lo[i]! + attrs.hi[i]! === 0
            ? d
            : `pad(${d})`,
      ),
      dtype: x.dtype,
    };
  },
  concat: (inputs, attrs) => {
    if (inputs.length === 0) return "concat needs at least one input";
    const first = inputs[0]!;
    let total: Dim = 0;
    for (const t of inputs) {
      if (t.shape.length !== first.shape.length) return "concat inputs differ in rank";
      for (let i = 0; i < t.shape.length; i++) {
        if (i !== attrs.axis && !dimEq(t.shape[i]!, first.shape[i]!)) {
          return `concat inputs differ on axis ${i}: ${formatShape(first.shape)} and ${formatShape(t.shape)}`;
        }
      }
      const d = t.shape[attrs.axis]!;
      total = typeof total === "number" && typeof d === "number" ? total + d : `${total}+${d}`;
    }
    return { shape: first.shape.map((d, i) => (i === attrs.axis ? total : d)), dtype: first.dtype };
  },
  matmul: (inputs, attrs) => matmulShape(inputs[0]!, inputs[1]!, attrs),
  conv2d: (inputs, attrs) => conv2dShape(inputs[0]!, inputs[1]!, attrs),
  conv2d_grad_input: (_inputs, attrs) => ({ shape: attrs.inputShape, dtype: "f32" }),
  conv2d_grad_filter: (_inputs, attrs) => ({ shape: attrs.filterShape, dtype: "f32" }),
  maxpool2d: (inputs, attrs) => poolShape(inputs[0]!, attrs),
  maxpool2d_grad: (inputs) => inputs[0]!,
  avgpool2d: (inputs, attrs) => poolShape(inputs[0]!, attrs),
  avgpool2d_grad: (_inputs, attrs) => ({ shape: attrs.inputShape, dtype: "f32" }),
  gather: (inputs) => {
    const [table, idx] = inputs as [TensorType, TensorType];
    if (idx.dtype !== "i32") return `indices must be int, found ${idx.dtype}`;
    if (table.shape.length < 1) return "a table needs at least one axis";
    return { shape: [...idx.shape, ...table.shape.slice(1)], dtype: table.dtype };
  },
  scatter_add: (inputs, attrs) => {
    const [upd, idx] = inputs as [TensorType, TensorType];
    if (idx.dtype !== "i32") return `indices must be int, found ${idx.dtype}`;
    return { shape: [attrs.rows, ...upd.shape.slice(idx.shape.length)], dtype: upd.dtype };
  },
};

/** Number of inputs each primitive takes (-1: any number). */
export const arity: { readonly [K in OpKind]: number } = {
  input: 0,
  param: 0,
  state: 0,
  constant: 0,
  random_uniform: 1,
  random_normal: 1,
  neg: 1,
  exp: 1,
  log: 1,
  sqrt: 1,
  rsqrt: 1,
  tanh: 1,
  sigmoid: 1,
  relu: 1,
  abs: 1,
  sign: 1,
  sin: 1,
  cos: 1,
  floor: 1,
  square: 1,
  reciprocal: 1,
  add: 2,
  sub: 2,
  mul: 2,
  div: 2,
  pow: 2,
  max: 2,
  min: 2,
  greater: 2,
  greater_equal: 2,
  less: 2,
  less_equal: 2,
  equal: 2,
  not_equal: 2,
  where: 3,
  cast: 1,
  reduce_sum: 1,
  reduce_max: 1,
  argmax: 1,
  reshape: 1,
  transpose: 1,
  broadcast_to: 1,
  slice: 1,
  pad: 1,
  concat: -1,
  matmul: 2,
  conv2d: 2,
  conv2d_grad_input: 2,
  conv2d_grad_filter: 2,
  maxpool2d: 1,
  maxpool2d_grad: 2,
  avgpool2d: 1,
  avgpool2d_grad: 1,
  gather: 2,
  scatter_add: 2,
};

export { dimDiv, dimMul };
