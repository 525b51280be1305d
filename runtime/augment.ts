/**
 * @file Data augmentation of training images (`augment = [...]` in a train block), shared by
 * the two places batches are made: the device gather kernel (runtime/feeder.ts, which splices
 * in the WGSL built here) and the host Batcher (runtime/data/dataset.ts, which calls the
 * TypeScript twins). Both draw the same random transform per (seed, step, sample-in-batch)
 * from a counter-based hash, so a run is reproducible and the two paths agree to float
 * rounding, then sample the source image through one inverse affine map with bilinear
 * interpolation, zero outside the image (Keras' fill_mode="constant", fill_value=0).
 *
 * The forward transform of a sample's content, about the image centre c = ((W-1)/2, (H-1)/2)
 * in pixel coordinates (x right, y down), is: flip horizontally, scale by the zoom factor z,
 * rotate by the angle θ (x toward y: clockwise as displayed), then shift by whole pixels
 * (dx, dy). The kernel evaluates its inverse at every output pixel. No Node imports: browsers
 * use this too.
 */
import { augments, imageDims, installAugmenter } from "./augmenter.js";
import { nncError } from "./errors.js";

export { augments, imageDims };

/** One augmentation as the program stores it: `random_rotate` takes `degrees`. */
export interface Augmentation {
  readonly name: string;
  readonly args: Readonly<Record<string, number>>;
}

/** The ranges of a list of augmentations, merged (a later repeat of a kind replaces it). */
export interface AugmentRanges {
  /** Whole pixels: each axis shifts by an integer in [-shift, shift]. */
  readonly shift: number;
  /** Degrees: the angle is uniform in [-rotate, rotate]. */
  readonly rotate: number;
  /** The zoom factor is uniform in [1 - zoom, 1 + zoom]. */
  readonly zoom: number;
  /** Flip horizontally with probability 1/2. */
  readonly flip: boolean;
}

/** One sample's drawn transform. */
export interface AugmentDraw {
  readonly flip: boolean;
  /** Whole pixels, right and down. */
  readonly dx: number;
  readonly dy: number;
  /** Radians. */
  readonly angle: number;
  /** Content scale: above 1 magnifies. */
  readonly zoom: number;
}

