/**
 * @file The built-in names the stdlib stands on: thin, checked wrappers over the primitives of
 * compiler/primitives.ts (`exp`, `sum(x, axis: -1)`, `reshape`, `conv`, `max_pool`, `gather`,
 * `random_uniform`...), compile-time helpers (`size`, `fan_in`, `index`), initializer
 * constructors (`uniform_init`...), data sources (`mnist`, `idx`, `csv`), augmentations and a
 * few constants (`pi`, `same`, `valid`). Axes are per-sample (the batch axis is implicit and
 * never counted); negative axes count from the end. Every builtin checks its arguments and
 * reports a diagnostic rather than throwing.
 */
import { type Dim, type Shape, dimEq, dimMul, formatShape, numel } from "../dims.js";
import type { InitSpec, Pads, UnaryOp } from "../primitives.js";
import type { Span } from "../source.js";
import type { Elab } from "./elaborate.js";
import {
  type ArgValue,
  type DataSource,
  ERR,
  type TensorValue,
  type Value,
  describe,
  float,
  int,
  str,
} from "./values.js";

export interface BuiltinParam {
  readonly name: string;
  readonly optional: boolean;
}

export interface Builtin {
  readonly name: string;
  readonly params: readonly BuiltinParam[];
  readonly role?: string;
  /** Shown as a row in `nnc summary` when called at a model's top level. */
  readonly layerLike?: boolean;
  /** A constant: the name is this value rather than a function. */
  readonly value?: Value;
  readonly span: Span;
  apply(e: Elab, args: ReadonlyMap<string, ArgValue>, span: Span): Value;
}

const builtinSpan: Span = { file: "<builtin>", start: 0, end: 0 };

/** Keras's fan computation for an initializer. */
export function fans(shape: Shape): { fanIn: Dim; fanOut: Dim } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  if (shape.length === 2) return { fanIn: shape[0]!, fanOut: shape[1]! };
  const receptive = numel(shape.slice(0, -2));
  return {
    fanIn: dimMul(shape[shape.length - 2]!, receptive),
    fanOut: dimMul(shape[shape.length - 1]!, receptive),
  };
}

// ---------------------------------------------------------------------------------------------
// Argument helpers

type Args = ReadonlyMap<string, ArgValue>;

function tensor(e: Elab, args: Args, name: string, fn: string): TensorValue | null {
  const a = args.get(name)!;
  return e.toTensor(a.value, a.span, `${fn}'s ${name}`);
}

function expected(e: Elab, a: ArgValue, fn: string, name: string, what: string): null {
  if (a.value.kind !== "error") {
    e.report("NN2007", a.span, {
      what: `${fn}'s ${name}`,
      expected: what,
      found: describe(a.value),
    });
  }
  return null;
}

function intArg(e: Elab, args: Args, name: string, fn: string, fallback?: number): number | null {
  const a = args.get(name);
  if (!a) return fallback ?? null;
  if (a.value.kind === "int" && typeof a.value.value === "number") return a.value.value;
  return expected(e, a, fn, name, "an int");
}

function numArg(e: Elab, args: Args, name: string, fn: string, fallback?: number): number | null {
  const a = args.get(name);
  if (!a) return fallback ?? null;
  if ((a.value.kind === "int" || a.value.kind === "float") && typeof a.value.value === "number") {
    return a.value.value;
  }
  return expected(e, a, fn, name, "a number");
}

function strArg(e: Elab, args: Args, name: string, fn: string, fallback?: string): string | null {
  const a = args.get(name);
  if (!a) return fallback ?? null;
  if (a.value.kind === "string") return a.value.value;
  return expected(e, a, fn, name, "a string");
}

/** A list of dimensions (ints, possibly symbolic). */
function dimsArg(e: Elab, args: Args, name: string, fn: string): Dim[] | null {
  const a = args.get(name);
  if (!a) return null;
  if (a.value.kind === "list") {
    const out: Dim[] = [];
    for (const it of a.value.items) {
      if (it.kind === "error") return null;
      if (it.kind !== "int") return expected(e, a, fn, name, "a list of ints");
      out.push(e.dim(it.value));
    }
    return out;
  }
  return expected(e, a, fn, name, "a list of ints, e.g. [28, 28, 1]");
}

