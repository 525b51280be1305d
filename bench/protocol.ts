/**
 * @file The measurement protocol every benchmark row follows, whatever the
 * system: a `Trainer` (one optimizer step on a batch, batched prediction) is
 * driven through (1) a compile phase: the first training step and the first
 * inference batch, timed together as `compile_seconds`; (2) a few untimed
 * warm-up steps; (3) a timed training phase of `--steps N` steps, or of
 * `timedSeconds` (or until `trainImages` is reached, whichever is first) when
 * no step count is given, giving training images/s;
 * (4) untimed training until `trainImages` images have been seen or
 * `epochLimitSeconds` of training have passed (then the accuracy is flagged
 * as capped); (5) a timed pass over the test set giving inference images/s
 * and the test accuracy. Peak RSS is the process' `maxRSS`, which is why
 * each row runs in its own process.
 */
import { type Batch, BatchStream, IMAGE_SIZE, imagesToFloat, type Mnist } from "./mnist.js";
import type { ModelKind } from "./models.js";

export type System = "nnc" | "tfjs" | "jax-js";

/** The marker in front of a worker's result line on stdout. */
export const ROW_MARKER = "BENCH_ROW ";

/** Options of one row (all systems run the same protocol). */
export interface BenchOptions {
  /** Training batch size (64). */
  readonly batchSize: number;
  /** Untimed warm-up steps after the compile step. */
  readonly warmupSteps: number;
  /** Timed training steps; null: run for `timedSeconds`. */
  readonly timedSteps: number | null;
  /** Time budget of the timed phase when `timedSteps` is null. */
  readonly timedSeconds: number;
  /** Images to train on before measuring accuracy (60,000 = one epoch). */
  readonly trainImages: number;
  /** Cap on the whole training time (compile, warm-up, timed and untimed steps). */
  readonly epochLimitSeconds: number;
  /** Test images used for inference speed and accuracy (at most 10,000). */
  readonly testImages: number;
  /** Inference batch size (the last batch is zero-padded to it). */
  readonly inferBatch: number;
  /** Seed for the initial weights and the shuffling. */
  readonly seed: number;
  /** Read the loss back every this many steps (a sync point). */
  readonly lossEvery: number;
}

export const DEFAULT_OPTIONS: BenchOptions = {
  batchSize: 64,
  warmupSteps: 2,
  timedSteps: null,
  timedSeconds: 15,
  trainImages: 60000,
  epochLimitSeconds: 300,
  testImages: 10000,
  inferBatch: 256,
  seed: 1,
  lossEvery: 25,
};

/** `--quick`: a smoke run of a few seconds per row. */
export const QUICK_OPTIONS: BenchOptions = {
  ...DEFAULT_OPTIONS,
  warmupSteps: 1,
  timedSteps: 10,
  trainImages: 64 * 40,
  epochLimitSeconds: 30,
  testImages: 1024,
  lossEvery: 10,
};

/** One result row; field names are the `--json` format. */
export interface BenchRow {
  readonly system: System;
  readonly backend: string;
  readonly model: ModelKind;
  readonly train_images_per_second: number | null;
  readonly infer_images_per_second: number | null;
  /** Test accuracy in [0, 1] after `train_images_seen` training images. */
  readonly accuracy: number | null;
  readonly peak_rss_mb: number | null;
  readonly compile_seconds: number | null;
  readonly error: string | null;
  /** Training images seen when the accuracy was measured. */
  readonly train_images_seen: number | null;
  /** True when `epochLimitSeconds` stopped training before `trainImages`. */
  readonly accuracy_capped: boolean;
  readonly test_images: number | null;
  readonly timed_steps: number | null;
  readonly timed_seconds: number | null;
  /** Loss of the first training step and mean of the last logged losses. */
  readonly loss_first: number | null;
  readonly loss_last: number | null;
  /** Free text: device description, thread count, caveats. */
  readonly notes: string;
}

/** What the protocol needs from a system. */
export interface Trainer {
  /** Human-readable details (device, threads), reported in `notes`. */
  readonly notes: string;
  /**
   * One optimizer step on `x` (`batch * 784` floats in [0, 1], row-major
   * 28x28x1) and labels `y`; returns the loss (waiting for it) when
   * `wantLoss`, else may return before the device has finished.
   */
  step(x: Float32Array, y: Uint8Array, wantLoss: boolean): Promise<number | undefined>;
  /**
   * The same step given the indices of the batch's images in the training split instead of
   * their floats, for a system that holds the training set on its device (nnc). The protocol
   * uses it when present; the images, their order and the labels are the same.
   */
  stepIndices?(idx: Uint32Array, y: Uint8Array, wantLoss: boolean): Promise<number | undefined>;
  /** Predicted class (argmax of the logits) of each of `n` images in `x`. */
  predict(x: Float32Array, n: number): Promise<ArrayLike<number>>;
  dispose(): Promise<void> | void;
}

/** A row that failed before or while measuring. */
export function errorRow(
  system: System,
  backend: string,
  model: ModelKind,
  error: string,
  notes = "",
): BenchRow {
  return {
    system,
    backend,
    model,
    train_images_per_second: null,
    infer_images_per_second: null,
    accuracy: null,
    peak_rss_mb: peakRssMb(),
    compile_seconds: null,
    error,
    train_images_seen: null,
    accuracy_capped: false,
    test_images: null,
    timed_steps: null,
    timed_seconds: null,
    loss_first: null,
    loss_last: null,
    notes,
  };
}

/** Peak resident set size of this process, in MB. */
export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

const now = () => performance.now() / 1000;

