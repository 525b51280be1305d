import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { renderNncError } from "../../runtime/errors.js";
import { encodeIdx, parseIdx, type IdxType } from "../../runtime/data/idx.js";
import { readIdxDataset, readIdxFile } from "../../runtime/data/node.js";
import { fails } from "../util/errors.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-idx-"));

test("parses hand-written bytes (u8 and big-endian i16, f32)", () => {
  const u8 = new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255]);
  const a = parseIdx(u8, "a");
  assert.is(a.type, "u8");
  assert.equal(a.dims, [2, 3]);
  assert.equal([...a.data], [1, 2, 3, 4, 5, 255]);
  // -2 as big-endian i16 is FF FE; 258 is 01 02.
  const i16 = new Uint8Array([0, 0, 0x0b, 1, 0, 0, 0, 2, 0xff, 0xfe, 0x01, 0x02]);
  assert.equal([...parseIdx(i16, "b").data], [-2, 258]);
  // 1.5 as big-endian f32 is 3F C0 00 00.
  const f32 = new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0]);
  assert.equal([...parseIdx(f32, "c").data], [1.5]);
});

test("round trips every element type", () => {
  const cases: [IdxType, number[]][] = [
    ["u8", [0, 1, 128, 255, 7, 9]],
    ["i8", [-128, -1, 0, 1, 127, 5]],
    ["i16", [-32768, -1, 0, 1, 32767, 300]],
    ["i32", [-2147483648, -1, 0, 1, 2147483647, 70000]],
    ["f32", [-1.5, 0, 0.25, 2 ** 40, -7, 1 / 1024]],
    ["f64", [Math.PI, -Math.E, 0, 1e-300, 1e300, -0.1]],
  ];
  for (const [type, values] of cases) {
    const back = parseIdx(encodeIdx(type, [3, 2], values), type);
    assert.is(back.type, type);
    assert.equal(back.dims, [3, 2]);
    assert.equal([...back.data], values, type);
  }
});

test("limit keeps the first items", () => {
  const bytes = encodeIdx("u8", [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
  const a = parseIdx(bytes, "x", { limit: 3 });
  assert.equal(a.dims, [3, 2]);
  assert.equal([...a.data], [1, 2, 3, 4, 5, 6]);
});

test("truncated data names the file and both sizes", () => {
  const header = encodeIdx("u8", [1, 28, 28], new Uint8Array(784)).subarray(0, 16);
  new DataView(header.buffer).setUint32(4, 60000, false);
  const bytes = new Uint8Array(16 + 1000);
  bytes.set(header);
  const e = fails(() => parseIdx(bytes, "train-images-idx3-ubyte"));
  assert.is(e.code, "NN5104");
  assert.is(
    e.message,
    "train-images-idx3-ubyte: header says 60000 images of 28x28 (47040000 bytes) but the file holds 1000 bytes after the header",
  );
  assert.is(
    renderNncError(e),
    "train-images-idx3-ubyte: error NN5104: header says 60000 images of 28x28 (47040000 bytes) but the file holds 1000 bytes after the header",
  );
});

test("extra bytes after the data are an error too", () => {
  const good = encodeIdx("u8", [3], [1, 2, 3]);
  const bytes = new Uint8Array(good.length + 2);
  bytes.set(good);
  const e = fails(() => parseIdx(bytes, "labels.idx"));
  assert.is(
    e.message,
    "labels.idx: header says 3 labels (3 bytes) but the file holds 5 bytes after the header",
  );
});

test("truncated header, wrong magic, bad type byte, rank 0", () => {
  const short = fails(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2]), "imgs"));
  assert.is(short.code, "NN5103");
  assert.is(
    short.message,
    "imgs: the file holds 8 bytes but its IDX header of rank 3 needs 16 (4 + 4 per dimension)",
  );
  const tiny = fails(() => parseIdx(new Uint8Array([0, 0]), "imgs"));
  assert.is(
    tiny.message,
    "imgs: not an IDX file: the file holds 2 bytes, fewer than the 4 magic bytes",
  );
  const png = fails(() => parseIdx(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), "x.png"));
  assert.is(png.code, "NN5101");
  assert.is(
    png.message,
    "x.png: not an IDX file: the magic bytes are 89 50 4E 47, but an IDX file starts with 00 00, a type byte and a rank",
  );
  const type = fails(() => parseIdx(new Uint8Array([0, 0, 0x07, 1, 0, 0, 0, 0]), "t"));
  assert.is(type.code, "NN5102");
  assert.match(type.message, /^t: IDX element type byte 0x07 is not one of 08 \(ubyte\)/);
  const rank0 = fails(() => parseIdx(new Uint8Array([0, 0, 8, 0]), "r"));
  assert.is(
    rank0.message,
    "r: not an IDX file: the rank byte is 0; an IDX file has at least one dimension",
  );
});

