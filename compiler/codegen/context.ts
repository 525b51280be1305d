/**
 * @file The interface between the planner and the per-primitive WGSL emitters: what an emitter
 * sees of a node (its attributes, concrete result type, its inputs' types, and the value of any
 * input that is a constant, which elementwise kernels inline instead of binding), and what it
 * returns (no kernel for sources, a view for reshape, else one or more kernel sources). It also
 * defines the epilogue contract, by which the fusion pass (compiler/fuse/) folds elementwise
 * consumers of a matmul or conv2d into the kernel that computes it.
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

/**
 * Elementwise work fused into the end of a producer kernel (matmul, conv2d): a bias add, an
 * activation, a residual add, ... The planner writes it; the producer's emitter applies it.
 *
 * `code` is WGSL (helpers and storage declarations included) that defines
 *   `fn nnc_epilogue(v: f32, i: u32) -> f32`  (v: the value the primitive computed at flat
 *                                              row-major output index i; returns the value to
 *                                              store at i)
 *   `fn nnc_epilogue4(v: vec4<f32>, i: u32) -> vec4<f32>`  (the same for the four consecutive
 *                                              elements i..i+3, for vec4 stores; i % 4 == 0)
 * and may read extra storage buffers it declares itself as `ep0`, `ep1`, ... at
 * `@binding(firstBinding + k)`, k in [0, inputs.length), `var<storage, read>`.
 *
 * Binding numbers, exactly: the kernel that applies the epilogue binds the node's inputs at
 * @binding(0 .. n-1) in input order (n = node.inputs.length, so its `reads` is [0, ..., n-1]),
 * its output at @binding(n), and the epilogue's inputs at @binding(n+1 .. n+inputs.length):
 * `firstBinding` is always n + 1. `kernelSource` (wgsl.ts) does all of this when its spec has
 * `epilogue`: it checks the numbering, inserts `code` among the helpers and marks the
 * KernelSource (`epilogue: true`) so the planner binds the extra buffers. The emitter's only
 * duty is to pass every value through nnc_epilogue / nnc_epilogue4 before storing it. When an
 * emitter produces several kernels, only the one that writes the final output applies it.
 * The output buffer's element type is f32 (epilogues are only fused into f32 producers).
 */
export interface Epilogue {
  readonly code: string;
  /** The extra buffers `code` reads, bound at firstBinding + k (types for the emitter's use). */
  readonly inputs: readonly EmitInput[];
  readonly firstBinding: number;
}

export interface EmitCtx<K extends OpKind = OpKind> {
  readonly node: Node<K>;
  readonly attrs: OpAttrs[K];
  readonly shape: Shape;
  readonly dtype: DType;
  readonly inputs: readonly EmitInput[];
  readonly limits: DeviceLimitsLike;
  /** Present when the planner fused elementwise consumers into this node (see Epilogue). */
  readonly epilogue?: Epilogue;
}

export type Emitted =
  | { readonly kind: "source" }
  | { readonly kind: "view" }
  | { readonly kind: "kernels"; readonly kernels: readonly KernelSource[] };

export type Emitter<K extends OpKind> = (ctx: EmitCtx<K>) => Emitted;

export function kernels(...ks: KernelSource[]): Emitted {
  return { kind: "kernels", kernels: ks };
}
