/**
 * @file safetensors checkpoints on bytes, exactly per the format: a u64 little-endian header
 * length N, N bytes of UTF-8 JSON (an object mapping tensor names to
 * `{dtype, shape, data_offsets: [begin, end]}` plus an optional `__metadata__` object of
 * strings), padded with spaces so the data starts 8-byte aligned, then the tensors'
 * little-endian bytes back to back, offsets relative to the start of the data. The decoder
 * trusts nothing: it checks the header length against the file before it allocates, then
 * UTF-8, JSON, every field, sizes, bounds, overlaps, gaps and duplicate names, and (given the
 * tensors a model expects) missing, unexpected and mis-shaped tensors, naming the file in every
 * error. No Node imports; checkpoint-node.ts adds atomic file writes and reads.
 */
import { nncError } from "./errors.js";

export type TensorDType = "F32" | "I32";

export interface NamedTensor {
  readonly name: string;
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

export interface ExpectedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype?: TensorDType;
}

export interface Checkpoint {
  readonly tensors: readonly NamedTensor[];
  readonly metadata: Readonly<Record<string, string>>;
}

/** Byte sizes of every dtype safetensors defines; nnc reads F32 and I32. */
const dtypeBytes: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Little-endian bytes of a 4-byte typed array (a copy). */
function toLittleEndian(data: Float32Array | Int32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (!littleEndianHost) {
    for (let i = 0; i < bytes.length; i += 4) {
      [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]] = [
        bytes[i + 3]!,
        bytes[i + 2]!,
        bytes[i + 1]!,
        bytes[i]!,
      ];
    }
  }
  return bytes;
}

/** Encodes tensors (in the order given) and string metadata as a safetensors file. */
export function encodeSafetensors(
  tensors: readonly NamedTensor[],
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name) || t.name === "__metadata__") {
      throw new RangeError(`encodeSafetensors: tensor name ${t.name} is used twice or reserved`);
    }
    names.add(t.name);
    if (elements(t.shape) !== t.data.length) {
      throw new RangeError(
        `encodeSafetensors: tensor ${t.name} has shape ${shapeText(t.shape)} (${elements(t.shape)} elements) but ${t.data.length} values`,
      );
    }
    const expectedArray = t.dtype === "F32" ? Float32Array : Int32Array;
    if (!(t.data instanceof expectedArray)) {
      throw new RangeError(
        `encodeSafetensors: tensor ${t.name} is ${t.dtype} but its data is not a ${expectedArray.name}`,
      );
    }
    header[t.name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const t of tensors) {
    out.set(toLittleEndian(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * The key strings of the top-level object of valid JSON text, in order, duplicates included
 * (JSON.parse keeps only the last of duplicate keys, so they must be found in the text).
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth === 1) {
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text[j] === ":") keys.push(JSON.parse(text.slice(start, i + 1)) as string);
      }
    }
  }
  return keys;
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : JSON.stringify(v);
}

