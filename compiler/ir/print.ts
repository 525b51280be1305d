/**
 * @file The deterministic text form of the graph IR, behind `nnc build --emit ir|grad` and the IR
 * golden tests. One node per line,
 * `%7 = conv2d(%3, %5) {strides: [1, 1], pads: [0, 0, 0, 0]} : [64, 26, 26, 32] f32  @mnist.nn:3:8`,
 * with attributes in a fixed per-primitive order and the node's source location (line:column
 * through a SourceMap when given, else `file[start..end]` offsets; none for compiler-made spans);
 * then the variables, the outputs and the updates, each in graph order.
 */
import { type SourceMap, location } from "../diagnostics.js";
import type { OpAttrs, OpKind, InitSpec } from "../primitives.js";
import type { Span } from "../source.js";
import { noSpan } from "../source.js";
import type { AnyNode, Graph, Variable } from "./graph.js";

/** The order attributes print in, per primitive. */
const attrOrder: { readonly [K in OpKind]: readonly (keyof OpAttrs[K] & string)[] } = {
  input: ["name"],
  param: ["name"],
  state: ["name"],
  constant: ["value"],
  random_uniform: ["stream"],
  random_normal: ["stream"],
  neg: [],
  exp: [],
  log: [],
  sqrt: [],
  rsqrt: [],
  tanh: [],
  sigmoid: [],
  relu: [],
  abs: [],
  sign: [],
  sin: [],
  cos: [],
  floor: [],
  square: [],
  reciprocal: [],
  add: [],
  sub: [],
  mul: [],
  div: [],
  pow: [],
  max: [],
  min: [],
  greater: [],
  greater_equal: [],
  less: [],
  less_equal: [],
  equal: [],
  not_equal: [],
  where: [],
  cast: ["to"],
  reduce_sum: ["axes", "keepDims"],
  reduce_max: ["axes", "keepDims"],
  argmax: ["axis"],
  reshape: ["shape"],
  transpose: ["perm"],
  broadcast_to: ["shape"],
  slice: ["starts", "sizes"],
  pad: ["lo", "hi"],
  concat: ["axis"],
  matmul: ["transA", "transB"],
  conv2d: ["strides", "pads"],
  conv2d_grad_input: ["strides", "pads", "inputShape"],
  conv2d_grad_filter: ["strides", "pads", "filterShape"],
  maxpool2d: ["window", "strides", "pads"],
  maxpool2d_grad: ["window", "strides", "pads"],
  avgpool2d: ["window", "strides", "pads"],
  avgpool2d_grad: ["window", "strides", "pads", "inputShape"],
  gather: [],
  scatter_add: ["rows"],
};

/** Attribute values: names quoted, dimensions and dtypes bare, lists in brackets. */
function value(key: string, v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => value("", x)).join(", ")}]`;
  if (typeof v === "string") return key === "name" ? JSON.stringify(v) : v;
  if (typeof v === "number" && Object.is(v, -0)) return "-0";
  return String(v);
}

function attrsText(node: AnyNode): string {
  const keys = attrOrder[node.op] as readonly string[];
  const attrs = node.attrs as unknown as Record<string, unknown>;
  const extra = Object.keys(attrs)
    .filter((k) => !keys.includes(k))
    .sort();
  const parts = [...keys, ...extra].map((k) => `${k}: ${value(k, attrs[k])}`);
  return parts.length ? ` {${parts.join(", ")}}` : "";
}

/** `@file:line:col` through `sources`, else `@file[start..end]`; "" for compiler-made spans. */
export function spanText(span: Span, sources?: SourceMap): string {
  if (span.file === noSpan.file) return "";
  if (sources?.get(span.file)) return `@${location(sources, span)}`;
  return `@${span.file}[${span.start}..${span.end}]`;
}

function withLocation(text: string, span: Span, sources?: SourceMap): string {
  const loc = spanText(span, sources);
  return loc ? `${text}  ${loc}` : text;
}

function typeText(shape: readonly unknown[], dtype: string): string {
  return `[${shape.join(", ")}] ${dtype}`;
}

export function printNode(node: AnyNode, sources?: SourceMap): string {
  const args = node.inputs.length ? `(${node.inputs.map((i) => `%${i}`).join(", ")})` : "";
  const text = `%${node.id} = ${node.op}${args}${attrsText(node)} : ${typeText(node.shape, node.dtype)}`;
  return withLocation(text, node.span, sources);
}

function initText(init: InitSpec): string {
  switch (init.dist) {
    case "constant":
      return `constant(${value("", init.value)})`;
    case "uniform":
      return `uniform(${value("", init.lo)}, ${value("", init.hi)})`;
    case "normal":
    case "truncated_normal":
      return `${init.dist}(${value("", init.mean)}, ${value("", init.std)})`;
  }
}

function variableText(v: Variable, sources?: SourceMap): string {
  const text = `${v.kind} ${v.name} : ${typeText(v.shape, v.dtype)} = ${initText(v.init)}  layer ${v.layer}`;
  return withLocation(text, v.span, sources);
}

/** The whole graph: nodes, then variables, outputs and updates (sections omitted when empty). */
export function printGraph(graph: Graph, sources?: SourceMap): string {
  const lines = graph.nodes.map((n) => printNode(n, sources));
  if (graph.variables.length) {
    lines.push("", "variables:", ...graph.variables.map((v) => `  ${variableText(v, sources)}`));
  }
  if (graph.outputs.length) {
    lines.push("", "outputs:", ...graph.outputs.map((o) => `  ${o.name} = %${o.node}`));
  }
  if (graph.updates.length) {
    lines.push("", "updates:", ...graph.updates.map((u) => `  ${u.target} = %${u.node}`));
  }
  return lines.join("\n") + "\n";
}
