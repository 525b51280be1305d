/**
 * @file PNG decoding to grayscale (or RGB, or RGBA) f32 pixels in [0, 1], and a small encoder
 * for tests and fixtures. The decoder checks the signature and every chunk's CRC, reads all
 * colour types (grayscale, RGB, palette, gray + alpha, RGBA) at every bit depth the format
 * allows (1/2/4/8/16), tRNS transparency, all five row filters and Adam7 interlacing. Colour
 * becomes gray by the ITU-R BT.601 luma weights (as PIL's "L") and gray becomes RGB as three
 * equal channels; for grayscale and RGB, alpha is composited over a background (white by
 * default), while RGBA keeps it as the fourth channel. zlib inflation is injected
 * (`decodePngSync`: node:zlib's inflateSync in Node) or done with the standard
 * DecompressionStream (`decodePng`), so this module has no Node imports. Every error is an
 * NncError naming the file.
 */
import { NncError } from "./errors.js";
import { fileError } from "./file-errors.js";

export interface GrayImage {
  readonly width: number;
  readonly height: number;
  /** Values per pixel: 1 (gray), 3 (RGB) or 4 (RGBA), as `PngDecodeOptions.channels` asked. */
  readonly channels: PngChannels;
  /** Row-major, `width * height * channels` values in [0, 1], a pixel's channels together. */
  readonly pixels: Float32Array;
}

/** The channels a PNG decodes to: gray, RGB or RGBA. */
export type PngChannels = 1 | 3 | 4;

export type PngColorType = 0 | 2 | 3 | 4 | 6;

export interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly colorType: PngColorType;
  readonly interlace: 0 | 1;
}

/** What the chunks of a PNG hold, before inflation. */
export interface PngChunks {
  readonly header: PngHeader;
  /** RGB triples, or undefined. */
  readonly palette?: Uint8Array;
  /** The tRNS chunk's bytes, or undefined. */
  readonly transparency?: Uint8Array;
  /** The zlib stream: all IDAT chunks concatenated. */
  readonly data: Uint8Array;
}

export interface PngDecodeOptions {
  /** Gray level that transparent pixels show (default 1, white); RGBA keeps the alpha instead. */
  readonly background?: number;
  /** Decode to gray (1, the default), RGB (3) or RGBA (4), whatever the file's colour type. */
  readonly channels?: PngChannels;
}

const signature = [137, 80, 78, 71, 13, 10, 26, 10];

const channelsOf: { readonly [K in PngColorType]: number } = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

const depthsOf: { readonly [K in PngColorType]: readonly number[] } = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

