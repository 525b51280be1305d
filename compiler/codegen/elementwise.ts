/**
 * @file Elementwise kernels: unary and binary primitives, `where`, `cast`, and the counter-based
 * random numbers. One invocation per output element; each input is read at its broadcast
 * index, or inlined as a literal when it is a constant node. The RNG follows the spec in
 * compiler/primitives.ts bit for bit (u32 arithmetic wraps in WGSL as it does there).
 */
import type { BinaryOp, DType, OpKind, UnaryOp } from "../primitives.js";
import { type EmitCtx, type Emitted, kernels } from "./context.js";
import {
  type BufferDecl,
  broadcastIndex,
  coords,
  isLiteralSafe,
  kernelSource,
  literal,
  numel,
  u32,
  wgslType,
} from "./wgsl.js";

export const unaryExpr: { readonly [K in UnaryOp]: (x: string) => string } = {
  neg: (x) => `-${x}`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  rsqrt: (x) => `inverseSqrt(${x})`,
  tanh: (x) => `tanh(clamp(${x}, -20.0f, 20.0f))`,
  sigmoid: (x) => `1.0f / (1.0f + exp(-${x}))`,
  relu: (x) => `max(${x}, 0.0f)`,
  abs: (x) => `abs(${x})`,
  sign: (x) => `sign(${x})`,
  sin: (x) => `sin(${x})`,
  cos: (x) => `cos(${x})`,
  floor: (x) => `floor(${x})`,
  square: (x) => `${x} * ${x}`,
  reciprocal: (x) => `1.0f / ${x}`,
};

/** x^y as Math.pow: negative bases with integer exponents, pow(x, 0) = 1, NaN otherwise. */
export const powHelper = [
  "fn nnc_pow(x: f32, y: f32) -> f32 {",
  "  if (y == 0.0f) {",
  "    return 1.0f;",
  "  }",
  "  if (x == 0.0f) {",
  "    return select(0.0f, 1.0f / (x - x), y < 0.0f);",
  "  }",
  "  let r = pow(abs(x), y);",
  "  if (x >= 0.0f) {",
  "    return r;",
  "  }",
  "  if (floor(y) != y) {",
  "    let z = x - x;",
  "    return z / z;",
  "  }",
  "  return select(r, -r, abs(y) % 2.0f == 1.0f);",
  "}",
].join("\n");

interface BinaryRule {
  readonly expr: (a: string, b: string, dtype: DType) => string;
  readonly helper?: string;
}

function cmp(op: string): BinaryRule {
  return { expr: (a, b) => `select(0.0f, 1.0f, ${a} ${op} ${b})` };
}

export const binaryRules: { readonly [K in BinaryOp]: BinaryRule } = {
  add: { expr: (a, b) => `${a} + ${b}` },
  sub: { expr: (a, b) => `${a} - ${b}` },
  mul: { expr: (a, b) => `${a} * ${b}` },
  div: { expr: (a, b) => `${a} / ${b}` },
  pow: {
    expr: (a, b, t) => (t === "f32" ? `nnc_pow(${a}, ${b})` : `i32(nnc_pow(f32(${a}), f32(${b})))`),
    helper: powHelper,
  },
  max: { expr: (a, b) => `max(${a}, ${b})` },
  min: { expr: (a, b) => `min(${a}, ${b})` },
  greater: cmp(">"),
  greater_equal: cmp(">="),
  less: cmp("<"),
  less_equal: cmp("<="),
  equal: cmp("=="),
  not_equal: cmp("!="),
};

/**
 * One invocation per output element: binds the non-constant inputs, loads each at its
 * broadcast index into `v0..`, and stores `expr(v0, ...)`.
 */
