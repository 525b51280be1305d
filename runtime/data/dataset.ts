/**
 * @file Datasets in memory and the helpers a training loop needs: the `Dataset` type (one
 * flat array of inputs, a per-sample shape, integer labels or regression targets), building one
 * from IDX arrays with the counts checked against each other, slicing, normalisation of bytes to [0, 1], one-hot
 * labels, a seeded PRNG (mulberry32: the same numbers in Node and browsers) with an unbiased
 * Fisher-Yates shuffle, and a `Batcher` that fills fixed-size batches into buffers it
 * allocates once, augmenting training images when asked (runtime/augment.ts). No Node
 * imports: this runs in browsers too.
 */
import type { AugmentSpec } from "../augment.js";
import { augmenter, augments } from "../augmenter.js";
import { nncError } from "../errors.js";
import { describeItems, type IdxArray } from "./idx.js";

/** Samples in memory: `inputs` holds `count` samples of `sampleShape`, row-major, back to back. */
export interface Dataset {
  /** Where it came from (file names), for messages. */
  readonly source: string;
  /** Images (bytes 0..255, normalised when batched) or features (f32). */
  readonly inputs: Uint8Array | Float32Array;
  readonly sampleShape: readonly number[];
  /** Class index of each sample, in [0, classes); all 0 for regression data (`targets`). */
  readonly labels: Uint8Array | Int32Array;
  readonly count: number;
  /** The classes; for regression data (`targets`), the values of each sample's target. */
  readonly classes: number;
  /**
   * Regression data: each sample's target, `classes` f32 values per sample, back to back. A
   * batch's label rows are these values instead of one-hot rows of `labels`.
   */
  readonly targets?: Float32Array;
  /** Names of the classes by index, when the data had names (CSV). */
  readonly classNames?: readonly string[];
}

export function sampleSize(ds: Pick<Dataset, "sampleShape">): number {
  return ds.sampleShape.reduce((a, b) => a * b, 1);
}

export interface IdxDatasetSources {
  readonly images: string;
  readonly labels: string;
}

/**
 * Pairs an IDX array of inputs (u8 or any numeric type, converted to f32) with an IDX array of
 * integer labels, checking that the counts agree and every label is a class index.
 * `sampleShape` overrides the shape per sample (same element count), e.g. [28, 28, 1].
 */
export function idxDataset(
  images: IdxArray,
  labels: IdxArray,
  sources: IdxDatasetSources,
  options: { classes?: number; sampleShape?: readonly number[] } = {},
): Dataset {
  if (labels.dims.length !== 1) {
    throw nncError(
      "NN5105",
      {
        detail: `a label file has one dimension, but this one has ${labels.dims.length} (${labels.dims.join("x")})`,
      },
      { file: sources.labels },
    );
  }
  if (labels.type === "f32" || labels.type === "f64") {
    throw nncError(
      "NN5105",
      { detail: `labels must be integers, but the file holds ${labels.type} values` },
      { file: sources.labels },
    );
  }
  const count = images.dims[0]!;
  if (labels.dims[0] !== count) {
    throw nncError(
      "NN5106",
      {
        detail: `the file holds ${labels.dims[0]} labels but ${sources.images} holds ${describeItems(images.dims)}; the counts must agree`,
      },
      { file: sources.labels },
    );
  }
  const given = options.classes;
  let maxLabel = -1;
  for (let i = 0; i < count; i++) {
    const l = labels.data[i]!;
    if (l < 0 || (given !== undefined && l >= given)) {
      const range = given === undefined ? "0 or more" : `0 to ${given - 1} (${given} classes)`;
      throw nncError(
        "NN5105",
        {
          detail: `the label of item ${i} (from 0) is ${l}, but labels are class indices ${range}`,
        },
        { file: sources.labels },
      );
    }
    if (l > maxLabel) maxLabel = l;
  }
  const classes = given ?? maxLabel + 1;
  const natural = images.dims.slice(1);
  const sampleShape = options.sampleShape ?? natural;
  const per = natural.reduce((a, b) => a * b, 1);
  if (sampleShape.reduce((a, b) => a * b, 1) !== per) {
    throw new RangeError(
      `idxDataset: sample shape [${sampleShape.join(", ")}] does not hold the ${per} elements of each item`,
    );
  }
  const inputs = images.data instanceof Uint8Array ? images.data : Float32Array.from(images.data);
  return {
    source: sources.images,
    inputs,
    sampleShape,
    labels: labels.data instanceof Uint8Array ? labels.data : Int32Array.from(labels.data),
    count,
    classes,
  };
}

/** What an integer model input (token ids) takes: whole numbers, below `below` when set. */
export interface IntegerInput {
  /** The input's name, for messages. */
  readonly name: string;
  /** Ids run from 0 to `below - 1` (the rows of the embedding table the input indexes). */
  readonly below?: number;
}

