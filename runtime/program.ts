/**
 * @file A ModelProgram: everything needed to train, evaluate and run one compiled model, as
 * plain JSON-serialisable data. `nnc train` builds one in memory; `nnc build` embeds one in the
 * module it writes. It holds three kernel plans over the same variables (a training step at the
 * training batch size, and evaluation and prediction in inference mode) plus what the training
 * loop needs to know (settings, data sources, input and label layout). A multi-step run (a GAN:
 * `step discriminator { ... } step generator { ... }`) has one training plan per step in
 * `steps`, run in order on every batch over one set of variables, and no evaluation or
 * prediction plan.
 */
import type { ExpectedTensor } from "./checkpoint.js";
import type { KernelPlan, PlanDType, PlanInit } from "./plan.js";

export interface ProgramTensor {
  readonly name: string;
  /** Per sample: the batch axis is not included. */
  readonly shape: readonly number[];
  readonly dtype: PlanDType;
  /**
   * An integer input whose values index the rows of a table (an embedding's token ids): the
   * table's row count, so every value must be in [0, below).
   */
  readonly below?: number;
}

export interface ProgramVariable {
  readonly name: string;
  readonly kind: "param" | "state";
  readonly shape: readonly number[];
  readonly dtype: PlanDType;
  readonly init: PlanInit;
  readonly layer: string;
  /** False for frozen parameters and for state. */
  readonly trainable: boolean;
  /**
   * `model`: a layer's parameter or state, saved in checkpoints; `optimizer`: optimizer state;
   * `metric`: the step's on-device metric accumulators.
   */
  readonly role: "model" | "optimizer" | "metric";
}

/**
 * Where training data comes from, as written in the `.nn` file. A CSV file without `classes`
 * holds regression targets in its label column.
 */
export type DataSpec =
  | { readonly kind: "mnist"; readonly split: "train" | "test" }
  | {
      readonly kind: "idx";
      readonly images: string;
      readonly labels: string;
      readonly classes: number;
    }
  | {
      readonly kind: "csv";
      readonly path: string;
      readonly label: string;
      readonly classes: number | null;
    };

/** Whether `spec` holds regression targets (a CSV file without `classes`): no accuracy. */
export function isRegression(spec: DataSpec | null | undefined): boolean {
  return spec?.kind === "csv" && spec.classes === null;
}

export interface TrainSettings {
  readonly epochs: number;
  readonly batch: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly metrics: readonly string[];
  readonly data: DataSpec | null;
  readonly validate: DataSpec | null;
  /** Checkpoint to start from (`init = "..."`), relative to the `.nn` file's folder. */
  readonly init: string | null;
  /**
   * `early_stop`: stop once `metric` has not improved by more than `minDelta` for `patience`
   * epochs (`nnc train` applies it).
   */
  readonly earlyStop: {
    readonly metric: string;
    readonly patience: number;
    readonly minDelta: number;
  } | null;
  /**
   * Augmentations of training batches, as written (`random_shift` {pixels},
   * `random_rotate` {degrees: `10deg` is 10}, `random_zoom` {factor}, `random_flip` {}); absent
   * or empty: none. `fit` applies them (runtime/augment.ts); evaluation and prediction never do.
   */
  readonly augment?: readonly {
    readonly name: string;
    readonly args: Readonly<Record<string, number>>;
  }[];
  /**
   * The run's `search` grid: this program is trial `trial` of `trials` (0 of 1 without a
   * search); `choices` describes the options chosen (`hidden = 64`), in source order.
   */
  readonly search?: {
    readonly trial: number;
    readonly trials: number;
    readonly choices: readonly string[];
  };
}

/** One step of a multi-step run. */
export interface ProgramStep {
  /** The step's name in the `.nn` file (`discriminator`). */
  readonly name: string;
  /** The models whose parameters this step trains (its `updates`). */
  readonly updates: readonly string[];
  /**
   * Inputs: the data fields its loss reads (`image` [B, ...], `label` [B, classes]) and `step`
   * [] (the 1-based batch number, the same for every step of a batch; it keys the step's noise
   * and its optimizer's bias correction). It adds the batch's summed loss to the metric
   * variable `loss`. Variables of the same name in several steps are one variable.
   */
  readonly plan: KernelPlan;
  /** The metric variable holding this step's summed loss (`metrics.discriminator.loss_sum`). */
  readonly loss: string;
}

export interface ModelProgram {
  readonly version: 1;
  /** The model's name (`Mnist`; a multi-step run's own name, `Gan`) and the train run's name. */
  readonly model: string;
  readonly run: string;
  readonly source: string;
  readonly inputs: readonly ProgramTensor[];
  /**
   * The values of each sample's `label` input: the classes of one-hot labels, or the size of a
   * regression target (shaped like the output); 0 when the steps read no labels.
   */
  readonly classes: number;
  /** The prediction's output; null for a multi-step run (which has no prediction plan). */
  readonly output: ProgramTensor | null;
  readonly variables: readonly ProgramVariable[];
  readonly settings: TrainSettings;
  /**
   * Step: inputs `<model inputs>`, `label` [B, classes], `step` [] (1-based). It adds the batch's
   * summed loss and correct count to the metric variables `metrics.loss_sum` and
   * `metrics.correct_sum`, so progress needs no read-back per step.
   */
  readonly step: KernelPlan;
  /**
   * A multi-step run's steps, in the order they run on each batch (`step` is the first one's
   * plan); absent for a single-step run.
   */
  readonly steps?: readonly ProgramStep[];
  readonly stepBatch: number;
  /**
   * Evaluation: inputs `<model inputs>`, `label`; outputs per-sample `loss` [B] and `correct` [B].
   * Null for a multi-step run.
   */
  readonly evaluate: KernelPlan | null;
  /** Prediction: inputs `<model inputs>`; output `output` [B, ...]. Null for a multi-step run. */
  readonly predict: KernelPlan | null;
  readonly inferBatch: number;
}

/** The tensors a checkpoint of this program holds: the model's parameters and layer state. */
export function checkpointTensors(program: ModelProgram): ExpectedTensor[] {
  return program.variables
    .filter((v) => v.role === "model")
    .map((v) => ({ name: v.name, shape: [...v.shape], dtype: v.dtype === "f32" ? "F32" : "I32" }));
}

/** The training plans of `program`, one per step, in the order they run on each batch. */
export function stepPlans(program: ModelProgram): readonly KernelPlan[] {
  return program.steps ? program.steps.map((s) => s.plan) : [program.step];
}

/** A plan of a program with its name (`step`, `evaluate`, `predict`, `step generator`). */
export interface NamedPlan {
  readonly name: string;
  readonly plan: KernelPlan;
  /** The batch size it runs. */
  readonly batch: number;
}

/**
 * Every plan of `program`: `step`, `evaluate` and `predict`; for a multi-step run, one
 * `step NAME` per step instead.
 */
export function namedPlans(program: ModelProgram): NamedPlan[] {
  if (program.steps) {
    return program.steps.map((s) => ({
      name: `step ${s.name}`,
      plan: s.plan,
      batch: program.stepBatch,
    }));
  }
  const out: NamedPlan[] = [{ name: "step", plan: program.step, batch: program.stepBatch }];
  if (program.evaluate)
    out.push({ name: "evaluate", plan: program.evaluate, batch: program.inferBatch });
  if (program.predict)
    out.push({ name: "predict", plan: program.predict, batch: program.inferBatch });
  return out;
}