const colorNames: { readonly [K in PngColorType]: string } = {
  0: "grayscale",
  2: "RGB",
  3: "palette",
  4: "gray + alpha",
  6: "RGBA",
};

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, as PNG uses) of `bytes`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function chunkName(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

/** Checks the signature, walks the chunks (CRC, lengths, order) and collects what decoding needs. */
export function readPngChunks(bytes: Uint8Array, source: string): PngChunks {
  const at = { file: source };
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== signature[i]) {
      // Truncated only when what there is starts the signature; any other bytes are not a PNG.
      if (bytes.length > 0 && bytes.length < 8 && bytes.every((b, k) => b === signature[k])) {
        const detail = `the file holds ${bytes.length} bytes, fewer than the 8-byte PNG signature`;
        throw fileError("NN5303", { detail }, at);
      }
      const detail =
        bytes.length === 0
          ? "the file is empty"
          : "the file does not start with the PNG signature 89 50 4E 47 0D 0A 1A 0A";
      throw fileError("NN5301", { detail }, at);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: PngHeader | undefined;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let pos = 8;
  for (;;) {
    if (pos + 12 > bytes.length) {
      const detail =
        pos === bytes.length
          ? "the file ends without an IEND chunk"
          : `the file ends ${bytes.length - pos} bytes into a chunk header at byte ${pos}`;
      throw fileError("NN5303", { detail }, at);
    }
    const length = view.getUint32(pos, false);
    const name = chunkName(bytes, pos + 4);
    if (!/^[A-Za-z]{4}$/.test(name)) {
      throw fileError(
        "NN5305",
        {
          detail: `the chunk at byte ${pos} has the type ${JSON.stringify(name)}, not four letters`,
        },
        at,
      );
    }
    if (length > bytes.length - pos - 12) {
      throw fileError(
        "NN5303",
        {
          detail: `chunk ${name} at byte ${pos} says it holds ${length} bytes, but only ${Math.max(0, bytes.length - pos - 12)} remain before its CRC`,
        },
        at,
      );
    }
    const body = bytes.subarray(pos + 8, pos + 8 + length);
    const stored = view.getUint32(pos + 8 + length, false);
    const computed = crc32(bytes, pos + 4, pos + 8 + length);
    if (stored !== computed) {
      throw fileError("NN5302", { chunk: name, found: hex8(stored), computed: hex8(computed) }, at);
    }
    pos += 12 + length;
    if (header === undefined && name !== "IHDR") {
      throw fileError("NN5305", { detail: `the first chunk is ${name}, not IHDR` }, at);
    }
    switch (name) {
      case "IHDR":
        if (header !== undefined)
          throw fileError("NN5305", { detail: "it has two IHDR chunks" }, at);
        header = readHeader(body, source);
        break;
      case "PLTE":
        if (length % 3 !== 0 || length === 0 || length > 768) {
          throw fileError(
            "NN5305",
            { detail: `the PLTE chunk holds ${length} bytes; a palette is 1 to 256 RGB triples` },
            at,
          );
        }
        palette = body;
        break;
      case "tRNS":
        transparency = body;
        break;
      case "IDAT":
        idat.push(body);
        break;
      case "IEND": {
        if (idat.length === 0) throw fileError("NN5305", { detail: "it has no IDAT chunk" }, at);
        if (header!.colorType === 3 && palette === undefined) {
          throw fileError("NN5305", { detail: "a palette image without a PLTE chunk" }, at);
        }
        const total = idat.reduce((s, c) => s + c.length, 0);
        const data = new Uint8Array(total);
        let o = 0;
        for (const c of idat) {
          data.set(c, o);
          o += c.length;
        }
        return { header: header!, palette, transparency, data };
      }
      default:
        // Bit 5 of the first letter clear (upper case) marks a chunk a decoder must understand.
        if ((name.charCodeAt(0) & 0x20) === 0) {
          throw fileError("NN5304", { detail: `unknown critical chunk ${name}` }, at);
        }
    }
  }
}

function readHeader(body: Uint8Array, source: string): PngHeader {
  const at = { file: source };
  if (body.length !== 13) {
    throw fileError("NN5305", { detail: `the IHDR chunk holds ${body.length} bytes, not 13` }, at);
  }
  const v = new DataView(body.buffer, body.byteOffset, 13);
  const width = v.getUint32(0, false);
  const height = v.getUint32(4, false);
  const bitDepth = body[8]!;
  const colorType = body[9]!;
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw fileError("NN5305", { detail: `the image is ${width}x${height}` }, at);
  }
  if (!(colorType in channelsOf)) {
    throw fileError("NN5305", { detail: `color type ${colorType} is not 0, 2, 3, 4 or 6` }, at);
  }
  const ct = colorType as PngColorType;
  if (!depthsOf[ct].includes(bitDepth)) {
    throw fileError(
      "NN5305",
      {
        detail: `bit depth ${bitDepth} is not allowed for ${colorNames[ct]} images (only ${depthsOf[ct].join(", ")})`,
      },
      at,
    );
  }
  if (body[10] !== 0 || body[11] !== 0) {
    throw fileError(
      "NN5304",
      { detail: `compression method ${body[10]} / filter method ${body[11]} (only 0 / 0 exist)` },
      at,
    );
  }
  if (body[12] !== 0 && body[12] !== 1) {
    throw fileError("NN5305", { detail: `interlace method ${body[12]} is not 0 or 1` }, at);
  }
  return { width, height, bitDepth, colorType: ct, interlace: body[12] as 0 | 1 };
}

/** The seven Adam7 passes: x start, y start, x step, y step. */
const adam7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

interface Pass {
  readonly x0: number;
  readonly y0: number;
  readonly dx: number;
  readonly dy: number;
  readonly width: number;
  readonly height: number;
}

function passesOf(h: PngHeader): Pass[] {
  if (h.interlace === 0) return [{ x0: 0, y0: 0, dx: 1, dy: 1, width: h.width, height: h.height }];
  return adam7
    .map(([x0, y0, dx, dy]) => ({
      x0,
      y0,
      dx,
      dy,
      width: Math.max(0, Math.ceil((h.width - x0) / dx)),
      height: Math.max(0, Math.ceil((h.height - y0) / dy)),
    }))
    .filter((p) => p.width > 0 && p.height > 0);
}

