/**
 * @file Build-time validation of a ModelProgram on the local Dawn device, so `nnc build` never
 * reports success for a module whose kernels a browser would reject. Every distinct kernel is
 * compiled (`createShaderModule` + `getCompilationInfo`) and turned into a compute pipeline
 * with its real binding layout on a device that has WebGPU's *default* limits (not the
 * adapter's), the limits the module was planned against; each kernel's workgroup size, grid,
 * storage buffers and workgroup memory are also checked against `defaultLimits` (NN4003,
 * NN4004). A failure becomes a diagnostic at the `.nn` span of the IR node the kernel computes.
 */
import type { Diagnostic } from "../diagnostics.js";
import type { Graph } from "../ir/graph.js";
import { diag } from "../messages.js";
import type { Span } from "../source.js";
import { noSpan } from "../source.js";
import type { NncDevice } from "../../runtime/device-core.js";
import { compileKernels, defaultLimitsDevice } from "./kernel-compile.js";
import {
  defaultLimits,
  type DeviceLimitsLike,
  type KernelPlan,
  type PlanKernel,
} from "../../runtime/plan.js";
import { type ModelProgram, namedPlans } from "../../runtime/program.js";

/** The lowered graph of each plan, by the plan's name (`namedPlans`: `step`, `step generator`). */
export type ValidationGraphs = Readonly<Record<string, Graph | undefined>>;

export interface ValidationResult {
  readonly diagnostics: readonly Diagnostic[];
  /** Distinct kernels compiled. */
  readonly kernels: number;
  /** What the kernels were compiled on. */
  readonly device: string;
}

/** A plan's name in `namedPlans`: `step`, `evaluate`, `predict`, or `step NAME`. */
export type PlanName = string;

/** Bytes of the `var<workgroup>` arrays of f32, i32, u32 and their vec2/3/4 in `wgsl`. */
export function workgroupBytes(wgsl: string): number {
  let bytes = 0;
  const re = /var<workgroup>\s+\w+\s*:\s*array<\s*(vec([234])<\s*\w+\s*>|\w+)\s*,\s*(\d+)u?\s*>/g;
  for (const m of wgsl.matchAll(re)) {
    const lanes = m[2] ? Number(m[2] === "3" ? 4 : m[2]) : 1;
    bytes += 4 * lanes * Number(m[3]);
  }
  return bytes;
}

/** What the kernel's plan entry asks beyond `limits`, as diagnostics at `span`. */
function limitDiagnostics(k: PlanKernel, limits: DeviceLimitsLike, span: Span): Diagnostic[] {
  const out: Diagnostic[] = [];
  const [x, y, z] = k.workgroupSize;
  const invocations = x * y * z;
  if (k.bindings.length > limits.maxStorageBuffersPerShaderStage) {
    out.push(
      diag("NN4003", span, {
        op: `${k.op} (kernel ${k.name})`,
        count: k.bindings.length,
        limit: limits.maxStorageBuffersPerShaderStage,
      }),
    );
  }
  const problems: string[] = [];
  if (
    invocations > limits.maxComputeInvocationsPerWorkgroup ||
    x > limits.maxComputeWorkgroupSizeX
  ) {
    problems.push(
      `${k.name} has workgroups of ${x}x${y}x${z} invocations; the default limit is ` +
        `${limits.maxComputeInvocationsPerWorkgroup} (${limits.maxComputeWorkgroupSizeX} along x)`,
    );
  }
  const most = Math.max(...k.dispatch);
  if (most > limits.maxComputeWorkgroupsPerDimension) {
    problems.push(
      `${k.name} dispatches ${k.dispatch.join("x")} workgroups; the default limit is ` +
        `${limits.maxComputeWorkgroupsPerDimension} per dimension`,
    );
  }
  const shared = workgroupBytes(k.wgsl);
  if (shared > limits.maxComputeWorkgroupStorageSize) {
    problems.push(
      `${k.name} uses ${shared} bytes of workgroup memory; the default limit is ` +
        `${limits.maxComputeWorkgroupStorageSize}`,
    );
  }
  for (const detail of problems) out.push(diag("NN4004", span, { op: k.op, detail }));
  return out;
}

/** The distinct kernels of one program to compile, and what the plans alone already show. */
export interface KernelCheck {
  /** Each distinct kernel (by entry point, binding access and text) and the plan it came first in. */
  readonly entries: readonly { readonly plan: PlanName; readonly kernel: PlanKernel }[];
  /** For each entry: whether a limit diagnostic already covers it. */
  readonly overLimit: readonly boolean[];
  /** Diagnostics for dispatches beyond the default limits (NN4003, NN4004). */
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * The distinct kernels of `program` and the diagnostics of every dispatch over the default
 * limits (grids differ between plans, so each dispatch is checked); no device needed.
 */
export function checkKernels(program: ModelProgram, graphs: ValidationGraphs = {}): KernelCheck {
  const seen = new Map<string, { plan: PlanName; kernel: PlanKernel }>();
  const plans: [PlanName, KernelPlan][] = namedPlans(program).map((p) => [p.name, p.plan]);
  const diagnostics: Diagnostic[] = [];
  const reported = new Set<string>();
  const overLimit = new Set<string>();
  for (const [plan, p] of plans) {
    for (const k of p.kernels) {
      const key = `${k.entryPoint}\n${k.bindings.map((b) => b.access).join(",")}\n${k.wgsl}`;
      if (!seen.has(key)) seen.set(key, { plan, kernel: k });
      const span: Span = graphs[plan]?.nodes[k.node]?.span ?? noSpan;
      for (const d of limitDiagnostics(k, defaultLimits, span)) {
        overLimit.add(key);
        const id = `${d.span.file}:${d.span.start}:${d.message}`;
        if (!reported.has(id)) diagnostics.push(d);
        reported.add(id);
      }
    }
  }
  return {
    entries: [...seen.values()],
    overLimit: [...seen.keys()].map((k) => overLimit.has(k)),
    diagnostics,
  };
}

/**
 * The limit diagnostics of `check`, then one NN4001 for each kernel that failed to compile
 * (`errors[i]` is entry i's error text) and is not already over a limit.
 */
export function validationResult(
  check: KernelCheck,
  errors: readonly (string | undefined)[],
  device: string,
  graphs: ValidationGraphs = {},
): ValidationResult {
  const diagnostics = [...check.diagnostics];
  check.entries.forEach((e, i) => {
    const span: Span = graphs[e.plan]?.nodes[e.kernel.node]?.span ?? noSpan;
    const detail = errors[i];
    // A kernel over a limit fails to compile for that reason: one diagnostic is enough.
    if (detail === undefined || check.overLimit[i]) return;
    diagnostics.push(
      diag("NN4001", span, {
        op: e.kernel.op,
        detail: `kernel ${e.kernel.name} (${e.plan}) does not compile on ${device} with WebGPU's default limits:\n${detail}`,
      }),
    );
  });
  return { diagnostics, kernels: check.entries.length, device };
}

/**
 * Compiles every distinct kernel of `program` on `dev`'s adapter with default limits. `graphs`
 * (the lowered graphs the plans were made from) give each failing kernel its `.nn` span.
 */
export async function validateProgram(
  program: ModelProgram,
  dev: NncDevice,
  graphs: ValidationGraphs = {},
): Promise<ValidationResult> {
  const check = checkKernels(program, graphs);
  const target = await defaultLimitsDevice(dev);
  try {
    const errors = await compileKernels(
      target,
      check.entries.map((e) => e.kernel),
    );
    return validationResult(check, errors, dev.description, graphs);
  } finally {
    if (target.own) target.device.destroy();
  }
}
