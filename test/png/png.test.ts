import { readFileSync } from "node:fs";
import { deflateSync, inflateSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  crc32,
  decodePng,
  decodePngSync,
  encodePng,
  zlibStored,
  type PngColorType,
} from "../../runtime/png.js";
import { readPng } from "../../runtime/data/node.js";
import { fromRoot } from "../util/golden.js";
import { fails } from "../util/errors.js";

const inflate = (b: Uint8Array) => new Uint8Array(inflateSync(b));
const deflate = (b: Uint8Array) => new Uint8Array(deflateSync(b));

function close(actual: Float32Array, expected: ArrayLike<number>, tol: number, what: string) {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > tol) {
      assert.unreachable(`${what}: pixel ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

test("CRC-32 and zlib framing match Node's zlib", () => {
  // The CRC-32 of "123456789" is the standard check value CBF43926.
  assert.is(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const raw = new Uint8Array(200000).map((_, i) => (i * 31) % 251);
  assert.equal(inflate(zlibStored(raw)), raw);
  assert.equal(inflate(zlibStored(new Uint8Array(0))), new Uint8Array(0));
});

type Expected = Record<
  string,
  {
    width: number;
    height: number;
    pixels: number[];
    colorType: number;
    bitDepth: number;
    filters: number[];
  }
>;

test("PNGs written by Pillow decode to the gray levels Pillow reads", () => {
  const expected = JSON.parse(
    readFileSync(fromRoot("test/png/fixtures/expected.json"), "utf8"),
  ) as Expected;
  const filters = new Set<number>();
  const kinds = new Set<string>();
  for (const [name, e] of Object.entries(expected)) {
    const img = readPng(fromRoot(`test/png/fixtures/${name}.png`));
    assert.is(img.width, e.width, name);
    assert.is(img.height, e.height, name);
    close(img.pixels, e.pixels, 2e-6, name);
    e.filters.forEach((f) => filters.add(f));
    kinds.add(`${e.colorType}/${e.bitDepth}`);
  }
  // The fixtures exercise all five filters and these colour types / depths.
  assert.equal([...filters].sort(), [0, 1, 2, 3, 4]);
  for (const k of ["0/1", "0/8", "0/16", "2/8", "3/2", "4/8", "6/8"]) assert.ok(kinds.has(k), k);
});

test("async decoding with DecompressionStream gives the same pixels", async () => {
  const bytes = new Uint8Array(readFileSync(fromRoot("test/png/fixtures/smooth_rgb.png")));
  const a = await decodePng(bytes, "smooth_rgb.png");
  const b = decodePngSync(bytes, "smooth_rgb.png", inflate);
  assert.equal(a.pixels, b.pixels);
  const c = await decodePng(bytes, "smooth_rgb.png", { inflate: async (d) => inflate(d) });
  assert.equal(c.pixels, b.pixels);
});

/** Deterministic sample values for a w x h image with `channels` samples of `depth` bits. */
function samples(w: number, h: number, channels: number, depth: number, seed: number): number[] {
  const max = 2 ** depth - 1;
  let s = seed;
  return Array.from({ length: w * h * channels }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % (max + 1);
  });
}

/** The gray level the decoder should give, computed straight from the samples. */
function gray(
  ct: PngColorType,
  depth: number,
  v: number[],
  palette?: number[],
  alpha?: number[],
): number[] {
  const max = 2 ** depth - 1;
  const ch = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[ct];
  const out: number[] = [];
  for (let p = 0; p < v.length / ch; p++) {
    const s = v.slice(p * ch, p * ch + ch);
    let g: number;
    let a = 1;
    if (ct === 0) g = s[0]! / max;
    else if (ct === 4) [g, a] = [s[0]! / max, s[1]! / max];
    else if (ct === 3) {
      const i = s[0]!;
      g =
        (0.299 * palette![3 * i]! + 0.587 * palette![3 * i + 1]! + 0.114 * palette![3 * i + 2]!) /
        255;
      a = alpha && i < alpha.length ? alpha[i]! / 255 : 1;
    } else {
      g = (0.299 * s[0]! + 0.587 * s[1]! + 0.114 * s[2]!) / max;
      if (ct === 6) a = s[3]! / max;
    }
    out.push(g * a + (1 - a));
  }
  return out;
}

test("every colour type, bit depth, filter and interlacing round trips", () => {
  const depths: Record<PngColorType, number[]> = {
    0: [1, 2, 4, 8, 16],
    2: [8, 16],
    3: [1, 2, 4, 8],
    4: [8, 16],
    6: [8, 16],
  };
  const ch = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
  let n = 0;
  for (const ct of [0, 2, 3, 4, 6] as PngColorType[]) {
    for (const depth of depths[ct]) {
      for (const filter of [0, 1, 2, 3, 4, -1]) {
        for (const interlace of [false, true]) {
          // Odd sizes so rows end mid-byte and Adam7 has partial and empty passes.
          const [w, h] = interlace ? [11, 9] : [13, 5];
          const entries = ct === 3 ? Math.min(2 ** depth, 7) : 0;
          const palette = ct === 3 ? samples(entries, 1, 3, 8, depth) : undefined;
          const alpha = ct === 3 ? [0, 128, 255] : undefined;
          const v =
            ct === 3
              ? samples(w, h, 1, 8, n).map((x) => x % entries)
              : samples(w, h, ch[ct], depth, n + 1);
          const bytes = encodePng(
            {
              width: w,
              height: h,
              colorType: ct,
              bitDepth: depth,
              samples: v,
              palette,
              transparency: alpha,
              filter: filter === -1 ? (row) => row % 5 : filter,
              interlace,
            },
            n % 2 === 0 ? deflate : zlibStored,
          );
          const img = decodePngSync(bytes, "t.png", inflate);
          const what = `color ${ct} depth ${depth} filter ${filter} interlace ${interlace}`;
          assert.is(img.width, w, what);
          close(img.pixels, gray(ct, depth, v, palette, alpha), 1e-6, what);
          n++;
        }
      }
    }
  }
  assert.is(n, 180);
});

test("tRNS colour keys for gray and RGB, and the background option", () => {
  // 8-bit gray, value 7 transparent.
  const g = encodePng({
    width: 3,
    height: 1,
    colorType: 0,
    bitDepth: 8,
    samples: [7, 255, 0],
    transparency: [0, 7],
  });
  assert.equal([...decodePngSync(g, "g.png", inflate).pixels], [1, 1, 0]);
  assert.equal([...decodePngSync(g, "g.png", inflate, { background: 0 }).pixels], [0, 1, 0]);
  // 16-bit RGB, (1, 2, 3) transparent.
  const rgb = encodePng({
    width: 2,
    height: 1,
    colorType: 2,
    bitDepth: 16,
    samples: [1, 2, 3, 0, 0, 0],
    transparency: [0, 1, 0, 2, 0, 3],
  });
  assert.equal([...decodePngSync(rgb, "c.png", inflate, { background: 0.5 }).pixels], [0.5, 0]);
});

test("decoding to RGB or RGBA: colour kept, gray as three equal channels", () => {
  const px = (bytes: Uint8Array, channels: 1 | 3 | 4, background?: number) => {
    const img = decodePngSync(bytes, "c.png", inflate, {
      channels,
      ...(background !== undefined ? { background } : {}),
    });
    assert.is(img.channels, channels);
    return [...img.pixels].map((v) => Math.round(v * 255));
  };
  const size = { width: 2, height: 1 };
  // RGB, (10, 20, 30) transparent: gray keeps its luma, RGB its colour, RGBA its alpha.
  const rgb = encodePng({
    ...size,
    colorType: 2,
    bitDepth: 8,
    samples: [255, 0, 51, 10, 20, 30],
    transparency: [0, 10, 0, 20, 0, 30],
  });
  assert.equal(px(rgb, 1, 0), [82, 0]);
  assert.equal(px(rgb, 3, 0), [255, 0, 51, 0, 0, 0]);
  assert.equal(px(rgb, 3), [255, 0, 51, 255, 255, 255]);
  assert.equal(px(rgb, 4), [255, 0, 51, 255, 10, 20, 30, 0]);
  // Gray + alpha (16-bit): alpha 0.2 over a black background.
  const ga = encodePng({ ...size, colorType: 4, bitDepth: 16, samples: [65535, 13107, 0, 65535] });
  assert.equal(px(ga, 3, 0), [51, 51, 51, 0, 0, 0]);
  assert.equal(px(ga, 4), [255, 255, 255, 51, 0, 0, 0, 255]);
  // A palette's colours.
  const pal = encodePng({
    ...size,
    colorType: 3,
    bitDepth: 8,
    samples: [1, 0],
    palette: [0, 0, 0, 12, 34, 56],
  });
  assert.equal(px(pal, 3), [12, 34, 56, 0, 0, 0]);
  assert.equal(px(pal, 4), [12, 34, 56, 255, 0, 0, 0, 255]);
});

test("a 1x1 16-bit gray PNG written byte by byte", () => {
  // Hand-assembled: IHDR 1x1 depth 16 gray; one row: filter 0, sample 0x8000.
  const raw = new Uint8Array([0, 0x80, 0x00]);
  const be32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const chunk = (name: string, body: number[]) => {
    const typed = [...name].map((c) => c.charCodeAt(0));
    return [
      ...be32(body.length),
      ...typed,
      ...body,
      ...be32(crc32(new Uint8Array([...typed, ...body]))),
    ];
  };
  const png = new Uint8Array([
    137,
    80,
    78,
    71,
    13,
    10,
    26,
    10,
    ...chunk("IHDR", [...be32(1), ...be32(1), 16, 0, 0, 0, 0]),
    ...chunk("tEXt", [...new TextEncoder().encode("Comment\0hi")]),
    ...chunk("IDAT", [...deflate(raw)]),
    ...chunk("IEND", []),
  ]);
  assert.equal([...decodePngSync(png, "one.png", inflate).pixels], [Math.fround(0x8000 / 65535)]);
});

test("corrupt files: signature, CRC, truncation, bad data; each names the file", () => {
  const good = encodePng({
    width: 4,
    height: 4,
    colorType: 0,
    bitDepth: 8,
    samples: samples(4, 4, 1, 8, 3),
  });
  const e = (bytes: Uint8Array) => fails(() => decodePngSync(bytes, "digit.png", inflate));
  const sig = e(new TextEncoder().encode("GIF89a........"));
  assert.is(sig.code, "NN5301");
  assert.is(
    sig.message,
    "digit.png: not a PNG file: the file does not start with the PNG signature 89 50 4E 47 0D 0A 1A 0A",
  );
  assert.is(
    e(good.subarray(0, 5)).message,
    "digit.png: PNG is truncated: the file holds 5 bytes, fewer than the 8-byte PNG signature",
  );
  // A short file that does not start like a PNG is not one (it is not a truncated PNG).
  const hello = e(new TextEncoder().encode("hello"));
  assert.is(hello.code, "NN5301");
  assert.is(
    hello.message,
    "digit.png: not a PNG file: the file does not start with the PNG signature 89 50 4E 47 0D 0A 1A 0A",
  );
  assert.is(e(new Uint8Array(0)).message, "digit.png: not a PNG file: the file is empty");
  // Flip a bit in the IDAT body (after signature 8 + IHDR 25 + IDAT header 8).
  const flipped = good.slice();
  flipped[8 + 25 + 8 + 3] ^= 1;
  const crc = e(flipped);
  assert.is(crc.code, "NN5302");
  assert.match(
    crc.message,
    /^digit\.png: PNG chunk IDAT has a CRC of [0-9a-f]{8} but its bytes give [0-9a-f]{8}; the file is corrupt$/,
  );
  const cut = e(good.subarray(0, good.length - 20));
  assert.is(cut.code, "NN5303");
  assert.match(
    cut.message,
    /^digit\.png: PNG is truncated: chunk IDAT at byte 33 says it holds \d+ bytes, but only \d+ remain before its CRC$/,
  );
  assert.is(
    e(good.subarray(0, good.length - 12)).message,
    "digit.png: PNG is truncated: the file ends without an IEND chunk",
  );
  assert.is(
    e(good.subarray(0, good.length - 5)).message,
    "digit.png: PNG is truncated: the file ends 7 bytes into a chunk header at byte " +
      (good.length - 12),
  );
  // Image data shorter than the header promises.
  const short = encodePng(
    { width: 4, height: 4, colorType: 0, bitDepth: 8, samples: new Array(16).fill(0) },
    (raw) => zlibStored(raw.subarray(0, 10)),
  );
  assert.is(
    e(short).message,
    "digit.png: PNG is truncated: the image data inflates to 10 bytes, but a 4x4 grayscale image of depth 8 needs 20",
  );
  // Corrupt deflate data.
  const junk = encodePng(
    { width: 1, height: 1, colorType: 0, bitDepth: 8, samples: [0] },
    () => new Uint8Array([0x78, 0x01, 0xff, 0xff, 0xff]),
  );
  assert.match(
    e(junk).message,
    /^digit\.png: invalid PNG: the compressed image data is corrupt \(.+\)$/,
  );
  // A bad filter type byte.
  const filter = encodePng(
    { width: 2, height: 1, colorType: 0, bitDepth: 8, samples: [1, 2] },
    (raw) => zlibStored(new Uint8Array([9, ...raw.subarray(1)])),
  );
  assert.is(
    e(filter).message,
    "digit.png: invalid PNG: row 0 has filter type 9; PNG filters are 0 to 4",
  );
  // A palette index past the palette.
  const pal = encodePng({
    width: 2,
    height: 1,
    colorType: 3,
    bitDepth: 4,
    samples: [0, 5],
    palette: [1, 2, 3, 4, 5, 6],
  });
  assert.is(
    e(pal).message,
    "digit.png: invalid PNG: pixel (1, 0) uses palette entry 5, but the palette has 2 entries",
  );
  // A disallowed bit depth, written by hand into IHDR (and its CRC recomputed by encodePng's chunking).
  const depth = good.slice();
  depth[8 + 8 + 8] = 3;
  new DataView(depth.buffer).setUint32(8 + 8 + 13, crc32(depth, 12, 8 + 8 + 13), false);
  assert.is(
    e(depth).message,
    "digit.png: invalid PNG: bit depth 3 is not allowed for grayscale images (only 1, 2, 4, 8, 16)",
  );
  // Missing PLTE for a palette image.
  const noPlte = encodePng({ width: 1, height: 1, colorType: 3, bitDepth: 8, samples: [0] });
  assert.is(e(noPlte).message, "digit.png: invalid PNG: a palette image without a PLTE chunk");
});

test("readPng names missing files", () => {
  const e = fails(() => readPng("/nonexistent/digit.png"));
  assert.is(e.message, "/nonexistent/digit.png: cannot read the file: no such file or directory");
});

test.run();
