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
import {
  defaultLimits,
  type DeviceLimitsLike,
  type KernelPlan,
  type PlanKernel,
} from "../../runtime/plan.js";
import type { ModelProgram } from "../../runtime/program.js";

export interface ValidationGraphs {
  readonly step?: Graph;
  readonly evaluate?: Graph;
  readonly predict?: Graph;
}

export interface ValidationResult {
  readonly diagnostics: readonly Diagnostic[];
  /** Distinct kernels compiled. */
  readonly kernels: number;
  /** What the kernels were compiled on. */
  readonly device: string;
}

type PlanName = "step" | "evaluate" | "predict";

/**
 * A device with WebGPU's default limits from a fresh adapter of the same kind (an adapter makes
 * only one device, and `dev`'s asked for the adapter's limits); `dev` itself when that fails.
 */
async function defaultLimitsDevice(dev: NncDevice): Promise<{ device: GPUDevice; own: boolean }> {
  try {
    const adapter = await dev.gpu?.requestAdapter(
      dev.compatibility
        ? ({ featureLevel: "compatibility" } as GPURequestAdapterOptions)
        : { powerPreference: "high-performance" },
    );
    if (adapter) return { device: await adapter.requestDevice(), own: true };
  } catch {
    // fall through
  }
  return { device: dev.device, own: false };
}

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

/** Each error as `[line:col] message`, then the WGSL lines around it, numbered. */
function compileErrorText(wgsl: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = wgsl.split("\n");
  const width = String(lines.length).length;
  const out: string[] = [];
  for (const m of messages.filter((m) => m.type === "error")) {
    out.push(`[${m.lineNum}:${m.linePos}] ${m.message}`);
    const from = Math.max(1, m.lineNum - 2);
    const to = Math.min(lines.length, m.lineNum + 2);
    for (let l = from; l <= to; l++) {
      out.push(`  ${String(l).padStart(width)} | ${lines[l - 1]}`);
      if (l === m.lineNum && m.linePos > 0) {
        out.push(`  ${" ".repeat(width)} | ${" ".repeat(m.linePos - 1)}^`);
      }
    }
  }
  return out.join("\n");
}

/**
 * Compiles one kernel; the error text, or undefined when it compiled. Error scopes are pushed
 * and popped without an await in between, so kernels compiling concurrently never see each
 * other's errors.
 */
async function compileKernel(device: GPUDevice, k: PlanKernel): Promise<string | undefined> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: k.wgsl, label: k.name });
  const moduleScope = device.popErrorScope();
  const info = await module.getCompilationInfo();
  const moduleError = await moduleScope;
  if (info.messages.some((m) => m.type === "error")) return compileErrorText(k.wgsl, info.messages);
  if (moduleError) return moduleError.message.trim();
  device.pushErrorScope("validation");
  let pipeline: Promise<GPUComputePipeline> | undefined;
  let failure: string | undefined;
  try {
    const layout = device.createBindGroupLayout({
      label: k.name,
      entries: k.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === "read" ? "read-only-storage" : "storage" },
      })),
    });
    pipeline = device.createComputePipelineAsync({
      label: k.name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: k.entryPoint },
    });
  } catch (e) {
    failure = e instanceof Error ? e.message.trim() : String(e);
  }
  const scope = device.popErrorScope();
  try {
    await pipeline;
  } catch (e) {
    failure ??= e instanceof Error ? e.message.trim() : String(e);
  }
  const scopeError = await scope;
  return failure ?? scopeError?.message.trim();
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
  const seen = new Map<string, { plan: PlanName; kernel: PlanKernel }>();
  const plans: [PlanName, KernelPlan][] = [
    ["step", program.step],
    ["evaluate", program.evaluate],
    ["predict", program.predict],
  ];
  // Every dispatch against the default limits (grids differ between plans); each distinct
  // kernel text compiled once.
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
  const { device, own } = await defaultLimitsDevice(dev);
  try {
    const entries = [...seen.values()];
    const errors = await Promise.all(entries.map((e) => compileKernel(device, e.kernel)));
    const keys = [...seen.keys()];
    entries.forEach((e, i) => {
      const span: Span = graphs[e.plan]?.nodes[e.kernel.node]?.span ?? noSpan;
      const detail = errors[i];
      // A kernel over a limit fails to compile for that reason: one diagnostic is enough.
      if (detail === undefined || overLimit.has(keys[i]!)) return;
      diagnostics.push(
        diag("NN4001", span, {
          op: e.kernel.op,
          detail: `kernel ${e.kernel.name} (${e.plan}) does not compile on ${dev.description} with WebGPU's default limits:\n${detail}`,
        }),
      );
    });
    return { diagnostics, kernels: entries.length, device: dev.description };
  } finally {
    if (own) device.destroy();
  }
}
