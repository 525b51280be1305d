/**
 * @file Augmentation in the device gather (runtime/feeder.ts with runtime/augment.ts): the
 * kernel draws each sample's transform itself, so the tests ask the TypeScript draw which
 * rows it flipped or shifted and check the device's images against references made by index
 * arithmetic (mirrored exactly, a lit pixel moved by the shift); on real MNIST images with all
 * four augmentations the device batch equals the host Batcher's within 1e-5 per value; and a
 * fit with augmentation learns, differs from a fit without, and matches its host-fed twin.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFile } from "../../compiler/compile.js";
import { drawAugment, type AugmentRanges, type AugmentSpec } from "../../runtime/augment.js";
import { Batcher, normalize, type Dataset } from "../../runtime/data/dataset.js";
import { loadMnist } from "../../runtime/data/node.js";
import type { NncDevice } from "../../runtime/device.js";
import { Feeder, gatherWgsl, uploadDataset } from "../../runtime/feeder.js";
import { NncModel } from "../../runtime/model.js";
import { device, releaseDevice } from "./util.js";

/** A byte as nnc reads it: the f32 product with the f32 nearest 1/255 (runtime/data/dataset.ts). */
function byte(b: number): number {
  return Math.fround(b * Math.fround(1 / 255));
}

let dev: NncDevice;
test.before(async () => {
  dev = await device();
});
test.after(releaseDevice);

const N = 8;

/**
 * Gathers rows `order` of `ds` (images [h, w, c]) through an augmenting feeder at `step` and
 * reads the batch's inputs and one-hot labels back.
 */
