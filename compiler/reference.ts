/**
 * @file The float64 reference interpreter of the graph IR: the test oracle every other backend
 * (the WGSL kernels, the fused plans) is compared with. It evaluates every node of a Graph in
 * order, one rule per primitive in an exhaustive table, in plain row-major float64 arrays; i32
 * values are held as integral floats. It favours being obviously right over being fast, and
 * needs concrete shapes (a symbolic dimension is a thrown Error, as is a missing or mis-sized
 * feed). Conventions the device must share: comparisons give 1/0; `where` picks `a` where the
 * condition is non-zero; casts to i32 truncate toward zero (saturating); i32 add/sub/mul wrap and
 * i32 division truncates (x / 0 = x, as in WGSL); maxpool skips padding cells and gives ties to
 * the first maximum in row-major window order, as does argmax along its axis; avgpool divides by
 * the number of non-padding cells; gather reads zeros for an out-of-range index and scatter_add
 * drops it; the RNG is the counter-based PCG hash documented in primitives.ts, bit for bit for
 * `random_uniform` (a float counter is truncated and clamped to u32, an int one reinterpreted).
 */
import { formatShape, type Shape } from "./dims.js";
import type { AnyNode, Graph, Node } from "./ir/graph.js";
import type { Conv2dAttrs, DType, OpKind, Pool2dAttrs } from "./primitives.js";

export interface RefTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly data: Float64Array;
}

/** Flat row-major values for every `input` node (by name) and every variable (by name). */
export interface Feeds {
  readonly inputs: ReadonlyMap<string, ArrayLike<number>>;
  readonly variables: ReadonlyMap<string, ArrayLike<number>>;
}

// ---------------------------------------------------------------------------------------------
// Shape helpers

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function concrete(shape: Shape, what: string): number[] {
  for (const d of shape) {
    if (typeof d !== "number") {
      throw new Error(`reference: ${what} has a symbolic shape ${formatShape(shape)}`);
    }
  }
  return shape as number[];
}

/**
 * For each flat index of `outShape`, the flat index into a tensor of shape `inShape` that numpy
 * broadcasting reads (right-aligned; size-1 axes repeat).
 */
export function broadcastOffsets(
  inShape: readonly number[],
  outShape: readonly number[],
): Int32Array {
  const rank = outShape.length;
  const inStrides = strides(inShape);
  const bs = new Array<number>(rank).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    const o = rank - inShape.length + i;
    bs[o] = inShape[i] === 1 ? 0 : inStrides[i]!;
  }
  const total = size(outShape);
  const offsets = new Int32Array(total);
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let f = 0; f < total; f++) {
    offsets[f] = off;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      off += bs[a]!;
      if (idx[a]! < outShape[a]!) break;
      off -= bs[a]! * outShape[a]!;
      idx[a] = 0;
    }
  }
  return offsets;
}

function tensor(shape: readonly number[], dtype: DType, data?: Float64Array): RefTensor {
  return { shape: [...shape], dtype, data: data ?? new Float64Array(size(shape)) };
}

// ---------------------------------------------------------------------------------------------
// Scalar semantics

/** Saturating truncation toward zero, as WGSL's i32(f32). */
export function toI32(v: number): number {
  if (Number.isNaN(v)) return 0;
  if (v >= 2147483647) return 2147483647;
  if (v <= -2147483648) return -2147483648;
  return Math.trunc(v);
}

/** The RNG counter as u32: a float counter truncates and clamps, an int one is reinterpreted. */
function counterU32(v: number, dtype: DType): number {
  if (dtype === "i32") return v >>> 0;
  if (!(v > 0)) return 0;
  if (v >= 4294967295) return 4294967295;
  return Math.trunc(v) >>> 0;
}

/** PCG-RXS-M-XS hash on u32 (see primitives.ts). */
export function pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** uniform(i) in [0, 1) for a (stream, counter) pair; exact in f32 as well. */
export function uniformAt(i: number, counter: number, stream: number): number {
  const h = pcg((pcg((pcg(i) + counter) >>> 0) + stream) >>> 0);
  return (h >>> 8) / 16777216;
}

export function normalAt(i: number, counter: number, stream: number): number {
  const u1 = uniformAt(2 * i, counter, stream);
  const u2 = uniformAt(2 * i + 1, counter, stream);
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

const unaryFns = {
  neg: (x: number) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x: number) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  sigmoid: (x: number) => 1 / (1 + Math.exp(-x)),
  relu: (x: number) => (x > 0 ? x : 0),
  abs: Math.abs,
  sign: (x: number) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN),
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
  square: (x: number) => x * x,
  reciprocal: (x: number) => 1 / x,
};

