/**
 * @file Batches made on the device (runtime/feeder.ts) against batches made on the host: the
 * gather kernel writes the same normalised inputs, one-hot labels and step counter, so a fit
 * from the resident dataset leaves bit-identical weights and the same evaluation as a fit
 * whose batches the host fills and writes; odd sizes (a partial last batch, a sample size not
 * a multiple of four, f32 features) included.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFile } from "../../compiler/compile.js";
import { Batcher, type Dataset } from "../../runtime/data/dataset.js";
import { loadMnist } from "../../runtime/data/node.js";
import type { NncDevice } from "../../runtime/device.js";
import { Feeder, uploadDataset, deviceFeedRefusal } from "../../runtime/feeder.js";
import { Executor } from "../../runtime/executor.js";
import { NncModel } from "../../runtime/model.js";
import { fromRoot } from "../util/golden.js";
import { device, releaseDevice, rng } from "./util.js";

let dev: NncDevice;
test.before(async () => {
  dev = await device();
});
test.after(releaseDevice);

async function weightsAfterFit(
  file: string,
  data: Dataset,
  validation: Dataset,
  feed: "host" | "device",
): Promise<{ weights: Float32Array[]; val: { loss: number; accuracy: number }; loss: number }> {
  const program = compileFile(file, { limits: dev.limits }).program!;
  const model = await NncModel.create(program, dev, { seed: 5 });
  try {
    const [r] = await model.fit(data, { epochs: 1, seed: 2, feed, validation });
    const weights = (await model.getWeights()).map((t) => Float32Array.from(t.data));
    return { weights, val: { loss: r!.valLoss!, accuracy: r!.valAccuracy! }, loss: r!.loss };
  } finally {
    model.dispose();
  }
}

test("MNIST CNN: a fit from the resident dataset equals a fit from host batches, bit for bit", async () => {
  const train = loadMnist({ split: "train", limit: 700 }); // 10 full steps, 60 samples dropped
  const val = loadMnist({ split: "test", limit: 300 }); // a partial last inference batch
  assert.is(deviceFeedRefusal(dev, train, 64), undefined);
  const file = fromRoot("examples/mnist.nn");
  const host = await weightsAfterFit(file, train, val, "host");
  const onDevice = await weightsAfterFit(file, train, val, "device");
  assert.is(onDevice.weights.length, host.weights.length);
  host.weights.forEach((w, k) => {
    const d = onDevice.weights[k]!;
    let same = true;
    for (let i = 0; i < w.length; i++) if (w[i] !== d[i]) same = false;
    assert.ok(same, `weights ${k} differ between host and device batches`);
  });
  assert.is(onDevice.loss, host.loss);
  assert.is(onDevice.val.accuracy, host.val.accuracy);
  assert.ok(Math.abs(onDevice.val.loss - host.val.loss) < 1e-6);
  assert.ok(host.loss > 0 && host.val.accuracy > 0.2, "the run learned something");
});

test("trainStepOn (indices into a resident dataset) equals trainStep on the same batch", async () => {
  const data = loadMnist({ split: "train", limit: 200 });
  const program = compileFile(fromRoot("examples/mnist.nn"), { limits: dev.limits }).program!;
  const B = program.stepBatch;
  const a = await NncModel.create(program, dev, { seed: 3 });
  const b = await NncModel.create(program, dev, { seed: 3 });
  // c makes its batches on the host (as for a dataset too large for the device).
  const c = await NncModel.create(program, dev, { seed: 3 });
  try {
    const batcher = new Batcher(data, { batchSize: B, seed: 4 });
    const order = batcher.orderFor(0);
    for (let i = 0; i < 3; i++) {
      const idx = order.slice(i * B, (i + 1) * B);
      const batch = batcher.fill(order, i);
      const ra = await a.trainStep(batch.x, batch.y);
      const rb = await b.trainStepOn(data, idx);
      process.env.NNC_FEED = "host";
      const rc = await c.trainStepOn(data, idx).finally(() => delete process.env.NNC_FEED);
      for (const [name, r] of [
        ["resident", rb],
        ["host", rc],
      ] as const) {
        assert.is(r.loss, ra.loss, `step ${i}, ${name}: loss`);
        assert.is(r.accuracy, ra.accuracy, `step ${i}, ${name}: accuracy`);
      }
    }
    const [wa, wb, wc] = [await a.getWeights(), await b.getWeights(), await c.getWeights()];
    wa.forEach((t, k) => assert.equal([...wb[k]!.data], [...t.data], t.name));
    wa.forEach((t, k) => assert.equal([...wc[k]!.data], [...t.data], `host: ${t.name}`));
    let message = "";
    try {
      await b.queueTrainStepOn(
        data,
        Array.from({ length: B }, (_, i) => (i === 5 ? 200 : i)),
      );
    } catch (e) {
      message = String(e);
    }
    assert.match(message, /index 200 is not a sample/);
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
});

test("the gather fills inputs, one-hot labels and the step counter as the host would", async () => {
  // 5 features (not a multiple of four bytes per sample), 3 classes, batch 4, 7 samples.
  const src = `model Tiny(x: [5]) -> [3] { x |> dense(3) }
train Tiny { data = csv(path: "tiny.csv", label: "y")
  loss = softmax_cross_entropy
  optimizer = adam(lr: 0.01)
  batch = 4
  epochs = 1 }`;
  const r = compileFile("tiny.nn", { limits: dev.limits, text: src });
  assert.equal(r.diagnostics, []);
  const program = r.program!;
  const next = rng(11);
  const bytes = Uint8Array.from({ length: 7 * 5 }, () => Math.floor(next() * 256));
  const labels = Uint8Array.from({ length: 7 }, () => Math.floor(next() * 3));
  const asBytes: Dataset = {
    source: "bytes",
    inputs: bytes,
    sampleShape: [5],
    labels,
    count: 7,
    classes: 3,
  };
  const asFloats: Dataset = {
    ...asBytes,
    source: "floats",
    inputs: Float32Array.from(bytes, (b) => b * 0.5 - 3),
  };
  for (const ds of [asBytes, asFloats]) {
    const ex = await Executor.create(dev, program.step);
    const x = ex.bufferOf("input", "x");
    const y = ex.bufferOf("input", "label");
    const step = ex.bufferOf("input", "step");
    const feeder = await Feeder.create(
      dev,
      uploadDataset(dev, ds),
      {
        batch: 4,
        per: 5,
        classes: 3,
        x: x.buffer,
        y: y.buffer,
        step,
      },
      [],
    );
    const batcher = new Batcher(ds, { batchSize: 4, seed: 9 });
    const order = batcher.orderFor(0);
    feeder.setOrder(order);
    for (let b = 0; b < 2; b++) {
      const expected = batcher.fill(order, b);
      const enc = dev.device.createCommandEncoder();
      feeder.record(enc, b * 4, expected.count, 41 + b);
      dev.device.queue.submit([enc.finish()]);
      const got = await readBuffers(dev, [x.buffer, y.buffer, step.buffer], [20, 12, 1]);
      assert.equal([...got[0]!], [...expected.x], `${ds.source} batch ${b}: inputs`);
      assert.equal([...got[1]!], [...expected.y], `${ds.source} batch ${b}: labels`);
      const s = step.dtype === "i32" ? new Int32Array(got[2]!.buffer)[0] : got[2]![0];
      assert.is(s, 41 + b, `${ds.source} batch ${b}: step counter`);
    }
    feeder.dispose();
    ex.dispose();
  }
});

test("NNC_FEED=host, a dataset too big for one binding, a batch too big for the uniform and regression targets keep the host path", () => {
  const ds: Dataset = {
    source: "big",
    inputs: new Uint8Array(0),
    sampleShape: [1 << 20],
    labels: new Uint8Array(0),
    count: 200, // 200 MiB of bytes: over the 128 MiB binding limit
    classes: 2,
  };
  assert.ok(deviceFeedRefusal(dev, ds, 64));
  assert.match(
    deviceFeedRefusal(dev, ds, 64) ?? "",
    /^the dataset takes 200\.0 MiB, more than one storage buffer of this device holds \(\d+\.\d MiB\)$/,
  );
  const small: Dataset = { ...ds, sampleShape: [4], count: 1 };
  assert.is(deviceFeedRefusal(dev, small, 64), undefined);
  // The gather writes one-hot rows: regression targets are batched on the host.
  assert.is(
    deviceFeedRefusal(dev, { ...small, classes: 1, targets: new Float32Array([0.5]) }, 64),
    "its labels are regression targets, which only host batches hold",
  );
  // The batch's sample indices go in one uniform buffer: 16 bytes each.
  const most = Math.floor((dev.device.limits.maxUniformBufferBindingSize - 16) / 16);
  assert.is(deviceFeedRefusal(dev, small, most), undefined);
  assert.is(
    deviceFeedRefusal(dev, small, most + 1),
    `a batch of ${most + 1} samples is more than the device path takes (at most ${most})`,
  );
  process.env.NNC_FEED = "host";
  try {
    assert.ok(deviceFeedRefusal(dev, small, 64));
    assert.is(deviceFeedRefusal(dev, small, 64), "NNC_FEED=host is set");
  } finally {
    delete process.env.NNC_FEED;
  }
});

test('fit with feed: "device" says why the device path is refused', async () => {
  const program = compileFile(fromRoot("examples/mlp.nn"), { limits: dev.limits }).program!;
  const model = await NncModel.create(program, dev, { seed: 1 });
  const data = loadMnist({ split: "train", limit: 64 });
  process.env.NNC_FEED = "host";
  try {
    let message = "";
    await model.fit(data, { epochs: 1, feed: "device" }).catch((e) => (message = String(e)));
    assert.match(message, /cannot train from the device: NNC_FEED=host is set; use feed: "host"/);
  } finally {
    delete process.env.NNC_FEED;
    model.dispose();
  }
});

async function readBuffers(
  nnc: NncDevice,
  buffers: GPUBuffer[],
  lengths: number[],
): Promise<Float32Array[]> {
  const device = nnc.device;
  const enc = device.createCommandEncoder();
  const stagings = buffers.map((b, k) => {
    const s = device.createBuffer({
      size: lengths[k]! * 4,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    enc.copyBufferToBuffer(b, 0, s, 0, lengths[k]! * 4);
    return s;
  });
  device.queue.submit([enc.finish()]);
  const out: Float32Array[] = [];
  for (const s of stagings) {
    await s.mapAsync(GPUMapMode.READ);
    out.push(new Float32Array(s.getMappedRange().slice(0)));
    s.destroy();
  }
  return out;
}

test.run();