/** An int or a list of two ints (kernel sizes, strides). */
function pairArg(
  e: Elab,
  args: Args,
  name: string,
  fn: string,
  fallback: number,
): [number, number] | null {
  const a = args.get(name);
  if (!a) return [fallback, fallback];
  return pairOf(e, a, fn, name);
}

/** `a` as two ints of at least 1 (an int stands for both), else NN2007 naming `fn`'s `name`. */
function pairOf(e: Elab, a: ArgValue, fn: string, name: string): [number, number] | null {
  const v = a.value;
  const positive = (i: Value): number | null =>
    i.kind === "int" && typeof i.value === "number" && i.value >= 1 ? i.value : null;
  const one = positive(v);
  if (one !== null) return [one, one];
  if (v.kind === "list" && v.items.length === 2) {
    const [a0, a1] = v.items.map(positive);
    if (a0 != null && a1 != null) return [a0, a1];
  }
  // Window sizes and strides: a 0 made infinite shapes, a negative one a misleading "does not fit".
  return expected(e, a, fn, name, "an int of at least 1 or a list of two");
}

/** A per-sample axis, normalised to a full-shape axis. */
function axisOf(e: Elab, t: TensorValue, axis: number, span: Span): number | null {
  const rank = e.sampleShape(t).length;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    e.report("NN2028", span, { axis, shape: formatShape(e.sampleShape(t)) });
    return null;
  }
  return a + (t.batched ? 1 : 0);
}

/** The axes named by an `axis` argument (int or list), or every per-sample axis. */
function axesArg(e: Elab, args: Args, t: TensorValue, fn: string): number[] | null {
  const a = args.get("axis");
  const rank = e.sampleShape(t).length;
  let list: number[];
  if (!a) list = Array.from({ length: rank }, (_, i) => i);
  else if (a.value.kind === "int" && typeof a.value.value === "number") list = [a.value.value];
  else if (
    a.value.kind === "list" &&
    a.value.items.every((i) => i.kind === "int" && typeof i.value === "number")
  ) {
    list = a.value.items.map((i) => (i as { value: number }).value);
  } else return expected(e, a, fn, "axis", "an int or a list of ints");
  const out: number[] = [];
  for (const x of list) {
    const n = axisOf(e, t, x, a?.span ?? builtinSpanOf(args));
    if (n === null) return null;
    if (!out.includes(n)) out.push(n);
  }
  return out.sort((x, y) => x - y);
}

function builtinSpanOf(args: Args): Span {
  return args.values().next().value?.span ?? builtinSpan;
}

function boolArg(e: Elab, args: Args, name: string, fn: string, fallback: boolean): boolean | null {
  const a = args.get(name);
  if (!a) return fallback;
  if (a.value.kind === "bool") return a.value.value;
  return expected(e, a, fn, name, "a bool");
}

function out(e: Elab, node: number | null, batched: boolean): Value {
  return e.tensor(node, batched);
}

// ---------------------------------------------------------------------------------------------
// Definitions

const table = new Map<string, Builtin>();

function def(
  name: string,
  params: string, // "x, y?, axis?"
  apply: Builtin["apply"],
  extra: Partial<Pick<Builtin, "role" | "layerLike">> = {},
): void {
  const ps = params
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p)
    .map((p) => ({ name: p.replace(/\?$/, ""), optional: p.endsWith("?") }));
  table.set(name, { name, params: ps, apply, span: builtinSpan, ...extra });
}

function constant(name: string, value: Value): void {
  table.set(name, { name, params: [], value, span: builtinSpan, apply: () => value });
}

const unaryFold: { [K in UnaryOp]: (x: number) => number } = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => Math.max(0, x),
  abs: Math.abs,
  sign: Math.sign,
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
};

