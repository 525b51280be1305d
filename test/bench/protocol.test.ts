/**
 * @file The benchmark's measurement protocol and its driver. The protocol's windows split the
 * timed phase exactly and its speed is their median (a fake trainer, so the counts are known);
 * the driver (`bench/run.ts`) takes real rows' windows in turns and returns every row, also one
 * that cannot train (quick runs: nnc and TF.js wasm on the MLP, nnc's row with its kernel
 * table under NNC_DEBUG; TF.js wasm on the CNN, which it cannot train).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import type { Mnist, MnistSplit } from "../../bench/mnist.js";
import {
  DEFAULT_OPTIONS,
  medianRate,
  RowRun,
  runProtocol,
  windowSteps,
  type BenchOptions,
  type BenchRow,
  type Trainer,
} from "../../bench/protocol.js";
import { fromRoot } from "../util/golden.js";

test("windowSteps splits a step count into windows that sum to it", () => {
  assert.equal(
    [0, 1].map((w) => windowSteps(10, 2, w)),
    [5, 5],
  );
  assert.equal(
    [0, 1, 2].map((w) => windowSteps(7, 3, w)),
    [2, 2, 3],
  );
  const few = [0, 1, 2, 3, 4].map((w) => windowSteps(2, 5, w));
  assert.is(
    few.reduce((a, b) => a + b, 0),
    2,
  );
  assert.ok(few.every((n) => n === 0 || n === 1));
});

test("medianRate is the median of the windows' images/s, leaving out empty windows", () => {
  const w = (steps: number, seconds: number) => ({ steps, seconds });
  // 64-image batches: 6400, 3200 and 12800 images/s.
  assert.is(medianRate([w(100, 1), w(50, 1), w(200, 1)], 64), 6400);
  assert.is(medianRate([w(100, 1), w(50, 1)], 64), 4800);
  assert.is(medianRate([w(100, 1), w(0, 0.001), w(200, 1)], 64), 9600);
  assert.is(medianRate([w(0, 0.001)], 64), null);
});

/** A split of `count` blank images whose labels are i % 10. */
function split(count: number): MnistSplit {
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return { count, images: new Uint8Array(count * 784), labels };
}

/** A trainer that counts its steps and predicts class 0 for every image (10% right). */
function fakeTrainer(failAtStep = Infinity): Trainer & { steps: number } {
  return {
    notes: "fake",
    steps: 0,
    async step() {
      this.steps += 1;
      if (this.steps >= failAtStep) throw new Error("device lost\nsecond line");
      return 2.3 - this.steps * 0.01;
    },
    async predict(_x, n) {
      return new Int32Array(n);
    },
    dispose() {},
  };
}

const data: Mnist = { train: split(1280), test: split(100) };
const opts: BenchOptions = {
  ...DEFAULT_OPTIONS,
  warmupSteps: 2,
  timedSteps: 10,
  rounds: 3,
  trainImages: 1280,
  testImages: 100,
  inferBatch: 32,
  lossEvery: 4,
};

test("runProtocol runs the timed steps in its windows, trains to the image budget, then tests", async () => {
  const trainer = fakeTrainer();
  const row = await runProtocol("nnc", "fake", "mlp", trainer, data, opts);
  assert.is(row.error, null);
  assert.equal(
    row.timed_windows!.map((w) => w.steps),
    [3, 3, 4],
  );
  assert.is(row.timed_steps, 10);
  // 1,280 images are 20 batches: 1 compile step, 2 warm-up, 10 timed, 7 untimed.
  assert.is(row.train_images_seen, 1280);
  assert.is(trainer.steps, 20);
  assert.is(row.accuracy, 0.1);
  assert.is(row.test_images, 100);
  assert.ok(row.train_images_per_second! > 0);
  assert.is(row.loss_first, 2.29);
});

test("the training time cap counts the row's own time, not its waits between windows", async () => {
  const run = new RowRun("nnc", "fake", "mlp", fakeTrainer(), data, {
    ...opts,
    epochLimitSeconds: 0.25,
  });
  await run.prepare();
  await run.window();
  await new Promise((r) => setTimeout(r, 300)); // the other rows' turn
  await run.window();
  await run.window();
  const row = await run.finish();
  assert.is(row.accuracy_capped, false);
  assert.is(row.train_images_seen, 1280);
});

