/**
 * @file NncModel: a compiled model on a WebGPU device, the one execution path shared by
 * `nnc train` and by modules that `nnc build` writes. It owns three executors (training step,
 * evaluation, prediction) over the same variables, and offers `trainStep`, `fit`, `evaluate`,
 * `predict`, `saveWeights`/`loadWeights` (safetensors bytes) and `dispose`. Training steps are
 * recorded and submitted without waiting; losses and accuracy accumulate on the device and are
 * read back only when progress is reported. `fit` and `evaluate` upload a dataset once and
 * make every batch on the device (runtime/feeder.ts) when it fits the device, so a step's only
 * host write is a 16-byte parameter block. A multi-step run (a GAN) has one training executor
 * per step over one shared set of variable and input buffers; every batch records the steps in
 * order into the batch's one command buffer, and each step's loss accumulates in its own
 * metric variable. Nothing here imports Node modules.
 */
import type { AugmentSpec } from "./augment.js";
import { augmenter, augments, imageDims } from "./augmenter.js";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./checkpoint.js";
import { Batcher, type Batch, type Dataset, sampleSize } from "./data/dataset.js";
import type { NncDevice } from "./device.js";
import { nncError } from "./errors.js";
import { arrayFor, Executor, type HostArray, type SharedBuffers } from "./executor.js";
import { type DeviceData, deviceFeedRefusal, Feeder, uploadDataset } from "./feeder.js";
import {
  checkpointTensors,
  stepPlans,
  type ModelProgram,
  type ProgramVariable,
} from "./program.js";

export interface EpochResult {
  readonly epoch: number; // 1-based
  /** Mean loss per sample; for a multi-step run, the sum of its steps' mean losses. */
  readonly loss: number;
  /** Fraction classified correctly; NaN for a multi-step run (it has no accuracy). */
  readonly accuracy: number;
  /** A multi-step run's mean loss of each step, by step name. */
  readonly losses?: Readonly<Record<string, number>>;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}

export interface FitOptions {
  /** The epoch to stop after (1-based, counting `initialEpoch`'s). */
  readonly epochs?: number;
  /**
   * Epochs already trained (default 0): `fit` resumes with epoch `initialEpoch + 1`, its data
   * order and numbering, as if it had trained the earlier ones itself. With the weights, the
   * optimizer state and `stepCount` of the end of that epoch restored, it continues a run bit
   * for bit.
   */
  readonly initialEpoch?: number;
  readonly validation?: Dataset;
  readonly seed?: number;
  readonly shuffle?: boolean;
  /** Called after each epoch; returning `false` stops training (early stopping). */
  readonly onEpoch?: (r: EpochResult) => void | boolean | Promise<void | boolean>;
  /** Called at most every `progressMs` with the running epoch metrics. */
  readonly onProgress?: (p: {
    epoch: number;
    step: number;
    steps: number;
    loss: number;
    accuracy: number;
    losses?: Readonly<Record<string, number>>;
  }) => void;
  readonly progressMs?: number;
  readonly signal?: AbortSignal;
  /** Called when an epoch starts (0-based), e.g. to start a progress bar. */
  readonly onEpochStart?: (epoch: number, steps: number) => void;
  /**
   * Where batches are made: `device` (the dataset uploaded once, gathered and normalised on
   * the device), `host` (filled and written every step), or `auto` (default): `device` when
   * the dataset fits one storage binding. `NNC_FEED=host` forces `host`.
   */
  readonly feed?: "auto" | "device" | "host";
}

/** What a training step, or the steps of an epoch so far, measured. */
export interface StepMetrics {
  readonly loss: number;
  readonly accuracy: number;
  readonly losses?: Readonly<Record<string, number>>;
}

export interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
  readonly count: number;
}

const LOSS_SUM = "metrics.loss_sum";
const CORRECT_SUM = "metrics.correct_sum";

function now(): number {
  return globalThis.performance ? globalThis.performance.now() : Date.now();
}

export class NncModel {
  private steps = 0;
  private disposed = false;
  /** The step executor holds the truth; the others are refreshed from it when stale. */
  private stale = false;