for (const op of Object.keys(unaryFold) as UnaryOp[]) {
  if (op === "neg") continue;
  def(
    op,
    "x",
    (e, args, span) => {
      const a = args.get("x")!;
      const v = a.value;
      if ((v.kind === "int" || v.kind === "float") && typeof v.value === "number") {
        const r = unaryFold[op](v.value);
        return op === "floor" || op === "sign" || op === "abs"
          ? v.kind === "int" || op === "floor"
            ? int(r)
            : float(r)
          : float(r);
      }
      const t = e.toTensor(v, a.span, op);
      if (!t) return ERR;
      if (e.dtype(t) !== "f32") {
        return e.report("NN2009", a.span, {
          callee: op,
          param: "x",
          expected: "a float tensor",
          found: "an int tensor",
        });
      }
      return out(e, e.prim(op, [t.node], {}, span), t.batched);
    },
    { role: "activation", layerLike: op === "relu" || op === "tanh" || op === "sigmoid" },
  );
}

function reduce(kind: "sum" | "mean" | "max" | "min"): Builtin["apply"] {
  return (e, args, span) => {
    const y = args.get("y");
    const xa = args.get("x")!;
    if (y && (kind === "max" || kind === "min")) {
      const xv = xa.value;
      const yv = y.value;
      const isNum = (v: Value) =>
        (v.kind === "int" || v.kind === "float") && typeof v.value === "number";
      if (isNum(xv) && isNum(yv)) {
        const r = (kind === "max" ? Math.max : Math.min)(
          Number((xv as { value: number }).value),
          Number((yv as { value: number }).value),
        );
        return xv.kind === "int" && yv.kind === "int" ? int(r) : float(r);
      }
      const a = e.toTensor(xv, xa.span, kind);
      const b = e.toTensor(yv, y.span, kind);
      if (!a || !b) return ERR;
      return e.binaryPrim(kind, `take the ${kind} of`, a, b, span, xa.span, y.span);
    }
    const t = e.toTensor(xa.value, xa.span, kind);
    if (!t) return ERR;
    const axes = axesArg(e, args, t, kind);
    const keepDims = boolArg(e, args, "keep", kind, false);
    if (!axes || keepDims === null) return ERR;
    if (axes.length === 0) return t;
    const full = e.b.shape(t.node);
    let node: number | null;
    if (kind === "min") {
      const neg = e.b.add("neg", [t.node], {}, span);
      const m = e.prim("reduce_max", [neg], { axes, keepDims }, span);
      node = m === null ? null : e.b.add("neg", [m], {}, span);
    } else {
      node = e.prim(
        kind === "max" ? "reduce_max" : "reduce_sum",
        [t.node],
        { axes, keepDims },
        span,
      );
      if (node !== null && kind === "mean") {
        const count = numel(axes.map((a) => full[a]!));
        const c = typeof count === "number" ? count : 1; // symbolic while checking only
        node = e.b.add("div", [node, e.b.constant(c, span)], {}, span);
      }
    }
    return out(e, node, t.batched);
  };
}
def("sum", "x, axis?, keep?", reduce("sum"));
def("mean", "x, axis?, keep?", reduce("mean"));
def("max", "x, y?, axis?, keep?", reduce("max"));
def("min", "x, y?, axis?, keep?", reduce("min"));

def("batch_mean", "x", (e, args, span) => {
  const t = tensor(e, args, "x", "batch_mean");
  if (!t) return ERR;
  const full = e.b.shape(t.node);
  const axes = full.map((_, i) => i).slice(0, -1);
  if (!t.batched || axes.length === 0) return t;
  const s = e.b.add("reduce_sum", [t.node], { axes, keepDims: false }, span);
  const count = numel(axes.map((a) => full[a]!));
  const c = typeof count === "number" ? count : 1;
  return out(e, e.b.add("div", [s, e.b.constant(c, span)], {}, span), false);
});

