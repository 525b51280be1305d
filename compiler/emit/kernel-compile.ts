/**
 * @file Compiling kernels on a Dawn device with WebGPU's *default* limits: the device-side
 * half of build-time validation (validate.ts maps the results to diagnostics). It imports no
 * compiler code, so `nnc build`'s validator process (validate-child.ts) loads only this and
 * the runtime's device module.
 */
import type { NncDevice } from "../../runtime/device-core.js";

/** What compiling a kernel needs: its WGSL, entry point and binding layout. */
export interface KernelSource {
  readonly name: string;
  readonly wgsl: string;
  readonly entryPoint: string;
  readonly bindings: readonly { readonly binding: number; readonly access: string }[];
}

/** A device to compile on, and whether it was made for that (and must be destroyed). */
export interface CompileTarget {
  readonly device: GPUDevice;
  readonly own: boolean;
}

/**
 * A device with WebGPU's default limits from a fresh adapter of the same kind (an adapter makes
 * only one device, and `dev`'s asked for the adapter's limits); `dev` itself when that fails.
 */
export async function defaultLimitsDevice(dev: NncDevice): Promise<CompileTarget> {
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
async function compileKernel(device: GPUDevice, k: KernelSource): Promise<string | undefined> {
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

/** Compiles every kernel on `target` concurrently; each one's error text or undefined. */
export function compileKernels(
  target: CompileTarget,
  kernels: readonly KernelSource[],
): Promise<(string | undefined)[]> {
  return Promise.all(kernels.map((k) => compileKernel(target.device, k)));
}
