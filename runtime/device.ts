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
import { NncError, type RuntimeErrorCode } from "./errors.js";
import type { DeviceLimitsLike } from "./plan.js";

export const deviceMessages = {
  NN4601: "no WebGPU adapter could be created ({tried})",
  NN4602: "the WebGPU device was lost: {reason}",
  NN4603: "uncaptured WebGPU {kind} error: {message}",
  NN4604: "{detail}",
  NN4605: "kernel {kernel} for {location} failed to compile:\n{detail}",
  NN4606: "{detail}",
} as const;
export type DeviceErrorCode = keyof typeof deviceMessages;

/** A device or executor failure: no adapter, device lost, bad use of the executor. */
export class DeviceError extends NncError {
  constructor(
    readonly deviceCode: DeviceErrorCode,
    detail: string,
  ) {
    // NncError's catalog covers NN5xxx; device codes live here (the runtime cannot import the
    // compiler's NN4xxx catalog), so the code is passed through as is.
    super(deviceCode as unknown as RuntimeErrorCode, detail);
  }
}

export function deviceError(
  code: DeviceErrorCode,
  args: Readonly<Record<string, string | number>>,
): DeviceError {
  const detail = deviceMessages[code].replace(/\{(\w+)\}/g, (m, k: string) =>
    k in args ? String(args[k]) : m,
  );
  return new DeviceError(code, detail);
}

export type DeviceChoice = "auto" | "gpu" | "llvmpipe" | "swiftshader";

export interface NncDevice {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  /** What `create()` returned; kept alive as long as the device is used. */
  readonly gpu: GPU;
  readonly kind: "gpu" | "llvmpipe" | "swiftshader";
  /** e.g. "llvmpipe (Mesa 22.3.6, OpenGL 4.5, compatibility)". */
  readonly description: string;
  readonly compatibility: boolean;
  readonly limits: DeviceLimitsLike;
  /** The first uncaptured error or the loss of the device, if any (then cleared). */
  takeError(): DeviceError | undefined;
  /** True once the device was lost or destroyed. */
  readonly lost: boolean;
  destroy(): void;
}

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

async function adapterFor(
  choice: Exclude<DeviceChoice, "auto">,
): Promise<{ gpu: GPU; adapter: GPUAdapter; compat: boolean } | undefined> {
  const { create } = await loadWebGpu();
  if (choice === "gpu") {
    const gpu = create([]);
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
  const gpu = create(["backend=vulkan"]);
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
 * no adapter can be made.
 */
export async function acquireDevice(opts: { device?: DeviceChoice } = {}): Promise<NncDevice> {
  const choice = parseChoice(process.env.NNC_DEVICE) ?? opts.device ?? "auto";
  const order: Exclude<DeviceChoice, "auto">[] = choice === "auto" ? ["gpu", "llvmpipe"] : [choice];
  let found: { gpu: GPU; adapter: GPUAdapter; compat: boolean } | undefined;
  let kind: NncDevice["kind"] = "gpu";
  for (const c of order) {
    found = await adapterFor(c);
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
  for (const k of limitKeys) if (typeof al[k] === "number") requiredLimits[k] = al[k]!;
  const device = await adapter.requestDevice({ requiredLimits });
  const dl = device.limits as unknown as Record<string, number>;
  const limits: DeviceLimitsLike = {
    maxStorageBuffersPerShaderStage: dl.maxStorageBuffersPerShaderStage!,
    maxComputeWorkgroupsPerDimension: dl.maxComputeWorkgroupsPerDimension!,
    maxComputeInvocationsPerWorkgroup: dl.maxComputeInvocationsPerWorkgroup!,
    maxComputeWorkgroupSizeX: dl.maxComputeWorkgroupSizeX!,
    maxComputeWorkgroupStorageSize: dl.maxComputeWorkgroupStorageSize!,
    maxStorageBufferBindingSize: dl.maxStorageBufferBindingSize!,
    maxBufferSize: dl.maxBufferSize!,
  };

  let pending: DeviceError | undefined;
  let lost = false;
  let destroyed = false;
  device.addEventListener("uncapturederror", (ev) => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    const kindName =
      typeof GPUValidationError !== "undefined" && e instanceof GPUValidationError
        ? "validation"
        : typeof GPUOutOfMemoryError !== "undefined" && e instanceof GPUOutOfMemoryError
          ? "out-of-memory"
          : "internal";
    pending ??= deviceError("NN4603", { kind: kindName, message: e.message.trim() });
  });
  void device.lost.then((info) => {
    lost = true;
    if (!destroyed) {
      pending ??= deviceError("NN4602", {
        reason: `${info.reason}${info.message ? `: ${info.message.trim()}` : ""}`,
      });
    }
  });
  return {
    device,
    adapter,
    gpu,
    kind,
    description: describe(adapter, kind, compat),
    compatibility: compat,
    limits,
    takeError() {
      const e = pending;
      pending = undefined;
      return e;
    },
    get lost() {
      return lost || destroyed;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      device.destroy();
    },
  };
}