function rowBytesOf(h: PngHeader, width: number): number {
  return Math.ceil((width * channelsOf[h.colorType] * h.bitDepth) / 8);
}

/** The inflated length the header promises: per row a filter byte and the row's bytes. */
export function expectedDataLength(h: PngHeader): number {
  return passesOf(h).reduce((s, p) => s + p.height * (1 + rowBytesOf(h, p.width)), 0);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the row filters of one pass in place; `data[at..]` holds its rows. */
function unfilter(
  data: Uint8Array,
  at: number,
  rows: number,
  rowBytes: number,
  bpp: number,
  source: string,
) {
  for (let y = 0; y < rows; y++) {
    const f = at + y * (rowBytes + 1);
    const type = data[f]!;
    const row = f + 1;
    const prev = y === 0 ? -1 : row - rowBytes - 1;
    const up = (i: number) => (prev < 0 ? 0 : data[prev + i]!);
    const left = (i: number) => (i < bpp ? 0 : data[row + i - bpp]!);
    switch (type) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < rowBytes; i++)
          data[row + i] = (data[row + i]! + data[row + i - bpp]!) & 255;
        break;
      case 2:
        if (prev >= 0)
          for (let i = 0; i < rowBytes; i++)
            data[row + i] = (data[row + i]! + data[prev + i]!) & 255;
        break;
      case 3:
        for (let i = 0; i < rowBytes; i++)
          data[row + i] = (data[row + i]! + ((left(i) + up(i)) >> 1)) & 255;
        break;
      case 4:
        for (let i = 0; i < rowBytes; i++) {
          const c = prev < 0 || i < bpp ? 0 : data[prev + i - bpp]!;
          data[row + i] = (data[row + i]! + paeth(left(i), up(i), c)) & 255;
        }
        break;
      default:
        throw fileError(
          "NN5305",
          { detail: `row ${y} has filter type ${type}; PNG filters are 0 to 4` },
          { file: source },
        );
    }
  }
}

