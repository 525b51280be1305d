/**
 * @file Training data on the device. A dataset is uploaded once, as it is stored (bytes packed
 * four to a word, or f32), with its labels; each epoch's shuffled order is one more upload.
 * Then every step's batch is made on the device by one gather kernel recorded at the head of
 * the step's command buffer: it picks the batch's samples through the order, normalises bytes
 * through a 256-entry constant table in the shader (the same f32 values the host path computes,
 * so both paths train bit for bit alike; llvmpipe looks a constant array up several times faster
 * than a uniform one), writes the one-hot labels and the step counter. The only per-step host
 * write is a 16-byte parameter block (which batch, how many samples, which step). A training
 * feeder may also augment: each sample is then resampled under its own random transform drawn
 * from (seed, step, row) by the kernel itself (runtime/augment.ts), as the host Batcher does.
 *
 * Datasets that do not fit one storage binding of the device fall back to the host path
 * (runtime/data/dataset.ts Batcher), as does a device with fewer storage bindings than the
 * kernel needs. No Node imports: browsers use this too.
 */
import { augments, augmentWgslDecls, type AugmentSpec } from "./augment.js";
import { BYTE_TABLE, sampleSize, type Dataset } from "./data/dataset.js";
import type { NncDevice } from "./device-core.js";
import type { PlanDType } from "./plan.js";

