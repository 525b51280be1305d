/**
 * @file Training data on the device. A dataset is uploaded once, as it is stored (bytes packed
 * four to a word, or f32), with its labels. Each batch is then made on the device from a small
 * uniform the host writes per step: how many samples, where the labels start, the step counter,
 * the augmentation seed and the batch's sample indices. Either the kernels that read the batch
 * read the dataset themselves (runtime/feed-fusion.ts: no extra kernel, the batch never written
 * to memory), or, where one of them cannot, one gather kernel recorded at the head of the
 * step's command buffer writes the plan's inputs: normalised values, one-hot labels and the
 * step counter. Bytes become `f32(b) * BYTE_SCALE` on every path, as on the host, so all of
 * them train bit for bit alike. A training gather may also augment: each sample is then
 * resampled under its own random transform drawn from (seed, step, row) by the kernel itself
 * (runtime/augment.ts), as the host Batcher does.
 *
 * Datasets that do not fit one storage binding of the device fall back to the host path
 * (runtime/data/dataset.ts Batcher), as do batches whose indices do not fit one uniform binding
 * and a device with fewer storage bindings than the gather needs. No Node imports: browsers
 * use this too.
 */
import type { AugmentSpec } from "./augment.js";
import { augmenter, augments } from "./augmenter.js";
import { BYTE_SCALE, sampleSize, type Dataset } from "./data/dataset.js";
import type { NncDevice } from "./device-core.js";
import {
  type Executor,
  type KernelSwap,
  type KernelSwaps,
  layoutFor,
  pipelineFor,
} from "./executor.js";
import {
  feedDecls,
  feedParamsBytes,
  type FeedShape,
  fuseFeedReads,
  maxFeedBatch,
} from "./feed-fusion.js";
import type { PlanDType } from "./plan.js";

/** Where a batch goes: the plan's input buffers and their sizes. */
export interface FeedTarget extends FeedShape {
  readonly x: GPUBuffer;
  readonly y: GPUBuffer;
  /** The step counter input (1-based), when the plan has one. */
  readonly step?: { readonly buffer: GPUBuffer; readonly dtype: PlanDType };
}

/** A dataset resident on the device. */
export interface DeviceData {
  readonly dataset: Dataset;
  /** Images (bytes packed little-endian four to a word, or f32 bits), then one word per label. */
  readonly buffer: GPUBuffer;
  readonly bytes: boolean;
  /** Word index of the first label. */
  readonly labelsAt: number;
}

/** Bytes the device copy of `ds` takes. */
export function deviceDataBytes(ds: Dataset): number {
  const values = ds.count * sampleSize(ds);
  const imageWords = ds.inputs instanceof Uint8Array ? Math.ceil(values / 4) : values;
  return (imageWords + ds.count) * 4;
}

/**
 * Why `ds` cannot be trained from the device on `nnc` in batches of `batch`, or undefined when
 * it can: its copy must fit one storage binding, the batch's indices one uniform binding, and
 * the gather kernel's storage buffers the stage's limit; its labels must be classes (the
 * gather writes one-hot rows, not regression targets). `NNC_FEED=host` says no.
 */
export function deviceFeedRefusal(nnc: NncDevice, ds: Dataset, batch: number): string | undefined {
  const bytes = deviceDataBytes(ds);
  const l = nnc.limits;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const most = Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
  const mostRows = maxFeedBatch(nnc.device.limits.maxUniformBufferBindingSize);
  if (feedSetting() === "host") return "NNC_FEED=host is set";
  if (ds.count === 0) return "the dataset is empty";
  if (ds.targets) return "its labels are regression targets, which only host batches hold";
  if (bytes > most) {
    return `the dataset takes ${mib(bytes)}, more than one storage buffer of this device holds (${mib(most)})`;
  }
  if (batch > mostRows) {
    return `a batch of ${batch} samples is more than the device path takes (at most ${mostRows})`;
  }
  if (l.maxStorageBuffersPerShaderStage < 4) return "the device has fewer than 4 storage buffers";
  return undefined;
}

/** `NNC_FEED`, where a `process` exists. */
function feedSetting(): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.NNC_FEED;
}

