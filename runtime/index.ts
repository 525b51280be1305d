/**
 * @file The public runtime API, imported by built modules and by `nnc train`: devices,
 * the KernelPlan format, the executor, runtime errors, and the stderr filter for Dawn's noise.
 * Nothing here imports from compiler/.
 */
export {
  acquireDevice,
  DeviceError,
  deviceError,
  deviceMessages,
  type DeviceChoice,
  type DeviceErrorCode,
  type NncDevice,
} from "./device.js";
export {
  Executor,
  formatCompileError,
  hostNormal,
  hostUniform,
  initialValues,
  nameStream,
  pcg,
  pipelineCount,
  type HostArray,
} from "./executor.js";
export * from "./plan.js";
export { isNoise, filterNoise, relaunchQuietly } from "./quiet.js";
export { isNncError, NncError, nncError, renderNncError, type ErrorLocation } from "./errors.js";
