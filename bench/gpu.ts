/**
 * @file The WebGPU adapter the peers run on, the same one nnc uses: Dawn's
 * Node binding (npm `webgpu`) on Mesa llvmpipe through OpenGL ES/GL
 * (`EGL_PLATFORM=surfaceless`, `backend=opengl`, compatibility feature
 * level). TF.js and jax-js both look for `navigator.gpu`, so this installs a
 * `navigator` whose `gpu.requestAdapter` forces the compatibility feature
 * level. The object `create()` returns is kept alive for the whole process
 * (when it is garbage-collected Dawn hangs or crashes). With NNC_DEVICE=gpu
 * (bench/gpu/run.sh on a GPU machine) the peers get the adapter nnc gets there
 * instead: Dawn's default backend (Vulkan on Linux), core feature level.
 */
import { availableParallelism } from "node:os";

let keepAlive: GPU | null = null;

/** Installs `globalThis.navigator.gpu` (Dawn on llvmpipe); returns the adapter description. */
export async function installNavigatorGpu(): Promise<string> {
  process.env.EGL_PLATFORM ??= "surfaceless";
  const { create, globals } = await import("webgpu");
  Object.assign(globalThis, globals);
  const onGpu = process.env.NNC_DEVICE === "gpu";
  const gpu = create(onGpu ? [] : ["backend=opengl"]);
  keepAlive = gpu;
  const force: GPURequestAdapterOptions = onGpu
    ? { powerPreference: "high-performance" }
    : { featureLevel: "compatibility" };
  const probe = await gpu.requestAdapter(force);
  if (!probe)
    throw new Error(`no WebGPU adapter (Dawn, ${onGpu ? "GPU" : "backend=opengl, compatibility"})`);
  const info = probe.info;
  const description = [info.vendor, info.architecture, info.device, info.description]
    .filter((s) => s)
    .join(" ");
  const wrapped = {
    requestAdapter: (options?: GPURequestAdapterOptions) =>
      gpu.requestAdapter({ ...options, ...force }),
    getPreferredCanvasFormat: (): GPUTextureFormat => "rgba8unorm",
    get wgslLanguageFeatures() {
      return gpu.wgslLanguageFeatures;
    },
  };
  const nav = (globalThis as { navigator?: object }).navigator ?? {};
  Object.defineProperty(globalThis, "navigator", {
    value: {
      userAgent: "Node.js",
      hardwareConcurrency: availableParallelism(),
      language: "en-US",
      ...nav,
      gpu: wrapped,
    },
    configurable: true,
    writable: true,
  });
  return description || "unknown adapter";
}

/** The GPU object kept alive for the process (null before `installNavigatorGpu`). */
export function dawnGpu(): GPU | null {
  return keepAlive;
}