  /** Datasets resident on the device (at most two: training and validation), newest last. */
  private resident: DeviceData[] = [];
  private feeders: { executor: Executor; data: DeviceData; feeder: Feeder; augment: string }[] = [];
  /** queueTrainStepOn's batch buffers for a dataset that stays on the host, one per dataset. */
  private readonly hostBatchers = new WeakMap<Dataset, Batcher>();

  /** The executor of the (first) training step: it holds the truth for a single-step run. */
  private readonly train: Executor;
  /** The `y` buffer a feeder fills for a run whose steps take no labels (nothing reads it). */
  private scratchLabels: GPUBuffer | undefined;

  private constructor(
    readonly program: ModelProgram,
    readonly device: NncDevice,
    /** One executor per training step, in order; one for a single-step run. */
    private readonly trainers: readonly Executor[],
    private readonly evaluator: Executor | null,
    private readonly predictor: Executor | null,
  ) {
    this.train = trainers[0]!;
  }

  /** Compiles the program's pipelines on `device` and draws first values from `seed`. */
  static async create(
    program: ModelProgram,
    device: NncDevice,
    opts: { seed?: number } = {},
  ): Promise<NncModel> {
    if (program.version !== 1) {
      throw nncError("NN5501", {
        detail: `unsupported program version ${String(program.version)}`,
      });
    }
    const plans = stepPlans(program);
    // The steps of a multi-step run share variables and inputs; inference plans keep their own.
    const shared: SharedBuffers | undefined = plans.length > 1 ? new Map() : undefined;
    const made: Executor[] = [];
    try {
      for (const plan of plans) made.push(new Executor(device, plan, shared ? { shared } : {}));
      const evaluator = program.evaluate ? new Executor(device, program.evaluate) : null;
      if (evaluator) made.push(evaluator);
      const predictor = program.predict ? new Executor(device, program.predict) : null;
      if (predictor) made.push(predictor);
      await Promise.all(made.map((e) => e.ready()));
      const model = new NncModel(
        program,
        device,
        made.slice(0, plans.length),
        evaluator,
        predictor,
      );
      for (const t of model.trainers) t.initVariables(opts.seed ?? program.settings.seed);
      model.stale = true;
      return model;
    } catch (e) {
      for (const ex of made) ex.dispose();
      throw e;
    }
  }

  /**
   * Training steps taken (batches; a multi-step run's steps of a batch count once). The next
   * step is `stepCount + 1`: it keys the optimizer's bias correction, noise, dropout and
   * augmentation. Set it, with `setOptimizerState` and `setWeights`, to continue a run.
   */
  get stepCount(): number {
    return this.steps;
  }

  set stepCount(n: number) {
    if (!Number.isInteger(n) || n < 0) {
      throw nncError("NN5501", { detail: `stepCount must be a whole number >= 0, got ${n}` });
    }
    this.steps = n;
  }

  private check(): void {
    if (this.disposed) {
      throw nncError("NN5501", {
        detail: `model ${this.program.model} was disposed; create a new one`,
      });
    }
  }

  private modelVariables(): readonly ProgramVariable[] {
    return this.program.variables.filter((v) => v.role === "model");
  }

  /** The training executor that holds variable `name` (the first step that has it). */
  private holder(name: string): Executor {
    return this.trainers.find((t) => t.hasVariable(name)) ?? this.train;
  }

  /** The training executor with input `name`, if any step reads it (inputs are shared). */
  private withInput(name: string): Executor | undefined {
    return this.trainers.find((t) => t.hasInput(name));
  }

  /** Whether the training steps take labels (every single-step run; a GAN's do not). */
  private get labelled(): boolean {
    return this.withInput("label") !== undefined;
  }

  /** The evaluation and prediction executors, or a clear error for a run without them. */
  private inference(method: "evaluate" | "predict"): { evaluator: Executor; predictor: Executor } {
    const p = this.program;
    if (!this.evaluator || !this.predictor) {
      const steps = p.steps?.map((s) => s.name).join(", ") ?? "";
      throw nncError("NN5501", {
        detail:
          `${method}: train ${p.run} is a multi-step run (steps ${steps}); it has no ` +
          `evaluation or prediction plan, only training steps and their weights`,
      });
    }
    return { evaluator: this.evaluator, predictor: this.predictor };
  }

