/**
 * @file Getting a WebGPU device in Node through Dawn (npm `webgpu`). `auto` takes a real GPU
 * adapter when there is one, else Mesa llvmpipe through Dawn's OpenGL backend in compatibility
 * mode (`EGL_PLATFORM=surfaceless`); `swiftshader` uses Chromium's Vulkan SwiftShader ICD.
 * The object `create()` returns is kept alive next to the device (when it is collected, Dawn
 * hangs or crashes). The adapter's limits that code generation depends on are requested
 * explicitly. Uncaptured errors and device loss are recorded and surface as DeviceErrors at the
 * executor's next call. Device errors use codes NN46xx.
 */
import { existsSync } from "node:fs";
import { type DeviceChoice, deviceError, type NncDevice, wrapDevice } from "./device-core.js";
import { profilingRequested } from "./profile.js";

export {
  DeviceError,
  deviceError,
  deviceMessages,
  limitsOf,
  wrapDevice,
  type DeviceChoice,
  type DeviceErrorCode,
  type NncDevice,
  type WrapOptions,
} from "./device-core.js";

const installHint =
  "on Debian/Ubuntu install Mesa's software renderer: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri";
const swiftshaderIcd = "/usr/lib/chromium/vk_swiftshader_icd.json";

/** Every `create()` result ever made, so none is garbage-collected while Dawn uses it. */
const keepAlive: GPU[] = [];

type WebGpuModule = { create(flags: string[]): GPU; globals: object };
let webgpu: WebGpuModule | undefined;

async function loadWebGpu(): Promise<WebGpuModule> {
  if (!webgpu) {
    process.env.EGL_PLATFORM ??= "surfaceless";
    webgpu = (await import("webgpu")) as unknown as WebGpuModule;
    Object.assign(globalThis, webgpu.globals);
  }
  return webgpu;
}

const limitKeys = [
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
] as const;

function describe(adapter: GPUAdapter, kind: NncDevice["kind"], compat: boolean): string {
  const info = adapter.info;
  const desc = info.description ?? "";
  const gl = /OpenGL version ([\d.]+)/.exec(desc);
  const mesa = /Mesa ([\d.]+)/.exec(desc);
  const mode = compat ? "compatibility" : "core";
  if (kind === "llvmpipe") {
    const parts = [mesa ? `Mesa ${mesa[1]}` : undefined, gl ? `OpenGL ${gl[1]}` : undefined, mode];
    return `llvmpipe (${parts.filter((p) => p).join(", ")})`;
  }
  const name = [info.vendor, info.architecture, info.device, desc]
    .filter((p) => p && p.length > 0)
    .join(" ");
  return kind === "swiftshader"
    ? `SwiftShader (${name || "Vulkan"}, ${mode})`
    : `${name || "GPU"} (${mode})`;
}

/**
 * Dawn's flags for a core-mode instance: when profiling, timestamps at full precision (Dawn
 * rounds them by default, which would blur kernels shorter than the rounding step).
 */
function coreFlags(profile: boolean): string[] {
  return profile ? ["disable-dawn-features=timestamp_quantization"] : [];
}

async function adapterFor(
  choice: Exclude<DeviceChoice, "auto">,
  profile: boolean,
): Promise<{ gpu: GPU; adapter: GPUAdapter; compat: boolean } | undefined> {
  const { create } = await loadWebGpu();
  if (choice === "gpu") {
    const gpu = create(coreFlags(profile));
    keepAlive.push(gpu);
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return undefined;
    // A software Vulkan driver found as the default is not a GPU.
    const dev = `${adapter.info.device} ${adapter.info.description}`.toLowerCase();
    if (/swiftshader|llvmpipe|lavapipe/.test(dev)) return undefined;
    return { gpu, adapter, compat: false };
  }
  if (choice === "llvmpipe") {
    const gpu = create(["backend=opengl"]);
    keepAlive.push(gpu);
    const adapter = await gpu.requestAdapter({
      featureLevel: "compatibility",
    } as GPURequestAdapterOptions);
    return adapter ? { gpu, adapter, compat: true } : undefined;
  }
  if (!process.env.VK_ICD_FILENAMES && existsSync(swiftshaderIcd)) {
    process.env.VK_ICD_FILENAMES = swiftshaderIcd;
  }
  const gpu = create(["backend=vulkan", ...coreFlags(profile)]);
  keepAlive.push(gpu);
  const adapter = await gpu.requestAdapter();
  return adapter ? { gpu, adapter, compat: false } : undefined;
}

function parseChoice(s: string | undefined): DeviceChoice | undefined {
  if (s === undefined || s === "") return undefined;
  if (s === "auto" || s === "gpu" || s === "llvmpipe" || s === "swiftshader") return s;
  throw deviceError("NN4604", {
    detail: `NNC_DEVICE=${s} is not one of auto, gpu, llvmpipe, swiftshader`,
  });
}

/**
 * A WebGPU device: `auto` (default; the NNC_DEVICE environment variable overrides) takes a GPU
 * adapter when there is one, else llvmpipe. Throws a DeviceError naming what to install when
 * no adapter can be made. With `profile` (default: NNC_DEBUG is set) the device gets the
 * adapter's `timestamp-query` feature where it has one, for per-kernel times (profile.ts).
 * With `defaultLimits` the device keeps WebGPU's default limits instead of the adapter's (what
 * `nnc build` validates portable kernels against).
 */
export async function acquireDevice(
  opts: { device?: DeviceChoice; profile?: boolean; defaultLimits?: boolean } = {},
): Promise<NncDevice> {
  const profile = opts.profile ?? profilingRequested();
  const choice = parseChoice(process.env.NNC_DEVICE) ?? opts.device ?? "auto";
  const order: Exclude<DeviceChoice, "auto">[] = choice === "auto" ? ["gpu", "llvmpipe"] : [choice];
  let found: { gpu: GPU; adapter: GPUAdapter; compat: boolean } | undefined;
  let kind: NncDevice["kind"] = "gpu";
  for (const c of order) {
    found = await adapterFor(c, profile);
    if (found) {
      kind = c;
      break;
    }
  }
  if (!found) {
    const tried = order.join(", then ");
    const hint =
      choice === "gpu"
        ? "no GPU adapter; use NNC_DEVICE=llvmpipe for the CPU"
        : choice === "swiftshader"
          ? `SwiftShader needs libvulkan1 and ${swiftshaderIcd} (Debian's chromium package)`
          : installHint;
    throw deviceError("NN4601", { tried: `tried ${tried}; ${hint}` });
  }
  const { gpu, adapter, compat } = found;
  const requiredLimits: Record<string, number> = {};
  const al = adapter.limits as unknown as Record<string, number>;
  if (!opts.defaultLimits) {
    for (const k of limitKeys) if (typeof al[k] === "number") requiredLimits[k] = al[k]!;
  }
  const timestamps = profile && adapter.features.has("timestamp-query");
  const device = await adapter.requestDevice({
    requiredLimits,
    ...(timestamps ? { requiredFeatures: ["timestamp-query" as GPUFeatureName] } : {}),
  });
  return wrapDevice(device, {
    adapter,
    gpu,
    kind,
    description: describe(adapter, kind, compat),
    compatibility: compat,
  });
}