def("where", "cond, a, b", (e, args, span) => {
  const ts = ["cond", "a", "b"].map((n) => tensor(e, args, n, "where"));
  if (ts.some((t) => !t)) return ERR;
  const [c, a, b] = ts as TensorValue[];
  const ab = e.binaryPrim(
    "add",
    "select between",
    a!,
    b!,
    span,
    args.get("a")!.span,
    args.get("b")!.span,
  );
  if (ab.kind === "error") return ERR;
  const batched = c!.batched || a!.batched || b!.batched;
  return out(e, e.prim("where", [c!.node, a!.node, b!.node], {}, span), batched);
});

def("clip", "x, lo, hi", (e, args, span) => {
  const x = tensor(e, args, "x", "clip");
  const lo = numArg(e, args, "lo", "clip");
  const hi = numArg(e, args, "hi", "clip");
  if (!x || lo === null || hi === null) return ERR;
  if (hi < lo)
    return expected(e, args.get("hi")!, "clip", "hi", `a number of at least lo (${lo})`) ?? ERR;
  const a = e.b.add("max", [x.node, e.b.constant(lo, span)], {}, span);
  return out(e, e.b.add("min", [a, e.b.constant(hi, span)], {}, span), x.batched);
});

def(
  "reshape",
  "x, shape",
  (e, args, span) => {
    const x = tensor(e, args, "x", "reshape");
    const dims = dimsArg(e, args, "shape", "reshape");
    if (!x || !dims) return ERR;
    const from = e.sampleShape(x);
    const n = numel(from);
    const free = dims.findIndex((d) => d === -1);
    let to: Dim[] = dims;
    if (free >= 0) {
      const known = numel(dims.filter((_, i) => i !== free));
      const q =
        typeof n === "number" && typeof known === "number" && known > 0 && n % known === 0
          ? n / known
          : null;
      if (q === null) {
        return e.report("NN2031", args.get("shape")!.span, {
          from: formatShape(from),
          n,
          to: formatShape(dims),
          m: "?",
        });
      }
      to = dims.map((d, i) => (i === free ? q : d));
    }
    if (!dimEq(numel(to), n)) {
      return e.report("NN2031", args.get("shape")!.span, {
        from: formatShape(from),
        n,
        to: formatShape(to),
        m: numel(to),
      });
    }
    const full = x.batched ? [e.b.shape(x.node)[0]!, ...to] : to;
    return out(e, e.prim("reshape", [x.node], { shape: full }, span), x.batched);
  },
  { layerLike: true },
);

def("size", "x", (e, args) => {
  const x = tensor(e, args, "x", "size");
  return x ? int(numel(e.sampleShape(x))) : ERR;
});

def("transpose", "x, perm", (e, args, span) => {
  const x = tensor(e, args, "x", "transpose");
  const perm = dimsArg(e, args, "perm", "transpose");
  if (!x || !perm) return ERR;
  // Checked on the per-sample shape, so that messages never count the batch axis.
  const rank = e.sampleShape(x).length;
  const axes = perm.map(Number);
  const problem =
    axes.length !== rank
      ? `permutation ${formatShape(perm)} does not fit ${formatShape(e.sampleShape(x))} (rank ${rank})`
      : axes.find((a) => !Number.isInteger(a) || a < 0 || a >= rank) !== undefined
        ? `permutation ${formatShape(perm)} names an axis outside 0..${rank - 1}`
        : new Set(axes).size !== rank
          ? `permutation ${formatShape(perm)} repeats an axis; each of 0..${rank - 1} must appear once`
          : null;
  if (problem)
    return e.report("NN2012", args.get("perm")!.span, { op: "transpose", detail: problem });
  const off = x.batched ? 1 : 0;
  const full = [...(x.batched ? [0] : []), ...perm.map((p) => Number(p) + off)];
  return out(e, e.prim("transpose", [x.node], { perm: full }, span), x.batched);
});