  /** Copies the model's variables from the training executor to the inference ones. */
  private async sync(): Promise<void> {
    if (!this.stale || !this.evaluator || !this.predictor) return;
    for (const v of this.modelVariables()) {
      const data = await this.train.getVariable(v.name);
      this.evaluator.setVariable(v.name, data);
      this.predictor.setVariable(v.name, data);
    }
    this.stale = false;
  }

  private inputName(): string {
    const inp = this.program.inputs[0];
    if (!inp || this.program.inputs.length !== 1) {
      throw nncError("NN5501", {
        detail: "models with several inputs are trained through trainStep only",
      });
    }
    return inp.name;
  }

  private checkLength(
    what: string,
    data: ArrayLike<number>,
    perSample: number,
    batch: number,
  ): void {
    if (data.length !== perSample * batch) {
      throw nncError("NN5501", {
        detail: `${what}: expected ${batch} samples of ${perSample} values (${batch * perSample}), got ${data.length} values`,
      });
    }
  }

  private writeStepInputs(x: Float32Array, y: Float32Array): void {
    const p = this.program;
    const n = p.stepBatch;
    if (!p.steps) {
      this.checkLength(
        `input ${this.inputName()}`,
        x,
        sampleSize({ sampleShape: p.inputs[0]!.shape }),
        n,
      );
      this.checkLength("label", y, p.classes, n);
      this.train.writeInput(this.inputName(), x);
      this.train.writeInput("label", y);
      this.steps++;
      this.train.writeInput("step", [this.steps]);
      this.stale = true;
      return;
    }
    // A multi-step run: inputs are shared by the steps, so each is written once.
    if (p.inputs.length > 0) {
      const name = this.inputName();
      this.checkLength(`input ${name}`, x, sampleSize({ sampleShape: p.inputs[0]!.shape }), n);
      this.withInput(name)?.writeInput(name, x);
    }
    if (this.labelled) {
      this.checkLength("label", y, p.classes, n);
      this.withInput("label")!.writeInput("label", y);
    }
    this.steps++;
    this.withInput("step")?.writeInput("step", [this.steps]);
    this.stale = true;
  }

  /** Sets the metric accumulators to zero. */
  private resetMetrics(): void {
    if (this.program.steps) {
      for (const s of this.program.steps) this.holder(s.loss).setVariable(s.loss, [0]);
      return;
    }
    this.train.setVariable(LOSS_SUM, [0]);
    this.train.setVariable(CORRECT_SUM, [0]);
  }

  private async readMetrics(samples: number): Promise<StepMetrics> {
    const per = Math.max(1, samples);
    if (this.program.steps) {
      const losses: Record<string, number> = {};
      let loss = 0;
      for (const s of this.program.steps) {
        const v = await this.holder(s.loss).getVariable(s.loss);
        losses[s.name] = v[0]! / per;
        loss += losses[s.name]!;
      }
      return { loss, accuracy: NaN, losses };
    }
    const [l, c] = [
      await this.train.getVariable(LOSS_SUM),
      await this.train.getVariable(CORRECT_SUM),
    ];
    return { loss: l[0]! / per, accuracy: c[0]! / per };
  }

  /**
   * One training step on a full batch (x: batch * sample values, y: one-hot labels, ignored by a
   * run whose steps take none); waits for it. A multi-step run runs each of its steps once.
   */
  async trainStep(x: Float32Array, y: Float32Array): Promise<StepMetrics> {
    this.check();
    this.resetMetrics();
    this.writeStepInputs(x, y);
    this.queueStep();
    this.queued = 0;
    await this.device.device.queue.onSubmittedWorkDone();
    return this.readMetrics(this.program.stepBatch);
  }

  /**
   * Queues one training step and returns without reading anything back; every few steps it
   * waits for the device to catch up, so the queue stays short.
   */
  async queueTrainStep(x: Float32Array, y: Float32Array): Promise<void> {
    this.check();
    this.writeStepInputs(x, y);
    this.queueStep();
    await this.keepQueueShort();
  }