type Fn2 = (a: number, b: number) => number;

/** f32 semantics of each binary op, and i32 semantics where they differ. */
const binaryFns: Record<"add" | "sub" | "mul" | "div" | "pow" | "max" | "min", { f: Fn2; i: Fn2 }> =
  {
    add: { f: (a, b) => a + b, i: (a, b) => (a + b) | 0 },
    sub: { f: (a, b) => a - b, i: (a, b) => (a - b) | 0 },
    mul: { f: (a, b) => a * b, i: (a, b) => Math.imul(a, b) },
    div: { f: (a, b) => a / b, i: (a, b) => (b === 0 ? a : Math.trunc(a / b) | 0) },
    pow: { f: Math.pow, i: (a, b) => toI32(Math.pow(a, b)) },
    max: { f: Math.max, i: Math.max },
    min: { f: Math.min, i: Math.min },
  };

const comparisonFns: Record<
  "greater" | "greater_equal" | "less" | "less_equal" | "equal" | "not_equal",
  Fn2
> = {
  greater: (a, b) => (a > b ? 1 : 0),
  greater_equal: (a, b) => (a >= b ? 1 : 0),
  less: (a, b) => (a < b ? 1 : 0),
  less_equal: (a, b) => (a <= b ? 1 : 0),
  equal: (a, b) => (a === b ? 1 : 0),
  not_equal: (a, b) => (a !== b ? 1 : 0),
};

// ---------------------------------------------------------------------------------------------
// Rules

interface Ctx<K extends OpKind> {
  readonly node: Node<K>;
  readonly shape: number[]; // the node's concrete shape
  readonly args: readonly RefTensor[];
  readonly feeds: Feeds;
  readonly graph: Graph;
}

type Rule<K extends OpKind> = (c: Ctx<K>) => RefTensor;

function fromFeed(
  c: Ctx<"input" | "param" | "state">,
  map: ReadonlyMap<string, ArrayLike<number>>,
) {
  const name = c.node.attrs.name;
  const what = c.node.op === "input" ? "input" : "variable";
  const values = map.get(name);
  if (values === undefined) throw new Error(`reference: missing feed for ${what} "${name}"`);
  const n = size(c.shape);
  if (values.length !== n) {
    throw new Error(
      `reference: feed for ${what} "${name}" has ${values.length} values, expected ${n} for ${formatShape(c.shape)}`,
    );
  }
  const data = Float64Array.from(values);
  if (c.node.dtype === "i32") for (let i = 0; i < n; i++) data[i] = toI32(data[i]!);
  return tensor(c.shape, c.node.dtype, data);
}

function unaryRule(f: (x: number) => number): Rule<OpKind> {
  return (c) => {
    const x = c.args[0]!;
    const out = tensor(c.shape, c.node.dtype);
    for (let i = 0; i < out.data.length; i++) out.data[i] = f(x.data[i]!);
    return out;
  };
}

function mapBroadcast(c: Ctx<OpKind>, f: (...v: number[]) => number): RefTensor {
  const out = tensor(c.shape, c.node.dtype);
  const o = out.data;
  const [a, b, d] = c.args.map((t) => ({ data: t.data, off: broadcastOffsets(t.shape, c.shape) }));
  if (c.args.length === 1) {
    for (let i = 0; i < o.length; i++) o[i] = f(a!.data[a!.off[i]!]!);
  } else if (c.args.length === 2) {
    for (let i = 0; i < o.length; i++) o[i] = f(a!.data[a!.off[i]!]!, b!.data[b!.off[i]!]!);
  } else {
    for (let i = 0; i < o.length; i++) {
      o[i] = f(a!.data[a!.off[i]!]!, b!.data[b!.off[i]!]!, d!.data[d!.off[i]!]!);
    }
  }
  return out;
}

function binaryRule(op: keyof typeof binaryFns): Rule<OpKind> {
  return (c) => {
    const fns = binaryFns[op];
    const f = c.node.dtype === "i32" ? fns.i : fns.f;
    return mapBroadcast(c, (a, b) => f(a!, b!));
  };
}

function comparisonRule(op: keyof typeof comparisonFns): Rule<OpKind> {
  return (c) => {
    const f = comparisonFns[op];
    return mapBroadcast(c, (a, b) => f(a!, b!));
  };
}

