/**
 * @file GraphBuilder: the one way to make IR nodes. `add` applies the primitive's shape rule
 * from primitives.ts, so every node's type is right by construction; a shape error comes back
 * as a ShapeError naming the span, for the caller to turn into a diagnostic.
 */
import { formatShape, type Shape } from "../dims.js";
import {
  arity,
  type DType,
  type OpAttrs,
  type OpKind,
  shapeRules,
  type TensorType,
} from "../primitives.js";
import type { Span } from "../source.js";
import type { AnyNode, Graph, Node, Output, Update, Variable } from "./graph.js";

export class ShapeError extends Error {
  constructor(
    readonly op: OpKind,
    readonly detail: string,
    readonly span: Span,
  ) {
    super(`${op}: ${detail}`);
  }
}

export class GraphBuilder {
  readonly nodes: AnyNode[] = [];
  readonly variables: Variable[] = [];
  readonly outputs: Output[] = [];
  readonly updates: Update[] = [];
  private readonly sources = new Map<string, number>();

  /** Adds a primitive application; throws ShapeError when the shape rule rejects it. */
  add<K extends OpKind>(
    op: K,
    inputs: readonly number[],
    attrs: OpAttrs[K],
    span: Span,
    declared?: TensorType,
  ): number {
    const n = arity[op];
    if (n >= 0 && inputs.length !== n) {
      throw new ShapeError(op, `takes ${n} inputs, given ${inputs.length}`, span);
    }
    const types = inputs.map((i) => this.type(i));
    const rule = shapeRules[op] as (
      i: readonly TensorType[],
      a: OpAttrs[K],
      d: TensorType | undefined,
    ) => TensorType | string;
    const t = rule(types, attrs, declared);
    if (typeof t === "string") throw new ShapeError(op, t, span);
    const id = this.nodes.length;
    const node: Node<K> = {
      id,
      op,
      inputs: [...inputs],
      attrs,
      shape: t.shape,
      dtype: t.dtype,
      span,
    };
    this.nodes.push(node as unknown as AnyNode);
    return id;
  }

  type(id: number): TensorType {
    const n = this.nodes[id];
    if (!n) throw new Error(`no node ${id}`);
    return { shape: n.shape, dtype: n.dtype };
  }

  shape(id: number): Shape {
    return this.type(id).shape;
  }

  node(id: number): AnyNode {
    return this.nodes[id]!;
  }

  /** A scalar or filled constant. */
  constant(value: number, span: Span, shape: Shape = [], dtype: DType = "f32"): number {
    return this.add("constant", [], { value }, span, { shape, dtype });
  }

  /** The source node for an input, parameter or state variable; made once per name. */
  source(op: "input" | "param" | "state", name: string, type: TensorType, span: Span): number {
    const key = `${op}:${name}`;
    const existing = this.sources.get(key);
    if (existing !== undefined) return existing;
    const id = this.add(op, [], { name }, span, type);
    this.sources.set(key, id);
    return id;
  }

  variable(v: Variable): number {
    if (!this.variables.some((x) => x.name === v.name)) this.variables.push(v);
    return this.source(v.kind, v.name, { shape: v.shape, dtype: v.dtype }, v.span);
  }

  output(name: string, node: number): void {
    this.outputs.push({ name, node });
  }

  update(target: string, node: number): void {
    this.updates.push({ target, node });
  }

  build(): Graph {
    return {
      nodes: [...this.nodes],
      variables: [...this.variables],
      outputs: [...this.outputs],
      updates: [...this.updates],
    };
  }
}

export function describeType(t: TensorType): string {
  return t.dtype === "f32" ? formatShape(t.shape) : `${formatShape(t.shape)} ${t.dtype}`;
}