/**
 * Why `v` is no value of integer input `input` (`is not a whole number; ...`), or undefined:
 * the rest of a message that starts by naming the value and where it is.
 */
export function integerProblem(v: number, input: IntegerInput): string | undefined {
  if (!Number.isInteger(v)) return `is not a whole number; input ${input.name} takes integer ids`;
  const { below } = input;
  if (below !== undefined && (v < 0 || v >= below)) {
    return `is out of range; input ${input.name} takes ids 0 to ${below - 1}`;
  }
  return undefined;
}

/**
 * Why `v` is no value of a float input, or undefined: NaN and infinities are not (one makes
 * every output NaN), nor values beyond 32-bit floats; the rest of a message, as integerProblem's.
 */
export function floatProblem(v: number): string | undefined {
  if (!Number.isFinite(v)) return "is not a finite number";
  if (!Number.isFinite(Math.fround(v))) {
    return "is out of the range of 32-bit floats (about ±3.4e38)";
  }
  return undefined;
}

/**
 * The first value of `values` (samples of `per` values, back to back) that `problem` refuses,
 * described for a message on the file that holds them (`300 (item 0, value 2, from 0) is out
 * of range; input tokens takes ids 0 to 299`), or undefined when it refuses none.
 */
export function firstValueProblem(
  values: ArrayLike<number>,
  per: number,
  problem: (v: number) => string | undefined,
): string | undefined {
  for (let k = 0; k < values.length; k++) {
    const why = problem(values[k]!);
    if (why !== undefined) {
      return `${values[k]} (item ${Math.floor(k / per)}, value ${k % per}, from 0) ${why}`;
    }
  }
  return undefined;
}

/** Samples [start, start + count) of `ds`, sharing its memory. */
export function sliceDataset(ds: Dataset, start: number, count: number): Dataset {
  const begin = Math.max(0, Math.min(start, ds.count));
  const end = Math.max(begin, Math.min(begin + count, ds.count));
  const per = sampleSize(ds);
  return {
    ...ds,
    inputs: ds.inputs.subarray(begin * per, end * per),
    labels: ds.labels.subarray(begin, end),
    ...(ds.targets ? { targets: ds.targets.subarray(begin * ds.classes, end * ds.classes) } : {}),
    count: end - begin,
  };
}

/** Bytes 0..255 to f32 in [0, 1]; f32 inputs are returned as they are. */
export function normalize(ds: Dataset): Dataset {
  if (ds.inputs instanceof Float32Array) return ds;
  return { ...ds, inputs: bytesToUnit(ds.inputs) };
}

/** `out[i]` = the f32 value of byte `bytes[i]` (BYTE_TABLE). */
export function bytesToUnit(bytes: Uint8Array, out = new Float32Array(bytes.length)): Float32Array {
  for (let i = 0; i < bytes.length; i++) out[i] = BYTE_TABLE[bytes[i]!]!;
  return out;
}

/** One row of `classes` per label, 1 at the label's index. Rows past `labels.length` are zeroed. */
export function oneHot(
  labels: ArrayLike<number>,
  classes: number,
  out = new Float32Array(labels.length * classes),
): Float32Array {
  out.fill(0);
  for (let i = 0; i < labels.length; i++) out[i * classes + labels[i]!] = 1;
  return out;
}

/** mulberry32: a tiny 32-bit PRNG; each call returns the next u32. Same sequence everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A uniform integer in [0, n) from a u32 source, without modulo bias (n <= 2^32). */
export function randomBelow(next: () => number, n: number): number {
  const limit = 0x100000000 - (0x100000000 % n);
  for (;;) {
    const u = next();
    if (u < limit) return u % n;
  }
}