async function gatherOnDevice(
  ds: Dataset,
  spec: AugmentSpec,
  order: Uint32Array,
  step: number,
): Promise<{ x: Float32Array; y: Float32Array }> {
  const device = dev.device;
  const batch = order.length;
  const per = spec.height * spec.width * spec.channels;
  const make = (floats: number) =>
    device.createBuffer({
      size: floats * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
  const x = make(batch * per);
  const y = make(batch * ds.classes);
  const data = uploadDataset(dev, ds);
  const feeder = await Feeder.create(
    dev,
    data,
    { batch, per, classes: ds.classes, x, y },
    [],
    spec,
  );
  try {
    feeder.setOrder(order);
    const enc = device.createCommandEncoder();
    feeder.record(enc, 0, batch, step);
    const reads = [
      [x, batch * per],
      [y, batch * ds.classes],
    ].map(([b, n]) => {
      const s = device.createBuffer({
        size: (n as number) * 4,
        usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      });
      enc.copyBufferToBuffer(b as GPUBuffer, 0, s, 0, (n as number) * 4);
      return s;
    });
    device.queue.submit([enc.finish()]);
    const out: Float32Array[] = [];
    for (const s of reads) {
      await s.mapAsync(GPUMapMode.READ);
      out.push(new Float32Array(s.getMappedRange().slice(0)));
      s.destroy();
    }
    return { x: out[0]!, y: out[1]! };
  } finally {
    feeder.dispose();
    data.buffer.destroy();
    x.destroy();
    y.destroy();
  }
}

function images(count: number, fill: (s: number, k: number) => number): Dataset {
  return {
    source: "synthetic",
    inputs: Uint8Array.from({ length: count * N * N }, (_, i) =>
      fill(Math.floor(i / (N * N)), i % (N * N)),
    ),
    sampleShape: [N, N, 1],
    labels: Uint8Array.from({ length: count }, (_, s) => s % 3),
    count,
    classes: 3,
  };
}

const spec = (ranges: AugmentRanges, seed: number): AugmentSpec => ({
  ranges,
  seed,
  height: N,
  width: N,
  channels: 1,
});

test("without augmentations the gather kernel is unchanged", () => {
  const t = { batch: 4, per: 64, classes: 3, x: {} as GPUBuffer, y: {} as GPUBuffer };
  const none = spec({ shift: 0, rotate: 0, zoom: 0, flip: false }, 5);
  assert.is(gatherWgsl(t, true, none), gatherWgsl(t, true));
  assert.not.match(gatherWgsl(t, true), /augmented|hash32/);
  assert.match(
    gatherWgsl(t, true, spec({ shift: 1, rotate: 0, zoom: 0, flip: false }, 5)),
    /fn augmented/,
  );
});

test("random_flip on the device: the drawn rows are mirrored exactly, the others copied", async () => {
  const ds = images(8, (s, k) => (k * 29 + s * 71) % 256);
  const flip: AugmentRanges = { shift: 0, rotate: 0, zoom: 0, flip: true };
  const order = Uint32Array.from([3, 0, 7, 1, 5, 2, 6, 4]);
  const { x, y } = await gatherOnDevice(ds, spec(flip, 21), order, 17);
  let flipped = 0;
  for (let r = 0; r < 8; r++) {
    const mirrored = drawAugment(flip, 21, 17, r).flip;
    if (mirrored) flipped++;
    const s = order[r]!;
    for (let py = 0; py < N; py++) {
      for (let px = 0; px < N; px++) {
        const sx = mirrored ? N - 1 - px : px;
        const want = byte(ds.inputs[s * N * N + py * N + sx]!);
        assert.is(x[r * N * N + py * N + px], want, `row ${r} (${px}, ${py})`);
      }
    }
    for (let c = 0; c < 3; c++) assert.is(y[r * 3 + c], c === s % 3 ? 1 : 0, `label ${r}`);
  }
  assert.ok(flipped > 0 && flipped < 8, `both outcomes among 8 rows (${flipped} flipped)`);
});

test("random_shift on the device: a single lit pixel moves by the drawn whole pixels", async () => {
  // Every image: one pixel lit at (3, 4), 255.
  const ds = images(6, (_, k) => (k === 4 * N + 3 ? 255 : 0));
  const shift: AugmentRanges = { shift: 2, rotate: 0, zoom: 0, flip: false };
  const order = Uint32Array.from([0, 1, 2, 3, 4, 5]);
  const moves = new Set<string>();
  for (const step of [1, 2]) {
    const { x } = await gatherOnDevice(ds, spec(shift, 4), order, step);
    for (let r = 0; r < 6; r++) {
      const { dx, dy } = drawAugment(shift, 4, step, r);
      moves.add(`${dx},${dy}`);
      const row = x.subarray(r * N * N, (r + 1) * N * N);
      const lit = [...row.keys()].filter((k) => row[k] !== 0);
      assert.equal(lit, [(4 + dy) * N + 3 + dx], `step ${step} row ${r}: shift (${dx}, ${dy})`);
      assert.is(row[(4 + dy) * N + 3 + dx], 1);
    }
  }
  assert.ok(moves.size >= 5, `the draws vary (${[...moves].join(" ")})`);
});

test("MNIST with all four augmentations: the device batch equals the host Batcher's within 1e-5", async () => {
  const mnist = loadMnist({ split: "train", limit: 64 });
  const all: AugmentRanges = { shift: 2, rotate: 10, zoom: 0.1, flip: true };
  const aug: AugmentSpec = { ranges: all, seed: 1234, height: 28, width: 28, channels: 1 };
  for (const ds of [mnist, normalize(mnist)]) {
    const host = new Batcher(ds, { batchSize: 32, seed: 3, augment: aug });
    const plain = new Batcher(ds, { batchSize: 32, seed: 3 });
    const order = host.orderFor(0);
    for (const step of [5, 6]) {
      const want = host.fill(order, 0, step);
      const got = await gatherOnDevice(ds, aug, order.slice(0, 32), step);
      let worst = 0;
      for (let i = 0; i < want.x.length; i++) {
        worst = Math.max(worst, Math.abs(got.x[i]! - want.x[i]!));
      }
      assert.ok(worst <= 1e-5, `${ds.source} step ${step}: max difference ${worst}`);
      assert.equal([...got.y], [...want.y], "labels");
      // The augmentation did something: the batch is far from the plain one.
      const p = plain.fill(order, 0);
      let moved = 0;
      for (let i = 0; i < p.x.length; i++) moved += Math.abs(p.x[i]! - want.x[i]!);
      assert.ok(moved / p.x.length > 0.02, `mean change ${moved / p.x.length}`);
    }
  }
});

const TINY = `model Tiny(image: [28, 28, 1]) -> [10] {
  image |> flatten |> dense(32, activation: relu) |> dense(10)
}
train Tiny {
  data = mnist(split: "train")
  loss = softmax_cross_entropy
  optimizer = adam(lr: 0.002)
  batch = 32
  epochs = 2
  seed = 1
  AUGMENT
}`;

async function fitTiny(
  data: Dataset,
  augment: string,
  feed: "host" | "device",
): Promise<{ loss: number; accuracy: number }[]> {
  const r = compileFile("tiny.nn", { limits: dev.limits, text: TINY.replace("AUGMENT", augment) });
  assert.equal(r.diagnostics, []);
  const model = await NncModel.create(r.program!, dev, { seed: 1 });
  try {
    return await model.fit(data, { feed });
  } finally {
    model.dispose();
  }
}

test("a fit with augmentation learns, differs from one without, and host and device agree", async () => {
  const data = loadMnist({ split: "train", limit: 1000 });
  const augment =
    "augment = [random_shift(2), random_rotate(10deg), random_zoom(0.1), random_flip]";
  const device = await fitTiny(data, augment, "device");
  const host = await fitTiny(data, augment, "host");
  const none = await fitTiny(data, "", "device");
  assert.is(device.length, 2);
  assert.ok(device[1]!.loss < device[0]!.loss, `loss ${device[0]!.loss} -> ${device[1]!.loss}`);
  assert.ok(device[1]!.accuracy > 0.3, `accuracy ${device[1]!.accuracy}`);
  for (let e = 0; e < 2; e++) {
    const rel = Math.abs(host[e]!.loss - device[e]!.loss) / device[e]!.loss;
    assert.ok(
      rel < 1e-3,
      `epoch ${e + 1}: host loss ${host[e]!.loss} vs device ${device[e]!.loss}`,
    );
  }
  assert.ok(
    Math.abs(none[1]!.loss - device[1]!.loss) > 1e-3,
    `augmentation changes training (${none[1]!.loss} without, ${device[1]!.loss} with)`,
  );
});

test.run();