/** Where a gather writes: the plan's input buffers and their sizes. */
export interface FeedTarget {
  /** Samples per batch (the plan's batch size). */
  readonly batch: number;
  /** Values per sample of the model's input. */
  readonly per: number;
  /** Columns of the one-hot label input. */
  readonly classes: number;
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

const PARAMS_BYTES = 16;
const WORKGROUP = 256;
/** Invocations per sample in the plain gather (a row of MNIST is 196 words). */
const ROW_WORKGROUP = 64;

/**
 * The host's byte values (BYTE_TABLE, b / 255) as a WGSL constant array, with `lut` to look
 * one up. Each literal is the shortest decimal that reads back as exactly that f32.
 */
const BYTE_VALUES = `const BYTE_VALUES = array<f32, 256>(${Array.from(BYTE_TABLE, (v) => {
  const t = String(v);
  return /[.e]/.test(t) ? t : `${t}.0`;
}).join(", ")});

fn lut(b: u32) -> f32 {
  return BYTE_VALUES[b];
}
`;

/** Bytes the device copy of `ds` takes. */
export function deviceDataBytes(ds: Dataset): number {
  const values = ds.count * sampleSize(ds);
  const imageWords = ds.inputs instanceof Uint8Array ? Math.ceil(values / 4) : values;
  return (imageWords + ds.count) * 4;
}

/**
 * Whether `ds` can be trained from the device on `nnc`: its copy fits one storage binding and
 * the gather kernel's six storage buffers fit the stage's limit. `NNC_FEED=host` says no.
 */
export function canFeedFromDevice(nnc: NncDevice, ds: Dataset): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  if (env?.NNC_FEED === "host") return false;
  const bytes = deviceDataBytes(ds);
  const l = nnc.limits;
  return (
    ds.count > 0 &&
    bytes <= l.maxStorageBufferBindingSize &&
    bytes <= l.maxBufferSize &&
    l.maxStorageBuffersPerShaderStage >= 5
  );
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

/**
 * The gather kernel for one target and storage kind. The parameter uniform is: offset into the
 * order, valid samples, step counter, then a u32 that is the augmentation seed when `augment`
 * is given (unused padding otherwise). Bytes become f32 through `BYTE_VALUES`. With
 * `augment` (and a range that changes anything) every input value is the bilinear sample of
 * its source image under the sample's drawn transform (runtime/augment.ts); without it the
 * kernel is the plain copy.
 */
export function gatherWgsl(
  t: FeedTarget,
  bytes: boolean,
  labelsAt: number,
  augment?: AugmentSpec,
): string {
  const { batch, per, classes } = t;
  const stepType = t.step?.dtype === "i32" ? "i32" : "f32";
  const aug = augment && augments(augment.ranges) ? augment : undefined;
  const load = bytes
    ? `let w = data[e >> 2u];
      let b = (w >> ((e & 3u) * 8u)) & 255u;
      v = lut(b);`
    : `v = bitcast<f32>(data[e]);`;
  const sample = aug
    ? `v = augmented(order[params.offset + r] * PER, r, i - r * PER);`
    : `let e = order[params.offset + r] * PER + (i - r * PER);
      ${load}`;
  if (!aug) return plainGatherWgsl(t, bytes, labelsAt);
  const header = `, augmented ${aug.height}x${aug.width}x${aug.channels}`;
  return `// nnc gather: batch ${batch} x ${per} values, ${classes} classes, ${bytes ? "bytes" : "f32"}${header}
struct Params {
  offset: u32,
  count: u32,
  step: u32,
  ${aug ? "seed" : "pad"}: u32,
}
${BYTE_VALUES}
@group(0) @binding(0) var<storage, read> data: array<u32>;
@group(0) @binding(1) var<storage, read> order: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
${t.step ? `@group(0) @binding(5) var<storage, read_write> step: array<${stepType}>;` : ""}

const B: u32 = ${batch}u;
const PER: u32 = ${per}u;
const CLASSES: u32 = ${classes}u;
const LABELS: u32 = ${labelsAt}u;
${aug ? `\n${augmentWgslDecls(aug, load)}` : ""}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ${WORKGROUP}u;
  if (i < B * PER) {
    let r = i / PER;
    var v = 0.0;
    if (r < params.count) {
      ${sample}
    }
    x[i] = v;
  } else if (i < B * PER + B * CLASSES) {
    let j = i - B * PER;
    let r = j / CLASSES;
    var v = 0.0;
    if (r < params.count && data[LABELS + order[params.offset + r]] == j - r * CLASSES) {
      v = 1.0;
    }
    y[j] = v;
  }
  ${t.step ? `if (i == 0u) { step[0] = ${stepType}(params.step); }` : ""}
}
`;
}

/**
 * The gather without augmentation: one workgroup per batch row, its invocations striding over
 * the row (a word of four bytes each when a sample is a whole number of words), so a batch is
 * `batch` workgroups instead of one invocation per value. Values are the table's, as on the
 * host; the rest of a partial batch is zero.
 */
function plainGatherWgsl(t: FeedTarget, bytes: boolean, labelsAt: number): string {
  const { batch, per, classes } = t;
  const stepType = t.step?.dtype === "i32" ? "i32" : "f32";
  const words = bytes && per % 4 === 0;
  const inputs = words
    ? `for (var w = lid; w < PER / 4u; w += ${ROW_WORKGROUP}u) {
    var v = vec4<f32>(0.0);
    if (valid) {
      let word = data[s * (PER / 4u) + w];
      v = vec4<f32>(lut(word & 255u), lut((word >> 8u) & 255u), lut((word >> 16u) & 255u), lut(word >> 24u));
    }
    x[r * (PER / 4u) + w] = v;
  }`
    : `for (var k = lid; k < PER; k += ${ROW_WORKGROUP}u) {
    var v = 0.0;
    if (valid) {
      let e = s * PER + k;
      ${bytes ? "v = lut((data[e >> 2u] >> ((e & 3u) * 8u)) & 255u);" : "v = bitcast<f32>(data[e]);"}
    }
    x[r * PER + k] = v;
  }`;
  return `// nnc gather: batch ${batch} x ${per} values, ${classes} classes, ${bytes ? "bytes" : "f32"}, a workgroup per sample
struct Params {
  offset: u32,
  count: u32,
  step: u32,
  pad: u32,
}
${BYTE_VALUES}
@group(0) @binding(0) var<storage, read> data: array<u32>;
@group(0) @binding(1) var<storage, read> order: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> x: array<${words ? "vec4<f32>" : "f32"}>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
${t.step ? `@group(0) @binding(5) var<storage, read_write> step: array<${stepType}>;` : ""}

const B: u32 = ${batch}u;
const PER: u32 = ${per}u;
const CLASSES: u32 = ${classes}u;
const LABELS: u32 = ${labelsAt}u;


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
  let valid = r < params.count;
  var s = 0u;
  if (valid) {
    s = order[params.offset + r];
  }
  ${inputs}
  for (var c = lid; c < CLASSES; c += ${ROW_WORKGROUP}u) {
    var v = 0.0;
    if (valid && data[LABELS + s] == c) {
      v = 1.0;
    }
    y[r * CLASSES + c] = v;
  }
  ${t.step ? `if (r == 0u && lid == 0u) { step[0] = ${stepType}(params.step); }` : ""}
}
`;
}

/**
 * Fills one plan's inputs from a resident dataset. One per (plan, dataset): `setOrder` once per
 * epoch, then `record` per batch.
 */
export class Feeder {
  private readonly params: GPUBuffer;
  private readonly order: GPUBuffer;
  private readonly bindGroup: GPUBindGroup;
  private readonly values = new ArrayBuffer(PARAMS_BYTES);
  private readonly groups: [number, number];

