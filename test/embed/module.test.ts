/**
 * @file The module `nnc build` writes, loaded in-process on the local device: predictions
 * match NncModel (the path `nnc train`/`nnc predict` take) on the same weights, training moves
 * the loss, weights round-trip through safetensors bytes (also from a Node Buffer), the
 * standalone bundle computes the same as the module, and every misuse (wrong shapes, labels,
 * calls after dispose) throws an NncError that says what was expected.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bundleStandalone } from "../../compiler/emit/bundle.js";
import { emitModule } from "../../compiler/emit/module.js";
import { compileFile } from "../../compiler/compile.js";
import { decodeSafetensors } from "../../runtime/checkpoint.js";
import { acquireDevice, type NncDevice } from "../../runtime/device.js";
import { NncError } from "../../runtime/errors.js";
import { NncModel } from "../../runtime/model.js";
import { defaultLimits } from "../../runtime/plan.js";
import {
  importTypeScript,
  maxDiff,
  mnistFile,
  mnistProgram,
  mnistResult,
  mnistTest,
  mnistTrain,
  scratch,
} from "./util.js";

/** A byte as nnc reads it: the f32 product with the f32 nearest 1/255 (runtime/data/dataset.ts). */
function byte(b: number): number {
  return Math.fround(b * Math.fround(1 / 255));
}

interface Model {
  predict(x: Float32Array | Uint8Array, count?: number): Promise<Float32Array>;
  trainStep(b: { inputs: Float32Array | Uint8Array; labels: ArrayLike<number> }): Promise<{
    loss: number;
    accuracy: number;
  }>;
  fit(
    d: { inputs: Float32Array | Uint8Array; labels: ArrayLike<number>; count?: number },
    o?: { epochs?: number; signal?: AbortSignal; onEpoch?: (r: { epoch: number }) => boolean },
  ): Promise<{ epoch: number; loss: number }[]>;
  evaluate(d: { inputs: Uint8Array; labels: ArrayLike<number>; count?: number }): Promise<{
    loss: number;
    accuracy: number;
    count: number;
  }>;
  saveWeights(): Promise<Uint8Array>;
  loadWeights(b: Uint8Array | ArrayBuffer): void;
  dispose(): void;
}
interface ModelClass {
  create(opts?: { device?: GPUDevice; seed?: number }): Promise<Model>;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly inputSize: number;
  readonly outputSize: number;
  readonly batchSize: number;
  readonly classes: number;
}

const space = scratch("embed-module");
let dev: NncDevice;
let Mnist: ModelClass;
let Standalone: ModelClass;
interface Exports {
  Mnist: ModelClass;
  NncError: typeof NncError;
  isNncError(e: unknown): boolean;
}
let standalone: Exports;
let moduleExports: Exports;

test.before(async () => {
  dev = await acquireDevice();
  const r = mnistResult();
  const source = emitModule(mnistProgram(), { predictOutput: r.lowered!.infer.predictOutput });
  Mnist = (await importTypeScript<{ Mnist: ModelClass }>(space.dir, "Mnist", source)).Mnist;
  const bundle = await bundleStandalone(source);
  standalone = await importTypeScript<Exports>(space.dir, "MnistStandalone", bundle);
  Standalone = standalone.Mnist;
  moduleExports = await importTypeScript<Exports>(space.dir, "MnistExports", source);
});

let began = 0;
test.before.each(() => {
  began = performance.now();
});
test.after.each((ctx) => {
  if (process.env.NNC_DEBUG) {
    process.stderr.write(`${ctx.__test__}: ${Math.round(performance.now() - began)} ms\n`);
  }
});

test.after(() => {
  dev.destroy();
  space.cleanup();
});

/** The thrown error, which must be an NncError. */
async function rejection(f: () => unknown): Promise<NncError> {
  try {
    await f();
  } catch (e) {
    assert.instance(e, NncError, `expected an NncError, got ${String(e)}`);
    return e as NncError;
  }
  return assert.unreachable("expected the call to throw") as never;
}

