/**
 * @file The IR verifier, run between phases in tests and debug builds: it checks that a Graph is
 * well formed and returns one message per problem (none when it is). Node ids equal their
 * indices; inputs name earlier nodes; each primitive gets its arity; each node's shape and dtype
 * are what its primitive's shape rule (primitives.ts) gives for its inputs; param and state
 * nodes name declared variables of the same kind, shape and dtype; outputs and updates name
 * existing nodes, updates existing variables of equal type; with `concrete`, every shape is
 * made of numbers. Problems are internal compiler bugs, so messages are plain strings.
 */
import { formatShape, isConcrete, type Shape, shapeEq } from "../dims.js";
import {
  arity,
  type OpAttrs,
  type OpKind,
  shapeRules,
  type ShapeRule,
  type TensorType,
} from "../primitives.js";
import type { AnyNode, Graph } from "./graph.js";

export interface VerifyOptions {
  /** Require every node and variable shape to be made of numbers (an instantiated graph). */
  readonly concrete?: boolean;
}

const sourceOps: ReadonlySet<OpKind> = new Set(["input", "param", "state", "constant"]);

function typeText(t: TensorType): string {
  return `${formatShape(t.shape)} ${t.dtype}`;
}

function isIndex(v: unknown, limit: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < limit;
}

/**
 * The gradient primitives' shape rules trust their shape attribute; check that the forward op
 * they undo maps that shape to the cotangent's shape. Also: scatter_add indices lead updates.
 */