function randomRule(normal: boolean): Rule<"random_uniform" | "random_normal"> {
  return (c) => {
    const ctr = c.args[0]!;
    if (ctr.data.length !== 1) {
      throw new Error(
        `reference: random counter must be a scalar, found ${formatShape(ctr.shape)}`,
      );
    }
    const counter = counterU32(ctr.data[0]!, ctr.dtype);
    const stream = c.node.attrs.stream >>> 0;
    const out = tensor(c.shape, "f32");
    for (let i = 0; i < out.data.length; i++) {
      out.data[i] = normal ? normalAt(i, counter, stream) : uniformAt(i, counter, stream);
    }
    return out;
  };
}

/** The shape with reduced axes kept as size 1. */
function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceRule(init: number, f: Fn2): Rule<"reduce_sum" | "reduce_max"> {
  return (c) => {
    const x = c.args[0]!;
    const out = tensor(c.shape, c.node.dtype);
    out.data.fill(init);
    const map = broadcastOffsets(keptShape(x.shape, c.node.attrs.axes), x.shape);
    for (let i = 0; i < x.data.length; i++) {
      const o = map[i]!;
      out.data[o] = f(out.data[o]!, x.data[i]!);
    }
    return out;
  };
}

/** Loops over windows of an NHWC image: calls `visit(outIndexBase, inIndexBase)` per pair. */
function windows(
  inShape: readonly number[],
  outShape: readonly number[],
  window: readonly [number, number],
  a: { readonly strides: readonly [number, number]; readonly pads: readonly number[] },
  visit: (
    n: number,
    oy: number,
    ox: number,
    iy: number,
    ix: number,
    ky: number,
    kx: number,
  ) => void,
): void {
  const [N, H, W] = inShape as [number, number, number];
  const [, OH, OW] = outShape as [number, number, number];
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let ky = 0; ky < window[0]; ky++) {
          const iy = oy * a.strides[0] - a.pads[0]! + ky;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < window[1]; kx++) {
            const ix = ox * a.strides[1] - a.pads[2]! + kx;
            if (ix < 0 || ix >= W) continue;
            visit(n, oy, ox, iy, ix, ky, kx);
          }
        }
}

/**
 * Calls `tap(xBase, wBase, yBase)` for every (output cell, kernel tap) pair of a conv2d that
 * reads the image (not padding); its terms are x[xBase + c] * w[wBase + c * F + f] -> y[yBase + f].
 */
function convTaps(
  xShape: readonly number[],
  wShape: readonly number[],
  yShape: readonly number[],
  a: Conv2dAttrs,
  tap: (xb: number, wb: number, yb: number) => void,
): void {
  const [, H, W, C] = xShape as [number, number, number, number];
  const [KH, KW, , F] = wShape as [number, number, number, number];
  const [, OH, OW] = yShape as [number, number, number];
  windows(xShape, yShape, [KH, KW], a, (n, oy, ox, iy, ix, ky, kx) => {
    tap(((n * H + iy) * W + ix) * C, (ky * KW + kx) * C * F, ((n * OH + oy) * OW + ox) * F);
  });
}

/** For each output cell of a max pool, the flat input index of its first maximum (-1: empty). */
function maxpoolArgmax(x: RefTensor, outShape: readonly number[], a: Pool2dAttrs): Int32Array {
  const [, H, W, C] = x.shape as [number, number, number, number];
  const [, OH, OW] = outShape as [number, number, number];
  const arg = new Int32Array(size(outShape)).fill(-1);
  windows(x.shape, outShape, a.window, a, (n, oy, ox, iy, ix) => {
    const ob = ((n * OH + oy) * OW + ox) * C;
    const ib = ((n * H + iy) * W + ix) * C;
    for (let ch = 0; ch < C; ch++) {
      const best = arg[ob + ch]!;
      if (best < 0 || x.data[ib + ch]! > x.data[best]!) arg[ob + ch] = ib + ch;
    }
  });
  return arg;
}

/** Non-padding cells in each pooling window, per (n, oy, ox) (the same for every channel). */
function avgpoolCounts(inShape: readonly number[], outShape: readonly number[], a: Pool2dAttrs) {
  const [, OH, OW] = outShape as [number, number, number];
  const counts = new Float64Array(size(outShape.slice(0, 3)));
  windows(inShape, outShape, a.window, a, (n, oy, ox) => {
    counts[(n * OH + oy) * OW + ox]!++;
  });
  return counts;
}