test("a hostile header allocates nothing: huge dims are checked against the length", () => {
  const bytes = new Uint8Array([
    0, 0, 0x0e, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  ]);
  const e = fails(() => parseIdx(bytes, "huge"));
  assert.is(e.code, "NN5104");
  assert.match(e.message, /^huge: header says 4294967295 images of 4294967295x4294967295 \(/);
});

test("gzip: detected by magic bytes and decompressed in Node", () => {
  const values = Array.from({ length: 24 }, (_, i) => i * 10);
  const path = join(dir, "data-idx3-ubyte.gz");
  writeFileSync(path, gzipSync(encodeIdx("u8", [2, 3, 4], values)));
  const a = readIdxFile(path);
  assert.equal(a.dims, [2, 3, 4]);
  assert.equal([...a.data], values);
  assert.equal([...readIdxFile(path, { limit: 1 }).data], values.slice(0, 12));
  // Without a decompressor (the browser-safe parser alone) gzip is a clear error.
  const e = fails(() => parseIdx(gzipSync(encodeIdx("u8", [1], [1])), "d.gz"));
  assert.is(e.code, "NN5107");
  // A truncated gzip stream.
  const cut = join(dir, "cut.gz");
  const gz = gzipSync(encodeIdx("u8", [100], new Uint8Array(100).fill(3)));
  writeFileSync(cut, gz.subarray(0, gz.length - 10));
  const t = fails(() => readIdxFile(cut));
  assert.is(t.code, "NN5107");
  assert.ok(t.message.startsWith(`${cut}: gzip data is corrupt or truncated: `), t.message);
});

test("raw files with a limit read only the prefix but check the full length", () => {
  const path = join(dir, "raw-idx1-ubyte");
  writeFileSync(path, encodeIdx("u8", [5], [9, 8, 7, 6, 5]));
  assert.equal([...readIdxFile(path, { limit: 2 }).data], [9, 8]);
  const bad = join(dir, "short-idx1-ubyte");
  writeFileSync(bad, encodeIdx("u8", [5], [9, 8, 7, 6, 5]).subarray(0, 10));
  const e = fails(() => readIdxFile(bad, { limit: 1, noun: "labels" }));
  assert.is(
    e.message,
    `${bad}: header says 5 labels (5 bytes) but the file holds 2 bytes after the header`,
  );
});

test("image and label counts must agree", () => {
  const images = join(dir, "images-idx3-ubyte");
  const labels = join(dir, "labels-idx1-ubyte");
  writeFileSync(images, encodeIdx("u8", [3, 2, 2], new Uint8Array(12)));
  writeFileSync(labels, encodeIdx("u8", [2], [1, 0]));
  const e = fails(() => readIdxDataset(images, labels));
  assert.is(e.code, "NN5106");
  assert.is(
    e.message,
    `${labels}: the file holds 2 labels but ${images} holds 3 images of 2x2; the counts must agree`,
  );
  writeFileSync(labels, encodeIdx("u8", [3], [1, 0, 12]));
  const c = fails(() => readIdxDataset(images, labels, { classes: 10 }));
  assert.is(
    renderNncError(c),
    `${labels}: error NN5105: the label of item 2 (from 0) is 12, but labels are class indices 0 to 9 (10 classes)`,
  );
  writeFileSync(labels, encodeIdx("i16", [3], [1, -1, 0]));
  const n = fails(() => readIdxDataset(images, labels));
  assert.is(
    n.message,
    `${labels}: the label of item 1 (from 0) is -1, but labels are class indices 0 or more`,
  );
  writeFileSync(labels, encodeIdx("u8", [3], [1, 0, 2]));
  const ds = readIdxDataset(images, labels);
  assert.is(ds.count, 3);
  assert.is(ds.classes, 3);
  assert.equal(ds.sampleShape, [2, 2]);
});

test("a missing file is NN5001 naming it", () => {
  const path = join(dir, "nope-idx3-ubyte");
  const e = fails(() => readIdxFile(path));
  assert.is(e.code, "NN5001");
  assert.is(e.message, `${path}: cannot read the file: no such file or directory`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
