/**
 * @file The measurement protocol every benchmark row follows, whatever the
 * system: a `Trainer` (one optimizer step on a batch, batched prediction) is
 * driven through (1) a compile phase: the first training step and the first
 * inference batch, timed together as `compile_seconds`; (2) untimed
 * warm-up steps (a few, and for `warmupSeconds`); (3) a timed training phase of `--steps N` steps, or of
 * `timedSeconds` (or until `trainImages` is reached, whichever is first) when
 * no step count is given, giving training images/s; it is cut into `rounds`
 * windows, interleaved with the other rows' by run.ts, and the speed is the
 * median of the windows';
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
/** An interleaved worker's line on stdout once it has compiled and warmed up. */
export const READY_MARKER = "BENCH_READY";
/** The marker in front of an interleaved worker's line for a finished timed window. */
export const WINDOW_MARKER = "BENCH_WINDOW ";

/** Options of one row (all systems run the same protocol). */
export interface BenchOptions {
  /** Training batch size (64). */
  readonly batchSize: number;
  /** Untimed warm-up steps after the compile step (at least). */
  readonly warmupSteps: number;
  /**
   * Warm-up goes on for at least this long (JIT tiers, background compilation), spending at
   * most a fifth of `trainImages`.
   */
  readonly warmupSeconds: number;
  /** Timed training steps; null: run for `timedSeconds`. */
  readonly timedSteps: number | null;
  /** Time budget of the timed phase when `timedSteps` is null. */
  readonly timedSeconds: number;
  /**
   * Windows the timed phase is cut into; run.ts interleaves the rows of a model window by
   * window, and a row's speed is the median of its windows'.
   */
  readonly rounds: number;
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
  warmupSeconds: 2,
  timedSteps: null,
  timedSeconds: 15,
  rounds: 5,
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
  warmupSeconds: 0,
  timedSteps: 10,
  rounds: 2,
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
  /** The timed phase's windows, in order (`train_images_per_second` is their median rate). */
  readonly timed_windows: readonly TimedWindow[] | null;
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
  /**
   * Diagnostics printed after the row (lines of text), when the system has any to give: nnc's
   * per-kernel times of the training step under NNC_DEBUG.
   */
  debugReport?(): Promise<string | undefined>;
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
    timed_windows: null,
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

/** One timed window of a row's training phase (step 3). */
export interface TimedWindow {
  readonly steps: number;
  readonly seconds: number;
}

/**
 * The steps of window `w` of `rounds` when the timed phase is `total` steps: the windows split
 * them as evenly as whole steps allow, and sum to `total`.
 */
export function windowSteps(total: number, rounds: number, w: number): number {
  return Math.floor((total * (w + 1)) / rounds) - Math.floor((total * w) / rounds);
}

/** A window's training images/s; null when it ran no step. */
export function windowRate(w: TimedWindow, batchSize: number): number | null {
  return w.steps > 0 && w.seconds > 0 ? (w.steps * batchSize) / w.seconds : null;
}

/**
 * The training speed of a timed phase: the median of its windows' images/s (windows that ran
 * no step are left out), so that a burst of load on a shared machine during one window moves
 * no row's figure. Null when no window ran a step.
 */
export function medianRate(windows: readonly TimedWindow[], batchSize: number): number | null {
  const rates = windows
    .map((w) => windowRate(w, batchSize))
    .filter((r): r is number => r !== null)
    .sort((a, b) => a - b);
  if (rates.length === 0) return null;
  const mid = rates.length >> 1;
  return rates.length % 2 === 1 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
}

/**
 * The protocol for one row as three calls, so that a driver can interleave the timed windows
 * of several rows (run.ts, one process per row): `prepare` (steps 1 and 2), `window` once per
 * round (step 3, a `1 / rounds` share of the timed budget each), `finish` (steps 4 and 5, and
 * the row). Each call throws on a trainer's error; `phase` says where.
 */
export class RowRun {
  phase = "compile";
  private readonly stream: BatchStream;
  private readonly losses: number[] = [];
  private readonly windows: TimedWindow[] = [];
  private lossFirst = NaN;
  private compileSeconds = 0;
  /**
   * Seconds this row has spent training so far (compile, warm-up, windows), without the
   * time it waited while other rows took their windows: what `epochLimitSeconds` caps.
   */
  private busySeconds = 0;
  private readonly testN: number;