/** Calls `visit(inIndex, outIndex, count)` for every (input cell, window) pair of an avg pool. */
function avgpoolTerms(
  inShape: readonly number[],
  outShape: readonly number[],
  a: Pool2dAttrs,
  visit: (ii: number, oi: number, count: number) => void,
): void {
  const [, H, W, C] = inShape as [number, number, number, number];
  const [, OH, OW] = outShape as [number, number, number];
  const counts = avgpoolCounts(inShape, outShape, a);
  windows(inShape, outShape, a.window, a, (n, oy, ox, iy, ix) => {
    const cell = (n * OH + oy) * OW + ox;
    const ib = ((n * H + iy) * W + ix) * C;
    for (let ch = 0; ch < C; ch++) visit(ib + ch, cell * C + ch, counts[cell]!);
  });
}

/** Row-major copy of `x` into a region of `out` (`starts` per axis) or the reverse. */
function copyRegion(
  src: RefTensor,
  srcStarts: readonly number[],
  dst: RefTensor,
  dstStarts: readonly number[],
  region: readonly number[],
): void {
  const ss = strides(src.shape);
  const ds = strides(dst.shape);
  const total = size(region);
  const rs = strides(region);
  for (let f = 0; f < total; f++) {
    let si = 0;
    let di = 0;
    let rem = f;
    for (let a = 0; a < region.length; a++) {
      const q = Math.floor(rem / rs[a]!);
      rem -= q * rs[a]!;
      si += (q + srcStarts[a]!) * ss[a]!;
      di += (q + dstStarts[a]!) * ds[a]!;
    }
    dst.data[di] = src.data[si]!;
  }
}

const zerosLike = (shape: readonly number[]) => shape.map(() => 0);

