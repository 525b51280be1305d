/**
 * @file Continuing a run through NncModel (what `nnc train --resume` does): a model that trained
 * 1 epoch hands its weights, optimizer state and step counter to a new model, which fits with
 * `initialEpoch: 1`; its weights and second-epoch metrics equal, bit for bit, those of a model
 * that fit 2 epochs straight, with augmentation and dropout (both keyed by the step counter)
 * and batches made on the device or on the host. Dropping the optimizer state or the step
 * counter breaks the equality, so it is not vacuous.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFile } from "../../compiler/compile.js";
import type { NamedTensor } from "../../runtime/checkpoint.js";
import { loadMnist } from "../../runtime/data/node.js";
import type { NncDevice } from "../../runtime/device.js";
import { NncModel } from "../../runtime/model.js";
import type { ModelProgram } from "../../runtime/program.js";
import { device, releaseDevice } from "./util.js";

let dev: NncDevice;
let program: ModelProgram;
test.before(async () => {
  dev = await device();
  const r = compileFile("tiny.nn", {
    limits: dev.limits,
    text: `model Tiny(image: [28, 28, 1]) -> [10] {
  image |> flatten |> dense(32, activation: relu) |> dropout(0.25) |> dense(10)
}
train Tiny {
  data = mnist(split: "train")
  loss = softmax_cross_entropy
  optimizer = adam(lr: 0.002)
  batch = 32
  epochs = 2
  seed = 3
  augment = [random_shift(2), random_flip]
}`,
  });
  assert.equal(r.diagnostics, []);
  program = r.program!;
});
test.after(releaseDevice);

const data = loadMnist({ split: "train", limit: 320 });

function bits(tensors: readonly NamedTensor[]): string[] {
  return tensors.map(
    (t) =>
      `${t.name}:${Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex")}`,
  );
}

async function straight(feed: "host" | "device") {
  const m = await NncModel.create(program, dev);
  try {
    const h = await m.fit(data, { feed });
    return { weights: bits(await m.getWeights()), second: h[1]!, steps: m.stepCount };
  } finally {
    m.dispose();
  }
}

async function resumed(feed: "host" | "device", keep: { optimizer: boolean; step: boolean }) {
  const a = await NncModel.create(program, dev);
  let saved: { weights: NamedTensor[]; optimizer: NamedTensor[]; step: number };
  try {
    await a.fit(data, { feed, epochs: 1 });
    saved = {
      weights: await a.getWeights(),
      optimizer: await a.getOptimizerState(),
      step: a.stepCount,
    };
  } finally {
    a.dispose();
  }
  // A new model from another seed: everything it continues with comes from `saved`.
  const b = await NncModel.create(program, dev, { seed: 99 });
  try {
    b.setWeights(saved.weights);
    if (keep.optimizer) b.setOptimizerState(saved.optimizer);
    if (keep.step) b.stepCount = saved.step;
    const h = await b.fit(data, { feed, epochs: 2, initialEpoch: 1, seed: 3 });
    assert.is(h.length, 1);
    assert.is(h[0]!.epoch, 2);
    return { weights: bits(await b.getWeights()), second: h[0]!, optimizer: saved.optimizer };
  } finally {
    b.dispose();
  }
}

for (const feed of ["device", "host"] as const) {
  test(`fit 1 epoch, then a new model with initialEpoch 1, equals fit 2 (${feed} batches)`, async () => {
    const s = await straight(feed);
    assert.is(s.steps, 20);
    const r = await resumed(feed, { optimizer: true, step: true });
    assert.ok(r.weights.join() === s.weights.join(), "bit-identical weights");
    assert.is(r.second.loss, s.second.loss);
    assert.is(r.second.accuracy, s.second.accuracy);
    assert.equal(
      r.optimizer.map((t) => t.name),
      program.variables.filter((v) => v.role === "optimizer").map((v) => v.name),
    );
    assert.ok(
      r.optimizer.some((t) => t.data.some((x) => x !== 0)),
      "Adam's moments moved",
    );
    if (feed === "device") {
      const noOptimizer = await resumed(feed, { optimizer: false, step: true });
      assert.ok(noOptimizer.weights.join() !== s.weights.join(), "without the optimizer state");
      const noStep = await resumed(feed, { optimizer: true, step: false });
      assert.ok(noStep.weights.join() !== s.weights.join(), "without the step counter");
    }
  });
}

test("setOptimizerState refuses a foreign tensor and sets nothing then", async () => {
  const m = await NncModel.create(program, dev);
  try {
    const before = bits(await m.getOptimizerState());
    const state = await m.getOptimizerState();
    const bad = [
      { ...state[0]!, data: new Float32Array(state[0]!.data.length).fill(1) },
      { ...state[1]!, data: new Float32Array(3) },
    ];
    assert.throws(() => m.setOptimizerState(bad), /expected \d+ values, got 3/);
    assert.equal(bits(await m.getOptimizerState()), before);
    assert.throws(() => (m.stepCount = -1), /stepCount must be a whole number/);
  } finally {
    m.dispose();
  }
});

test.run();