export function elementwise(
  ctx: EmitCtx,
  expr: (vals: string[]) => string,
  helpers: string[] = [],
): Emitted {
  const out = ctx.shape;
  const decls: BufferDecl[] = [];
  const reads: number[] = [];
  const loads: string[] = [];
  const vals: string[] = [];
  ctx.inputs.forEach((inp, j) => {
    if (inp.constant !== undefined && isLiteralSafe(inp.constant, inp.dtype)) {
      vals.push(literal(inp.constant, inp.dtype));
      return;
    }
    const name = `in${decls.length}`;
    decls.push({ name, type: wgslType(inp.dtype) });
    reads.push(j);
    loads.push(`let v${j} = ${name}[${broadcastIndex(inp.shape, out, "i")}];`);
    vals.push(`v${j}`);
  });
  const needsCoords = loads.some((l) => /\bc\d/.test(l));
  const body = [...(needsCoords ? coords(out, "i") : []), ...loads, `out[i] = ${expr(vals)};`];
  return kernels(
    kernelSource(
      {
        inputs: decls,
        reads,
        output: wgslType(ctx.dtype),
        total: numel(out),
        body,
        helpers,
      },
      ctx.limits,
    ),
  );
}

export function unaryEmitter(op: UnaryOp) {
  return (ctx: EmitCtx) => elementwise(ctx, ([x]) => unaryExpr[op](`${x!}`));
}

export function binaryEmitter(op: BinaryOp) {
  return (ctx: EmitCtx) => {
    const rule = binaryRules[op];
    const t = ctx.inputs[0]!.dtype;
    return elementwise(ctx, ([a, b]) => rule.expr(a!, b!, t), rule.helper ? [rule.helper] : []);
  };
}

export function whereEmitter(ctx: EmitCtx<"where">): Emitted {
  const zero = literal(0, ctx.inputs[0]!.dtype);
  return elementwise(ctx, ([c, a, b]) => `select(${b}, ${a}, ${c} != ${zero})`);
}

export function castEmitter(ctx: EmitCtx<"cast">): Emitted {
  const from = ctx.inputs[0]!.dtype;
  const to = ctx.attrs.to;
  return elementwise(ctx, ([x]) => (from === to ? x! : `${wgslType(to)}(${x})`));
}

// ---------------------------------------------------------------------------------------------
// Random numbers

export const pcgHelper = [
  "fn nnc_pcg(v: u32) -> u32 {",
  "  let s = v * 747796405u + 2891336453u;",
  "  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;",
  "  return (w >> 22u) ^ w;",
  "}",
].join("\n");

function uniformHelper(stream: number): string {
  return [
    "fn nnc_uniform(i: u32, counter: u32) -> f32 {",
    `  return f32(nnc_pcg(nnc_pcg(nnc_pcg(i) + counter) + ${u32(stream)}) >> 8u) / 16777216.0f;`,
    "}",
  ].join("\n");
}

function counterExpr(ctx: EmitCtx<"random_uniform" | "random_normal">): {
  decls: BufferDecl[];
  reads: number[];
  expr: string;
} {
  const c = ctx.inputs[0]!;
  if (c.constant !== undefined) {
    const v = c.dtype === "f32" ? Math.max(0, Math.trunc(Math.fround(c.constant))) : c.constant;
    return { decls: [], reads: [], expr: u32(v) };
  }
  const t = wgslType(c.dtype);
  return {
    decls: [{ name: "counter", type: t }],
    reads: [0],
    expr: c.dtype === "f32" ? "u32(counter[0])" : "bitcast<u32>(counter[0])",
  };
}

export function randomEmitter(kind: "uniform" | "normal") {
  return (ctx: EmitCtx<"random_uniform" | "random_normal">): Emitted => {
    const c = counterExpr(ctx);
    const body =
      kind === "uniform"
        ? [`out[i] = nnc_uniform(i, ${c.expr});`]
        : [
            `let u1 = nnc_uniform(2u * i, ${c.expr});`,
            `let u2 = nnc_uniform(2u * i + 1u, ${c.expr});`,
            "out[i] = sqrt(-2.0f * log(1.0f - u1)) * cos(6.283185307179586f * u2);",
          ];
    return kernels(
      kernelSource(
        {
          inputs: c.decls,
          reads: c.reads,
          output: "f32",
          total: numel(ctx.shape),
          body,
          helpers: [pcgHelper, uniformHelper(ctx.attrs.stream)],
        },
        ctx.limits,
      ),
    );
  };
}

export type ElementwiseKind = UnaryOp | BinaryOp | Extract<OpKind, "where" | "cast">;
