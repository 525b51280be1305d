/**
 * @file Augmentation on the host (runtime/augment.ts and the Batcher's `augment` option):
 * fixed draws against references written independently (a mirrored, shifted, rotated and
 * zoomed image computed by index arithmetic), the hash against a BigInt implementation, and
 * the draws: in range, covering their range, different between steps, samples and seeds,
 * the same for the same key.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  augmentRanges,
  describeAugment,
  drawAugment,
  hash32,
  imageDims,
  inverseMap,
  warpImage,
  type Augmentation,
  type AugmentDraw,
  type AugmentRanges,
} from "../../runtime/augment.js";
import { Batcher, type Dataset } from "../../runtime/data/dataset.js";
import { NncError } from "../../runtime/errors.js";

const N = 8;
const IDENTITY: AugmentDraw = { flip: false, dx: 0, dy: 0, angle: 0, zoom: 1 };

/** A seeded 8x8 (x C) pattern of values in [0, 1). */
function pattern(seed: number, channels = 1): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: N * N * channels }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return (a >>> 8) / 16777216;
  });
}

/** `img` warped by a fixed draw (the test hook: no random numbers involved). */
function warp(img: Float32Array, d: AugmentDraw, channels = 1): Float32Array {
  const out = new Float32Array(img.length);
  warpImage((k) => img[k]!, 0, inverseMap(d, N, N), [N, N, channels], out, 0);
  return out;
}

const at = (img: Float32Array, x: number, y: number, c = 0, channels = 1) =>
  img[(y * N + x) * channels + c]!;

test("the identity draw copies the image exactly", () => {
  const img = pattern(1, 3);
  assert.equal([...warp(img, IDENTITY, 3)], [...img]);
});

test("a flip mirrors the image exactly, every channel", () => {
  const img = pattern(2, 3);
  const out = warp(img, { ...IDENTITY, flip: true }, 3);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      for (let c = 0; c < 3; c++) {
        assert.is(at(out, x, y, c, 3), at(img, N - 1 - x, y, c, 3), `(${x}, ${y}, ${c})`);
      }
    }
  }
});

test("a shift of (k, j) moves a single lit pixel by (k, j), and off the edge it is gone", () => {
  const img = new Float32Array(N * N);
  img[4 * N + 3] = 1; // x = 3, y = 4
  for (const [dx, dy] of [
    [2, -1],
    [-3, 0],
    [0, 3],
    [1, 1],
  ] as const) {
    const out = warp(img, { ...IDENTITY, dx, dy });
    const lit = [...out.keys()].filter((k) => out[k] !== 0);
    assert.equal(lit, [(4 + dy) * N + 3 + dx], `shift (${dx}, ${dy})`);
    assert.is(out[(4 + dy) * N + 3 + dx], 1);
  }
  const gone = warp(img, { ...IDENTITY, dx: 5 });
  assert.ok(
    gone.every((v) => v === 0),
    "a pixel shifted past the edge leaves zeros",
  );
});

test("a rotation by 90 degrees turns the image clockwise (as displayed) about its centre", () => {
  const img = pattern(3);
  const out = warp(img, { ...IDENTITY, angle: Math.PI / 2 });
  // Clockwise by a quarter turn: output row y, column x comes from row N-1-x, column y.
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const want = at(img, y, N - 1 - x);
      assert.ok(Math.abs(at(out, x, y) - want) < 1e-6, `(${x}, ${y}): ${at(out, x, y)} vs ${want}`);
    }
  }
  // A lit pixel right of the centre goes below it.
  const dot = new Float32Array(N * N);
  dot[3 * N + 6] = 1; // x = 6, y = 3
  const turned = warp(dot, { ...IDENTITY, angle: Math.PI / 2 });
  assert.ok(Math.abs(at(turned, 4, 6) - 1) < 1e-6);
});

test("a zoom by 2 magnifies about the centre: a ramp in x reads at half the distance", () => {
  const ramp = Float32Array.from({ length: N * N }, (_, k) => k % N);
  const out = warp(ramp, { ...IDENTITY, zoom: 2 });
  const c = (N - 1) / 2;
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      // Bilinear sampling of a linear ramp is exact; the source y stays inside the image.
      assert.ok(Math.abs(at(out, x, y) - (c + (x - c) / 2)) < 1e-6, `(${x}, ${y})`);
    }
  }
  // Zooming out (0.5) leaves a zero border: the source of x = 0 is -3.5, outside.
  const small = warp(ramp, { ...IDENTITY, zoom: 0.5 });
  assert.is(at(small, 0, 3), 0);
  assert.ok(Math.abs(at(small, 3, 3) - (c + (3 - c) * 2)) < 1e-6);
});

test("hash32 is lowbias32 (checked against BigInt arithmetic)", () => {
  const ref = (v: number): number => {
    const M = 0xffffffffn;
    let x = BigInt(v >>> 0);
    x ^= x >> 16n;
    x = (x * 0x7feb352dn) & M;
    x ^= x >> 15n;
    x = (x * 0x846ca68bn) & M;
    x ^= x >> 16n;
    return Number(x);
  };
  for (const v of [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 123456789, 0xdeadbeef]) {
    assert.is(hash32(v), ref(v), `hash32(${v})`);
  }
});

const ALL: AugmentRanges = { shift: 2, rotate: 10, zoom: 0.1, flip: true };

