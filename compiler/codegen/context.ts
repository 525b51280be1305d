/**
 * @file The interface between the planner and the per-primitive WGSL emitters: what an emitter
 * sees of a node (its attributes, concrete result type, its inputs' types, and the value of any
 * input that is a constant, which elementwise kernels inline instead of binding), and what it
 * returns (no kernel for sources, a view for reshape, else one or more kernel sources).
 */
import type { Node } from "../ir/graph.js";
import type { DType, OpAttrs, OpKind } from "../primitives.js";
import type { DeviceLimitsLike } from "../../runtime/plan.js";
import type { KernelSource, Shape } from "./wgsl.js";

export interface EmitInput {
  readonly shape: Shape;
  readonly dtype: DType;
  /** Present when the input is a `constant` node: its fill value. */
  readonly constant?: number;
}

export interface EmitCtx<K extends OpKind = OpKind> {
  readonly node: Node<K>;
  readonly attrs: OpAttrs[K];
  readonly shape: Shape;
  readonly dtype: DType;
  readonly inputs: readonly EmitInput[];
  readonly limits: DeviceLimitsLike;
}

export type Emitted =
  | { readonly kind: "source" }
  | { readonly kind: "view" }
  | { readonly kind: "kernels"; readonly kernels: readonly KernelSource[] };

export type Emitter<K extends OpKind> = (ctx: EmitCtx<K>) => Emitted;

export function kernels(...ks: KernelSource[]): Emitted {
  return { kind: "kernels", kernels: ks };
}