  private constructor(
    private readonly nnc: NncDevice,
    readonly data: DeviceData,
    readonly target: FeedTarget,
    private readonly pipeline: GPUComputePipeline,
    /** The augmentation of training batches, when the plan's batches are augmented. */
    readonly augment?: AugmentSpec,
  ) {
    const device = nnc.device;
    this.params = device.createBuffer({
      label: "nnc gather params",
      size: PARAMS_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.order = device.createBuffer({
      label: "nnc gather order",
      size: Math.max(4, data.dataset.count * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    new Uint32Array(this.values, 12, 1)[0] = (augment?.seed ?? 0) >>> 0;
    device.queue.writeBuffer(this.params, 0, this.values, 0, PARAMS_BYTES);
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: data.buffer } },
      { binding: 1, resource: { buffer: this.order } },
      { binding: 2, resource: { buffer: this.params } },
      { binding: 3, resource: { buffer: target.x } },
      { binding: 4, resource: { buffer: target.y } },
    ];
    if (target.step) entries.push({ binding: 5, resource: { buffer: target.step.buffer } });
    this.bindGroup = device.createBindGroup({
      label: "nnc gather",
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    // The plain gather runs a workgroup per sample; the augmented one an invocation per value.
    const total =
      augment !== undefined && augments(augment.ranges)
        ? Math.ceil((target.batch * (target.per + target.classes)) / WORKGROUP)
        : target.batch;
    const most = nnc.limits.maxComputeWorkgroupsPerDimension;
    const gx = Math.min(total, most);
    this.groups = [gx, Math.ceil(total / gx)];
  }

  /** Compiles the gather for `target`; `augment` makes it augment every sample it writes. */
  static async create(
    nnc: NncDevice,
    data: DeviceData,
    target: FeedTarget,
    augment?: AugmentSpec,
  ): Promise<Feeder> {
    const code = gatherWgsl(target, data.bytes, data.labelsAt, augment);
    const module = nnc.device.createShaderModule({ label: "nnc gather", code });
    const pipeline = await nnc.device.createComputePipelineAsync({
      label: "nnc gather",
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
    return new Feeder(nnc, data, target, pipeline, augment);
  }

  /** Uploads the sample order of the coming epoch (indices into the dataset). */
  setOrder(order: Uint32Array): void {
    this.nnc.device.queue.writeBuffer(
      this.order,
      0,
      order.buffer,
      order.byteOffset,
      order.byteLength,
    );
  }

  /**
   * Records the gather of samples `order[offset, offset + count)` (the rest of the batch is
   * zeroed) with step counter `step` into `encoder`. The parameters are written now, so
   * submit this encoder before recording the next batch.
   */
  record(encoder: GPUCommandEncoder, offset: number, count: number, step = 0): void {
    const head = new Uint32Array(this.values, 0, 4);
    head[0] = offset;
    head[1] = count;
    head[2] = step;
    this.nnc.device.queue.writeBuffer(this.params, 0, this.values, 0, 16);
    const pass = encoder.beginComputePass({ label: "nnc gather" });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(this.groups[0], this.groups[1]);
    pass.end();
  }

  /** Frees the order and parameter buffers (the dataset's buffer belongs to its owner). */
  dispose(): void {
    this.params.destroy();
    this.order.destroy();
  }
}
