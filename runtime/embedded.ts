/**
 * @file What a module written by `nnc build` runs on: `ModelRunner`, a thin, checked layer over
 * NncModel (the one execution path) that owns its device when it made one, validates every
 * argument against the model's signature with messages that say what was expected, takes class
 * indices for labels and bytes or floats for inputs, and refuses every call after `dispose()`.
 * Also the packed program format a built module embeds: the ModelProgram with each kernel's WGSL
 * replaced by an index into one table of distinct kernels (the forward kernels of the training,
 * evaluation and prediction plans are mostly the same text). No Node imports.
 */
import type { NncDevice } from "./device-core.js";
import { bytesToUnit, type Dataset, floatProblem, integerProblem } from "./data/dataset.js";
import { nncError } from "./errors.js";
import { type EpochResult, type Evaluation, NncModel } from "./model.js";
import type { KernelPlan, PlanKernel } from "./plan.js";
import { isRegression, type ModelProgram, type ProgramStep } from "./program.js";

export type { EpochResult, Evaluation } from "./model.js";
export type { ModelProgram } from "./program.js";

// ---------------------------------------------------------------------------------------------
// The packed program

export interface PackedKernel extends Omit<PlanKernel, "wgsl"> {
  /** Index into the module's kernel table. */
  readonly wgsl: number;
}

export interface PackedPlan extends Omit<KernelPlan, "kernels"> {
  readonly kernels: readonly PackedKernel[];
}

export interface PackedStep extends Omit<ProgramStep, "plan"> {
  readonly plan: PackedPlan;
}

/**
 * A ModelProgram with packed plans. A multi-step run's `step` is null (it is its first step's
 * plan, written once, in `steps`).
 */
export interface PackedProgram extends Omit<
  ModelProgram,
  "step" | "steps" | "evaluate" | "predict"
> {
  readonly step: PackedPlan | null;
  readonly steps?: readonly PackedStep[];
  readonly evaluate: PackedPlan | null;
  readonly predict: PackedPlan | null;
}

/** Splits the WGSL out of `program`: each distinct kernel text once, in first-use order. */
export function packProgram(program: ModelProgram): {
  program: PackedProgram;
  kernels: string[];
} {
  const kernels: string[] = [];
  const index = new Map<string, number>();
  const packPlan = (plan: KernelPlan): PackedPlan => ({
    ...plan,
    kernels: plan.kernels.map((k) => {
      let i = index.get(k.wgsl);
      if (i === undefined) {
        i = kernels.length;
        kernels.push(k.wgsl);
        index.set(k.wgsl, i);
      }
      return { ...k, wgsl: i };
    }),
  });
  if (program.steps) {
    const steps = program.steps.map((s) => ({ ...s, plan: packPlan(s.plan) }));
    const packed: PackedProgram = {
      ...program,
      step: null,
      steps,
      evaluate: program.evaluate && packPlan(program.evaluate),
      predict: program.predict && packPlan(program.predict),
    };
    return { program: packed, kernels };
  }
  const { steps: _none, ...single } = program;
  const step = packPlan(program.step);
  const evaluate = program.evaluate && packPlan(program.evaluate);
  const predict = program.predict && packPlan(program.predict);
  return { program: { ...single, step, evaluate, predict }, kernels };
}

/** The inverse of `packProgram`. */
export function unpackProgram(packed: PackedProgram, kernels: readonly string[]): ModelProgram {
  const unpackPlan = (plan: PackedPlan): KernelPlan => ({
    ...plan,
    kernels: plan.kernels.map((k) => {
      const wgsl = kernels[k.wgsl];
      if (wgsl === undefined) {
        throw nncError("NN5501", {
          detail: `kernel ${k.name} refers to WGSL ${k.wgsl}, but the module has ${kernels.length} kernels`,
        });
      }
      return { ...k, wgsl };
    }),
  });
  const evaluate = packed.evaluate && unpackPlan(packed.evaluate);
  const predict = packed.predict && unpackPlan(packed.predict);
  if (packed.steps && packed.steps.length > 0) {
    const steps = packed.steps.map((s) => ({ ...s, plan: unpackPlan(s.plan) }));
    return { ...packed, step: steps[0]!.plan, steps, evaluate, predict };
  }
  const { steps: _none, ...single } = packed;
  if (!single.step) {
    throw nncError("NN5501", { detail: "the packed program has no training step" });
  }
  return { ...single, step: unpackPlan(single.step), evaluate, predict };
}