test("draws stay in range and cover it; the same key gives the same draw", () => {
  const dx = new Set<number>();
  let flips = 0;
  let minAngle = Infinity;
  let maxAngle = -Infinity;
  let minZoom = Infinity;
  let maxZoom = -Infinity;
  const n = 2000;
  for (let i = 0; i < n; i++) {
    const d = drawAugment(ALL, 7, 1 + (i >> 6), i & 63);
    assert.equal(drawAugment(ALL, 7, 1 + (i >> 6), i & 63), d, "deterministic");
    assert.ok(Number.isInteger(d.dx) && Math.abs(d.dx) <= 2 && Number.isInteger(d.dy));
    assert.ok(Math.abs(d.dy) <= 2);
    dx.add(d.dx);
    if (d.flip) flips++;
    minAngle = Math.min(minAngle, d.angle);
    maxAngle = Math.max(maxAngle, d.angle);
    minZoom = Math.min(minZoom, d.zoom);
    maxZoom = Math.max(maxZoom, d.zoom);
  }
  assert.equal([...dx].sort(), [-1, -2, 0, 1, 2]);
  assert.ok(flips > 0.45 * n && flips < 0.55 * n, `flips ${flips} of ${n}`);
  const deg = (10 * Math.PI) / 180;
  assert.ok(minAngle >= -deg && maxAngle <= deg);
  assert.ok(minAngle < -0.9 * deg && maxAngle > 0.9 * deg, "angles cover [-10, 10] degrees");
  assert.ok(minZoom >= 0.9 && maxZoom <= 1.1 && minZoom < 0.91 && maxZoom > 1.09);
  // Kinds not asked for stay the identity.
  const flipOnly = drawAugment({ shift: 0, rotate: 0, zoom: 0, flip: true }, 7, 3, 4);
  assert.equal({ ...flipOnly, flip: false }, IDENTITY);
});

test("draws differ between steps, between samples and between seeds", () => {
  const key = (d: AugmentDraw) => `${d.flip} ${d.dx} ${d.dy} ${d.angle} ${d.zoom}`;
  const base = drawAugment(ALL, 7, 5, 3);
  assert.is.not(key(drawAugment(ALL, 7, 6, 3)), key(base), "next step");
  assert.is.not(key(drawAugment(ALL, 7, 5, 4)), key(base), "next sample");
  assert.is.not(key(drawAugment(ALL, 8, 5, 3)), key(base), "another seed");
  // Over many keys, the angles are all distinct (24-bit draws).
  const angles = new Set<number>();
  for (let step = 1; step <= 20; step++) {
    for (let r = 0; r < 20; r++) angles.add(drawAugment(ALL, 7, step, r).angle);
  }
  assert.ok(angles.size >= 399, `${angles.size} distinct angles of 400`);
});

/** Two 8x8 byte images with labels 0 and 1. */
function tinyImages(): Dataset {
  const inputs = Uint8Array.from({ length: 2 * N * N }, (_, k) => (k * 37) % 256);
  return {
    source: "tiny",
    inputs,
    sampleShape: [N, N, 1],
    labels: Uint8Array.from([0, 1]),
    count: 2,
    classes: 2,
  };
}

test("the Batcher augments each row by its own draw for the step and keeps labels", () => {
  const ds = tinyImages();
  const flip: AugmentRanges = { shift: 0, rotate: 0, zoom: 0, flip: true };
  const batcher = new Batcher(ds, {
    batchSize: 2,
    shuffle: false,
    augment: { ranges: flip, seed: 11, height: N, width: N, channels: 1 },
  });
  const plain = new Batcher(ds, { batchSize: 2, shuffle: false });
  const order = Uint32Array.from([0, 1]);
  let flipped = 0;
  let kept = 0;
  for (let step = 1; step <= 12; step++) {
    const b = batcher.fill(order, 0, step);
    const p = plain.fill(order, 0);
    assert.equal([...b.y], [...p.y], "labels unchanged");
    for (let r = 0; r < 2; r++) {
      const want = drawAugment(flip, 11, step, r).flip;
      const got = b.x.subarray(r * N * N, (r + 1) * N * N);
      const src = p.x.subarray(r * N * N, (r + 1) * N * N);
      for (let y = 0; y < N; y++) {
        for (let x = 0; x < N; x++) {
          const from = want ? at(src, N - 1 - x, y) : at(src, x, y);
          assert.is(at(got, x, y), from, `step ${step} row ${r} (${x}, ${y})`);
        }
      }
      if (want) flipped++;
      else kept++;
    }
  }
  assert.ok(flipped > 0 && kept > 0, `both outcomes drawn (${flipped} flipped, ${kept} kept)`);
});

test("a Batcher whose image dims do not match the samples is refused", () => {
  assert.throws(
    () =>
      new Batcher(tinyImages(), {
        batchSize: 2,
        augment: { ranges: ALL, seed: 0, height: 4, width: 4, channels: 1 },
      }),
    /does not hold the 64 values/,
  );
});

test("augmentRanges reads a program's list; describeAugment writes it back", () => {
  const list: Augmentation[] = [
    { name: "random_shift", args: { pixels: 2 } },
    { name: "random_rotate", args: { degrees: 10 } },
    { name: "random_zoom", args: { factor: 0.1 } },
    { name: "random_flip", args: {} },
  ];
  assert.equal(augmentRanges(list), ALL);
  assert.equal(augmentRanges([]), { shift: 0, rotate: 0, zoom: 0, flip: false });
  assert.is(
    describeAugment(list),
    "random_shift(2), random_rotate(10deg), random_zoom(0.1), random_flip",
  );
  for (const bad of [
    [{ name: "random_zoom", args: { factor: 1 } }],
    [{ name: "random_blur", args: {} }],
    [{ name: "random_shift", args: { pixels: -1 } }],
  ]) {
    assert.throws(
      () => augmentRanges(bad),
      (e: unknown) => e instanceof NncError && e.code === "NN5501",
    );
  }
  assert.equal(imageDims([28, 28, 1]), [28, 28, 1]);
  assert.equal(imageDims([28, 28]), [28, 28, 1]);
  assert.is(imageDims([784]), null);
});

test.run();
