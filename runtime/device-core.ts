/**
 * @file The browser-safe half of runtime/device.ts: the NncDevice type the executor runs on,
 * device errors (codes NN46xx), and `wrapDevice`, which turns any `GPUDevice` (from the `webgpu`
 * package in Node, or `navigator.gpu` in a browser) into an NncDevice: its limits, and a record
 * of the first uncaptured error or loss of the device, surfaced at the executor's next call.
 * No Node imports: built modules run this in browsers. device.ts re-exports all of it.
 */
import { NncError, type RuntimeErrorCode } from "./errors.js";
import type { DeviceLimitsLike } from "./plan.js";

declare global {
  // The WebGPU names the runtime's declarations mention. Empty interfaces merge with WebGPU's
  // own types where a project has them (TypeScript's DOM library, or @webgpu/types) and keep the
  // declarations valid where it has neither (a Node project with `lib: ["es2022"]`).
  interface GPU {}
  interface GPUAdapter {}
  interface GPUDevice {}
  interface GPUCommandEncoder {}
  interface GPUCompilationMessage {}
  interface GPUSupportedLimits {}
}

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
  /** Absent when the device was handed in by the caller (see `wrapDevice`). */
  readonly adapter?: GPUAdapter;
  /** What `create()` returned; kept alive as long as the device is used. */
  readonly gpu?: GPU;
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

export interface WrapOptions {
  readonly adapter?: GPUAdapter;
  readonly gpu?: GPU;
  readonly kind?: NncDevice["kind"];
  readonly description?: string;
  readonly compatibility?: boolean;
}

/** The limits code generation depends on, read from a device. */
export function limitsOf(device: GPUDevice): DeviceLimitsLike {
  const dl = device.limits;
  return {
    maxStorageBuffersPerShaderStage: dl.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: dl.maxComputeWorkgroupsPerDimension,
    maxComputeInvocationsPerWorkgroup: dl.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: dl.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupStorageSize: dl.maxComputeWorkgroupStorageSize,
    maxStorageBufferBindingSize: dl.maxStorageBufferBindingSize,
    maxBufferSize: dl.maxBufferSize,
  };
}

/** The NncDevice of each device wrapped so far. */
const wrapped = new WeakMap<GPUDevice, NncDevice>();

/**
 * An NncDevice over `device`: records the first uncaptured error and the device's loss (not a
 * loss caused by `destroy()`), so the executor reports them at its next call. A device is
 * wrapped once (the first call's options stand): each model made on a caller's device would
 * otherwise add listeners to it for as long as the device lives.
 */
export function wrapDevice(device: GPUDevice, opts: WrapOptions = {}): NncDevice {
  const known = wrapped.get(device);
  if (known) return known;
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
  const result: NncDevice = {
    device,
    ...(opts.adapter ? { adapter: opts.adapter } : {}),
    ...(opts.gpu ? { gpu: opts.gpu } : {}),
    kind: opts.kind ?? "gpu",
    description: opts.description ?? (device.label || "WebGPU device"),
    compatibility: opts.compatibility ?? false,
    limits: limitsOf(device),
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
  wrapped.set(device, result);
  return result;
}