test("the windows share what the image budget leaves, so a fast system times every window", async () => {
  // 640 images are 10 batches: after the compile step and 2 warm-up steps, 7 are left for the
  // 3 windows (at most 3, 3 and 4 steps): 2, then 2 of the 5 left, then the last 3.
  const row = await runProtocol("nnc", "fake", "mlp", fakeTrainer(), data, {
    ...opts,
    trainImages: 640,
  });
  assert.equal(
    row.timed_windows!.map((w) => w.steps),
    [2, 2, 3],
  );
  assert.is(row.train_images_seen, 640);
  assert.is(row.accuracy_capped, false);
});

test("warm-up lasts warmupSeconds, within a fifth of the image budget, and ends synced", async () => {
  const calls: boolean[] = [];
  const slow: Trainer = {
    notes: "slow",
    async step(_x, _y, wantLoss) {
      calls.push(wantLoss);
      await new Promise((r) => setTimeout(r, 20));
      return 2.3;
    },
    async predict(_x, n) {
      return new Int32Array(n);
    },
    dispose() {},
  };
  const timed = { ...opts, warmupSeconds: 0.2, trainImages: 64 * 100 };
  await new RowRun("nnc", "fake", "mlp", slow, data, timed).prepare();
  // 0.2 s of 20 ms steps after the compile step: about 10 of them, the last one synced.
  assert.ok(calls.length >= 1 + 10 && calls.length <= 1 + 14, `${calls.length} steps`);
  assert.is(calls[calls.length - 1], true);
  // A fifth of 20 batches is 4, the compile step's included: the warm-up stops there however
  // long it was meant to last.
  calls.length = 0;
  const capped = { ...timed, warmupSeconds: 60, trainImages: 64 * 20 };
  await new RowRun("nnc", "fake", "mlp", slow, data, capped).prepare();
  assert.is(calls.length, 1 + 3);
});

test("a window that fails makes an error row naming the phase", async () => {
  const row = await runProtocol("tfjs", "fake", "cnn", fakeTrainer(5), data, opts);
  assert.is(row.error, "timed training: device lost");
  assert.is(row.train_images_per_second, null);
  assert.is(row.notes, "fake");
});

test("the driver interleaves real rows and returns each, in order, with its windows", () => {
  const r = spawnSync(
    process.execPath,
    [
      fromRoot("dist/bench/run.js"),
      ...["--quick", "--models", "mlp", "--only", "nnc,tfjs:wasm", "--rounds", "3", "--json"],
    ],
    // NNC_DEBUG: nnc's row ends with its per-kernel table, as `nnc train` does.
    {
      cwd: fromRoot(),
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, NNC_DEBUG: "1" },
    },
  );
  assert.is(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as BenchRow[];
  assert.equal(
    rows.map((x) => `${x.system}:${x.backend}`),
    ["nnc:webgpu", "tfjs:wasm"],
  );
  for (const row of rows) {
    assert.is(row.error, null);
    assert.equal(
      row.timed_windows!.map((w) => w.steps),
      [3, 3, 4],
    );
    assert.ok(row.train_images_per_second! > 0);
    // The same model from the same start: the first loss agrees, and the test accuracy of
    // 2,560 training images agrees within a few of the 1,024 test images.
    assert.ok(Math.abs(row.loss_first! - 2.2969) < 1e-3, `${row.loss_first}`);
    assert.ok(Math.abs(row.accuracy! - rows[0]!.accuracy!) < 0.01);
  }
  assert.match(
    r.stderr,
    /\[bench\] nnc\/webgpu\/mlp: nnc: kernel times of the training step of Mlp/,
  );
  // Turns: one window of each row per turn, the row that starts a turn rotating.
  const turns = [...r.stderr.matchAll(/\[bench\] mlp turn (\d)\/3: (.*) img\/s/g)];
  assert.equal(
    turns.map((m) => [m[1], m[2]!.replace(/ \d+/g, "")]),
    [
      ["1", "nnc/webgpu, tfjs/wasm"],
      ["2", "tfjs/wasm, nnc/webgpu"],
      ["3", "nnc/webgpu, tfjs/wasm"],
    ],
  );
});

test("a row that cannot train is a row with its error, and the run goes on", () => {
  // TF.js wasm has no Conv2DBackpropFilter kernel: its CNN row fails in the compile step.
  const r = spawnSync(
    process.execPath,
    [fromRoot("dist/bench/run.js"), "--quick", "--models", "cnn", "--only", "tfjs:wasm", "--json"],
    { cwd: fromRoot(), encoding: "utf8", timeout: 120_000 },
  );
  assert.is(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as BenchRow[];
  assert.is(rows.length, 1);
  assert.match(rows[0]!.error ?? "", /^compile: .*Conv2DBackpropFilter/);
  assert.is(rows[0]!.train_images_per_second, null);
});

test.run();