/** Uploads `ds` (inputs as stored, then labels) into one storage buffer. */
export function uploadDataset(nnc: NncDevice, ds: Dataset): DeviceData {
  const bytes = ds.inputs instanceof Uint8Array;
  const values = ds.count * sampleSize(ds);
  const imageWords = bytes ? Math.ceil(values / 4) : values;
  const size = deviceDataBytes(ds);
  const buffer = nnc.device.createBuffer({
    label: `nnc dataset ${ds.source}`,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  const mapped = buffer.getMappedRange();
  if (bytes) new Uint8Array(mapped, 0, values).set(ds.inputs as Uint8Array);
  else new Float32Array(mapped, 0, values).set(ds.inputs as Float32Array);
  new Uint32Array(mapped, imageWords * 4, ds.count).set(ds.labels);
  buffer.unmap();
  return { dataset: ds, buffer, bytes, labelsAt: imageWords };
}

/** Invocations per sample in the gather (a row of MNIST is 196 words). */
const ROW_WORKGROUP = 64;

/**
 * The gather kernel for one target and storage kind: one workgroup per batch row, its
 * invocations striding over the row (a word of four bytes each when a sample is a whole number
 * of words), then over its one-hot labels; the rest of a partial batch is zero. With `augment`
 * (and a range that changes anything) every input value is the bilinear sample of its source
 * image under the sample's drawn transform (runtime/augment.ts) instead of its copy.
 */
export function gatherWgsl(t: FeedTarget, bytes: boolean, augment?: AugmentSpec): string {
  const { batch, per, classes } = t;
  const aug = augment && augments(augment.ranges) ? augment : undefined;
  const words = bytes && per % 4 === 0 && !aug;
  const load = bytes
    ? `v = f32((data[e >> 2u] >> ((e & 3u) * 8u)) & 255u) * ${BYTE_SCALE}f;`
    : "v = bitcast<f32>(data[e]);";
  const value = words
    ? "v = nnc_feed_bytes(data[s * PER + k]);"
    : aug
      ? "v = augmented(s * PER, r, k);"
      : `let e = s * PER + k;
      ${load}`;
  const stepType = t.step?.dtype === "i32" ? "i32" : "f32";
  const type = words ? "vec4<f32>" : "f32";
  return `${feedDecls(batch, 1)}
@group(0) @binding(0) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<${type}>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${t.step ? `@group(0) @binding(4) var<storage, read_write> step: array<${stepType}>;` : ""}

const B: u32 = ${batch}u;
const PER: u32 = ${words ? per / 4 : per}u;
const CLASSES: u32 = ${classes}u;
${aug ? augmenter().wgsl(aug, load) : ""}
@compute @workgroup_size(${ROW_WORKGROUP})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let r = wid.x + wid.y * groups.x;
  if (r >= B) {
    return;
  }
  let valid = r < nnc_feed.count;
  let s = nnc_feed_row(r);
  for (var k = lid; k < PER; k += ${ROW_WORKGROUP}u) {
    var v = ${type}(0.0);
    if (valid) {
      ${value}
    }
    x[r * PER + k] = v;
  }
  for (var c = lid; c < CLASSES; c += ${ROW_WORKGROUP}u) {
    var v = 0.0;
    if (valid && data[nnc_feed.labels + s] == c) {
      v = 1.0;
    }
    y[r * CLASSES + c] = v;
  }
  ${t.step ? `if (r == 0u && lid == 0u) { step[0] = ${stepType}(nnc_feed.step); }` : ""}
}
`;
}

/**
 * Fills plans' inputs from a resident dataset. One per (plan, dataset): `setOrder` once per
 * epoch, then per batch `record`, and the plans' executors record with `swapsFor`.
 */
export class Feeder {
  private order = new Uint32Array(0) as Uint32Array;
  private readonly values: Uint32Array;
  /** The step counter as the plan's step input holds it, for the fused feed's write. */
  private readonly stepValue: Float32Array | Int32Array;

  private constructor(
    private readonly nnc: NncDevice,
    readonly data: DeviceData,
    readonly target: FeedTarget,
    private readonly params: GPUBuffer,
    /** The gather kernel, or null when the plans' kernels read the dataset themselves. */
    private readonly gather: {
      readonly pipeline: GPUComputePipeline;
      readonly bindGroup: GPUBindGroup;
      readonly groups: readonly [number, number];
    } | null,
    private readonly swaps: ReadonlyMap<Executor, KernelSwaps>,
    seed: number,
  ) {
    this.values = new Uint32Array(params.size / 4);
    this.values[1] = data.labelsAt;
    this.values[3] = seed >>> 0;
    this.stepValue = target.step?.dtype === "i32" ? new Int32Array(1) : new Float32Array(1);
  }

  /**
   * The feed of `target` from `data`: the gather fused into the kernels of `readers` that read
   * the batch where every one of them can be rewritten and the batch is not augmented; else,
   * or with no `readers`, the gather kernel, which augments every sample it writes with
   * `augment`. `NNC_FEED=gather` asks for the gather kernel.
   */
  static async create(
    nnc: NncDevice,
    data: DeviceData,
    target: FeedTarget,
    readers: readonly Executor[],
    augment?: AugmentSpec,
  ): Promise<Feeder> {
    const device = nnc.device;
    const params = device.createBuffer({
      label: "nnc feed",
      size: feedParamsBytes(target.batch),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const seed = augment?.seed ?? 0;
    try {
      const augmenting = augment !== undefined && augments(augment.ranges);
      if (readers.length > 0 && feedSetting() !== "gather" && !augmenting) {
        // A WebGPU implementation that rejects a rewritten kernel still trains, through the
        // gather kernel (the tests check that llvmpipe takes the fused path).
        const swaps = await fusedSwaps(nnc, data, target, readers, params).catch(() => null);
        if (swaps) return new Feeder(nnc, data, target, params, null, swaps, seed);
      }
      const code = gatherWgsl(target, data.bytes, augment);
      const module = device.createShaderModule({ label: "nnc gather", code });
      const pipeline = await device.createComputePipelineAsync({
        label: "nnc gather",
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      const buffers = [data.buffer, params, target.x, target.y];
      if (target.step) buffers.push(target.step.buffer);
      const bindGroup = device.createBindGroup({
        label: "nnc gather",
        layout: pipeline.getBindGroupLayout(0),
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      // A workgroup per sample.
      const gx = Math.min(target.batch, nnc.limits.maxComputeWorkgroupsPerDimension);
      const gather = { pipeline, bindGroup, groups: [gx, Math.ceil(target.batch / gx)] as const };
      return new Feeder(nnc, data, target, params, gather, new Map(), seed);
    } catch (e) {
      params.destroy();
      throw e;
    }
  }

  /** Keeps the sample order of the coming epoch (indices into the dataset). */
  setOrder(order: Uint32Array): void {
    this.order = order;
  }

  /**
   * Makes the batch of samples `order[offset, offset + count)` (the rest of the batch is zero)
   * with step counter `step` the one the next recorded kernels read. Writes the parameters
   * now, so submit `encoder` before recording the next batch.
   */
  record(encoder: GPUCommandEncoder, offset: number, count: number, step = 0): void {
    const { queue } = this.nnc.device;
    const v = this.values;
    v[0] = count;
    v[2] = step;
    for (let i = 0; i < count; i++) v[4 + 4 * i] = this.order[offset + i]!;
    queue.writeBuffer(this.params, 0, v, 0, 4 + 4 * count);
    const g = this.gather;
    if (g) {
      const pass = encoder.beginComputePass({ label: "nnc gather" });
      pass.setPipeline(g.pipeline);
      pass.setBindGroup(0, g.bindGroup);
      pass.dispatchWorkgroups(g.groups[0], g.groups[1]);
      pass.end();
    } else if (this.target.step) {
      this.stepValue[0] = step;
      queue.writeBuffer(this.target.step.buffer, 0, this.stepValue);
    }
  }

  /** The kernels `executor` must record in place of its own (see Executor.record). */
  swapsFor(executor: Executor): KernelSwaps | undefined {
    return this.swaps.get(executor);
  }

  /** Frees the uniform (the dataset's buffer belongs to its owner). */
  dispose(): void {
    this.params.destroy();
  }
}

/**
 * The kernels of `readers` that read `target`, rewritten to read `data` through the uniform
 * `params` (runtime/feed-fusion.ts) and compiled, by executor and kernel index; null where one
 * of them cannot be rewritten.
 */
async function fusedSwaps(
  nnc: NncDevice,
  data: DeviceData,
  target: FeedTarget,
  readers: readonly Executor[],
  params: GPUBuffer,
): Promise<Map<Executor, Map<number, KernelSwap>> | null> {
  const device = nnc.device;
  const swaps = new Map<Executor, Map<number, KernelSwap>>();
  for (const ex of readers) {
    const map = new Map<number, KernelSwap>();
    for (const [index, kernel] of ex.plan.kernels.entries()) {
      const buffers = kernel.bindings.map((b) => ex.bufferAt(b.buffer));
      const reads = (buffer: GPUBuffer) =>
        kernel.bindings.filter((_, k) => buffers[k] === buffer).map((b) => b.binding);
      const x = reads(target.x);
      const y = reads(target.y);
      if (x.length + y.length === 0) continue;
      const fused = fuseFeedReads(kernel, { x, y }, { ...target, bytes: data.bytes });
      if (!fused) return null;
      // The rewritten bindings read the dataset; the new last one is the uniform.
      const feed = (b: GPUBuffer) => (b === target.x || b === target.y ? data.buffer : b);
      const bindGroup = device.createBindGroup({
        label: fused.name,
        layout: layoutFor(device, fused),
        entries: fused.bindings.map((b, k) => ({
          binding: b.binding,
          resource: { buffer: buffers[k] ? feed(buffers[k]) : params },
        })),
      });
      map.set(index, { name: fused.name, pipeline: await pipelineFor(nnc, fused), bindGroup });
    }
    swaps.set(ex, map);
  }
  return swaps;
}
