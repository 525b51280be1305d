import { test } from "uvu";
import * as assert from "uvu/assert";
import { renderNncError } from "../../runtime/errors.js";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
} from "../../runtime/checkpoint.js";
import { fails } from "../util/errors.js";

/** A file with the given header text and data bytes; `length` overrides the length field. */
function file(header: string, data: ArrayLike<number> = [], length?: bigint): Uint8Array {
  const h = typeof header === "string" ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const tensors: NamedTensor[] = [
  {
    name: "dense.w",
    dtype: "F32",
    shape: [2, 3],
    data: new Float32Array([1, -2, 3.5, 0, 1e-8, -1e8]),
  },
  { name: "dense.b", dtype: "F32", shape: [3], data: new Float32Array([0.25, 0.5, 0.75]) },
  { name: "step", dtype: "I32", shape: [], data: new Int32Array([-7]) },
  { name: "empty", dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
];

test("the exact bytes of a one-tensor file", () => {
  const bytes = encodeSafetensors([
    { name: "a", dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
  ]);
  const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  // 8 + 54 = 62 bytes, padded with two spaces to 64 so the data starts 8-byte aligned.
  assert.is(json.length, 54);
  const expected = [
    ...[56, 0, 0, 0, 0, 0, 0, 0],
    ...new TextEncoder().encode(json),
    ...[0x20, 0x20],
    ...[0x00, 0x00, 0x80, 0x3f], // 1.0f little-endian
    ...[0x00, 0x00, 0x00, 0xc0], // -2.0f little-endian
  ];
  assert.equal([...bytes], expected);
});

test("round trip with metadata; the header is padded to 8 bytes with spaces", () => {
  const bytes = encodeSafetensors(tensors, { format: "nnc", model: "Mnist" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is((8 + n) % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(header, /^\{"__metadata__":\{"format":"nnc","model":"Mnist"\},"dense.w":/);
  assert.ok(/ *$/.test(header) && JSON.parse(header));
  const back = decodeSafetensors(bytes, "m.safetensors");
  assert.equal(back.metadata, { format: "nnc", model: "Mnist" });
  assert.equal(
    back.tensors.map((t) => [t.name, t.dtype, t.shape, [...t.data]]),
    tensors.map((t) => [t.name, t.dtype, t.shape, [...t.data]]),
  );
  assert.ok(back.tensors[2]!.data instanceof Int32Array);
  // Decoding does not depend on the input's alignment in memory.
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const again = decodeSafetensors(shifted.subarray(1), "m.safetensors");
  assert.equal([...again.tensors[0]!.data], [...tensors[0]!.data]);
});

test("expected tensors: order, missing, unexpected, shapes and dtypes", () => {
  const bytes = encodeSafetensors(tensors.slice(0, 2));
  const ordered = decodeSafetensors(bytes, "m.safetensors", [
    { name: "dense.b", shape: [3] },
    { name: "dense.w", shape: [2, 3], dtype: "F32" },
  ]);
  assert.equal(
    ordered.tensors.map((t) => t.name),
    ["dense.b", "dense.w"],
  );
  const shape = fails(() =>
    decodeSafetensors(bytes, "mnist.safetensors", [
      { name: "dense.w", shape: [5408, 3] },
      { name: "dense.b", shape: [3] },
    ]),
  );
  assert.is(shape.code, "NN5405");
  assert.is(
    shape.message,
    "mnist.safetensors: tensor dense.w has shape [2, 3] but the model expects [5408, 3]; was it saved from another model?",
  );
  const missing = fails(() =>
    decodeSafetensors(bytes, "m.safetensors", [
      { name: "dense.w", shape: [2, 3] },
      { name: "dense.b", shape: [3] },
      { name: "conv.w", shape: [3, 3, 1, 8] },
    ]),
  );
  assert.is(
    missing.message,
    "m.safetensors: the model's conv.w is missing; was it saved from another model?",
  );
  const extra = fails(() =>
    decodeSafetensors(bytes, "m.safetensors", [{ name: "dense.w", shape: [2, 3] }]),
  );
  assert.is(
    extra.message,
    "m.safetensors: dense.b is not in the model; was it saved from another model?",
  );
  const both = fails(() =>
    decodeSafetensors(bytes, "m.safetensors", [
      { name: "x", shape: [1] },
      { name: "y", shape: [1] },
    ]),
  );
  assert.is(
    both.message,
    "m.safetensors: the model's x, y are missing; dense.w, dense.b are not in the model; was it saved from another model?",
  );
  const dtype = fails(() =>
    decodeSafetensors(bytes, "m.safetensors", [
      { name: "dense.w", shape: [2, 3], dtype: "I32" },
      { name: "dense.b", shape: [3] },
    ]),
  );
  assert.is(dtype.message, "m.safetensors: tensor dense.w has dtype F32 but the model expects I32");
  // nnc train's state file beside the weights: what it is, and which file to load instead.
  const state = encodeSafetensors(tensors.slice(0, 2), { epoch: "1" });
  const fromState = fails(() =>
    decodeSafetensors(state, "M.state.safetensors", [{ name: "dense.w", shape: [2, 3] }]),
  );
  assert.is(
    fromState.message,
    "M.state.safetensors: dense.b is not in the model; it holds a training state (nnc train's .state.safetensors): load the weights file beside it",
  );
});

test("a multi-step run's file loads one model's <Model>/ tensors into a run of that model", () => {
  const [w, b] = tensors;
  const step = encodeSafetensors([
    { ...w!, name: "Critic/dense.w", data: new Float32Array(6) },
    { ...b!, name: "Mlp/dense.b" },
    { ...w!, name: "Mlp/dense.w" },
    { ...b!, name: "Critic/dense.b", data: new Float32Array(3) },
  ]);
  const expected = [
    { name: "dense.w", shape: [2, 3] },
    { name: "dense.b", shape: [3] },
  ];
  const loaded = decodeSafetensors(step, "gan.safetensors", expected, "Mlp").tensors;
  assert.equal(
    loaded.map((t) => [t.name, [...t.data]]),
    [
      ["dense.w", [...w!.data]],
      ["dense.b", [...b!.data]],
    ],
  );
  // Without the model's name, or for a model the file does not hold, the names do not match.
  for (const model of [undefined, "Other"]) {
    assert.is(
      fails(() => decodeSafetensors(step, "gan.safetensors", expected, model)).message,
      "gan.safetensors: the model's dense.w, dense.b are missing; Critic/dense.w, Mlp/dense.b, Mlp/dense.w, Critic/dense.b are not in the model; was it saved from another model?",
    );
  }
  // The model's tensors must still match it.
  assert.is(
    fails(() => decodeSafetensors(step, "gan.safetensors", expected.slice(0, 1), "Mlp")).message,
    "gan.safetensors: dense.b is not in the model; was it saved from another model?",
  );
  // A file of the model's own names loads as it is, even beside a tensor named like the prefix.
  const own = encodeSafetensors([...tensors.slice(0, 2), { ...b!, name: "Mlp/x" }]);
  assert.equal(
    decodeSafetensors(own, "m.safetensors", [...expected, { name: "Mlp/x", shape: [3] }], "Mlp")
      .tensors.length,
    3,
  );
});

test("hostile files: every error names the file and says what is wrong", () => {
  const e = (bytes: Uint8Array) => fails(() => decodeSafetensors(bytes, "bad.safetensors"));
  const entry = (fields: string) => `{"t":{${fields}}}`;
  const f32 = (shape: string, offsets: string) =>
    entry(`"dtype":"F32","shape":${shape},"data_offsets":${offsets}`);
  const cases: [Uint8Array, string, string][] = [
    [
      new Uint8Array(5),
      "NN5401",
      "the file holds 5 bytes, fewer than the 8-byte header length of a safetensors file",
    ],
    [
      file("{}", [1, 2], 1n << 60n),
      "NN5401",
      "the header length field says 1152921504606846976 bytes, but the file holds only 4 bytes after it; this is not a safetensors file, or it is truncated",
    ],
    [
      file("{}", [], 0xffffffffffffffffn),
      "NN5401",
      "the header length field says 18446744073709551615 bytes, but the file holds only 2 bytes after it; this is not a safetensors file, or it is truncated",
    ],
    [
      (() => {
        const b = file('{"a":1}');
        b[10] = 0xff;
        return b;
      })(),
      "NN5402",
      "checkpoint header is not valid: it is not valid UTF-8",
    ],
    [file("[1,2]"), "NN5402", "checkpoint header is not valid: it is a list, not a JSON object"],
    [file("null"), "NN5402", "checkpoint header is not valid: it is null, not a JSON object"],
    [
      file('{"t":[1]}'),
      "NN5403",
      "tensor t: its entry is a list, not an object with dtype, shape and data_offsets",
    ],
    [
      file(entry('"dtype":"F31","shape":[1],"data_offsets":[0,4]'), [0, 0, 0, 0]),
      "NN5403",
      'tensor t: unknown dtype "F31"',
    ],
    [
      file(entry('"shape":[1],"data_offsets":[0,4]'), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: unknown dtype undefined",
    ],
    [
      file(entry('"dtype":"F16","shape":[2],"data_offsets":[0,4]'), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: dtype F16 is not supported; nnc reads F32 and I32 tensors",
    ],
    [
      file(f32("[2,-1]", "[0,4]"), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: shape [2,-1] is not a list of non-negative integers",
    ],
    [
      file(f32("[1.5]", "[0,4]"), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: shape [1.5] is not a list of non-negative integers",
    ],
    [
      file(f32('"3"', "[0,4]"), [0, 0, 0, 0]),
      "NN5403",
      'tensor t: shape "3" is not a list of non-negative integers',
    ],
    [
      file(f32("[1]", "[0]"), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: data_offsets [0] is not a list of two non-negative integers",
    ],
    [
      file(f32("[1]", '[0,"4"]'), [0, 0, 0, 0]),
      "NN5403",
      'tensor t: data_offsets [0,"4"] is not a list of two non-negative integers',
    ],
    [
      file(entry('"dtype":"F32","shape":[1]'), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: data_offsets (missing) is not a list of two non-negative integers",
    ],
    [
      file(f32("[1]", "[4,0]"), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: data_offsets [4, 0] end before they begin",
    ],
    [
      file(f32("[2]", "[0,4]"), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: shape [2] of F32 needs 8 bytes, but data_offsets [0, 4] span 4",
    ],
    [
      file(f32("[2]", "[0,8]"), [0, 0, 0, 0]),
      "NN5403",
      "tensor t: data_offsets [0, 8] run past the end of the data (4 bytes)",
    ],
    [
      file(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
      "NN5404",
      "tensors a and b overlap (bytes 4 to 8 of the data)",
    ],
    [
      file(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}',
        new Uint8Array(12),
      ),
      "NN5404",
      "bytes 4 to 8 of the data belong to no tensor (a gap before b)",
    ],
    [
      file(f32("[1]", "[4,8]"), new Uint8Array(8)),
      "NN5404",
      "bytes 0 to 4 of the data belong to no tensor (a gap before t)",
    ],
    [
      file(f32("[1]", "[0,4]"), new Uint8Array(7)),
      "NN5404",
      "the last 3 bytes of the file belong to no tensor (the tensors end at data byte 4 of 7)",
    ],
    [
      file("{}", [1]),
      "NN5404",
      "the last 1 bytes of the file belong to no tensor (the tensors end at data byte 0 of 1)",
    ],
    [
      file(
        '{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
      "NN5402",
      "checkpoint header is not valid: the name t appears twice",
    ],
    [
      file(f32("[2]", "[0,8]"), [0, 0, 0, 0, 0, 0, 0xc0, 0x7f]),
      "NN5403",
      "tensor t: value 1 is NaN",
    ],
    [file(f32("[1]", "[0,4]"), [0, 0, 0x80, 0xff]), "NN5403", "tensor t: value 0 is -Infinity"],
    [
      file('{"__metadata__":{"epoch":3}}'),
      "NN5402",
      "checkpoint header is not valid: __metadata__.epoch is 3, not a string",
    ],
    [
      file('{"__metadata__":[]}'),
      "NN5402",
      "checkpoint header is not valid: __metadata__ is a list, not an object of strings",
    ],
  ];
  for (const [bytes, code, detail] of cases) {
    const err = e(bytes);
    assert.is(err.message, `bad.safetensors: ${detail}`);
    assert.is(err.code, code, detail);
    assert.is(err.file, "bad.safetensors");
    assert.is(renderNncError(err), `bad.safetensors: error ${code}: ${detail}`);
  }
});

test("invalid JSON names the file (the parser's words vary by Node version)", () => {
  const err = fails(() => decodeSafetensors(file('{"a":'), "bad.safetensors"));
  assert.is(err.code, "NN5402");
  assert.match(
    err.message,
    /^bad\.safetensors: checkpoint header is not valid: it is not valid JSON \(.+\)$/,
  );
});

test("duplicate detection reads keys, not values or nested names", () => {
  const header = '{"__metadata__":{"t":"t"},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const ok = decodeSafetensors(file(header, [0, 0, 0x80, 0x3f]), "ok");
  assert.equal([...ok.tensors[0]!.data], [1]);
  const escaped = '{"a\\"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  assert.is(decodeSafetensors(file(escaped, [0, 0, 0, 0]), "ok").tensors[0]!.name, 'a"b');
});

test("the encoder refuses inconsistent tensors", () => {
  assert.throws(
    () => encodeSafetensors([{ name: "a", dtype: "F32", shape: [3], data: new Float32Array(2) }]),
    /shape \[3\]/,
  );
  assert.throws(
    () => encodeSafetensors([{ name: "a", dtype: "I32", shape: [1], data: new Float32Array(1) }]),
    /Int32Array/,
  );
  const a = { name: "a", dtype: "F32" as const, shape: [1], data: new Float32Array(1) };
  assert.throws(() => encodeSafetensors([a, a]), /twice/);
});

test.run();