  constructor(
    readonly system: System,
    readonly backend: string,
    readonly model: ModelKind,
    private readonly trainer: Trainer,
    private readonly data: Mnist,
    private readonly opts: BenchOptions,
    private readonly log: Log = () => {},
  ) {
    this.stream = new BatchStream(data.train, opts.batchSize, opts.seed);
    this.testN = Math.min(opts.testImages, data.test.count);
  }

  private step(b: Batch, wantLoss: boolean): Promise<number | undefined> {
    return this.trainer.stepIndices
      ? this.trainer.stepIndices(b.idx, b.y, wantLoss)
      : this.trainer.step(b.x, b.y, wantLoss);
  }

  private inferInput(b: number): { x: Float32Array; n: number } {
    const { opts, data } = this;
    const start = b * opts.inferBatch;
    const n = Math.min(opts.inferBatch, this.testN - start);
    const idx = Array.from({ length: n }, (_, i) => start + i);
    const x = new Float32Array(opts.inferBatch * IMAGE_SIZE);
    imagesToFloat(data.test, idx, x);
    return { x, n };
  }

  private get label(): string {
    return `${this.system}/${this.backend}/${this.model}`;
  }

  /** (1) Compile: the first training step and the first inference batch; (2) warm-up. */
  async prepare(): Promise<void> {
    const { opts } = this;
    this.phase = "compile";
    const tCompile = now();
    const lossFirst = await this.step(this.stream.next(), true);
    if (lossFirst === undefined || !Number.isFinite(lossFirst))
      throw new Error(`first loss is ${lossFirst}`);
    this.lossFirst = lossFirst;
    const tStep1 = now();
    await this.trainer.predict(this.inferInput(0).x, opts.inferBatch);
    this.compileSeconds = now() - tCompile;
    this.log(
      `${this.label}: compile ${this.compileSeconds.toFixed(2)} s ` +
        `(first step ${(tStep1 - tCompile).toFixed(2)} s), loss ${lossFirst.toFixed(4)}`,
    );
    this.phase = "warm-up";
    const tWarm = now();
    const more = () =>
      now() - tWarm < opts.warmupSeconds &&
      this.stream.imagesSeen + 2 * opts.batchSize <= opts.trainImages / 5;
    const warm = opts.warmupSteps > 0 || opts.warmupSeconds > 0;
    for (let i = 1; warm; i++) {
      // The last step reads the loss back, so the device is idle when a window starts.
      const last = i >= opts.warmupSteps && !more();
      await this.step(this.stream.next(), last || i % opts.lossEvery === 0);
      if (last) break;
    }
    this.busySeconds += now() - tCompile;
  }

  /**
   * (3) One timed window: its share of `--steps`, or of `--seconds`, and at most its share of
   * the images the accuracy budget has left, so that fast systems do not train on more than
   * `trainImages` images and still time every window. The last step reads the loss back, so the
   * window's time includes the device finishing.
   */
  async window(): Promise<TimedWindow> {
    const { opts, stream } = this;
    this.phase = "timed training";
    const w = this.windows.length;
    // The steps the image budget has left, shared by the windows to come, so that a fast
    // system's budget is not spent before its last window.
    const left = Math.floor((opts.trainImages - stream.imagesSeen) / opts.batchSize);
    const share = Math.floor(left / Math.max(1, opts.rounds - w));
    const quota = Math.min(
      share,
      opts.timedSteps !== null ? windowSteps(opts.timedSteps, opts.rounds, w) : Infinity,
    );
    const budget = opts.timedSeconds / opts.rounds;
    const room = () => stream.imagesSeen + opts.batchSize <= opts.trainImages;
    const t0 = now();
    let steps = 0;
    while (steps < quota && room()) {
      const done =
        steps + 1 >= quota ||
        (opts.timedSteps === null && now() - t0 >= budget) ||
        stream.imagesSeen + 2 * opts.batchSize > opts.trainImages;
      const b = stream.next();
      const loss = await this.step(b, done || (steps + 1) % opts.lossEvery === 0);
      steps++;
      if (loss !== undefined) this.losses.push(loss);
      if (done) break;
    }
    const result = { steps, seconds: now() - t0 };
    this.windows.push(result);
    this.busySeconds += result.seconds;
    return result;
  }