// ---------------------------------------------------------------------------------------------
// The runner

export interface CreateOptions {
  /** The device to run on; by default one the runtime acquires and shares between models. */
  readonly device?: GPUDevice | undefined;
  /** Seed of the first parameter values (default: the train run's `seed`). */
  readonly seed?: number | undefined;
}

/** Inputs as floats, or as bytes 0..255 (scaled by 1/255, as `nnc train` does with images). */
export type InputArray = Float32Array | Uint8Array;

/**
 * One full training batch: `inputs` packs the samples row-major; `labels` are class indices (a
 * regression run's: its target values, row-major).
 */
export interface TrainingBatch {
  readonly inputs: InputArray;
  readonly labels: ArrayLike<number>;
}

/** Samples for `fit` and `evaluate`; `count` defaults to `labels.length`. */
export interface TrainingData {
  readonly inputs: InputArray;
  readonly labels: ArrayLike<number>;
  readonly count?: number;
}

/** One full batch of a run whose steps read no labels (a GAN): the samples, row-major. */
export interface SampleBatch {
  readonly inputs: InputArray;
}

/** Samples of a run whose steps read no labels; `count` defaults to all of `inputs`. */
export interface SampleData {
  readonly inputs: InputArray;
  readonly count?: number;
}

export interface StepResult {
  /** Mean loss over the batch (a multi-step run: the sum of its steps' mean losses). */
  readonly loss: number;
  /** Fraction of the batch classified correctly (NaN for a multi-step run). */
  readonly accuracy: number;
  /** A multi-step run's mean loss of each step, by step name. */
  readonly losses?: Readonly<Record<string, number>>;
}

export interface FitOptions {
  /** Default: the train run's `epochs`. */
  readonly epochs?: number;
  /** Evaluated after each epoch (`valLoss`, `valAccuracy`). */
  readonly validation?: TrainingData;
  /** Seed of the shuffle (default: the train run's `seed`). */
  readonly seed?: number;
  readonly shuffle?: boolean;
  /** Called after each epoch; returning `false` stops training. */
  readonly onEpoch?: (result: EpochResult) => void | boolean | Promise<void | boolean>;
  /** Called at most every `progressMs` (default 250) during an epoch. */
  readonly onProgress?: (p: {
    epoch: number;
    step: number;
    steps: number;
    loss: number;
    accuracy: number;
    /** A multi-step run's running mean loss of each step, by step name. */
    losses?: Readonly<Record<string, number>>;
  }) => void;
  readonly progressMs?: number;
  /** Aborting stops training before the next step; `fit` rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** How an entry (Node or browser) wraps a given device and acquires the default one. */
export interface DeviceProvider {
  wrap(device: GPUDevice): Promise<NncDevice>;
  acquireDefault(): Promise<NncDevice>;
}

/**
 * One default device for every model that did not get one, acquired on first use and kept for
 * the next model: a new device for each model would cost its setup each time, and Dawn does
 * not give all of a destroyed device's memory back. A lost device is replaced.
 */
export function sharedDevice(acquire: () => Promise<NncDevice>): () => Promise<NncDevice> {
  let current: Promise<NncDevice> | undefined;
  return async () => {
    try {
      if (current && (await current).lost) current = undefined;
      current ??= acquire();
      return await current;
    } catch (e) {
      current = undefined;
      throw e;
    }
  };
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function typeName(x: unknown): string {
  if (x === null) return "null";
  if (typeof x !== "object") return typeof x;
  return (x as object).constructor?.name ?? "object";
}

export class ModelRunner {
  private disposed = false;
  /** The calls not yet settled, run one after another in call order: they share buffers. */
  private pending = 0;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly model: NncModel) {}

  /** Compiles the program's pipelines on the given or default device. */
  static async create(
    program: ModelProgram,
    opts: CreateOptions,
    provider: DeviceProvider,
  ): Promise<ModelRunner> {
    const options: unknown = opts ?? {};
    if (typeof options !== "object" || options === null) {
      throw nncError("NN5501", {
        detail: `${program.model}.create(): expected an options object { device?, seed? }, got ${typeName(options)}`,
      });
    }
    const { device, seed } = options as CreateOptions;
    if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) {
      throw nncError("NN5501", {
        detail: `${program.model}.create(): seed must be an integer from 0 to ${2 ** 32 - 1}, got ${JSON.stringify(seed)}`,
      });
    }
    let nnc: NncDevice;
    if (device !== undefined) {
      if (
        typeof device !== "object" ||
        device === null ||
        typeof device.createBuffer !== "function"
      ) {
        throw nncError("NN5501", {
          detail: `${program.model}.create(): device must be a GPUDevice, got ${typeName(device)}`,
        });
      }
      nnc = await provider.wrap(device);
    } else {
      nnc = await provider.acquireDefault();
    }
    return new ModelRunner(await NncModel.create(program, nnc, seed === undefined ? {} : { seed }));
  }

