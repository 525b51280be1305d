/**
 * @file The Node entry of the runtime that modules written by `nnc build` import
 * (`nnc/runtime/embed` resolves here under Node): the same API as the browser entry, with the
 * default device from `acquireDevice` (a GPU adapter, else Mesa llvmpipe; NNC_DEVICE chooses),
 * and the `webgpu` package's globals installed before a caller's own device is used. In Node
 * the augmentation code is always loaded (a browser bundle takes it only when the run augments).
 */
import "./augment.js";
import { acquireDevice } from "./device.js";
import { wrapDevice } from "./device-core.js";
import { type CreateOptions, type DeviceProvider, ModelRunner, sharedDevice } from "./embedded.js";
import type { ModelProgram } from "./program.js";

export * from "./browser.js";

/** `GPUBufferUsage` and friends, which the executor needs, come from `webgpu` in Node. */
async function ensureGlobals(): Promise<void> {
  if (typeof GPUBufferUsage !== "undefined") return;
  const mod = (await import("webgpu")) as unknown as { globals: object };
  Object.assign(globalThis, mod.globals);
}

export const nodeDevices: DeviceProvider = {
  wrap: async (device) => {
    await ensureGlobals();
    return wrapDevice(device);
  },
  acquireDefault: sharedDevice(() => acquireDevice()),
};

/** A runner for `program` on `opts.device`, or on the shared default device. */
export function createRunner(
  program: ModelProgram,
  opts: CreateOptions = {},
): Promise<ModelRunner> {
  return ModelRunner.create(program, opts, nodeDevices);
}
