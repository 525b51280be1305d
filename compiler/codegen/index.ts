/**
 * @file Code generation's public surface: `planGraph` / `planKernels` turn a Graph with concrete
 * shapes into a KernelPlan (runtime/plan.ts) of WGSL kernels and buffers for a device's limits.
 */
export {
  describePlan,
  planGraph,
  planKernels,
  PlanError,
  type PlanOptions,
  type PlanResult,
} from "./plan.js";
export { emitters } from "./emitters.js";
export type { EmitCtx, EmitInput, Emitted, Emitter, Epilogue } from "./context.js";
export { defaultLimits, type DeviceLimitsLike, type KernelPlan } from "../../runtime/plan.js";