  get program(): ModelProgram {
    return this.model.program;
  }

  /** The samples each training step takes. */
  get batchSize(): number {
    return this.model.program.stepBatch;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Training steps taken so far. */
  get steps(): number {
    return this.model.stepCount;
  }

  private fail(method: string, detail: string): never {
    throw nncError("NN5501", { detail: `${this.program.model}.${method}(): ${detail}` });
  }

  private check(method: string): void {
    if (this.disposed) {
      this.fail(
        method,
        `this model was disposed; create a new one with ${this.program.model}.create()`,
      );
    }
  }

  /**
   * Runs `work` after every earlier call has settled. A call still waiting, or running, when
   * the model is disposed rejects saying so.
   */
  private serial<T>(method: string, work: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = async (): Promise<T> => {
      try {
        this.check(method);
        return await work();
      } catch (e) {
        return this.disposed
          ? this.fail(method, "the model was disposed before this call ended")
          : Promise.reject(e);
      } finally {
        this.pending--;
      }
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private get perSample(): number {
    return numel(this.program.inputs[0]!.shape);
  }

  private sampleText(): string {
    return `${shapeText(this.program.inputs[0]!.shape)}, ${this.perSample} values`;
  }

  /**
   * The inputs as floats, a copy when `copy` (the call may start later), or as the bytes given
   * when `bytes`. Bytes are scaled by 1/255 (BYTE_SCALE), except for an integer input (token
   * ids), whose values are taken as they are; anything else, and a value that is not finite
   * (not an integer, for ids), is an error.
   */
  private values(
    method: string,
    what: string,
    x: unknown,
    copy: boolean,
    bytes: boolean,
  ): Float32Array | Uint8Array {
    const ints = this.program.inputs[0]!.dtype !== "f32";
    const data =
      x instanceof Float32Array
        ? copy
          ? x.slice()
          : x
        : x instanceof Uint8Array
          ? ints
            ? Float32Array.from(x)
            : bytes
              ? x
              : bytesToUnit(x)
          : Array.isArray(x) && x.every((v) => typeof v === "number")
            ? Float32Array.from(x)
            : this.fail(
                method,
                `${what} must be a Float32Array (or a Uint8Array of bytes), got ${typeName(x)}`,
              );
    // NaN or infinity in one input turns every weight into NaN at the next step; an
    // embedding's ids index its table's rows: 0 to below - 1.
    const input = this.program.inputs[0]!;
    const below = input.below;
    const k =
      data instanceof Uint8Array
        ? -1
        : data.findIndex(
            ints
              ? (v) => integerProblem(v, input) !== undefined
              : (v) => floatProblem(v) !== undefined,
          );
    if (k >= 0) {
      const v = data[k]!;
      this.fail(
        method,
        !ints
          ? `${what} value ${k} is ${v}, not a finite number`
          : Number.isInteger(v)
            ? `${what} hold token id ${v} at value ${k}; ids run from 0 to ${below! - 1}`
            : `${what} are integer ids, but value ${k} is ${v}`,
      );
    }
    return data;
  }

  /** `samples` for one call's floats, copied: the call may start after the caller moves on. */
  private floats(method: string, what: string, x: unknown, count?: number): Float32Array {
    return this.samples(method, what, x, count, true) as Float32Array;
  }

  /** The samples of `x` (bytes kept as bytes unless `copy`), `count` of them if given. */
  private samples(
    method: string,
    what: string,
    x: unknown,
    count?: number,
    copy = false,
  ): Float32Array | Uint8Array {
    const data = this.values(method, what, x, copy, !copy);
    const per = this.perSample;
    if (count !== undefined) {
      if (!Number.isInteger(count) || count < 0) {
        this.fail(method, `count must be a whole number of samples, got ${String(count)}`);
      }
      if (count === 0) this.fail(method, `${what} holds no samples`);
      if (data.length < count * per) {
        this.fail(
          method,
          `expected ${what} of ${count} samples × ${per} values = ${count * per} values (each sample ${this.sampleText()}), got ${data.length} values`,
        );
      }
      return data.subarray(0, count * per);
    } else if (data.length % per !== 0 || data.length === 0) {
      this.fail(
        method,
        `expected ${what} holding a whole, non-zero number of samples of shape ${this.sampleText()}, got ${data.length} values`,
      );
    }
    return data;
  }

  /**
   * The labels of `count` samples (the first of `labels`, all of them when `exact`): class
   * indices in [0, classes), or, as `targets`, the values the steps read as they are: 0 or 1
   * for an output of one value, `classes` finite numbers per sample for a regression run (a
   * CSV file without `classes`).
   */
  private labels(
    method: string,
    labels: unknown,
    count: number,
    exact = false,
  ): { labels: Int32Array; targets?: Float32Array } {
    const c = this.program.classes;
    const regression = this.regression;
    const per = regression ? c : 1;
    const classes = Math.max(c, 2);
    const what = regression ? `${per} target value${per === 1 ? "" : "s"}` : "one class index";
    if (
      labels === null ||
      typeof labels !== "object" ||
      typeof (labels as ArrayLike<number>).length !== "number"
    ) {
      this.fail(
        method,
        `labels must be an array of numbers (${what} per sample), got ${typeName(labels)}`,
      );
    }
    const src = labels as ArrayLike<number>;
    const n = count * per;
    if (exact ? src.length !== n : src.length < n) {
      this.fail(method, `expected ${n} labels (${what} per sample), got ${src.length}`);
    }
    const out = new Int32Array(count);
    const targets = regression || c === 1 ? new Float32Array(n) : undefined;
    for (let k = 0; k < n; k++) {
      const v = src[k]!;
      if (regression ? !Number.isFinite(v) : !Number.isInteger(v) || v < 0 || v >= classes) {
        this.fail(
          method,
          regression
            ? `label ${k} is ${String(v)}, not a finite number`
            : `label ${k} is ${String(v)}; labels are class indices 0 to ${classes - 1}`,
        );
      }
      if (targets) targets[k] = v;
      else out[k] = v;
    }
    return targets ? { labels: out, targets } : { labels: out };
  }

  /** Whether the labels are regression targets (a CSV run without `classes`): no accuracy. */
  private get regression(): boolean {
    return isRegression(this.program.settings.data);
  }

  /** `r` without an accuracy where the run has none (a regression run's is meaningless). */
  private scored<T extends { accuracy: number; valAccuracy?: number }>(r: T): T {
    return this.regression
      ? { ...r, accuracy: NaN, ...(r.valAccuracy === undefined ? {} : { valAccuracy: NaN }) }
      : r;
  }

  /** Whether the training steps read labels (a GAN's do not: `classes` is 0). */
  private get labelled(): boolean {
    return this.program.classes > 0;
  }

  private dataset(method: string, data: TrainingData | SampleData, what = "data"): Dataset {
    if (data === null || typeof data !== "object") {
      this.fail(
        method,
        `${what} must be { inputs${this.labelled ? ", labels" : ""} }, got ${typeName(data)}`,
      );
    }
    if (!this.labelled) {
      const inputs = this.samples(method, `${what}.inputs`, data.inputs, data.count);
      const n = inputs.length / this.perSample;
      return {
        source: `${this.program.model}.${method}() ${what}`,
        inputs,
        sampleShape: this.program.inputs[0]!.shape,
        labels: new Int32Array(n),
        count: n,
        classes: 0,
      };
    }
    if (!("labels" in data)) this.fail(method, `${what}.labels is missing`);
    const per = this.regression ? this.program.classes : 1;
    const count = data.count ?? Math.floor((data.labels?.length ?? 0) / per);
    const inputs = this.samples(method, `${what}.inputs`, data.inputs, count);
    return {
      source: `${this.program.model}.${method}() ${what}`,
      // Bytes stay bytes: the device or the batcher scales them as `nnc train` does.
      inputs,
      sampleShape: this.program.inputs[0]!.shape,
      ...this.labels(method, data.labels, count),
      count,
      classes: this.program.classes,
    };
  }

  /** One training step on exactly `batchSize` samples. */
  async trainStep(batch: TrainingBatch | SampleBatch): Promise<StepResult> {
    const method = "trainStep";
    this.check(method);
    if (batch === null || typeof batch !== "object") {
      this.fail(
        method,
        `expected a batch { inputs${this.labelled ? ", labels" : ""} }, got ${typeName(batch)}`,
      );
    }
    const n = this.batchSize;
    const x = this.floats(method, "batch.inputs", batch.inputs, n);
    const classes = this.program.classes;
    const y = new Float32Array(n * classes);
    if (this.labelled) {
      if (!("labels" in batch)) this.fail(method, "batch.labels is missing");
      const { labels, targets } = this.labels(method, batch.labels, n, true);
      if (targets) y.set(targets);
      else for (let k = 0; k < n; k++) y[k * classes + labels[k]!] = 1;
    }
    return this.serial(method, async () => this.scored(await this.model.trainStep(x, y)));
  }

  /**
   * Trains for `opts.epochs` epochs. `data` (and `opts.validation`) is read while the call
   * runs: change it only after the returned promise settles.
   */
  async fit(data: TrainingData | SampleData, opts: FitOptions = {}): Promise<EpochResult[]> {
    const method = "fit";
    this.check(method);
    const ds = this.dataset(method, data);
    if (ds.count < this.batchSize) {
      this.fail(method, `${ds.count} samples are fewer than one batch of ${this.batchSize}`);
    }
    const { validation, ...given } = opts ?? {};
    const { onEpoch, onProgress } = given;
    // Callbacks see the results fit returns (no accuracy for a regression run).
    const rest = {
      ...given,
      ...(onEpoch ? { onEpoch: (r: EpochResult) => onEpoch(this.scored(r)) } : {}),
      ...(onProgress
        ? { onProgress: (p: Parameters<typeof onProgress>[0]) => onProgress(this.scored(p)) }
        : {}),
    };
    const epochs: unknown = rest.epochs;
    if (epochs !== undefined && !(Number.isInteger(epochs) && (epochs as number) > 0)) {
      this.fail(method, `epochs must be a whole number from 1, got ${JSON.stringify(epochs)}`);
    }
    if (validation && !this.labelled) {
      this.fail(
        method,
        `validation needs labels, and the steps of train ${this.program.run} read none`,
      );
    }
    const val = validation ? this.dataset(method, validation, "validation") : undefined;
    return this.serial(method, async () =>
      (await this.model.fit(ds, val ? { ...rest, validation: val } : rest)).map((r) =>
        this.scored(r),
      ),
    );
  }

  /** Mean loss and accuracy over every sample of `data` (read while the call runs). */
  async evaluate(data: TrainingData): Promise<Evaluation> {
    const method = "evaluate";
    this.check(method);
    const ds = this.dataset(method, data);
    return this.serial(method, async () => this.scored(await this.model.evaluate(ds)));
  }

  /** The model's output for each sample, `count` rows of the output shape back to back. */
  async predict(inputs: InputArray, count?: number): Promise<Float32Array> {
    const method = "predict";
    this.check(method);
    const x = this.floats(method, "inputs", inputs, count);
    return this.serial(method, () => this.model.predict(x));
  }

  /** The model's parameters and layer state as safetensors bytes. */
  async saveWeights(): Promise<Uint8Array> {
    this.check("saveWeights");
    return this.serial("saveWeights", () => this.model.saveWeights());
  }

  /**
   * Loads weights saved by `saveWeights` or `nnc train`; every tensor's shape is checked. Not
   * while other calls are pending: await them first.
   */
  loadWeights(bytes: Uint8Array | ArrayBuffer): void {
    const method = "loadWeights";
    this.check(method);
    if (this.pending > 0) {
      this.fail(method, `${this.pending} earlier call(s) have not finished; await them first`);
    }
    // A plain view: a Node Buffer's `slice` shares memory, which the decoder does not expect.
    const data =
      bytes instanceof Uint8Array
        ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        : bytes instanceof ArrayBuffer
          ? new Uint8Array(bytes)
          : this.fail(method, `expected safetensors bytes (a Uint8Array), got ${typeName(bytes)}`);
    this.model.loadWeights(data, `${this.program.model}.loadWeights()`);
  }

  /**
   * Frees the model's GPU buffers; calls still pending reject. The default device stays for the
   * next model.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}