/** What the gather or the Batcher needs to augment one plan's inputs. */
export interface AugmentSpec {
  readonly ranges: AugmentRanges;
  readonly seed: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** The identity: no augmentation. */
export const NO_AUGMENT: AugmentRanges = { shift: 0, rotate: 0, zoom: 0, flip: false };

/** Reads a program's augmentation list; an unknown name or a bad range is an NncError. */
export function augmentRanges(list: readonly Augmentation[]): AugmentRanges {
  let { shift, rotate, zoom, flip } = NO_AUGMENT;
  const arg = (a: Augmentation, key: string): number => {
    const v = a.args[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw nncError("NN5501", {
        detail: `${a.name} needs ${key}: a number, 0 or more, got ${String(v)}`,
      });
    }
    return v;
  };
  for (const a of list) {
    switch (a.name) {
      case "random_shift":
        shift = Math.floor(arg(a, "pixels"));
        break;
      case "random_rotate":
        rotate = arg(a, "degrees");
        break;
      case "random_zoom":
        zoom = arg(a, "factor");
        if (zoom >= 1) {
          throw nncError("NN5501", { detail: `random_zoom needs a factor below 1, got ${zoom}` });
        }
        break;
      case "random_flip":
        flip = true;
        break;
      default:
        throw nncError("NN5501", { detail: `unknown augmentation ${a.name}` });
    }
  }
  return { shift, rotate, zoom, flip };
}

/** `random_shift(2), random_rotate(10deg)`: the list as a train block writes it. */
export function describeAugment(list: readonly Augmentation[]): string {
  return list
    .map((a) => {
      const v = Object.values(a.args);
      if (v.length === 0) return a.name;
      return `${a.name}(${v.map((x) => (a.name === "random_rotate" ? `${x}deg` : String(x))).join(", ")})`;
    })
    .join(", ");
}

/** lowbias32 (Wellons): a 32-bit integer hash with good avalanche; the WGSL twin is below. */
export function hash32(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** Golden-ratio stride between the draws of one sample. */
const STRIDE = 0x9e3779b9;
/** Separates augmentation draws from other uses of the same seed. */
const SALT = 0x2545f491;

/** The hash key of one sample of one step: every draw of the sample derives from it. */
export function sampleKey(seed: number, step: number, sample: number): number {
  return hash32((hash32((hash32((seed ^ SALT) >>> 0) + step) >>> 0) + sample) >>> 0);
}

/** Draw `k` (0..4) of a sample: a u32. */
function drawBits(key: number, k: number): number {
  return hash32((key + Math.imul(k, STRIDE)) >>> 0);
}

/** A u32 to [0, 1) with 24 bits: exact in f32, so both paths get the same number. */
function unitOf(u: number): number {
  return (u >>> 8) * (1 / 16777216);
}

/**
 * The transform of sample `sample` (its row in the batch) at step `step`: draw 0 decides the
 * flip (its low bit), 1 and 2 the shifts (`u % (2p+1) - p`), 3 the angle, 4 the zoom.
 */
export function drawAugment(
  r: AugmentRanges,
  seed: number,
  step: number,
  sample: number,
): AugmentDraw {
  const key = sampleKey(seed, step, sample);
  const span = 2 * r.shift + 1;
  return {
    flip: r.flip && (drawBits(key, 0) & 1) === 1,
    dx: r.shift > 0 ? (drawBits(key, 1) % span) - r.shift : 0,
    dy: r.shift > 0 ? (drawBits(key, 2) % span) - r.shift : 0,
    angle: r.rotate > 0 ? (unitOf(drawBits(key, 3)) * 2 - 1) * r.rotate * (Math.PI / 180) : 0,
    zoom: r.zoom > 0 ? 1 + (unitOf(drawBits(key, 4)) * 2 - 1) * r.zoom : 1,
  };
}

/**
 * The inverse map of a draw, as source = M * (output - o) + c with M = [a, b; c, d] (row-major
 * in `m`), o = centre + shift and c = centre: where each output pixel reads from.
 */
export interface InverseMap {
  readonly m: readonly [number, number, number, number];
  /** Output origin: centre plus shift. */
  readonly ox: number;
  readonly oy: number;
  /** Source centre. */
  readonly cx: number;
  readonly cy: number;
}

/** Composes a draw into its inverse map for an image of `height` x `width`. */
export function inverseMap(d: AugmentDraw, height: number, width: number): InverseMap {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const cos = Math.cos(d.angle) / d.zoom;
  const sin = Math.sin(d.angle) / d.zoom;
  const f = d.flip ? -1 : 1;
  // Inverse of shift . rotate(θ) . zoom . flip: flip . (1/z) . rotate(-θ) . unshift.
  return { m: [f * cos, f * sin, -sin, cos], ox: cx + d.dx, oy: cy + d.dy, cx, cy };
}

/**
 * Writes one augmented sample: for every output pixel (x, y) and channel, the bilinear
 * interpolation of `src` (an H x W x C image at `srcAt`, read through `value`) at the map's
 * source point, 0 outside the image; into `out` at `outAt`.
 */
export function warpImage(
  value: (index: number) => number,
  srcAt: number,
  map: InverseMap,
  dims: readonly [number, number, number],
  out: Float32Array,
  outAt: number,
): void {
  const [H, W, C] = dims;
  const [a, b, c, d] = map.m;
  const tap = (x: number, y: number, ch: number): number =>
    x < 0 || y < 0 || x >= W || y >= H ? 0 : value(srcAt + (y * W + x) * C + ch);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const ux = x - map.ox;
      const uy = y - map.oy;
      const sx = map.cx + a * ux + b * uy;
      const sy = map.cy + c * ux + d * uy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let ch = 0; ch < C; ch++) {
        const top = tap(x0, y0, ch) * (1 - fx) + tap(x0 + 1, y0, ch) * fx;
        const bottom = tap(x0, y0 + 1, ch) * (1 - fx) + tap(x0 + 1, y0 + 1, ch) * fx;
        out[outAt + (y * W + x) * C + ch] = top * (1 - fy) + bottom * fy;
      }
    }
  }
}