/** Mixes a seed and an epoch into one u32 seed (the splitmix32 finaliser). */
export function mixSeed(seed: number, epoch: number): number {
  let z = (seed + Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Shuffles `order` in place (Fisher-Yates) with mulberry32(seed). */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(
  order: T,
  seed: number,
): T {
  const next = mulberry32(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomBelow(next, i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** A permutation of 0..count-1 that depends only on `seed`. */
export function permutation(
  count: number,
  seed: number,
  out: Uint32Array = new Uint32Array(count),
): Uint32Array {
  for (let i = 0; i < count; i++) out[i] = i;
  return shuffleInPlace(out, seed);
}

/** One batch; the Batcher refills the same object and buffers for every batch. */
export interface Batch {
  /** `batchSize` samples, f32 (bytes scaled to [0, 1]); rows past `count` are zero. */
  readonly x: Float32Array;
  /** One-hot labels (or regression targets), `batchSize * classes`; rows past `count` are zero. */
  readonly y: Float32Array;
  /** Class indices; entries past `count` are 0. */
  readonly labels: Int32Array;
  /** Valid samples in this batch: `batchSize`, except a kept partial last batch. */
  count: number;
  /** Index of this batch in its epoch. */
  index: number;
}

export interface BatchOptions {
  readonly batchSize: number;
  /** Shuffle each epoch (default true). */
  readonly shuffle?: boolean;
  /** Seed of the shuffle; epoch e uses mixSeed(seed, e) (default 0). */
  readonly seed?: number;
  /** Drop the last batch when it would be partial (default false: keep it, zero-padded). */
  readonly dropLast?: boolean;
  /**
   * Augment every sample (training only): the same draws and resampling as the device gather
   * (runtime/augment.ts), keyed by the step passed to `fill`.
   */
  readonly augment?: AugmentSpec;
}

/**
 * The f32 nearest 1 / 255. A byte `b` of an image is the f32 product `b * BYTE_SCALE` wherever
 * it becomes a float (host batches, the device gather, kernels that read bytes themselves): one
 * correctly rounded multiplication, which WGSL computes exactly as the host does (a division
 * may be approximate there), so every path trains on the same values.
 */
export const BYTE_SCALE = Math.fround(1 / 255);

/** The f32 value of each byte (`b * BYTE_SCALE`); the device gather's constant table. */
export const BYTE_TABLE = Float32Array.from({ length: 256 }, (_, b) => b * BYTE_SCALE);

/**
 * Cuts a dataset into fixed-size batches, epoch after epoch. Buffers are allocated once;
 * every batch it yields is the same `Batch` object, refilled, so copy what you keep.
 */
export class Batcher {
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  readonly sampleSize: number;
  readonly batch: Batch;
  private readonly order: Uint32Array;

  constructor(
    readonly dataset: Dataset,
    readonly options: BatchOptions,
  ) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`Batcher: batch size must be a positive integer, got ${batchSize}`);
    }
    this.batchSize = batchSize;
    this.sampleSize = sampleSize(dataset);
    const aug = options.augment;
    if (aug && aug.height * aug.width * aug.channels !== this.sampleSize) {
      throw new RangeError(
        `Batcher: an augmented image of ${aug.height}x${aug.width}x${aug.channels} does not hold the ${this.sampleSize} values of each sample`,
      );
    }
    this.batchesPerEpoch = options.dropLast
      ? Math.floor(dataset.count / batchSize)
      : Math.ceil(dataset.count / batchSize);
    this.order = new Uint32Array(dataset.count);
    this.batch = {
      x: new Float32Array(batchSize * this.sampleSize),
      y: new Float32Array(batchSize * dataset.classes),
      labels: new Int32Array(batchSize),
      count: 0,
      index: 0,
    };
  }

  /** The sample order of epoch `epoch` (0-based); shared buffer, valid until the next call. */
  orderFor(epoch: number): Uint32Array {
    if (this.options.shuffle === false) {
      for (let i = 0; i < this.order.length; i++) this.order[i] = i;
      return this.order;
    }
    return permutation(this.dataset.count, mixSeed(this.options.seed ?? 0, epoch), this.order);
  }

  /**
   * Fills `this.batch` with batch `index` of the given order. With `augment` set, `step` (the
   * 1-based training step this batch feeds) keys each sample's random transform.
   */
  fill(order: Uint32Array, index: number, step = 0): Batch {
    const { dataset, batchSize, sampleSize: per, batch } = this;
    const classes = dataset.classes;
    const start = index * batchSize;
    const count = Math.max(0, Math.min(batchSize, dataset.count - start));
    const { x, y, labels } = batch;
    const { inputs, targets } = dataset;
    const bytes = inputs instanceof Uint8Array;
    const aug = this.options.augment;
    const augment = aug && augments(aug.ranges) ? aug : undefined;
    const value = bytes ? (k: number) => BYTE_TABLE[inputs[k]!]! : (k: number) => inputs[k]!;
    y.fill(0);
    for (let r = 0; r < count; r++) {
      const s = order[start + r]!;
      const src = s * per;
      const dst = r * per;
      if (augment) {
        augmenter().warp(augment, step, r, value, src, x, dst);
      } else if (bytes) {
        for (let k = 0; k < per; k++) x[dst + k] = BYTE_TABLE[inputs[src + k]!]!;
      } else {
        x.set(inputs.subarray(src, src + per), dst);
      }
      const label = dataset.labels[s]!;
      labels[r] = label;
      if (targets) y.set(targets.subarray(s * classes, (s + 1) * classes), r * classes);
      else y[r * classes + label] = 1;
    }
    if (count < batchSize) {
      x.fill(0, count * per);
      labels.fill(0, count);
    }
    batch.count = count;
    batch.index = index;
    return batch;
  }

  /**
   * The batches of epoch `epoch` (0-based), in order; each is `this.batch`, refilled. Batch b
   * counts as step `epoch * batchesPerEpoch + b + 1` for augmentation.
   */
  *epoch(epoch: number): Generator<Batch, void, undefined> {
    const order = this.orderFor(epoch);
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      yield this.fill(order, b, epoch * this.batchesPerEpoch + b + 1);
    }
  }
}