function gradientMismatch(node: AnyNode, inputs: readonly TensorType[]): string | undefined {
  const f32 = (shape: Shape): TensorType => ({ shape, dtype: "f32" });
  const against = (forward: TensorType | string, dy: TensorType, what: string) => {
    if (typeof forward === "string") return `${what}: ${forward}`;
    if (!shapeEq(forward.shape, dy.shape)) {
      return `${what} gives ${formatShape(forward.shape)}, but the cotangent is ${formatShape(dy.shape)}`;
    }
    return undefined;
  };
  switch (node.op) {
    case "conv2d_grad_input": {
      const [dy, w] = inputs as [TensorType, TensorType];
      const fwd = shapeRules.conv2d([f32(node.attrs.inputShape), w], node.attrs, undefined);
      return against(fwd, dy, `conv2d of ${formatShape(node.attrs.inputShape)}`);
    }
    case "conv2d_grad_filter": {
      const [x, dy] = inputs as [TensorType, TensorType];
      const fwd = shapeRules.conv2d([x, f32(node.attrs.filterShape)], node.attrs, undefined);
      return against(fwd, dy, `conv2d with filters ${formatShape(node.attrs.filterShape)}`);
    }
    case "maxpool2d_grad": {
      const [x, dy] = inputs as [TensorType, TensorType];
      return against(shapeRules.maxpool2d([x], node.attrs, undefined), dy, "the pool");
    }
    case "avgpool2d_grad": {
      const fwd = shapeRules.avgpool2d([f32(node.attrs.inputShape)], node.attrs, undefined);
      return against(fwd, inputs[0]!, `the pool of ${formatShape(node.attrs.inputShape)}`);
    }
    case "scatter_add": {
      const [upd, idx] = inputs as [TensorType, TensorType];
      if (!shapeEq(upd.shape.slice(0, idx.shape.length), idx.shape)) {
        return `indices ${formatShape(idx.shape)} do not lead updates ${formatShape(upd.shape)}`;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Problems found in `graph`; empty when it is well formed. */
export function verifyGraph(graph: Graph, options: VerifyOptions = {}): string[] {
  const errors: string[] = [];
  const nodes = graph.nodes;
  const variables = new Map(graph.variables.map((v) => [v.name, v]));

  const seenVariables = new Set<string>();
  for (const v of graph.variables) {
    if (seenVariables.has(v.name)) errors.push(`variable ${v.name} is declared twice`);
    seenVariables.add(v.name);
    if (options.concrete && !isConcrete(v.shape)) {
      errors.push(`variable ${v.name} has a symbolic shape ${formatShape(v.shape)}`);
    }
  }

  nodes.forEach((node, index) => {
    const at = `%${index} (${node.op})`;
    if (node.id !== index) errors.push(`${at}: id is %${node.id}, expected %${index}`);
    if (!Object.hasOwn(shapeRules, node.op)) {
      errors.push(`${at}: unknown primitive`);
      return;
    }
    const n = arity[node.op];
    if (n >= 0 && node.inputs.length !== n) {
      errors.push(`${at}: takes ${n} inputs, has ${node.inputs.length}`);
      return;
    }
    const bad = node.inputs.filter((i) => !isIndex(i, index));
    if (bad.length > 0) {
      errors.push(`${at}: input ${bad.map((i) => `%${i}`).join(", ")} is not an earlier node`);
      return;
    }
    const own: TensorType = { shape: node.shape, dtype: node.dtype };
    if (options.concrete && !isConcrete(node.shape)) {
      errors.push(`${at}: symbolic shape ${formatShape(node.shape)}`);
    }
    if (node.dtype !== "f32" && node.dtype !== "i32") errors.push(`${at}: unknown dtype`);

    if (node.op === "param" || node.op === "state") {
      const name = node.attrs.name;
      const v = variables.get(name);
      if (!v) errors.push(`${at}: no variable named ${name}`);
      else if (v.kind !== node.op) errors.push(`${at}: variable ${name} is a ${v.kind}`);
      else if (!shapeEq(v.shape, node.shape) || v.dtype !== node.dtype) {
        errors.push(`${at}: is ${typeText(own)} but variable ${name} is ${typeText(v)}`);
      }
    }
    if (node.op === "input" && typeof node.attrs.name !== "string") {
      errors.push(`${at}: an input needs a name`);
    }
    if (sourceOps.has(node.op)) return;

    const inputs = node.inputs.map((i) => ({ shape: nodes[i]!.shape, dtype: nodes[i]!.dtype }));
    if (node.op === "random_uniform" || node.op === "random_normal") {
      const ctr = inputs[0]!.shape;
      if (isConcrete(ctr) && ctr.reduce((a, d) => a * d, 1) !== 1) {
        errors.push(`${at}: the counter must be a scalar, found ${formatShape(ctr)}`);
      }
      return;
    }
    let expected: TensorType | string;
    try {
      const rule = shapeRules[node.op] as ShapeRule<OpKind>;
      expected = rule(inputs, node.attrs as OpAttrs[OpKind], undefined);
    } catch (e) {
      expected = `malformed attributes (${(e as Error).message})`;
    }
    if (typeof expected === "string") errors.push(`${at}: ${expected}`);
    else if (!shapeEq(expected.shape, node.shape) || expected.dtype !== node.dtype) {
      errors.push(`${at}: is ${typeText(own)} but its inputs give ${typeText(expected)}`);
    }
    const mismatch = gradientMismatch(node, inputs);
    if (mismatch) errors.push(`${at}: ${mismatch}`);
  });

  const outputNames = new Set<string>();
  for (const o of graph.outputs) {
    if (outputNames.has(o.name)) errors.push(`output ${o.name} is declared twice`);
    outputNames.add(o.name);
    if (!isIndex(o.node, nodes.length)) errors.push(`output ${o.name}: no node %${o.node}`);
  }

  const targets = new Set<string>();
  for (const u of graph.updates) {
    const at = `update of ${u.target}`;
    if (targets.has(u.target)) errors.push(`${at}: the variable is updated twice`);
    targets.add(u.target);
    const v = variables.get(u.target);
    if (!v) errors.push(`${at}: no such variable`);
    if (!isIndex(u.node, nodes.length)) {
      errors.push(`${at}: no node %${u.node}`);
      continue;
    }
    const n = nodes[u.node]!;
    if (v && (!shapeEq(v.shape, n.shape) || v.dtype !== n.dtype)) {
      errors.push(`${at}: %${u.node} is ${typeText(n)} but the variable is ${typeText(v)}`);
    }
  }
  return errors;
}
