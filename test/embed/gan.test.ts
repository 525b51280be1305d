/**
 * @file The module `nnc build` writes for a multi-step run (examples/gan.nn), loaded
 * in-process: its class trains both steps on a batch exactly as NncModel does (the one
 * execution path), `fit` reports each step's loss per epoch, its weights hold both models and
 * round-trip through safetensors bytes, it has no `evaluate` or `predict`, and misuse throws an
 * NncError that says what was expected.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { emitModule } from "../../compiler/emit/module.js";
import { compileFile } from "../../compiler/compile.js";
import { decodeSafetensors } from "../../runtime/checkpoint.js";
import { acquireDevice, type NncDevice } from "../../runtime/device.js";
import { NncError } from "../../runtime/errors.js";
import { NncModel } from "../../runtime/model.js";
import { defaultLimits } from "../../runtime/plan.js";
import type { ModelProgram } from "../../runtime/program.js";
import { importTypeScript, mnistTrain, root, scratch } from "./util.js";

/** A byte as nnc reads it: the f32 product with the f32 nearest 1/255 (runtime/data/dataset.ts). */
function byte(b: number): number {
  return Math.fround(b * Math.fround(1 / 255));
}

interface StepResult {
  loss: number;
  accuracy: number;
  losses?: Record<string, number>;
}
interface Gan {
  trainStep(b: { inputs: Float32Array | Uint8Array }): Promise<StepResult>;
  fit(
    d: { inputs: Float32Array | Uint8Array; count?: number },
    o?: { epochs?: number; seed?: number },
  ): Promise<(StepResult & { epoch: number })[]>;
  saveWeights(): Promise<Uint8Array>;
  loadWeights(b: Uint8Array | ArrayBuffer): void;
  dispose(): void;
}
interface GanClass {
  create(opts?: { device?: GPUDevice; seed?: number }): Promise<Gan>;
  readonly steps: readonly string[];
  readonly batchSize: number;
  readonly inputSize: number;
  readonly inputShape: readonly number[];
  readonly prototype: object;
}

const space = scratch("embed-gan");
let dev: NncDevice;
let program: ModelProgram;
let Gan: GanClass;

test.before(async () => {
  dev = await acquireDevice();
  const r = compileFile(`${root}/examples/gan.nn`, { limits: defaultLimits });
  assert.equal(r.diagnostics, []);
  program = r.program!;
  Gan = (await importTypeScript<{ Gan: GanClass }>(space.dir, "Gan", emitModule(program))).Gan;
});

test.after(() => {
  dev.destroy();
  space.cleanup();
});

test("the class describes the run: its steps, batch and input", () => {
  assert.equal(Gan.steps, ["discriminator", "generator"]);
  assert.is(Gan.batchSize, 64);
  assert.is(Gan.inputSize, 784);
  assert.equal(Gan.inputShape, [28, 28, 1]);
  assert.not.ok("predict" in Gan.prototype);
  assert.not.ok("evaluate" in Gan.prototype);
});

test("trainStep runs both steps exactly as NncModel does; fit reports each step's loss", async () => {
  const { images } = await mnistTrain(128);
  const first = images.subarray(0, 64 * 784);
  const m = await Gan.create({ device: dev.device, seed: 4 });
  const ref = await NncModel.create(program, dev, { seed: 4 });
  try {
    const got = await m.trainStep({ inputs: first });
    const want = await ref.trainStep(Float32Array.from(first, byte), new Float32Array());
    assert.equal(got.losses, want.losses);
    assert.ok(Number.isFinite(got.losses!.discriminator!));
    assert.ok(Number.isFinite(got.losses!.generator!));
    assert.is(got.loss, got.losses!.discriminator! + got.losses!.generator!);
    const a = decodeSafetensors(await m.saveWeights()).tensors;
    const b = await ref.getWeights();
    assert.equal(
      a.map((t) => t.name),
      b.map((t) => t.name),
    );
    a.forEach((t, k) => assert.equal([...t.data], [...b[k]!.data], t.name));
    assert.ok(a.some((t) => t.name.startsWith("Generator/")));
    assert.ok(a.some((t) => t.name.startsWith("Discriminator/")));

    const epochs = await m.fit({ inputs: images }, { epochs: 2 });
    assert.is(epochs.length, 2);
    for (const e of epochs) {
      assert.equal(Object.keys(e.losses!), ["discriminator", "generator"]);
      assert.ok(Object.values(e.losses!).every(Number.isFinite), JSON.stringify(e.losses));
      assert.ok(Number.isNaN(e.accuracy));
    }
  } finally {
    m.dispose();
    ref.dispose();
  }
});

test("weights of both models round-trip through bytes", async () => {
  const a = await Gan.create({ device: dev.device, seed: 1 });
  const b = await Gan.create({ device: dev.device, seed: 2 });
  try {
    const bytes = await a.saveWeights();
    assert.not.equal(await b.saveWeights(), bytes);
    b.loadWeights(bytes);
    assert.equal(await b.saveWeights(), bytes);
    // Loaded weights train on: the same batch gives the same losses from both.
    const { images } = await mnistTrain(64);
    assert.equal(
      (await a.trainStep({ inputs: images })).losses,
      (await b.trainStep({ inputs: images })).losses,
    );
  } finally {
    a.dispose();
    b.dispose();
  }
});

test("a short batch or data that is not samples says what was expected", async () => {
  const m = await Gan.create({ device: dev.device });
  try {
    const short = await m.trainStep({ inputs: new Float32Array(10) }).catch((e: unknown) => e);
    assert.instance(short, NncError);
    assert.match((short as Error).message, "Gan.trainStep(): expected batch.inputs of 64 samples");
    const bad = await m.fit({ inputs: "pixels" as unknown as Uint8Array }).catch((e: unknown) => e);
    assert.instance(bad, NncError);
    assert.match((bad as Error).message, "Gan.fit(): data.inputs must be a Float32Array");
    const few = await m.fit({ inputs: new Float32Array(10) }).catch((e: unknown) => e);
    assert.is(
      (few as Error).message,
      "Gan.fit(): expected data.inputs holding a whole, non-zero number of samples of shape [28, 28, 1], 784 values, got 10 values",
    );
    // Refused before anything trains: the run has no labels to validate on.
    const { images } = await mnistTrain(64);
    const before = await m.saveWeights();
    const validated = await m
      .fit({ inputs: images }, { validation: { inputs: images } } as never)
      .catch((e: unknown) => e);
    assert.is(
      (validated as Error).message,
      "Gan.fit(): validation needs labels, and the steps of train Gan read none",
    );
    assert.equal(await m.saveWeights(), before);
  } finally {
    m.dispose();
  }
});

test.run();
