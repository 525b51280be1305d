/**
 * @file The browser entry of the runtime that modules written by `nnc build` import
 * (`nnc/runtime/embed` resolves here outside Node; `nnc/runtime/browser` always does): wrap a
 * given GPUDevice, or acquire the default one from `navigator.gpu`, and create a ModelRunner on
 * it. In Node without the Node entry (a `--standalone` module), the default device comes from
 * the `webgpu` package when it is installed. No Node imports, no compiler code.
 */
import { deviceError, type NncDevice, wrapDevice } from "./device-core.js";
import { type CreateOptions, type DeviceProvider, ModelRunner, sharedDevice } from "./embedded.js";
import type { ModelProgram } from "./program.js";

export {
  ModelRunner,
  packProgram,
  unpackProgram,
  type CreateOptions,
  type DeviceProvider,
  type EpochResult,
  type Evaluation,
  type FitOptions,
  type InputArray,
  type ModelProgram,
  type PackedKernel,
  type PackedPlan,
  type PackedProgram,
  type PackedStep,
  type SampleBatch,
  type SampleData,
  type StepResult,
  type TrainingBatch,
  type TrainingData,
} from "./embedded.js";
export { DeviceError, wrapDevice, type NncDevice } from "./device-core.js";
export { NncError, isNncError } from "./errors.js";

/** Every `create()` result made here, so none is garbage-collected while Dawn uses it. */
const keepAlive: GPU[] = [];

type WebGpuModule = { create(flags: string[]): GPU; globals: object };
type NodeProcess = { env: Record<string, string | undefined>; versions?: { node?: string } };

function isSoftware(adapter: GPUAdapter): boolean {
  const info = adapter.info;
  return /swiftshader|llvmpipe|lavapipe/i.test(`${info?.device ?? ""} ${info?.description ?? ""}`);
}

/** Node without the Node entry: a GPU adapter from `webgpu`, else Mesa llvmpipe via OpenGL. */
async function nodeDevice(proc: NodeProcess): Promise<NncDevice> {
  const name = "webgpu"; // not a static import: browsers and bundlers never see it
  let mod: WebGpuModule;
  try {
    proc.env.EGL_PLATFORM ??= "surfaceless";
    mod = (await import(/* @vite-ignore */ name)) as WebGpuModule;
  } catch {
    throw deviceError("NN4601", {
      tried: "no navigator.gpu, and the 'webgpu' package is not installed; pass { device }",
    });
  }
  Object.assign(globalThis, mod.globals);
  let gpu = mod.create([]);
  keepAlive.push(gpu);
  let adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  let compatibility = false;
  if (!adapter || isSoftware(adapter)) {
    gpu = mod.create(["backend=opengl"]);
    keepAlive.push(gpu);
    adapter = await gpu.requestAdapter({
      featureLevel: "compatibility",
    } as GPURequestAdapterOptions);
    compatibility = true;
  }
  if (!adapter) {
    throw deviceError("NN4601", {
      tried: "webgpu's default adapter, then llvmpipe through OpenGL",
    });
  }
  const device = await adapter.requestDevice();
  return wrapDevice(device, {
    adapter,
    gpu,
    kind: compatibility ? "llvmpipe" : "gpu",
    description: adapter.info?.description || "WebGPU (webgpu package)",
    compatibility,
  });
}

/** The default device: `navigator.gpu`'s adapter (in Node, see `nodeDevice`). */
export async function defaultDevice(): Promise<NncDevice> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (gpu) {
    const adapter = await gpu.requestAdapter();
    if (!adapter) {
      throw deviceError("NN4601", {
        tried: "navigator.gpu.requestAdapter() returned null; is WebGPU enabled?",
      });
    }
    const device = await adapter.requestDevice();
    const info = adapter.info;
    const name = [info?.vendor, info?.architecture, info?.device].filter((s) => s).join(" ");
    return wrapDevice(device, { adapter, description: name || "WebGPU (navigator.gpu)" });
  }
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.versions?.node) return nodeDevice(proc);
  throw deviceError("NN4601", {
    tried: "this environment has no navigator.gpu (WebGPU); pass { device }",
  });
}

export const browserDevices: DeviceProvider = {
  wrap: async (device) => wrapDevice(device),
  acquireDefault: sharedDevice(defaultDevice),
};

/** A runner for `program` on `opts.device`, or on the shared default device. */
export function createRunner(
  program: ModelProgram,
  opts: CreateOptions = {},
): Promise<ModelRunner> {
  return ModelRunner.create(program, opts, browserDevices);
}