def("concat", "items, axis?", (e, args, span) => {
  const a = args.get("items")!;
  if (a.value.kind !== "list" || a.value.items.length === 0) {
    return expected(e, a, "concat", "items", "a non-empty list of tensors") ?? ERR;
  }
  const ts = a.value.items.map((v) => e.toTensor(v, a.span, "concat"));
  if (ts.some((t) => !t)) return ERR;
  const batched = ts.some((t) => t!.batched);
  let nodes = ts.map((t) => t!.node);
  if (batched && ts.some((t) => !t!.batched)) {
    const b = e.b.shape(ts.find((t) => t!.batched)!.node)[0]!;
    nodes = ts.map((t) =>
      t!.batched
        ? t!.node
        : e.b.add("broadcast_to", [t!.node], { shape: [b, ...e.b.shape(t!.node)] }, span),
    );
  }
  const first = { kind: "tensor" as const, node: nodes[0]!, batched };
  const axis = axisOf(
    e,
    first,
    intArg(e, args, "axis", "concat", -1) ?? -1,
    args.get("axis")?.span ?? span,
  );
  if (axis === null) return ERR;
  return out(e, e.prim("concat", nodes, { axis }, span), batched);
});

/** Selects `index` on `axis` and drops the axis; a negative index counts from the end. */
function take(e: Elab, x: TensorValue, index: number, axisArg: number, span: Span): Value {
  const axis = axisOf(e, x, axisArg, span);
  if (axis === null) return ERR;
  const full = e.b.shape(x.node);
  const d = full[axis]!;
  let i = index;
  if (typeof d === "number") {
    if (i < 0) i += d;
    if (i < 0 || i >= d)
      return e.report("NN2012", span, {
        op: "take",
        detail: `index ${index} is out of range for an axis of size ${d}`,
      });
  } else i = 0; // symbolic length: only shapes matter while checking
  const starts = full.map((_, k) => (k === axis ? i : 0));
  const sizes = full.map((s, k) => (k === axis ? 1 : s));
  const sl = e.b.add("slice", [x.node], { starts, sizes }, span);
  return out(
    e,
    e.b.add("reshape", [sl], { shape: full.filter((_, k) => k !== axis) }, span),
    x.batched,
  );
}

def("take", "x, index, axis?", (e, args, span) => {
  const x = tensor(e, args, "x", "take");
  const index = intArg(e, args, "index", "take");
  const axis = intArg(e, args, "axis", "take", 0);
  if (!x || index === null || axis === null) return ERR;
  return take(e, x, index, axis, span);
});

def("chunk", "x, count, index, axis?", (e, args, span) => {
  const x = tensor(e, args, "x", "chunk");
  const count = intArg(e, args, "count", "chunk");
  const index = intArg(e, args, "index", "chunk");
  const axisArg = intArg(e, args, "axis", "chunk", -1);
  if (!x || count === null || index === null || axisArg === null) return ERR;
  const axis = axisOf(e, x, axisArg, span);
  if (axis === null) return ERR;
  const full = e.b.shape(x.node);
  const d = full[axis]!;
  const size = typeof d === "number" ? d / count : undefined;
  if (size === undefined || !Number.isInteger(size)) {
    return e.report("NN2012", span, {
      op: "chunk",
      detail: `an axis of size ${d} does not split into ${count} equal parts`,
    });
  }
  if (index < 0 || index >= count) {
    return e.report("NN2012", args.get("index")!.span, {
      op: "chunk",
      detail: `index ${index} is out of range for ${count} chunks (0 to ${count - 1})`,
    });
  }
  const starts = full.map((_, k) => (k === axis ? index * size : 0));
  const sizes = full.map((s, k) => (k === axis ? size : s));
  return out(e, e.prim("slice", [x.node], { starts, sizes }, span), x.batched);
});

def("gather", "table, indices", (e, args, span) => {
  const t = tensor(e, args, "table", "gather");
  const i = tensor(e, args, "indices", "gather");
  if (!t || !i) return ERR;
  if (e.dtype(i) !== "i32") {
    return e.report("NN2009", args.get("indices")!.span, {
      callee: "gather",
      param: "indices",
      expected: "an int tensor",
      found: "a float tensor",
    });
  }
  return out(e, e.prim("gather", [t.node, i.node], {}, span), i.batched || t.batched);
});