export const referenceRules: { readonly [K in OpKind]: Rule<K> } = {
  input: (c) => fromFeed(c, c.feeds.inputs),
  param: (c) => fromFeed(c, c.feeds.variables),
  state: (c) => fromFeed(c, c.feeds.variables),
  constant: (c) => {
    const v = c.node.dtype === "i32" ? toI32(c.node.attrs.value) : c.node.attrs.value;
    return tensor(c.shape, c.node.dtype, new Float64Array(size(c.shape)).fill(v));
  },
  random_uniform: randomRule(false),
  random_normal: randomRule(true),

  neg: unaryRule(unaryFns.neg),
  exp: unaryRule(unaryFns.exp),
  log: unaryRule(unaryFns.log),
  sqrt: unaryRule(unaryFns.sqrt),
  rsqrt: unaryRule(unaryFns.rsqrt),
  tanh: unaryRule(unaryFns.tanh),
  sigmoid: unaryRule(unaryFns.sigmoid),
  relu: unaryRule(unaryFns.relu),
  abs: unaryRule(unaryFns.abs),
  sign: unaryRule(unaryFns.sign),
  sin: unaryRule(unaryFns.sin),
  cos: unaryRule(unaryFns.cos),
  floor: unaryRule(unaryFns.floor),
  square: unaryRule(unaryFns.square),
  reciprocal: unaryRule(unaryFns.reciprocal),

  add: binaryRule("add"),
  sub: binaryRule("sub"),
  mul: binaryRule("mul"),
  div: binaryRule("div"),
  pow: binaryRule("pow"),
  max: binaryRule("max"),
  min: binaryRule("min"),
  greater: comparisonRule("greater"),
  greater_equal: comparisonRule("greater_equal"),
  less: comparisonRule("less"),
  less_equal: comparisonRule("less_equal"),
  equal: comparisonRule("equal"),
  not_equal: comparisonRule("not_equal"),
  where: (c) => mapBroadcast(c, (cond, a, b) => (cond !== 0 ? a! : b!)),
  cast: (c) => {
    const x = c.args[0]!;
    const out = tensor(c.shape, c.node.attrs.to, Float64Array.from(x.data));
    if (c.node.attrs.to === "i32")
      for (let i = 0; i < out.data.length; i++) out.data[i] = toI32(out.data[i]!);
    return out;
  },

  reduce_sum: reduceRule(0, (a, b) => a + b),
  reduce_max: reduceRule(-Infinity, (a, b) => (b > a || Number.isNaN(b) ? b : a)),
  argmax: (c) => {
    const x = c.args[0]!;
    const axis = c.node.attrs.axis;
    const map = broadcastOffsets(keptShape(x.shape, [axis]), x.shape);
    const out = tensor(c.shape, "i32");
    const best = new Float64Array(out.data.length).fill(-Infinity);
    const found = new Uint8Array(out.data.length);
    const st = strides(x.shape)[axis]!;
    const len = x.shape[axis]!;
    for (let i = 0; i < x.data.length; i++) {
      const o = map[i]!;
      const v = x.data[i]!;
      if (!found[o] || v > best[o]!) {
        found[o] = 1;
        best[o] = v;
        out.data[o] = Math.floor(i / st) % len;
      }
    }
    return out;
  },

  reshape: (c) => tensor(c.shape, c.node.dtype, Float64Array.from(c.args[0]!.data)),
  transpose: (c) => {
    const x = c.args[0]!;
    const perm = c.node.attrs.perm;
    const xs = strides(x.shape);
    // Reading x with permuted strides walks the output in row-major order.
    const view = perm.map((p) => xs[p]!);
    const out = tensor(c.shape, c.node.dtype);
    const idx = new Array<number>(perm.length).fill(0);
    let off = 0;
    for (let f = 0; f < out.data.length; f++) {
      out.data[f] = x.data[off]!;
      for (let a = perm.length - 1; a >= 0; a--) {
        idx[a]!++;
        off += view[a]!;
        if (idx[a]! < c.shape[a]!) break;
        off -= view[a]! * c.shape[a]!;
        idx[a] = 0;
      }
    }
    return out;
  },
  broadcast_to: (c) => mapBroadcast(c, (x) => x!),
  slice: (c) => {
    const out = tensor(c.shape, c.node.dtype);
    copyRegion(c.args[0]!, c.node.attrs.starts, out, zerosLike(c.shape), c.shape);
    return out;
  },
  pad: (c) => {
    const x = c.args[0]!;
    const out = tensor(c.shape, c.node.dtype);
    copyRegion(x, zerosLike(x.shape), out, c.node.attrs.lo, x.shape);
    return out;
  },
  concat: (c) => {
    const out = tensor(c.shape, c.node.dtype);
    const starts = zerosLike(c.shape);
    for (const x of c.args) {
      copyRegion(x, zerosLike(x.shape), out, starts, x.shape);
      starts[c.node.attrs.axis]! += x.shape[c.node.attrs.axis]!;
    }
    return out;
  },

  matmul: (c) => {
    const [a, b] = c.args as [RefTensor, RefTensor];
    const { transA, transB } = c.node.attrs;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const [ar, ac] = [a.shape[ra - 2]!, a.shape[ra - 1]!];
    const [br, bc] = [b.shape[rb - 2]!, b.shape[rb - 1]!];
    const M = transA ? ac : ar;
    const K = transA ? ar : ac;
    const N = transB ? br : bc;
    const batch = c.shape.slice(0, -2);
    const aOff = broadcastOffsets(a.shape.slice(0, -2), batch);
    const bOff = broadcastOffsets(b.shape.slice(0, -2), batch);
    const out = tensor(c.shape, "f32");
    // Element (i, k) of op(A): A[i, k] or A[k, i]; likewise op(B).
    const [aI, aK] = transA ? [1, ac] : [ac, 1];
    const [bK, bN] = transB ? [1, bc] : [bc, 1];
    for (let t = 0; t < aOff.length; t++) {
      const ab = aOff[t]! * ar * ac;
      const bb = bOff[t]! * br * bc;
      const ob = t * M * N;
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++)
            s += a.data[ab + i * aI + k * aK]! * b.data[bb + k * bK + j * bN]!;
          out.data[ob + i * N + j] = s;
        }
    }
    return out;
  },
  conv2d: (c) => {
    const [x, w] = c.args as [RefTensor, RefTensor];
    const y = tensor(c.shape, "f32");
    const [C, F] = [x.shape[3]!, w.shape[3]!];
    convTaps(x.shape, w.shape, y.shape, c.node.attrs, (xb, wb, yb) => {
      for (let ci = 0; ci < C; ci++) {
        const xv = x.data[xb + ci]!;
        const wr = wb + ci * F;
        for (let f = 0; f < F; f++) y.data[yb + f]! += xv * w.data[wr + f]!;
      }
    });
    return y;
  },
  conv2d_grad_input: (c) => {
    const [dy, w] = c.args as [RefTensor, RefTensor];
    const dx = tensor(c.shape, "f32");
    const [C, F] = [dx.shape[3]!, w.shape[3]!];
    convTaps(dx.shape, w.shape, dy.shape, c.node.attrs, (xb, wb, yb) => {
      for (let ci = 0; ci < C; ci++) {
        const wr = wb + ci * F;
        let s = 0;
        for (let f = 0; f < F; f++) s += dy.data[yb + f]! * w.data[wr + f]!;
        dx.data[xb + ci]! += s;
      }
    });
    return dx;
  },
  conv2d_grad_filter: (c) => {
    const [x, dy] = c.args as [RefTensor, RefTensor];
    const dw = tensor(c.shape, "f32");
    const [C, F] = [x.shape[3]!, dw.shape[3]!];
    convTaps(x.shape, dw.shape, dy.shape, c.node.attrs, (xb, wb, yb) => {
      for (let ci = 0; ci < C; ci++) {
        const xv = x.data[xb + ci]!;
        const wr = wb + ci * F;
        for (let f = 0; f < F; f++) dw.data[wr + f]! += xv * dy.data[yb + f]!;
      }
    });
    return dw;
  },
  maxpool2d: (c) => {
    const x = c.args[0]!;
    const arg = maxpoolArgmax(x, c.shape, c.node.attrs);
    const out = tensor(c.shape, c.node.dtype);
    for (let o = 0; o < arg.length; o++) out.data[o] = arg[o]! < 0 ? -Infinity : x.data[arg[o]!]!;
    return out;
  },
  maxpool2d_grad: (c) => {
    const [x, dy] = c.args as [RefTensor, RefTensor];
    const arg = maxpoolArgmax(x, dy.shape, c.node.attrs);
    const dx = tensor(c.shape, c.node.dtype);
    for (let o = 0; o < arg.length; o++) if (arg[o]! >= 0) dx.data[arg[o]!]! += dy.data[o]!;
    return dx;
  },
  avgpool2d: (c) => {
    const x = c.args[0]!;
    const out = tensor(c.shape, c.node.dtype);
    avgpoolTerms(x.shape, c.shape, c.node.attrs, (ii, oi, count) => {
      out.data[oi]! += x.data[ii]! / count;
    });
    return out;
  },
  avgpool2d_grad: (c) => {
    const dy = c.args[0]!;
    const dx = tensor(c.shape, "f32");
    avgpoolTerms(c.shape, dy.shape, c.node.attrs, (ii, oi, count) => {
      dx.data[ii]! += dy.data[oi]! / count;
    });
    return dx;
  },

  gather: (c) => {
    const [table, idx] = c.args as [RefTensor, RefTensor];
    const rows = table.shape[0]!;
    const inner = size(table.shape.slice(1));
    const out = tensor(c.shape, c.node.dtype);
    for (let i = 0; i < idx.data.length; i++) {
      const r = idx.data[i]!;
      if (r < 0 || r >= rows) continue;
      for (let j = 0; j < inner; j++) out.data[i * inner + j] = table.data[r * inner + j]!;
    }
    return out;
  },
  scatter_add: (c) => {
    const [upd, idx] = c.args as [RefTensor, RefTensor];
    const rows = c.shape[0]!;
    const inner = size(c.shape.slice(1));
    const out = tensor(c.shape, c.node.dtype);
    for (let i = 0; i < idx.data.length; i++) {
      const r = idx.data[i]!;
      if (r < 0 || r >= rows) continue;
      for (let j = 0; j < inner; j++) out.data[r * inner + j]! += upd.data[i * inner + j]!;
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// Driver

/** Evaluates every node of `graph` in order; the result maps node ids to values. */
export function evaluate(graph: Graph, feeds: Feeds): Map<number, RefTensor> {
  const values = new Map<number, RefTensor>();
  for (const node of graph.nodes) {
    const args = node.inputs.map((i) => {
      const v = values.get(i);
      if (!v) throw new Error(`reference: node %${node.id} reads %${i}, which is not computed yet`);
      return v;
    });
    const shape = concrete(node.shape, `%${node.id} (${node.op})`);
    const rule = referenceRules[node.op] as Rule<OpKind>;
    const out = rule({ node: node as AnyNode as Node<OpKind>, shape, args, feeds, graph });
    values.set(node.id, out);
  }
  return values;
}

/** Values of the graph's named outputs, and of its updates under `update:<target>`. */
export function evaluateOutputs(graph: Graph, feeds: Feeds): Map<string, RefTensor> {
  const values = evaluate(graph, feeds);
  const out = new Map<string, RefTensor>();
  for (const o of graph.outputs) out.set(o.name, values.get(o.node)!);
  for (const u of graph.updates) out.set(`update:${u.target}`, values.get(u.node)!);
  return out;
}