/** WGSL literal of a number as f32. */
function f32Literal(v: number): string {
  const s = String(Math.fround(v));
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * The WGSL declarations of the augmenting gather: image constants, the hash, the draws and a
 * `tap` that reads one source value (0 outside). `load` turns the element index `e` into `v`.
 */
export function augmentWgslDecls(spec: AugmentSpec, load: string): string {
  const { ranges: r, height: H, width: W, channels: C } = spec;
  const read = load
    .split("\n")
    .map((l) => l.trim())
    .join("\n  ");
  return `const H: u32 = ${H}u;
const W: u32 = ${W}u;
const C: u32 = ${C}u;
const SHIFT: u32 = ${r.shift}u;
const ROTATE: f32 = ${f32Literal((r.rotate * Math.PI) / 180)}; // radians
const ZOOM: f32 = ${f32Literal(r.zoom)};
const FLIP: bool = ${r.flip};

fn hash32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn unit_of(u: u32) -> f32 {
  return f32(u >> 8u) * (1.0 / 16777216.0);
}

fn tap(base: u32, x: i32, y: i32, ch: u32) -> f32 {
  if (x < 0 || y < 0 || x >= i32(W) || y >= i32(H)) {
    return 0.0;
  }
  let e = base + (u32(y) * W + u32(x)) * C + ch;
  var v = 0.0;
  ${read}
  return v;
}

// One sample's transform (runtime/augment.ts drawAugment and inverseMap), then the bilinear
// sample of its source at output element k.
fn augmented(base: u32, r: u32, k: u32) -> f32 {
  let key = hash32(hash32(hash32(nnc_feed.seed ^ ${SALT}u) + nnc_feed.step) + r);
  var f = 1.0;
  if (FLIP && (hash32(key) & 1u) == 1u) {
    f = -1.0;
  }
  var dx = 0.0;
  var dy = 0.0;
  if (SHIFT > 0u) {
    dx = f32(i32(hash32(key + ${STRIDE}u) % (2u * SHIFT + 1u)) - i32(SHIFT));
    dy = f32(i32(hash32(key + ${(2 * STRIDE) >>> 0}u) % (2u * SHIFT + 1u)) - i32(SHIFT));
  }
  var angle = 0.0;
  if (ROTATE > 0.0) {
    angle = (unit_of(hash32(key + ${(3 * STRIDE) >>> 0}u)) * 2.0 - 1.0) * ROTATE;
  }
  var zoom = 1.0;
  if (ZOOM > 0.0) {
    zoom = 1.0 + (unit_of(hash32(key + ${(4 * STRIDE) >>> 0}u)) * 2.0 - 1.0) * ZOOM;
  }
  let cs = cos(angle) / zoom;
  let sn = sin(angle) / zoom;
  let cx = f32(W - 1u) * 0.5;
  let cy = f32(H - 1u) * 0.5;
  let ch = k % C;
  let pixel = k / C;
  let ux = f32(pixel % W) - (cx + dx);
  let uy = f32(pixel / W) - (cy + dy);
  let sx = cx + f * cs * ux + f * sn * uy;
  let sy = cy - sn * ux + cs * uy;
  let x0f = floor(sx);
  let y0f = floor(sy);
  let fx = sx - x0f;
  let fy = sy - y0f;
  let x0 = i32(x0f);
  let y0 = i32(y0f);
  let top = tap(base, x0, y0, ch) * (1.0 - fx) + tap(base, x0 + 1, y0, ch) * fx;
  let bottom = tap(base, x0, y0 + 1, ch) * (1.0 - fx) + tap(base, x0 + 1, y0 + 1, ch) * fx;
  return top * (1.0 - fy) + bottom * fy;
}
`;
}

installAugmenter({
  ranges: augmentRanges,
  wgsl: augmentWgslDecls,
  warp(spec, step, r, value, src, out, dst) {
    const { height, width, channels } = spec;
    const map = inverseMap(drawAugment(spec.ranges, spec.seed, step, r), height, width);
    warpImage(value, src, map, [height, width, channels], out, dst);
  },
});