/** Turns inflated, filtered scanlines into pixels of `options.channels` (default gray). */
export function pixelsFromScanlines(
  chunks: PngChunks,
  inflated: Uint8Array,
  source: string,
  options: PngDecodeOptions = {},
): GrayImage {
  const h = chunks.header;
  const at = { file: source };
  const expected = expectedDataLength(h);
  if (inflated.length < expected) {
    throw fileError(
      "NN5303",
      {
        detail: `the image data inflates to ${inflated.length} bytes, but a ${h.width}x${h.height} ${colorNames[h.colorType]} image of depth ${h.bitDepth} needs ${expected}`,
      },
      at,
    );
  }
  const data = inflated.slice(0, expected);
  const channels = channelsOf[h.colorType];
  const depth = h.bitDepth;
  const bpp = Math.max(1, (channels * depth) >> 3);
  const max = (1 << depth) - 1;
  const background = options.background ?? 1;
  const out = options.channels ?? 1;
  const pixels = new Float32Array(h.width * h.height * out);

  // Palette to gray and alpha, once.
  let paletteGray: Float32Array | undefined;
  let paletteAlpha: Float32Array | undefined;
  if (h.colorType === 3) {
    const p = chunks.palette!;
    const n = p.length / 3;
    paletteGray = new Float32Array(n);
    paletteAlpha = new Float32Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      paletteGray[i] = (0.299 * p[3 * i]! + 0.587 * p[3 * i + 1]! + 0.114 * p[3 * i + 2]!) / 255;
    }
    const t = chunks.transparency;
    if (t) for (let i = 0; i < Math.min(n, t.length); i++) paletteAlpha[i] = t[i]! / 255;
  }
  // tRNS for gray and RGB: one sample value (or triple) that is fully transparent.
  const t = chunks.transparency;
  const keyGray = h.colorType === 0 && t && t.length >= 2 ? (t[0]! << 8) | t[1]! : -1;
  const keyRgb =
    h.colorType === 2 && t && t.length >= 6
      ? [(t[0]! << 8) | t[1]!, (t[2]! << 8) | t[3]!, (t[4]! << 8) | t[5]!]
      : undefined;

  const sample = (row: number, x: number, c: number): number => {
    const k = x * channels + c;
    switch (depth) {
      case 16:
        return (data[row + 2 * k]! << 8) | data[row + 2 * k + 1]!;
      case 8:
        return data[row + k]!;
      default: {
        const bit = k * depth;
        return (data[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & max;
      }
    }
  };

  let offset = 0;
  for (const pass of passesOf(h)) {
    const rowBytes = rowBytesOf(h, pass.width);
    unfilter(data, offset, pass.height, rowBytes, bpp, source);
    for (let py = 0; py < pass.height; py++) {
      const row = offset + py * (rowBytes + 1) + 1;
      const y = pass.y0 + py * pass.dy;
      for (let px = 0; px < pass.width; px++) {
        const x = pass.x0 + px * pass.dx;
        let gray: number;
        // The colour, for RGB and RGBA output: [gray, gray, gray] unless the file has colour.
        let rgb: readonly number[] | undefined;
        let alpha = 1;
        switch (h.colorType) {
          case 0: {
            const v = sample(row, px, 0);
            gray = v / max;
            if (v === keyGray) alpha = 0;
            break;
          }
          case 4:
            gray = sample(row, px, 0) / max;
            alpha = sample(row, px, 1) / max;
            break;
          case 2:
          case 6: {
            const r = sample(row, px, 0);
            const g = sample(row, px, 1);
            const b = sample(row, px, 2);
            gray = (0.299 * r + 0.587 * g + 0.114 * b) / max;
            if (out > 1) rgb = [r / max, g / max, b / max];
            if (h.colorType === 6) alpha = sample(row, px, 3) / max;
            else if (keyRgb && r === keyRgb[0] && g === keyRgb[1] && b === keyRgb[2]) alpha = 0;
            break;
          }
          case 3: {
            const i = sample(row, px, 0);
            if (i >= paletteGray!.length) {
              throw fileError(
                "NN5305",
                {
                  detail: `pixel (${x}, ${y}) uses palette entry ${i}, but the palette has ${paletteGray!.length} entries`,
                },
                at,
              );
            }
            gray = paletteGray![i]!;
            if (out > 1) rgb = [...chunks.palette!.subarray(3 * i, 3 * i + 3)].map((v) => v / 255);
            alpha = paletteAlpha![i]!;
            break;
          }
        }
        const o = (y * h.width + x) * out;
        if (out === 4) {
          pixels.set([...(rgb ?? [gray, gray, gray]), alpha], o);
        } else {
          const over = (v: number) => (alpha === 1 ? v : v * alpha + background * (1 - alpha));
          if (out === 1) pixels[o] = over(gray);
          else pixels.set((rgb ?? [gray, gray, gray]).map(over), o);
        }
      }
    }
    offset += pass.height * (rowBytes + 1);
  }
  return { width: h.width, height: h.height, channels: out, pixels };
}

function inflateFailed(e: unknown, source: string): NncError {
  if (e instanceof NncError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return fileError(
    "NN5305",
    { detail: `the compressed image data is corrupt (${reason})` },
    { file: source },
  );
}

/** Decodes a PNG with a synchronous zlib inflate (in Node: `zlib.inflateSync`). */
export function decodePngSync(
  bytes: Uint8Array,
  source: string,
  inflate: (zlib: Uint8Array) => Uint8Array,
  options: PngDecodeOptions = {},
): GrayImage {
  const chunks = readPngChunks(bytes, source);
  let inflated: Uint8Array;
  try {
    inflated = inflate(chunks.data);
  } catch (e) {
    throw inflateFailed(e, source);
  }
  return pixelsFromScanlines(chunks, inflated, source, options);
}

/** Inflates a zlib stream with the standard DecompressionStream (browsers, Node 18+). */
export async function inflateWithStreams(zlib: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([zlib as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Decodes a PNG; inflates with `options.inflate` or else DecompressionStream. */
export async function decodePng(
  bytes: Uint8Array,
  source: string,
  options: PngDecodeOptions & {
    inflate?: (zlib: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  } = {},
): Promise<GrayImage> {
  const chunks = readPngChunks(bytes, source);
  let inflated: Uint8Array;
  try {
    inflated = await (options.inflate ?? inflateWithStreams)(chunks.data);
  } catch (e) {
    throw inflateFailed(e, source);
  }
  return pixelsFromScanlines(chunks, inflated, source, options);
}

// ---------------------------------------------------------------------------------------------
// Encoding (tests and fixtures).

export interface PngImageSpec {
  readonly width: number;
  readonly height: number;
  readonly colorType: PngColorType;
  readonly bitDepth: number;
  /** Raw sample values, `channels` per pixel, row-major (palette indices for color type 3). */
  readonly samples: ArrayLike<number>;
  /** RGB triples for color type 3. */
  readonly palette?: ArrayLike<number>;
  /** Raw tRNS chunk bytes. */
  readonly transparency?: ArrayLike<number>;
  /** Filter for every row (0-4), or a function of the row index (default 0). */
  readonly filter?: number | ((row: number) => number);
  /** Adam7 interlacing (default false). */
  readonly interlace?: boolean;
}

/** Adler-32 of `bytes` (the zlib trailer). */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]!) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A valid zlib stream of stored (uncompressed) deflate blocks: needs no compressor. */
export function zlibStored(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const out = new Uint8Array(2 + blocks * 5 + raw.length + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535;
    const len = Math.min(65535, raw.length - start);
    out[o] = b === blocks - 1 ? 1 : 0;
    out[o + 1] = len & 255;
    out[o + 2] = len >> 8;
    out[o + 3] = ~len & 255;
    out[o + 4] = (~len >> 8) & 255;
    out.set(raw.subarray(start, start + len), o + 5);
    o += 5 + len;
  }
  new DataView(out.buffer).setUint32(o, adler32(raw), false);
  return out;
}

function filterRow(
  type: number,
  row: Uint8Array,
  prev: Uint8Array | undefined,
  bpp: number,
): Uint8Array {
  const out = new Uint8Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp]! : 0;
    const b = prev ? prev[i]! : 0;
    const c = prev && i >= bpp ? prev[i - bpp]! : 0;
    const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][type];
    if (predictor === undefined) throw new RangeError(`encodePng: filter type ${type} is not 0-4`);
    out[i] = (row[i]! - predictor) & 255;
  }
  return out;
}

function chunk(name: string, body: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.length, false);
  for (let i = 0; i < 4; i++) out[4 + i] = name.charCodeAt(i);
  out.set(body, 8);
  v.setUint32(8 + body.length, crc32(out, 4, 8 + body.length), false);
  return out;
}