/** TensorFlow's padding: "valid" none, "same" so that out = ceil(in / stride). */
function pads(size: Dim, k: number, s: number, padding: string): [number, number] {
  if (padding !== "same") return [0, 0];
  if (typeof size !== "number") {
    const total = Math.max(k - s, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  }
  const outSize = Math.ceil(size / s);
  const total = Math.max((outSize - 1) * s + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function paddingArg(e: Elab, args: Args, fn: string): string | null {
  const p = strArg(e, args, "padding", fn, "valid");
  if (p === null) return null;
  if (p !== "same" && p !== "valid") {
    e.report("NN2007", args.get("padding")!.span, {
      what: `${fn}'s padding`,
      expected: "same or valid",
      found: `"${p}"`,
    });
    return null;
  }
  return p;
}

function imageOf(e: Elab, x: TensorValue, span: Span, fn: string): boolean {
  const s = e.sampleShape(x);
  if (s.length !== 3 || !x.batched) {
    e.report("NN2009", span, {
      callee: fn,
      param: "x",
      expected: "an image [h, w, c]",
      found: `a tensor ${formatShape(s)}`,
    });
    return false;
  }
  return true;
}

def("conv", "x, w, stride?, padding?", (e, args, span) => {
  const x = tensor(e, args, "x", "conv");
  const w = tensor(e, args, "w", "conv");
  const strides = pairArg(e, args, "stride", "conv", 1);
  const padding = paddingArg(e, args, "conv");
  if (!x || !w || !strides || !padding || !imageOf(e, x, args.get("x")!.span, "conv")) return ERR;
  const xs = e.b.shape(x.node);
  const ws = e.b.shape(w.node);
  const kh = Number(ws[0]);
  const kw = Number(ws[1]);
  const [t, b] = pads(xs[1]!, kh, strides[0], padding);
  const [l, r] = pads(xs[2]!, kw, strides[1], padding);
  const p: Pads = [t, b, l, r];
  return out(e, e.prim("conv2d", [x.node, w.node], { strides, pads: p }, span), true);
});

function pool(op: "maxpool2d" | "avgpool2d", fn: string): Builtin["apply"] {
  return (e, args, span) => {
    const x = tensor(e, args, "x", fn);
    const window = pairArg(e, args, "size", fn, 2);
    const padding = paddingArg(e, args, fn);
    if (!x || !window || !padding || !imageOf(e, x, args.get("x")!.span, fn)) return ERR;
    const strides = args.get("stride") ? pairArg(e, args, "stride", fn, 1) : window;
    if (!strides) return ERR;
    const xs = e.b.shape(x.node);
    const [t, b] = pads(xs[1]!, window[0], strides[0], padding);
    const [l, r] = pads(xs[2]!, window[1], strides[1], padding);
    return out(e, e.prim(op, [x.node], { window, strides, pads: [t, b, l, r] }, span), true);
  };
}
def("max_pool", "x, size, stride?, padding?", pool("maxpool2d", "max_pool"));
def("avg_pool", "x, size, stride?, padding?", pool("avgpool2d", "avg_pool"));

for (const kind of ["uniform", "normal"] as const) {
  def(`random_${kind}`, "like", (e, args, span) => {
    const x = tensor(e, args, "like", `random_${kind}`);
    if (!x) return ERR;
    return e.random(kind, e.b.shape(x.node), x.batched, span);
  });
}

def("fill", "shape, value", (e, args, span) => {
  const dims = dimsArg(e, args, "shape", "fill");
  const v = numArg(e, args, "value", "fill");
  if (!dims || v === null) return ERR;
  return e.constant(v, span, dims);
});

def("float", "x", (e, args, span) => {
  const a = args.get("x")!;
  if ((a.value.kind === "int" || a.value.kind === "float") && typeof a.value.value === "number")
    return float(a.value.value);
  const x = e.toTensor(a.value, a.span, "float");
  if (!x) return ERR;
  if (e.dtype(x) === "f32") return x;
  return out(e, e.prim("cast", [x.node], { to: "f32" }, span), x.batched);
});

def("argmax", "x, axis?", (e, args, span) => {
  const x = tensor(e, args, "x", "argmax");
  const a = intArg(e, args, "axis", "argmax", -1);
  if (!x || a === null) return ERR;
  const axis = axisOf(e, x, a, span);
  if (axis === null) return ERR;
  return out(e, e.prim("argmax", [x.node], { axis }, span), x.batched);
});

def("one_hot", "x, classes", (e, args, span) => {
  const x = tensor(e, args, "x", "one_hot");
  const n = intArg(e, args, "classes", "one_hot");
  if (!x || n === null) return ERR;
  if (n < 1)
    return expected(e, args.get("classes")!, "one_hot", "classes", "an int of at least 1") ?? ERR;
  const full = e.b.shape(x.node);
  const f = e.dtype(x) === "f32" ? x.node : e.b.add("cast", [x.node], { to: "f32" }, span);
  const r = e.b.add("reshape", [f], { shape: [...full, 1] }, span);
  const idx: number[] = [];
  for (let i = 0; i < n; i++) idx.push(i);
  const classes = idx.map((i) => e.b.constant(i, span, [1]));
  const range = classes.length === 1 ? classes[0]! : e.b.add("concat", classes, { axis: 0 }, span);
  return out(e, e.b.add("equal", [r, range], {}, span), x.batched);
});

// Compile-time helpers.
// A block's argument checked against its range when the model is checked: the value when
// low <= value < below, else NN2037 (at the user's call of the block that asks).
def("in_range", "value, low, below, name", (e, args, span) => {
  const value = numArg(e, args, "value", "in_range");
  const low = numArg(e, args, "low", "in_range");
  const below = numArg(e, args, "below", "in_range");
  const name = strArg(e, args, "name", "in_range");
  if (value === null || low === null || below === null || name === null) return ERR;
  if (value >= low && value < below) return args.get("value")!.value;
  return e.report("NN2037", span, { name, low, below, found: value });
});
// The same with no upper bound: the value when low <= value, else NN2039.
def("at_least", "value, low, name", (e, args, span) => {
  const value = numArg(e, args, "value", "at_least");
  const low = numArg(e, args, "low", "at_least");
  const name = strArg(e, args, "name", "at_least");
  if (value === null || low === null || name === null) return ERR;
  if (value >= low) return args.get("value")!.value;
  return e.report("NN2039", span, { name, low, found: value });
});
// A window or stride argument of a block (`kernel: 3` or `kernel: [3, 5]`) as a list of two
// ints of at least 1, else NN2007 at the user's call naming the block's argument.
def("pair", "v, fn, name", (e, args) => {
  const fn = strArg(e, args, "fn", "pair");
  const name = strArg(e, args, "name", "pair");
  if (fn === null || name === null) return ERR;
  const p = pairOf(e, args.get("v")!, fn, name);
  return p ? { kind: "list", items: p.map((n) => int(n)) } : ERR;
});
def("fan_in", "shape", (e, args) => {
  const s = dimsArg(e, args, "shape", "fan_in");
  return s ? int(fans(s).fanIn) : ERR;
});
def("fan_out", "shape", (e, args) => {
  const s = dimsArg(e, args, "shape", "fan_out");
  return s ? int(fans(s).fanOut) : ERR;
});
def("index", "v, i", (e, args) => {
  const v = args.get("v")!.value;
  const i = intArg(e, args, "i", "index");
  if (i === null) return ERR;
  if (v.kind === "list") {
    const it = v.items[i < 0 ? i + v.items.length : i];
    if (!it)
      return e.report("NN2012", args.get("i")!.span, {
        op: "index",
        detail: `${i} is out of range for a list of ${v.items.length}`,
      });
    return it;
  }
  return v; // a single value stands for every position (kernel: 3 means [3, 3])
});

function initFn(
  name: string,
  params: string,
  make: (e: Elab, args: Args) => InitSpec | null,
): void {
  def(
    name,
    `${params}, shape?`,
    (e, args) => {
      const spec = make(e, args);
      if (!spec) return ERR;
      const shape = args.get("shape") ? dimsArg(e, args, "shape", name) : [];
      if (!shape) return ERR;
      return { kind: "init", spec, shape: shape.length === 0 ? null : shape };
    },
    { role: "initializer" },
  );
}
initFn("constant_init", "value", (e, a) => {
  const value = numArg(e, a, "value", "constant_init");
  return value === null ? null : { dist: "constant", value };
});
initFn("uniform_init", "lo, hi", (e, a) => {
  const lo = numArg(e, a, "lo", "uniform_init");
  const hi = numArg(e, a, "hi", "uniform_init");
  return lo === null || hi === null ? null : { dist: "uniform", lo, hi };
});
for (const dist of ["normal", "truncated_normal"] as const) {
  initFn(`${dist}_init`, "mean, std", (e, a) => {
    const mean = numArg(e, a, "mean", `${dist}_init`);
    const std = numArg(e, a, "std", `${dist}_init`);
    return mean === null || std === null ? null : { dist, mean, std };
  });
}

/** A schedule's value at step `t`: a number stays; a function is called with t (and total). */
def("at_step", "schedule, t, total?", (e, args, span) => {
  const s = args.get("schedule")!.value;
  if (s.kind !== "fn") return s;
  const params = e.paramList(s.fn).map((p) => p.name);
  const named = new Map<string, ArgValue>();
  if (params.includes("t")) named.set("t", args.get("t")!);
  const total = args.get("total");
  if (total && params.includes("total") && !s.args.named.has("total")) named.set("total", total);
  return e.call(s, { positional: [], named }, span);
});

// Constants.
constant("pi", float(Math.PI));
constant("same", str("same"));
constant("valid", str("valid"));

// Data sources.
function data(
  name: string,
  params: string,
  make: (e: Elab, args: Args, span: Span) => DataSource | null,
): void {
  def(
    name,
    params,
    (e, args, span) => {
      const s = make(e, args, span);
      return s ? { kind: "data", source: s } : ERR;
    },
    { role: "data source" },
  );
}
data("mnist", "split?", (e, args) => {
  const split = strArg(e, args, "split", "mnist", "train");
  if (split === null) return null;
  if (split !== "train" && split !== "test") {
    e.report("NN2007", args.get("split")!.span, {
      what: "mnist's split",
      expected: '"train" or "test"',
      found: `"${split}"`,
    });
    return null;
  }
  return { kind: "mnist", split };
});
data("idx", "images, labels, classes?", (e, args) => {
  const images = strArg(e, args, "images", "idx");
  const labels = strArg(e, args, "labels", "idx");
  const classes = intArg(e, args, "classes", "idx", 10);
  if (images === null || labels === null || classes === null) return null;
  return { kind: "idx", images, labels, classes };
});
data("csv", "path, label, classes?", (e, args) => {
  const path = strArg(e, args, "path", "csv");
  const label = strArg(e, args, "label", "csv");
  const a = args.get("classes");
  const classes = a ? intArg(e, args, "classes", "csv") : null;
  if (path === null || label === null || (a && classes === null)) return null;
  return { kind: "csv", path, label, classes };
});

// Augmentations (applied by the data pipeline to training images).
function augment(name: string, params: string): void {
  def(
    name,
    params,
    (e, args) => {
      const out: Record<string, number> = {};
      for (const [k, a] of args) {
        const v = numArg(e, args, k, name);
        if (v === null) return ERR;
        out[k] = a.value.kind === "int" || a.value.kind === "float" ? v : v;
      }
      return { kind: "augment", name, args: out };
    },
    { role: "augmentation" },
  );
}
augment("random_shift", "pixels");
augment("random_rotate", "degrees");
augment("random_zoom", "factor");
augment("random_flip", "");

export const builtins: ReadonlyMap<string, Builtin> = table;
