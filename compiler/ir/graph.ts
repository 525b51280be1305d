/**
 * @file The graph IR: a flat, topologically ordered list of primitive applications. Nodes are
 * immutable; ids are indices into `nodes`. Each node keeps the span of the `.nn` text it came
 * from. Inputs, parameters and state appear as source nodes named by their attributes;
 * `variables` describes every parameter and state variable (shape, initialiser, layer) and
 * `updates` says which values replace them after a step.
 */
import type { Shape } from "../dims.js";
import type { DType, InitSpec, OpAttrs, OpKind } from "../primitives.js";
import type { Span } from "../source.js";

export interface Node<K extends OpKind = OpKind> {
  readonly id: number;
  readonly op: K;
  readonly inputs: readonly number[];
  readonly attrs: OpAttrs[K];
  readonly shape: Shape;
  readonly dtype: DType;
  readonly span: Span;
}

export type AnyNode = { [K in OpKind]: Node<K> }[OpKind];

export interface Variable {
  readonly name: string; // e.g. "conv2d.w", "adam.m/conv2d.w", "batchnorm.mean"
  readonly kind: "param" | "state";
  readonly shape: Shape;
  readonly dtype: DType;
  readonly init: InitSpec;
  /** Layer instance the variable belongs to (`conv2d`, `dense_1`); used by freeze and summary. */
  readonly layer: string;
  readonly span: Span;
  /**
   * The call in the user's code that made the variable's layer, when the variable is declared
   * in the stdlib: diagnostics about it (a buffer too big for the device) point there.
   */
  readonly site?: Span;
}

export interface Output {
  readonly name: string;
  readonly node: number;
}

export interface Update {
  readonly target: string; // a Variable name
  readonly node: number;
}

export interface Graph {
  readonly nodes: readonly AnyNode[];
  readonly variables: readonly Variable[];
  readonly outputs: readonly Output[];
  readonly updates: readonly Update[];
}