  /**
   * Queues one training step on samples `indices` of `data` (a full batch), gathered on the
   * device from `data` uploaded on the first call (later calls with the same object reuse it).
   * Where `data` does not fit the device, the batch is made on the host. Returns without
   * reading anything back, like `queueTrainStep`.
   */
  async queueTrainStepOn(data: Dataset, indices: ArrayLike<number>): Promise<void> {
    this.check();
    const p = this.program;
    if (indices.length !== p.stepBatch) {
      throw nncError("NN5501", {
        detail: `a training step takes ${p.stepBatch} samples, got ${indices.length} indices`,
      });
    }
    for (let i = 0; i < indices.length; i++) {
      const k = indices[i]!;
      if (!Number.isInteger(k) || k < 0 || k >= data.count) {
        throw nncError("NN5501", {
          detail: `index ${k} is not a sample of ${data.source} (0 to ${data.count - 1})`,
        });
      }
    }
    const order = Uint32Array.from(indices);
    const feeder = await this.feederFor(this.trainers, data, p.stepBatch);
    if (feeder) {
      feeder.setOrder(order);
      this.queueFedStep(feeder, 0);
    } else {
      let batcher = this.hostBatchers.get(data);
      if (!batcher) {
        batcher = new Batcher(data, { batchSize: p.stepBatch, shuffle: false });
        this.hostBatchers.set(data, batcher);
      }
      const b = batcher.fill(order, 0);
      this.writeStepInputs(b.x, b.y);
      this.queueStep();
    }
    await this.keepQueueShort();
  }

  /** `queueTrainStepOn`, then waits for it and returns the step's loss and accuracy. */
  async trainStepOn(data: Dataset, indices: ArrayLike<number>): Promise<StepMetrics> {
    this.check();
    this.resetMetrics();
    await this.queueTrainStepOn(data, indices);
    this.queued = 0;
    await this.device.device.queue.onSubmittedWorkDone();
    return this.readMetrics(this.program.stepBatch);
  }

  private queued = 0;

  /** Every few queued steps, waits for the device to catch up, so the queue stays short. */
  private async keepQueueShort(): Promise<void> {
    if (this.queued < 4) return;
    this.queued = 0;
    await this.device.device.queue.onSubmittedWorkDone();
  }

  /** Queues the next training step on the batch `feeder` gathers from `offset` of its order. */
  private queueFedStep(feeder: Feeder, offset: number): void {
    this.steps++;
    this.stale = true;
    const step = this.steps;
    this.queueStep({ feeder, offset, step });
  }

  /**
   * Records the step's kernels (every step's, in order, for a multi-step run) into one command
   * buffer and submits it without waiting; `fed`: the batch of `feeder` from `offset` of its
   * order, with step counter `step` (the gather kernel first, or the kernels that read it).
   */
  private queueStep(fed?: { feeder: Feeder; offset: number; step: number }): void {
    const device = this.device.device;
    const encoder = device.createCommandEncoder();
    fed?.feeder.record(encoder, fed.offset, this.program.stepBatch, fed.step);
    for (const t of this.trainers) t.record(encoder, 1, fed?.feeder.swapsFor(t));
    device.queue.submit([encoder.finish()]);
    this.queued++;
  }