  /** (4) Untimed training up to `trainImages` or the time cap; (5) inference; the row. */
  async finish(): Promise<BenchRow> {
    const { opts, stream, data, losses, windows } = this;
    const trainIps = medianRate(windows, opts.batchSize);
    const timedSteps = windows.reduce((a, w) => a + w.steps, 0);
    const timedSeconds = windows.reduce((a, w) => a + w.seconds, 0);
    const rates = windows
      .map((w) => windowRate(w, opts.batchSize))
      .filter((r): r is number => r !== null)
      .map((r) => r.toFixed(0));
    this.log(
      `${this.label}: ${timedSteps} timed steps in ${timedSeconds.toFixed(2)} s, ` +
        `${windows.length === 1 ? "" : `windows ${rates.join(" ")} img/s, median `}${trainIps?.toFixed(0) ?? "-"} img/s`,
    );
    this.phase = "training";
    let capped = false;
    let k = 0;
    const tTrain = now() - this.busySeconds;
    while (stream.imagesSeen + opts.batchSize <= opts.trainImages) {
      if (now() - tTrain >= opts.epochLimitSeconds) {
        capped = true;
        break;
      }
      const b = stream.next();
      k++;
      const loss = await this.step(b, k % opts.lossEvery === 0);
      if (loss !== undefined) {
        losses.push(loss);
        if (k % (opts.lossEvery * 8) === 0)
          this.log(`  ${stream.imagesSeen} images, loss ${loss.toFixed(4)}`);
      }
    }
    if (!Number.isFinite(losses[losses.length - 1] ?? 0))
      throw new Error("loss diverged (not finite)");

    this.phase = "inference";
    let correct = 0;
    let inferSeconds = 0;
    const inferBatches = Math.ceil(this.testN / opts.inferBatch);
    for (let b = 0; b < inferBatches; b++) {
      const { x, n } = this.inferInput(b);
      const t = now();
      const pred = await this.trainer.predict(x, opts.inferBatch);
      inferSeconds += now() - t;
      for (let i = 0; i < n; i++)
        if (pred[i] === data.test.labels[b * opts.inferBatch + i]) correct++;
    }
    const tail = losses.slice(-4);
    const row: BenchRow = {
      system: this.system,
      backend: this.backend,
      model: this.model,
      train_images_per_second: trainIps,
      infer_images_per_second: this.testN / inferSeconds,
      accuracy: correct / this.testN,
      peak_rss_mb: peakRssMb(),
      compile_seconds: this.compileSeconds,
      error: null,
      train_images_seen: stream.imagesSeen,
      accuracy_capped: capped,
      test_images: this.testN,
      timed_steps: timedSteps,
      timed_seconds: timedSeconds,
      timed_windows: windows.map((w) => ({ ...w })),
      loss_first: this.lossFirst,
      loss_last: tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : null,
      notes: this.trainer.notes,
    };
    this.log(
      `${this.label}: accuracy ${(row.accuracy! * 100).toFixed(2)}% after ` +
        `${stream.imagesSeen} images${capped ? " (capped)" : ""}, infer ${row.infer_images_per_second!.toFixed(0)} img/s`,
    );
    const report = await this.trainer.debugReport?.();
    for (const line of report?.split("\n") ?? []) this.log(`${this.label}: ${line}`);
    return row;
  }

  /** The error row of a failure in the current phase. */
  errorRow(e: unknown): BenchRow {
    return errorRow(
      this.system,
      this.backend,
      this.model,
      `${this.phase}: ${errorMessage(e)}`,
      this.trainer.notes,
    );
  }

  /** Releases the trainer (errors while tearing down are ignored). */
  async dispose(): Promise<void> {
    try {
      await this.trainer.dispose();
    } catch {
      // ignore errors while tearing down
    }
  }
}

/**
 * Runs the whole protocol on `trainer` in this process, its windows back to back; errors
 * thrown by the trainer become an `error` row.
 */
export async function runProtocol(
  system: System,
  backend: string,
  model: ModelKind,
  trainer: Trainer,
  data: Mnist,
  opts: BenchOptions,
  log: Log = () => {},
): Promise<BenchRow> {
  const run = new RowRun(system, backend, model, trainer, data, opts, log);
  try {
    await run.prepare();
    for (let r = 0; r < opts.rounds; r++) await run.window();
    return await run.finish();
  } catch (e) {
    return run.errorRow(e);
  } finally {
    await run.dispose();
  }
}

/** First line of an error's message. */
export function errorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0]!.slice(0, 300);
}