test("static members give the .nn signature", () => {
  assert.equal([...Mnist.inputShape], [28, 28, 1]);
  assert.equal([...Mnist.outputShape], [10]);
  assert.is(Mnist.inputSize, 784);
  assert.is(Mnist.outputSize, 10);
  assert.is(Mnist.classes, 10);
  assert.is(Mnist.batchSize, mnistProgram().stepBatch);
});

test("predict matches NncModel on the same weights, from bytes or floats", async () => {
  const m = await Mnist.create({ device: dev.device, seed: 7 });
  const { images } = await mnistTest(300); // more than one inference batch of 256
  const out = await m.predict(images);
  assert.is(out.length, 300 * 10);
  for (let i = 0; i < 300; i++) {
    const row = out.subarray(i * 10, i * 10 + 10);
    const sum = row.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}`);
  }
  const floats = Float32Array.from(images, byte);
  assert.is(maxDiff(await m.predict(floats, 300), out), 0);

  // The CLI's path: the program compiled for this device's limits, run by NncModel.
  const local = compileFile(mnistFile, { limits: dev.limits }).program!;
  const ref = await NncModel.create(local, dev);
  ref.setWeights(decodeSafetensors(await m.saveWeights()).tensors);
  const expected = await ref.predict(floats, 300);
  ref.dispose();
  const d = maxDiff(out, expected);
  assert.ok(d < 1e-5, `module and NncModel differ by ${d}`);
  m.dispose();
});

test("the standalone bundle computes what the module computes", async () => {
  const a = await Mnist.create({ device: dev.device, seed: 3 });
  const b = await Standalone.create({ device: dev.device, seed: 3 });
  const { images } = await mnistTest(20);
  assert.is(maxDiff(await a.predict(images), await b.predict(images)), 0);
  a.dispose();
  b.dispose();
});

test("a module exports the error class its calls throw, the standalone bundle its own", async () => {
  assert.is(moduleExports.NncError, NncError);
  const e = await rejection(() => moduleExports.Mnist.create({ device: dev.device, seed: -1 }));
  assert.ok(moduleExports.isNncError(e));
  let thrown: unknown;
  try {
    await Standalone.create({ device: dev.device, seed: -1 });
  } catch (err) {
    thrown = err;
  }
  assert.instance(thrown, standalone.NncError);
  assert.ok(standalone.isNncError(thrown));
  assert.is((thrown as NncError).code, "NN5501");
});

test("trainStep lowers the loss on a batch; fit stops on onEpoch and on abort", async () => {
  const m = await Mnist.create({ device: dev.device, seed: 1 });
  const n = Mnist.batchSize;
  const { images, labels } = await mnistTrain(2 * n);
  const batch = { inputs: images.subarray(0, n * 784), labels: labels.subarray(0, n) };
  const first = await m.trainStep(batch);
  assert.ok(Number.isFinite(first.loss) && first.loss > 1, `first loss ${first.loss}`);
  let last = first;
  for (let i = 0; i < 5; i++) last = await m.trainStep(batch);
  assert.ok(last.loss < first.loss * 0.9, `loss ${first.loss} -> ${last.loss}`);
  assert.ok(last.accuracy >= 0 && last.accuracy <= 1);

  const epochs = await m.fit({ inputs: images, labels }, { epochs: 3, onEpoch: () => false });
  assert.is(epochs.length, 1);
  const ac = new AbortController();
  ac.abort(new Error("stop now"));
  try {
    await m.fit({ inputs: images, labels }, { epochs: 1, signal: ac.signal });
    assert.unreachable("fit should reject once aborted");
  } catch (e) {
    assert.is((e as Error).message, "stop now");
  }
  const ev = await m.evaluate({ inputs: images, labels });
  assert.is(ev.count, 2 * n);
  m.dispose();
});

test("weights round-trip through bytes, an ArrayBuffer and a Node Buffer", async () => {
  const a = await Mnist.create({ device: dev.device, seed: 11 });
  const b = await Mnist.create({ device: dev.device, seed: 12 });
  const { images } = await mnistTest(8);
  const pa = await a.predict(images);
  assert.ok(maxDiff(pa, await b.predict(images)) > 1e-4, "different seeds, different models");
  const bytes = await a.saveWeights();
  b.loadWeights(bytes);
  assert.is(maxDiff(pa, await b.predict(images)), 0);
  const c = await Mnist.create({ device: dev.device, seed: 13 });
  c.loadWeights(bytes.slice().buffer);
  assert.is(maxDiff(pa, await c.predict(images)), 0);
  // A Buffer that is a view into a larger pooled allocation.
  const pooled = Buffer.concat([Buffer.alloc(16), Buffer.from(bytes)]).subarray(16);
  c.loadWeights(pooled);
  assert.is(maxDiff(pa, await c.predict(images)), 0);
  const e = await rejection(() => c.loadWeights(bytes.subarray(0, 100)));
  assert.match(e.message, /Mnist\.loadWeights\(\)/);
  a.dispose();
  b.dispose();
  c.dispose();
});

test("wrongly shaped inputs and labels say what was expected", async () => {
  const m = await Mnist.create({ device: dev.device });
  let e = await rejection(() => m.predict(new Float32Array(100)));
  assert.match(e.message, /Mnist\.predict\(\)/);
  assert.match(e.message, /\[28, 28, 1\], 784 values/);
  assert.match(e.message, /got 100 values/);
  e = await rejection(() => m.predict(new Float32Array(784 * 2), 3));
  assert.match(e.message, /3 samples × 784 values = 2352 values/);
  assert.match(e.message, /got 1568 values/);
  e = await rejection(() => m.predict([1, 2, 3] as unknown as Float32Array));
  assert.match(e.message, /whole, non-zero number of samples/);
  e = await rejection(() => m.predict("pixels" as unknown as Float32Array));
  assert.match(e.message, /must be a Float32Array \(or a Uint8Array of bytes\), got string/);
  const n = Mnist.batchSize;
  e = await rejection(() =>
    m.trainStep({ inputs: new Float32Array(784 * (n - 1)), labels: new Array(n).fill(0) }),
  );
  assert.match(
    e.message,
    new RegExp(`Mnist\\.trainStep\\(\\): expected batch\\.inputs of ${n} samples`),
  );
  e = await rejection(() =>
    m.trainStep({ inputs: new Float32Array(784 * n), labels: new Array(n).fill(10) }),
  );
  assert.match(e.message, /label 0 is 10; labels are class indices 0 to 9/);
  e = await rejection(() =>
    m.trainStep({ inputs: new Float32Array(784 * n), labels: new Array(n - 2).fill(1) }),
  );
  assert.match(
    e.message,
    new RegExp(`expected ${n} labels \\(one class index per sample\\), got ${n - 2}`),
  );
  e = await rejection(() => m.fit({ inputs: new Uint8Array(784 * 3), labels: [1, 2, 3] }));
  assert.match(e.message, new RegExp(`3 samples are fewer than one batch of ${n}`));
  e = await rejection(() => Mnist.create({ device: {} as GPUDevice }));
  assert.match(e.message, /device must be a GPUDevice/);
  // One NaN or infinity would turn every weight into NaN at the next step.
  const x = new Float32Array(784 * n);
  x[5] = Number.NaN;
  e = await rejection(() => m.predict(x));
  assert.is(e.message, "Mnist.predict(): inputs value 5 is NaN, not a finite number");
  x[5] = 0;
  x[784 * 3] = Number.POSITIVE_INFINITY;
  e = await rejection(() => m.trainStep({ inputs: x, labels: new Array(n).fill(1) }));
  assert.is(
    e.message,
    `Mnist.trainStep(): batch.inputs value ${784 * 3} is Infinity, not a finite number`,
  );
  e = await rejection(() => m.fit({ inputs: x, labels: new Array(n).fill(1) }));
  assert.match(e.message, /^Mnist\.fit\(\): data\.inputs value 2352 is Infinity/);
  m.dispose();
});

test("token ids outside the embedding's rows are refused, naming the call, the id and the range", async () => {
  const text = `model Tok(tokens: [4] int) -> [2] {
  tokens |> embedding(vocab: 10, dim: 4) |> flatten |> dense(2)
}
train Tok {
  data      = csv(path: "tok.csv", label: "y", classes: 2)
  loss      = softmax_cross_entropy
  optimizer = adam
  batch     = 2
  epochs    = 1
}`;
  const r = compileFile("tok.nn", { limits: defaultLimits, text });
  assert.equal(r.diagnostics, []);
  const source = emitModule(r.program!, { predictOutput: r.lowered!.infer.predictOutput });
  const { Tok } = await importTypeScript<{ Tok: ModelClass }>(space.dir, "Tok", source);
  const m = await Tok.create({ device: dev.device });
  assert.is((await m.predict(new Float32Array([0, 9, 3, 4]))).length, 2);
  let e = await rejection(() => m.predict(new Float32Array([1, 2, 3, 10])));
  assert.is(e.detail, "Tok.predict(): inputs hold token id 10 at value 3; ids run from 0 to 9");
  e = await rejection(() => m.predict(Uint8Array.from([1, 200, 3, 4])));
  assert.is(e.detail, "Tok.predict(): inputs hold token id 200 at value 1; ids run from 0 to 9");
  const inputs = new Float32Array([0, 1, 2, 3, 4, 5, -7, 6]);
  e = await rejection(() => m.trainStep({ inputs, labels: [0, 1] }));
  assert.is(
    e.detail,
    "Tok.trainStep(): batch.inputs hold token id -7 at value 6; ids run from 0 to 9",
  );
  e = await rejection(() => m.fit({ inputs, labels: [0, 1] }));
  assert.is(e.detail, "Tok.fit(): data.inputs hold token id -7 at value 6; ids run from 0 to 9");
  e = await rejection(() => m.evaluate({ inputs: Uint8Array.from(inputs), labels: [0, 1] }));
  assert.match(e.detail, /^Tok\.evaluate\(\): data\.inputs hold token id \d+ at value 6;/);
  e = await rejection(() => m.predict(new Float32Array([1, 2.5, 3, 4])));
  assert.is(e.detail, "Tok.predict(): inputs are integer ids, but value 1 is 2.5");
  m.dispose();
});

test("every call after dispose() throws, naming the method and the way out", async () => {
  const m = await Mnist.create({ device: dev.device });
  m.dispose();
  m.dispose(); // twice is fine
  const calls: [string, () => unknown][] = [
    ["predict", () => m.predict(new Float32Array(784))],
    ["trainStep", () => m.trainStep({ inputs: new Float32Array(784), labels: [0] })],
    ["fit", () => m.fit({ inputs: new Float32Array(784), labels: [0] })],
    ["evaluate", () => m.evaluate({ inputs: new Uint8Array(784), labels: [0] })],
    ["saveWeights", () => m.saveWeights()],
    ["loadWeights", () => m.loadWeights(new Uint8Array(8))],
  ];
  for (const [name, call] of calls) {
    const e = await rejection(call);
    assert.is(
      e.message,
      `Mnist.${name}(): this model was disposed; create a new one with Mnist.create()`,
    );
  }
});

test("without a device, models share the default one, which stays for the next model", async () => {
  const a = await Mnist.create({ seed: 5 });
  const b = await Mnist.create({ seed: 5 });
  const { images } = await mnistTest(4);
  assert.is(maxDiff(await a.predict(images), await b.predict(images)), 0);
  const deviceOf = (m: Model): unknown =>
    (m as unknown as { runner: { model: { device: unknown } } }).runner.model.device;
  assert.is(deviceOf(a), deviceOf(b));
  a.dispose();
  assert.is((await b.predict(images)).length, 40, "b still runs after a is disposed");
  b.dispose();
  // A device for each model cost its setup each time, and Dawn kept some of every one's memory.
  const c = await Mnist.create({ seed: 5 });
  assert.is(deviceOf(c), deviceOf(a));
  assert.is((await c.predict(images)).length, 40);
  c.dispose();
});

test("calls on one model run one after another, each on the inputs it was given", async () => {
  const m = await Mnist.create({ device: dev.device, seed: 2 });
  const { images } = await mnistTest(300);
  const a = images.subarray(0, 150 * 784);
  const b = images.subarray(150 * 784);
  const fa = Float32Array.from(a, byte);
  const [ra, rb] = [await m.predict(a), await m.predict(b)];
  // In flight together, and the caller's array changed before the first call ran.
  const both = [
    m.predict(fa),
    m.predict(b),
    m.evaluate({ inputs: b, labels: new Array(150).fill(0) }),
  ];
  fa.fill(0);
  const [xa, xb] = (await Promise.all(both)) as Float32Array[];
  assert.is(maxDiff(xa!, ra), 0);
  assert.is(maxDiff(xb!, rb), 0);
  // Two fits at once train one after the other (the second from where the first ended).
  const { images: train, labels } = await mnistTrain(128);
  const data = { inputs: train, labels };
  const fits = await Promise.all([m.fit(data, { epochs: 1 }), m.fit(data, { epochs: 1 })]);
  assert.ok(fits.every((f) => f.length === 1 && Number.isFinite(f[0]!.loss)));
  // Weights are not swapped under a running call; dispose rejects what is still pending.
  const pending = m.predict(a);
  let e = await rejection(() => m.loadWeights(new Uint8Array(8)));
  assert.match(
    e.message,
    /^Mnist\.loadWeights\(\): 1 earlier call\(s\) have not finished; await them first/,
  );
  await pending;
  const late = m.fit(data, { epochs: 3 });
  m.dispose();
  e = await rejection(() => late);
  assert.is(e.message, "Mnist.fit(): the model was disposed before this call ended");
});

test("fit, evaluate and create check the counts they are given", async () => {
  const m = await Mnist.create({ device: dev.device });
  const { images, labels } = await mnistTrain(128);
  for (const epochs of [0, -1, 1.5, Number.NaN, "2"]) {
    const e = await rejection(() =>
      m.fit({ inputs: images, labels }, { epochs: epochs as number }),
    );
    assert.is(
      e.message,
      `Mnist.fit(): epochs must be a whole number from 1, got ${JSON.stringify(epochs)}`,
    );
  }
  let e = await rejection(() => m.evaluate({ inputs: new Uint8Array(0), labels: [] }));
  assert.is(e.message, "Mnist.evaluate(): data.inputs holds no samples");
  // `count` takes the first samples of both inputs and labels.
  const part = await m.evaluate({ inputs: images, labels, count: 64 });
  const first = await m.evaluate({
    inputs: images.subarray(0, 64 * 784),
    labels: labels.subarray(0, 64),
  });
  assert.equal(part, first);
  for (const seed of [2 ** 32, -1, "1"]) {
    e = await rejection(() => Mnist.create({ device: dev.device, seed: seed as number }));
    assert.is(
      e.message,
      `Mnist.create(): seed must be an integer from 0 to 4294967295, got ${JSON.stringify(seed)}`,
    );
  }
  e = await rejection(() => Mnist.create({ device: { queue: 1 } as unknown as GPUDevice }));
  assert.match(e.message, /device must be a GPUDevice, got Object/);
  m.dispose();
});

test.run();
