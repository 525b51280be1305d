/**
 * @file The IDX format (MNIST's): two zero bytes, an element type byte, a rank byte, one
 * big-endian u32 per dimension, then the elements big-endian in row-major order. `parseIdx`
 * validates every part against the byte length before it allocates anything and names the
 * file in each error; gzip input is recognised by its magic bytes and decompressed by an
 * injected `gunzip` (node:zlib in Node, see node.ts), so this module runs in browsers too.
 * `encodeIdx` writes the format, for tests and fixtures.
 */
import { fileError } from "../file-errors.js";

export type IdxType = "u8" | "i8" | "i16" | "i32" | "f32" | "f64";

export type IdxData =
  Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  readonly type: IdxType;
  /** All dimensions, the item count first. */
  readonly dims: readonly number[];
  readonly data: IdxData;
}

const typeByCode: Readonly<Record<number, IdxType>> = {
  0x08: "u8",
  0x09: "i8",
  0x0b: "i16",
  0x0c: "i32",
  0x0d: "f32",
  0x0e: "f64",
};

const codeByType: { readonly [K in IdxType]: number } = {
  u8: 0x08,
  i8: 0x09,
  i16: 0x0b,
  i32: 0x0c,
  f32: 0x0d,
  f64: 0x0e,
};

export const idxElementBytes: { readonly [K in IdxType]: number } = {
  u8: 1,
  i8: 1,
  i16: 2,
  i32: 4,
  f32: 4,
  f64: 8,
};

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export interface IdxHeader {
  readonly type: IdxType;
  readonly dims: readonly number[];
  /** Header length in bytes (4 + 4 * rank). */
  readonly headerBytes: number;
  /** The data length the header promises (may exceed 2^53 for hostile headers: then Infinity). */
  readonly dataBytes: number;
}

export interface IdxParseOptions {
  /** Decompresses gzip input; without it, gzip input is an error. */
  readonly gunzip?: (bytes: Uint8Array) => Uint8Array;
  /** What the items are called in messages ("images", "labels"); by default from the rank. */
  readonly noun?: string;
  /** Keep only the first `limit` items (the byte length is still checked in full). */
  readonly limit?: number;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0").toUpperCase();
}

/** "60000 images of 28x28", "60000 labels". */
export function describeItems(dims: readonly number[], noun?: string): string {
  const rank = dims.length;
  const what = noun ?? (rank === 1 ? "labels" : rank === 3 ? "images" : "items");
  const rest = dims.slice(1);
  return rest.length === 0 ? `${dims[0]} ${what}` : `${dims[0]} ${what} of ${rest.join("x")}`;
}

/**
 * Reads and checks the header at the start of `bytes` (which may be only the header's prefix
 * of a larger file whose total length is `fileBytes`).
 */
export function parseIdxHeader(
  bytes: Uint8Array,
  source: string,
  fileBytes: number = bytes.length,
  noun?: string,
): IdxHeader {
  const at = { file: source };
  if (fileBytes < 4) {
    throw fileError(
      "NN5101",
      { detail: `the file holds ${fileBytes} bytes, fewer than the 4 magic bytes` },
      at,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const found = [...bytes.subarray(0, 4)].map(hex2).join(" ");
    throw fileError(
      "NN5101",
      {
        detail: `the magic bytes are ${found}, but an IDX file starts with 00 00, a type byte and a rank`,
      },
      at,
    );
  }
  const type = typeByCode[bytes[2]!];
  if (type === undefined) throw fileError("NN5102", { type: hex2(bytes[2]!) }, at);
  const rank = bytes[3]!;
  if (rank === 0) {
    throw fileError(
      "NN5101",
      { detail: "the rank byte is 0; an IDX file has at least one dimension" },
      at,
    );
  }
  const headerBytes = 4 + 4 * rank;
  if (fileBytes < headerBytes) {
    throw fileError(
      "NN5103",
      { size: fileBytes, rank, need: `${headerBytes} (4 + 4 per dimension)` },
      at,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const dataBytes = count * idxElementBytes[type];
  const actual = fileBytes - headerBytes;
  if (dataBytes !== actual) {
    throw fileError("NN5104", { items: describeItems(dims, noun), bytes: dataBytes, actual }, at);
  }
  return { type, dims, headerBytes, dataBytes };
}

/** Copies big-endian elements into a fresh typed array. */
export function decodeIdxElements(type: IdxType, bytes: Uint8Array, count: number): IdxData {
  switch (type) {
    case "u8":
      return bytes.slice(0, count);
    case "i8":
      return new Int8Array(bytes.slice(0, count).buffer);
  }
  const size = idxElementBytes[type];
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * size);
  switch (type) {
    case "i16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case "i32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case "f32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case "f64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}

/** Parses a whole IDX file (raw, or gzip when `options.gunzip` is given). */
export function parseIdx(
  bytes: Uint8Array,
  source: string,
  options: IdxParseOptions = {},
): IdxArray {
  let raw = bytes;
  if (isGzip(bytes)) {
    if (!options.gunzip) {
      throw fileError(
        "NN5107",
        { reason: "this is gzip data and no decompressor was given (use readIdxFile in Node)" },
        { file: source },
      );
    }
    raw = options.gunzip(bytes);
  }
  const header = parseIdxHeader(raw, source, raw.length, options.noun);
  const dims = [...header.dims];
  if (options.limit !== undefined && options.limit < dims[0]!) dims[0] = Math.max(0, options.limit);
  const count = dims.reduce((a, b) => a * b, 1);
  return {
    type: header.type,
    dims,
    data: decodeIdxElements(header.type, raw.subarray(header.headerBytes), count),
  };
}

/** Writes an IDX file (no compression). `dims` must multiply to `data.length`. */
export function encodeIdx(
  type: IdxType,
  dims: readonly number[],
  data: ArrayLike<number>,
): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(
      `encodeIdx: dims ${dims.join("x")} hold ${count} elements, data has ${data.length}`,
    );
  }
  const header = 4 + 4 * dims.length;
  const size = idxElementBytes[type];
  const out = new Uint8Array(header + count * size);
  const view = new DataView(out.buffer);
  out[2] = codeByType[type];
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const o = header + i * size;
    const v = data[i]!;
    switch (type) {
      case "u8":
        view.setUint8(o, v);
        break;
      case "i8":
        view.setInt8(o, v);
        break;
      case "i16":
        view.setInt16(o, v, false);
        break;
      case "i32":
        view.setInt32(o, v, false);
        break;
      case "f32":
        view.setFloat32(o, v, false);
        break;
      case "f64":
        view.setFloat64(o, v, false);
        break;
    }
  }
  return out;
}