interface Entry {
  readonly name: string;
  readonly dtype: TensorDType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

/**
 * Decodes and validates a safetensors file. `source` names it in errors. With `expected`, the
 * file must hold exactly those tensors with those shapes (and dtypes, when given); the result
 * then lists the tensors in the expected order, otherwise in file order. With `model` too, a
 * multi-step run's file, which names every model's tensors `<Model>/<name>`, loads the tensors
 * of that model and ignores the other models'.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = "<bytes>",
  expected?: readonly ExpectedTensor[],
  model?: string,
): Checkpoint {
  const at = { file: source };
  const size = bytes.length;
  if (size < 8) {
    throw nncError(
      "NN5401",
      {
        detail: `the file holds ${size} bytes, fewer than the 8-byte header length of a safetensors file`,
      },
      at,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(size - 8)) {
    throw nncError(
      "NN5401",
      {
        detail: `the header length field says ${n} bytes, but the file holds only ${size - 8} bytes after it; this is not a safetensors file, or it is truncated`,
      },
      at,
    );
  }
  const headerBytes = Number(n);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes));
  } catch {
    throw nncError("NN5402", { detail: "it is not valid UTF-8" }, at);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw nncError(
      "NN5402",
      { detail: `it is not valid JSON (${e instanceof Error ? e.message : String(e)})` },
      at,
    );
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw nncError("NN5402", { detail: `it is ${describe(header)}, not a JSON object` }, at);
  }
  const seen = new Set<string>();
  for (const key of topLevelKeys(text)) {
    if (seen.has(key)) {
      throw nncError("NN5402", { detail: `the name ${key} appears twice` }, at);
    }
    seen.add(key);
  }
  const record = header as Record<string, unknown>;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  const dataBytes = size - 8 - headerBytes;
  for (const [name, value] of Object.entries(record)) {
    if (name === "__metadata__") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw nncError(
          "NN5402",
          { detail: `__metadata__ is ${describe(value)}, not an object of strings` },
          at,
        );
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") {
          throw nncError(
            "NN5402",
            { detail: `__metadata__.${k} is ${describe(v)}, not a string` },
            at,
          );
        }
        metadata[k] = v;
      }
      continue;
    }
    const bad = (detail: string) => nncError("NN5403", { name, detail }, at);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw bad(
        `its entry is ${describe(value)}, not an object with dtype, shape and data_offsets`,
      );
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in dtypeBytes)) {
      throw bad(`unknown dtype ${describe(dtype)}`);
    }
    if (dtype !== "F32" && dtype !== "I32") {
      throw bad(`dtype ${dtype} is not supported; nnc reads F32 and I32 tensors`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      throw bad(
        `shape ${JSON.stringify(shape) ?? "(missing)"} is not a list of non-negative integers`,
      );
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
      throw bad(
        `data_offsets ${JSON.stringify(offsets) ?? "(missing)"} is not a list of two non-negative integers`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw bad(`data_offsets [${begin}, ${end}] end before they begin`);
    const want = elements(shape) * dtypeBytes[dtype]!;
    if (end - begin !== want) {
      throw bad(
        `shape ${shapeText(shape)} of ${dtype} needs ${want} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataBytes) {
      throw bad(
        `data_offsets [${begin}, ${end}] run past the end of the data (${dataBytes} bytes)`,
      );
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  // Tensors must tile the data exactly: sorted by offset, each begins where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < cursor) {
      throw nncError(
        "NN5404",
        {
          detail: `tensors ${previous!.name} and ${e.name} overlap (bytes ${e.begin} to ${Math.min(cursor, e.end)} of the data)`,
        },
        at,
      );
    }
    if (e.begin > cursor) {
      throw nncError(
        "NN5404",
        {
          detail: `bytes ${cursor} to ${e.begin} of the data belong to no tensor (a gap before ${e.name})`,
        },
        at,
      );
    }
    cursor = e.end;
    previous = e;
  }
  if (cursor !== dataBytes) {
    throw nncError(
      "NN5404",
      {
        detail: `the last ${dataBytes - cursor} bytes of the file belong to no tensor (the tensors end at data byte ${cursor} of ${dataBytes})`,
      },
      at,
    );
  }
  let ordered = entries;
  if (expected) {
    const own = `${model}/`;
    if (
      model !== undefined &&
      !entries.some((e) => e.name === expected[0]?.name) &&
      entries.some((e) => e.name.startsWith(own))
    ) {
      ordered = entries
        .filter((e) => e.name.startsWith(own))
        .map((e) => ({ ...e, name: e.name.slice(own.length) }));
    }
    const byName = new Map(ordered.map((e) => [e.name, e]));
    const wanted = new Set(expected.map((e) => e.name));
    const missing = expected.filter((e) => !byName.has(e.name)).map((e) => e.name);
    const unexpected = ordered.filter((e) => !wanted.has(e.name)).map((e) => e.name);
    if (missing.length > 0 || unexpected.length > 0) {
      const parts: string[] = [];
      if (missing.length > 0)
        parts.push(
          `the model's ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing`,
        );
      if (unexpected.length > 0)
        parts.push(
          `${unexpected.join(", ")} ${unexpected.length === 1 ? "is" : "are"} not in the model`,
        );
      throw nncError(
        "NN5406",
        {
          detail: `${parts.join("; ")}; ${
            missing.length === 0 && metadata.epoch !== undefined
              ? "it holds a training state (nnc train's .state.safetensors): load the weights file beside it"
              : "was it saved from another model?"
          }`,
        },
        at,
      );
    }
    ordered = expected.map((x) => {
      const e = byName.get(x.name)!;
      if (e.shape.length !== x.shape.length || e.shape.some((d, i) => d !== x.shape[i])) {
        throw nncError(
          "NN5405",
          { name: e.name, found: shapeText(e.shape), expected: shapeText(x.shape) },
          at,
        );
      }
      if (x.dtype !== undefined && x.dtype !== e.dtype) {
        throw nncError("NN5407", { name: e.name, found: e.dtype, expected: x.dtype }, at);
      }
      return e;
    });
  }
  const base = 8 + headerBytes;
  const tensors = ordered.map((e): NamedTensor => {
    const raw = bytes.slice(base + e.begin, base + e.end);
    if (!littleEndianHost) {
      for (let i = 0; i < raw.length; i += 4) {
        [raw[i], raw[i + 1], raw[i + 2], raw[i + 3]] = [
          raw[i + 3]!,
          raw[i + 2]!,
          raw[i + 1]!,
          raw[i]!,
        ];
      }
    }
    const data = e.dtype === "F32" ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer);
    // A run that diverged saves NaN; loaded, it would only make every output NaN.
    const k = data.findIndex((v) => !Number.isFinite(v));
    if (k >= 0) {
      throw nncError("NN5403", { name: e.name, detail: `value ${k} is ${data[k]}` }, at);
    }
    return { name: e.name, dtype: e.dtype, shape: e.shape, data };
  });
  return { tensors, metadata };
}
