/**
 * @file WGSL expressions of pointwise primitives on scalars or on `vec4` lanes: one table,
 * `{ [K in PointwiseOp]: ... }`, used by every fused kernel. Literals are splatted in vec4
 * code (WGSL's `max`, `clamp` and `select` want matching types), and `pow` keeps Math.pow's
 * meaning for negative bases through the helper of codegen/elementwise.ts.
 */
import type { BinaryOp, DType, OpAttrs, UnaryOp } from "../primitives.js";
import { powHelper as powScalar } from "../codegen/elementwise.js";
import { literal } from "../codegen/wgsl.js";

export type PointwiseOp = UnaryOp | BinaryOp | "where" | "cast" | "broadcast_to";

export interface Lane {
  /** Four lanes (`vec4<T>`) or one scalar. */
  readonly vec: boolean;
}

export function typeName(dtype: DType, lane: Lane): string {
  const t = dtype === "f32" ? "f32" : "i32";
  return lane.vec ? `vec4<${t}>` : t;
}

/** A literal of `dtype`, splatted in vec4 code. */
export function lit(value: number, dtype: DType, lane: Lane): string {
  const l = literal(value, dtype);
  return lane.vec ? `${typeName(dtype, lane)}(${l})` : l;
}

export { powScalar };

export const powVec = [
  "fn nnc_pow4(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {",
  "  return vec4<f32>(nnc_pow(x.x, y.x), nnc_pow(x.y, y.y), nnc_pow(x.z, y.z), nnc_pow(x.w, y.w));",
  "}",
].join("\n");

export interface ExprArgs {
  readonly args: readonly string[];
  /** dtypes of the arguments. */
  readonly types: readonly DType[];
  /** The result dtype. */
  readonly dtype: DType;
  readonly lane: Lane;
  /** Registers a helper function the expression needs. */
  readonly helper: (code: string) => void;
}

type Rule<K extends PointwiseOp> = (e: ExprArgs, attrs: OpAttrs[K]) => string;

const f = (value: number, e: ExprArgs) => lit(value, "f32", e.lane);
const un =
  (g: (x: string, e: ExprArgs) => string): Rule<UnaryOp> =>
  (e) =>
    g(e.args[0]!, e);
const call = (name: string) => un((x) => `${name}(${x})`);
const cmp =
  (op: string): Rule<BinaryOp> =>
  (e) =>
    `select(${f(0, e)}, ${f(1, e)}, ${e.args[0]} ${op} ${e.args[1]})`;
const arith =
  (op: string): Rule<BinaryOp> =>
  (e) =>
    `(${e.args[0]} ${op} ${e.args[1]})`;

export const pointwiseRules: { readonly [K in PointwiseOp]: Rule<K> } = {
  neg: un((x) => `(-${x})`),
  exp: call("exp"),
  log: call("log"),
  sqrt: call("sqrt"),
  rsqrt: call("inverseSqrt"),
  tanh: un((x, e) => `tanh(clamp(${x}, ${f(-20, e)}, ${f(20, e)}))`),
  sigmoid: un((x, e) => `(${f(1, e)} / (${f(1, e)} + exp(-${x})))`),
  relu: un((x, e) => `max(${x}, ${f(0, e)})`),
  abs: call("abs"),
  sign: call("sign"),
  sin: call("sin"),
  cos: call("cos"),
  floor: call("floor"),
  square: un((x) => `(${x} * ${x})`),
  reciprocal: un((x, e) => `(${f(1, e)} / ${x})`),
  add: arith("+"),
  sub: arith("-"),
  mul: arith("*"),
  div: arith("/"),
  pow: (e) => {
    e.helper(powScalar);
    const [a, b] = e.args as [string, string];
    if (e.lane.vec) {
      e.helper(powVec);
      return `nnc_pow4(${a}, ${b})`;
    }
    return e.dtype === "f32" ? `nnc_pow(${a}, ${b})` : `i32(nnc_pow(f32(${a}), f32(${b})))`;
  },
  max: (e) => `max(${e.args[0]}, ${e.args[1]})`,
  min: (e) => `min(${e.args[0]}, ${e.args[1]})`,
  greater: cmp(">"),
  greater_equal: cmp(">="),
  less: cmp("<"),
  less_equal: cmp("<="),
  equal: cmp("=="),
  not_equal: cmp("!="),
  where: (e) => {
    const [c, a, b] = e.args as [string, string, string];
    return `select(${b}, ${a}, ${c} != ${lit(0, e.types[0]!, e.lane)})`;
  },
  cast: (e, attrs) =>
    e.types[0] === attrs.to ? e.args[0]! : `${typeName(attrs.to, e.lane)}(${e.args[0]})`,
  broadcast_to: (e) => e.args[0]!,
};