  /** Trains on `data` for `epochs` epochs, shuffled with a seeded order; drops a partial last batch. */
  async fit(data: Dataset, opts: FitOptions = {}): Promise<EpochResult[]> {
    this.check();
    const p = this.program;
    const epochs = opts.epochs ?? p.settings.epochs;
    const augment = this.augmentSpec(opts.seed ?? p.settings.seed);
    const batcher = new Batcher(data, {
      batchSize: p.stepBatch,
      shuffle: opts.shuffle ?? p.settings.shuffle,
      seed: opts.seed ?? p.settings.seed,
      dropLast: true,
      ...(augment ? { augment } : {}),
    });
    const steps = batcher.batchesPerEpoch;
    if (steps === 0) {
      throw nncError("NN5501", {
        detail: `${data.source}: ${data.count} samples are fewer than one batch of ${p.stepBatch}`,
      });
    }
    const feeder = await this.feederFor(this.trainers, data, p.stepBatch, opts.feed, augment);
    const results: EpochResult[] = [];
    const progressMs = opts.progressMs ?? 250;
    for (let epoch = opts.initialEpoch ?? 0; epoch < epochs; epoch++) {
      opts.onEpochStart?.(epoch, steps);
      this.resetMetrics();
      const start = now();
      let lastProgress = start;
      const order = batcher.orderFor(epoch);
      feeder?.setOrder(order);
      for (let i = 0; i < steps; i++) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
        if (feeder) {
          this.queueFedStep(feeder, i * p.stepBatch);
        } else {
          // The step this batch feeds (writeStepInputs counts it) keys its augmentation.
          const batch: Batch = batcher.fill(order, i, this.steps + 1);
          this.writeStepInputs(batch.x, batch.y);
          this.queueStep();
        }
        // The host fills the next batch while the device runs this one.
        await this.keepQueueShort();
        const t = now();
        if (opts.onProgress && t - lastProgress >= progressMs) {
          lastProgress = t;
          const m = await this.readMetrics((i + 1) * p.stepBatch);
          opts.onProgress({ epoch, step: i + 1, steps, ...m });
        }
      }
      const m = await this.readMetrics(steps * p.stepBatch);
      const seconds = (now() - start) / 1000;
      let result: EpochResult = {
        epoch: epoch + 1,
        loss: m.loss,
        accuracy: m.accuracy,
        ...(m.losses ? { losses: m.losses } : {}),
        seconds,
        imagesPerSecond: (steps * p.stepBatch) / seconds,
      };
      if (opts.validation) {
        const v = await this.evaluate(opts.validation);
        result = { ...result, valLoss: v.loss, valAccuracy: v.accuracy };
      }
      results.push(result);
      const go = await opts.onEpoch?.(result);
      if (go === false) break;
    }
    return results;
  }

  /** Mean loss and accuracy over every sample of `data` (partial last batch included). */
  async evaluate(data: Dataset): Promise<Evaluation> {
    this.check();
    const { evaluator } = this.inference("evaluate");
    await this.sync();
    const p = this.program;
    const batcher = new Batcher(data, { batchSize: p.inferBatch, shuffle: false });
    const order = batcher.orderFor(0);
    const feeder = await this.feederFor([evaluator], data, p.inferBatch);
    if (feeder) return this.evaluateOnDevice(evaluator, feeder, order, batcher.batchesPerEpoch);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < batcher.batchesPerEpoch; i++) {
      const b = batcher.fill(order, i);
      evaluator.writeInput(this.inputName(), b.x);
      evaluator.writeInput("label", b.y);
      const out = await evaluator.run({ outputs: ["loss", "correct"] });
      for (let k = 0; k < b.count; k++) {
        loss += out.loss![k]!;
        correct += out.correct![k]!;
      }
    }
    return {
      loss: loss / Math.max(1, data.count),
      accuracy: correct / Math.max(1, data.count),
      count: data.count,
    };
  }

  /**
   * Evaluation with every batch gathered on the device: each batch's per-sample loss and
   * correctness are copied into one buffer at the batch's place, read back once at the end.
   */
  private async evaluateOnDevice(
    evaluator: Executor,
    feeder: Feeder,
    order: Uint32Array,
    batches: number,
  ): Promise<Evaluation> {
    const p = this.program;
    const count = feeder.data.dataset.count;
    const B = p.inferBatch;
    const device = this.device.device;
    const loss = evaluator.bufferOf("output", "loss");
    const correct = evaluator.bufferOf("output", "correct");
    const rows = batches * B * 4;
    const results = device.createBuffer({
      label: "nnc evaluation results",
      size: 2 * rows,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    try {
      feeder.setOrder(order);
      for (let b = 0; b < batches; b++) {
        const encoder = device.createCommandEncoder();
        feeder.record(encoder, b * B, Math.min(B, count - b * B));
        evaluator.record(encoder, 1, feeder.swapsFor(evaluator));
        encoder.copyBufferToBuffer(loss.buffer, 0, results, b * B * 4, B * 4);
        encoder.copyBufferToBuffer(correct.buffer, 0, results, rows + b * B * 4, B * 4);
        device.queue.submit([encoder.finish()]);
        if (b % 8 === 7) await device.queue.onSubmittedWorkDone();
      }
      await results.mapAsync(GPUMapMode.READ);
      const range = results.getMappedRange();
      const lossRows = arrayFor(loss.dtype, range, count, 0);
      const correctRows = arrayFor(correct.dtype, range, count, rows);
      let l = 0;
      let c = 0;
      for (let k = 0; k < count; k++) {
        l += lossRows[k]!;
        c += correctRows[k]!;
      }
      results.unmap();
      return { loss: l / count, accuracy: c / count, count };
    } finally {
      results.destroy();
    }
  }

  /**
   * The augmentation of `fit`'s training batches with draws keyed by `seed`, or undefined when
   * the program has none (or only zero ranges). The checker allows augmentation only for an
   * image input; a program that says otherwise (hand-made) is refused here.
   */
  private augmentSpec(seed: number): AugmentSpec | undefined {
    const list = this.program.settings.augment ?? [];
    if (list.length === 0) return undefined;
    const ranges = augmenter().ranges(list);
    if (!augments(ranges)) return undefined;
    const input = this.program.inputs[0]!;
    const dims = this.program.inputs.length === 1 ? imageDims(input.shape) : null;
    if (!dims) {
      throw nncError("NN5501", {
        detail: `augmentations need one image input [H, W, C] or [H, W], but ${this.program.model} takes ${input.name}: [${input.shape.join(", ")}]`,
      });
    }
    const [height, width, channels] = dims;
    return { ranges, seed: seed >>> 0, height, width, channels };
  }

  /**
   * A feeder that fills the inputs of `executors` (one plan, or the steps of a multi-step run,
   * which share their inputs) from `data` resident on the device, or null when batches are
   * made on the host (several inputs, too big for the device, or `feed: "host"`). `augment`
   * makes it augment (fit's training batches only); feeders differ by it.
   */
  private async feederFor(
    executors: readonly Executor[],
    data: Dataset,
    batch: number,
    feed: FitOptions["feed"] = "auto",
    augment?: AugmentSpec,
  ): Promise<Feeder | null> {
    const p = this.program;
    const executor = executors[0]!;
    const withInput = (name: string) => executors.find((e) => e.hasInput(name));
    const labels = withInput("label");
    // The gather writes f32 values: integer inputs (token ids) are written by the host.
    if (feed === "host" || p.inputs.length !== 1 || (!labels && !p.steps)) return null;
    if (p.inputs[0]!.dtype !== "f32") return null;
    const per = sampleSize({ sampleShape: p.inputs[0]!.shape });
    // The same checks, with the same messages, as the host path's per-batch writes.
    this.checkLength(`input ${this.inputName()}`, { length: batch * sampleSize(data) }, per, batch);
    if (labels) this.checkLength("label", { length: batch * data.classes }, p.classes, batch);
    const refusal = deviceFeedRefusal(this.device, data, batch);
    if (refusal !== undefined) {
      if (feed === "device") {
        throw nncError("NN5501", {
          detail: `${data.source}: cannot train from the device: ${refusal}; use feed: "host"`,
        });
      }
      return null;
    }
    const augmentKey = augment ? JSON.stringify(augment) : "";
    const known = this.feeders.find(
      (f) => f.executor === executor && f.data.dataset === data && f.augment === augmentKey,
    );
    if (known) return known.feeder;
    let resident = this.resident.find((r) => r.dataset === data);
    if (!resident) {
      resident = uploadDataset(this.device, data);
      this.resident.push(resident);
      while (this.resident.length > 2) this.evict(this.resident[0]!);
    }
    const x = withInput(this.inputName())!.bufferOf("input", this.inputName());
    // Steps that take no labels: the gather writes them where nothing reads them.
    const y = labels ? labels.bufferOf("input", "label") : { buffer: this.scratch() };
    const stepper = withInput("step");
    const step = stepper ? stepper.bufferOf("input", "step") : undefined;
    const feeder = await Feeder.create(
      this.device,
      resident,
      {
        batch,
        per,
        classes: labels ? p.classes : 0,
        x: x.buffer,
        y: y.buffer,
        ...(step ? { step } : {}),
      },
      executors,
      augment,
    );
    this.feeders = this.feeders.filter((f) => {
      if (f.executor !== executor) return true;
      f.feeder.dispose();
      return false;
    });
    this.feeders.push({ executor, data: resident, feeder, augment: augmentKey });
    return feeder;
  }

  /** Frees a resident dataset and the feeders reading it. */
  private evict(data: DeviceData): void {
    this.feeders = this.feeders.filter((f) => {
      if (f.data !== data) return true;
      f.feeder.dispose();
      return false;
    });
    this.resident = this.resident.filter((r) => r !== data);
    data.buffer.destroy();
  }

  /**
   * The model's output for `count` samples packed in `x` (row-major, per-sample shape of the
   * model's input). Returns `count` rows of the output shape.
   */
  async predict(x: Float32Array, count?: number): Promise<Float32Array> {
    this.check();
    const { predictor } = this.inference("predict");
    await this.sync();
    const p = this.program;
    const per = sampleSize({ sampleShape: p.inputs[0]!.shape });
    const n = count ?? x.length / per;
    if (!Number.isInteger(n) || n * per !== x.length) {
      throw nncError("NN5501", {
        detail: `predict: expected a whole number of samples of shape [${p.inputs[0]!.shape.join(", ")}] (${per} values each), got ${x.length} values`,
      });
    }
    const outPer = sampleSize({ sampleShape: p.output!.shape });
    const result = new Float32Array(n * outPer);
    const batch = new Float32Array(p.inferBatch * per);
    for (let start = 0; start < n; start += p.inferBatch) {
      const k = Math.min(p.inferBatch, n - start);
      batch.fill(0);
      batch.set(x.subarray(start * per, (start + k) * per));
      predictor.writeInput(this.inputName(), batch);
      const out = await predictor.run({ outputs: ["output"] });
      result.set((out.output as Float32Array).subarray(0, k * outPer), start * outPer);
    }
    return result;
  }

  /** The model's parameters and layer state, in the program's order. */
  async getWeights(): Promise<NamedTensor[]> {
    this.check();
    return this.tensorsOf(this.modelVariables());
  }

  private async tensorsOf(variables: readonly ProgramVariable[]): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [];
    for (const v of variables) {
      const data: HostArray = await this.holder(v.name).getVariable(v.name);
      out.push({
        name: v.name,
        dtype: v.dtype === "f32" ? "F32" : "I32",
        shape: [...v.shape],
        data,
      });
    }
    return out;
  }

  /** The optimizer's state (Adam's moments, momentum), in the program's order. */
  async getOptimizerState(): Promise<NamedTensor[]> {
    this.check();
    return this.tensorsOf(this.program.variables.filter((v) => v.role === "optimizer"));
  }

  /**
   * Sets optimizer state that `getOptimizerState` returned; every tensor's name and size is
   * checked before any is set.
   */
  setOptimizerState(tensors: readonly NamedTensor[]): void {
    this.check();
    const known = new Map(
      this.program.variables.filter((v) => v.role === "optimizer").map((v) => [v.name, v]),
    );
    for (const t of tensors) {
      const v = known.get(t.name);
      const n = v?.shape.reduce((a, b) => a * b, 1);
      if (!v || n !== t.data.length) {
        throw nncError("NN5501", {
          detail: v
            ? `optimizer state ${t.name}: expected ${n} values, got ${t.data.length}`
            : `${t.name} is not optimizer state of ${this.program.model}`,
        });
      }
    }
    for (const t of tensors) this.holder(t.name).setVariable(t.name, t.data);
  }

  async saveWeights(metadata: Record<string, string> = {}): Promise<Uint8Array> {
    return encodeSafetensors(await this.getWeights(), { model: this.program.model, ...metadata });
  }

  /** Loads safetensors bytes; every model variable must be there with its shape. */
  loadWeights(bytes: Uint8Array, source = "<weights>"): void {
    this.check();
    const { tensors } = decodeSafetensors(
      bytes,
      source,
      checkpointTensors(this.program),
      this.program.model,
    );
    this.setWeights(tensors);
  }

  setWeights(tensors: readonly NamedTensor[]): void {
    this.check();
    for (const t of tensors) this.holder(t.name).setVariable(t.name, t.data);
    this.stale = true;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const r of [...this.resident]) this.evict(r);
    for (const t of this.trainers) t.dispose();
    this.evaluator?.dispose();
    this.predictor?.dispose();
    this.scratchLabels?.destroy();
  }

  /** The `y` binding of a feeder whose steps take no labels (it writes none: 0 classes). */
  private scratch(): GPUBuffer {
    this.scratchLabels ??= this.device.device.createBuffer({
      label: "nnc no labels",
      size: 4,
      usage: GPUBufferUsage.STORAGE,
    });
    return this.scratchLabels;
  }
}