/** Encodes raw samples as a PNG; `deflate` (zlib format) defaults to stored blocks. */
export function encodePng(
  spec: PngImageSpec,
  deflate: (raw: Uint8Array) => Uint8Array = zlibStored,
): Uint8Array {
  const h: PngHeader = {
    width: spec.width,
    height: spec.height,
    bitDepth: spec.bitDepth,
    colorType: spec.colorType,
    interlace: spec.interlace ? 1 : 0,
  };
  const channels = channelsOf[h.colorType];
  const depth = h.bitDepth;
  const bpp = Math.max(1, (channels * depth) >> 3);
  const raw = new Uint8Array(expectedDataLength(h));
  const filterOf =
    typeof spec.filter === "function" ? spec.filter : () => (spec.filter as number) ?? 0;
  let o = 0;
  let rowIndex = 0;
  for (const pass of passesOf(h)) {
    const rowBytes = rowBytesOf(h, pass.width);
    let prev: Uint8Array | undefined;
    for (let py = 0; py < pass.height; py++) {
      const row = new Uint8Array(rowBytes);
      const y = pass.y0 + py * pass.dy;
      for (let px = 0; px < pass.width; px++) {
        const x = pass.x0 + px * pass.dx;
        for (let c = 0; c < channels; c++) {
          const v = spec.samples[(y * h.width + x) * channels + c]!;
          const k = px * channels + c;
          if (depth === 16) {
            row[2 * k] = v >> 8;
            row[2 * k + 1] = v & 255;
          } else if (depth === 8) {
            row[k] = v;
          } else {
            const bit = k * depth;
            row[bit >> 3] |= v << (8 - depth - (bit & 7));
          }
        }
      }
      const type = filterOf(rowIndex++);
      raw[o] = type;
      raw.set(filterRow(type, row, prev, bpp), o + 1);
      o += 1 + rowBytes;
      prev = row;
    }
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, h.width, false);
  v.setUint32(4, h.height, false);
  ihdr.set([depth, h.colorType, 0, 0, h.interlace], 8);
  const parts = [Uint8Array.from(signature), chunk("IHDR", ihdr)];
  if (spec.palette) parts.push(chunk("PLTE", spec.palette));
  if (spec.transparency) parts.push(chunk("tRNS", spec.transparency));
  parts.push(chunk("IDAT", deflate(raw)), chunk("IEND", []));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
