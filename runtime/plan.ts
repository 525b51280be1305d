/**
 * @file The KernelPlan: everything the runtime needs to run one compiled graph, as plain,
 * JSON-serialisable data (a built module embeds it as a literal). Buffers are flat byte ranges
 * with a role; kernels are WGSL compute shaders with their dispatch grid and buffer bindings;
 * outputs name buffers to read back; updates say which buffer replaces a variable after each
 * step. A reshape is a view (same buffer, no kernel). The compiler (compiler/codegen/) writes
 * plans; the runtime (runtime/executor.ts) runs them. This file imports nothing.
 */

export type PlanDType = "f32" | "i32";

/** How a variable gets its first value (mirrors compiler/primitives.ts InitSpec). */
export type PlanInit =
  | { readonly dist: "constant"; readonly value: number }
  | { readonly dist: "uniform"; readonly lo: number; readonly hi: number }
  | { readonly dist: "normal"; readonly mean: number; readonly std: number }
  | { readonly dist: "truncated_normal"; readonly mean: number; readonly std: number };

/**
 * `input`: written by the host each step; `variable`: a parameter or state, persistent;
 * `constant`: filled once with `fill` when the executor is created, never written by a kernel;
 * `temp`: an intermediate value (may be shared by values whose lifetimes do not overlap);
 * `output`: holds a value read back or used as an update, never shared.
 */
export type BufferRole = "input" | "variable" | "constant" | "temp" | "output";

export interface PlanBuffer {
  readonly id: number;
  /** In bytes, a positive multiple of 4. */
  readonly size: number;
  readonly role: BufferRole;
  /** Fill value of a `constant` buffer (in the buffer's dtype). */
  readonly fill?: number;
  readonly dtype?: PlanDType;
}

export interface PlanVariable {
  readonly name: string;
  readonly kind: "param" | "state";
  readonly shape: readonly number[];
  readonly dtype: PlanDType;
  readonly init: PlanInit;
  readonly layer: string;
  readonly buffer: number;
}

export interface PlanInput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: PlanDType;
  readonly buffer: number;
}

export interface PlanBinding {
  /** `@binding(n)` in `@group(0)`. */
  readonly binding: number;
  readonly buffer: number;
  /**
   * Storage access, or `uniform` for a binding the runtime adds to a kernel it rewrites
   * (runtime/feed-fusion.ts); the compiler emits storage bindings only.
   */
  readonly access: "read" | "read_write" | "uniform";
}

export interface PlanKernel {
  /** A short name for messages and profiles, e.g. `matmul_12`. */
  readonly name: string;
  readonly wgsl: string;
  readonly entryPoint: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly dispatch: readonly [number, number, number];
  readonly bindings: readonly PlanBinding[];
  /** The IR node the kernel computes, its primitive, and its `.nn` location (`file:line:col`). */
  readonly node: number;
  readonly op: string;
  readonly location: string;
}

export interface PlanOutput {
  readonly name: string;
  readonly buffer: number;
  readonly shape: readonly number[];
  readonly dtype: PlanDType;
}

export interface PlanUpdate {
  /** The variable to overwrite after the kernels of a step ran. */
  readonly variable: string;
  readonly buffer: number;
}

/** The static memory plan in numbers (informational: the runtime does not read it). */
export interface PlanMemory {
  /** Bytes of all the plan's buffers. */
  readonly totalBytes: number;
  /** Variables, inputs, constants and outputs: buffers as long-lived as the plan. */
  readonly persistentBytes: number;
  /** Persistent bytes plus the most bytes of temporary values live during one kernel. */
  readonly lowerBoundBytes: number;
}

export interface KernelPlan {
  readonly version: 1;
  readonly buffers: readonly PlanBuffer[];
  readonly variables: readonly PlanVariable[];
  readonly inputs: readonly PlanInput[];
  readonly kernels: readonly PlanKernel[];
  readonly outputs: readonly PlanOutput[];
  readonly updates: readonly PlanUpdate[];
  readonly memory?: PlanMemory;
}

/** The device limits code generation depends on (a subset of GPUSupportedLimits). */
export interface DeviceLimitsLike {
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
}

/** WebGPU's default limits in compatibility mode: what every adapter offers at least. */
export const defaultLimits: DeviceLimitsLike = {
  maxStorageBuffersPerShaderStage: 4,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 128,
  maxComputeWorkgroupSizeX: 128,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
};

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