/** Optional progress output (to stderr, so stdout stays machine-readable). */
export type Log = (msg: string) => void;

/** Runs the protocol on `trainer`; errors thrown by the trainer become an `error` row. */
export async function runProtocol(
  system: System,
  backend: string,
  model: ModelKind,
  trainer: Trainer,
  data: Mnist,
  opts: BenchOptions,
  log: Log = () => {},
): Promise<BenchRow> {
  const stream = new BatchStream(data.train, opts.batchSize, opts.seed);
  const step = (b: Batch, wantLoss: boolean): Promise<number | undefined> =>
    trainer.stepIndices
      ? trainer.stepIndices(b.idx, b.y, wantLoss)
      : trainer.step(b.x, b.y, wantLoss);
  const losses: number[] = [];
  let phase = "compile";
  try {
    // (1) Compile: first training step and first inference batch.
    const tCompile = now();
    const first = stream.next();
    const lossFirst = await step(first, true);
    if (lossFirst === undefined || !Number.isFinite(lossFirst))
      throw new Error(`first loss is ${lossFirst}`);
    const tStep1 = now();
    const testN = Math.min(opts.testImages, data.test.count);
    const inferBatches = Math.ceil(testN / opts.inferBatch);
    const inferInput = (b: number): { x: Float32Array; n: number } => {
      const start = b * opts.inferBatch;
      const n = Math.min(opts.inferBatch, testN - start);
      const idx = Array.from({ length: n }, (_, i) => start + i);
      const x = new Float32Array(opts.inferBatch * IMAGE_SIZE);
      imagesToFloat(data.test, idx, x);
      return { x, n };
    };
    {
      const { x } = inferInput(0);
      await trainer.predict(x, opts.inferBatch);
    }
    const compileSeconds = now() - tCompile;
    log(
      `${system}/${backend}/${model}: compile ${compileSeconds.toFixed(2)} s ` +
        `(first step ${(tStep1 - tCompile).toFixed(2)} s), loss ${lossFirst.toFixed(4)}`,
    );

    // (2) Warm-up.
    phase = "warm-up";
    for (let i = 0; i < opts.warmupSteps; i++) {
      const b = stream.next();
      await step(b, i === opts.warmupSteps - 1);
    }

    // (3) Timed training.
    phase = "timed training";
    const tTrain = now();
    let steps = 0;
    for (;;) {
      // A time-budget phase also ends where the accuracy budget does, so
      // fast systems do not train on more than `trainImages` images.
      const done =
        opts.timedSteps !== null
          ? steps + 1 >= opts.timedSteps
          : now() - tTrain >= opts.timedSeconds ||
            stream.imagesSeen + 2 * opts.batchSize > opts.trainImages;
      const b = stream.next();
      const wantLoss = done || (steps + 1) % opts.lossEvery === 0;
      const loss = await step(b, wantLoss);
      steps++;
      if (loss !== undefined) losses.push(loss);
      if (done) break;
    }
    const timedSeconds = now() - tTrain;
    const trainIps = (steps * opts.batchSize) / timedSeconds;
    log(
      `${system}/${backend}/${model}: ${steps} timed steps in ${timedSeconds.toFixed(2)} s = ${trainIps.toFixed(0)} img/s`,
    );

    // (4) Untimed training up to trainImages or the time cap.
    phase = "training";
    let capped = false;
    let k = 0;
    while (stream.imagesSeen + opts.batchSize <= opts.trainImages) {
      if (now() - tCompile >= opts.epochLimitSeconds) {
        capped = true;
        break;
      }
      const b = stream.next();
      k++;
      const loss = await step(b, k % opts.lossEvery === 0);
      if (loss !== undefined) {
        losses.push(loss);
        if (k % (opts.lossEvery * 8) === 0)
          log(`  ${stream.imagesSeen} images, loss ${loss.toFixed(4)}`);
      }
    }
    if (!Number.isFinite(losses[losses.length - 1] ?? 0))
      throw new Error("loss diverged (not finite)");

    // (5) Inference on the test set.
    phase = "inference";
    let correct = 0;
    let inferSeconds = 0;
    for (let b = 0; b < inferBatches; b++) {
      const { x, n } = inferInput(b);
      const t = now();
      const pred = await trainer.predict(x, opts.inferBatch);
      inferSeconds += now() - t;
      for (let i = 0; i < n; i++)
        if (pred[i] === data.test.labels[b * opts.inferBatch + i]) correct++;
    }
    const tail = losses.slice(-4);
    const row: BenchRow = {
      system,
      backend,
      model,
      train_images_per_second: trainIps,
      infer_images_per_second: testN / inferSeconds,
      accuracy: correct / testN,
      peak_rss_mb: peakRssMb(),
      compile_seconds: compileSeconds,
      error: null,
      train_images_seen: stream.imagesSeen,
      accuracy_capped: capped,
      test_images: testN,
      timed_steps: steps,
      timed_seconds: timedSeconds,
      loss_first: lossFirst,
      loss_last: tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : null,
      notes: trainer.notes,
    };
    log(
      `${system}/${backend}/${model}: accuracy ${(row.accuracy! * 100).toFixed(2)}% after ` +
        `${stream.imagesSeen} images${capped ? " (capped)" : ""}, infer ${row.infer_images_per_second!.toFixed(0)} img/s`,
    );
    return row;
  } catch (e) {
    return errorRow(system, backend, model, `${phase}: ${errorMessage(e)}`, trainer.notes);
  } finally {
    try {
      await trainer.dispose();
    } catch {
      // ignore errors while tearing down
    }
  }
}

/** First line of an error's message. */
export function errorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0]!.slice(0, 300);
}
