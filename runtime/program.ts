/**
 * @file A ModelProgram: everything needed to train, evaluate and run one compiled model, as
 * plain JSON-serialisable data. `nnc train` builds one in memory; `nnc build` embeds one in the
 * module it writes. It holds three kernel plans over the same variables (a training step at the
 * training batch size, and evaluation and prediction in inference mode) plus what the training
 * loop needs to know (settings, data sources, input and label layout).
 */
import type { ExpectedTensor } from "./checkpoint.js";
import type { KernelPlan, PlanDType, PlanInit } from "./plan.js";

export interface ProgramTensor {
  readonly name: string;
  /** Per sample: the batch axis is not included. */
  readonly shape: readonly number[];
  readonly dtype: PlanDType;
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

/** Where training data comes from, as written in the `.nn` file. */
export type DataSpec =
  | { readonly kind: "mnist"; readonly split: "train" | "test" }
  | { readonly kind: "idx"; readonly images: string; readonly labels: string }
  | { readonly kind: "csv"; readonly path: string; readonly label: string };

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
  readonly earlyStop: { readonly metric: string; readonly patience: number } | null;
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

export interface ModelProgram {
  readonly version: 1;
  /** The model's name (`Mnist`) and the train run's name. */
  readonly model: string;
  readonly run: string;
  readonly source: string;
  readonly inputs: readonly ProgramTensor[];
  /** One-hot labels fed as the step's `label` input. */
  readonly classes: number;
  readonly output: ProgramTensor;
  readonly variables: readonly ProgramVariable[];
  readonly settings: TrainSettings;
  /**
   * Step: inputs `<model inputs>`, `label` [B, classes], `step` [] (1-based). It adds the batch's
   * summed loss and correct count to the metric variables `metrics.loss_sum` and
   * `metrics.correct_sum`, so progress needs no read-back per step.
   */
  readonly step: KernelPlan;
  readonly stepBatch: number;
  /** Evaluation: inputs `<model inputs>`, `label`; outputs per-sample `loss` [B] and `correct` [B]. */
  readonly evaluate: KernelPlan;
  /** Prediction: inputs `<model inputs>`; output `output` [B, ...]. */
  readonly predict: KernelPlan;
  readonly inferBatch: number;
}

/** The tensors a checkpoint of this program holds: the model's parameters and layer state. */
export function checkpointTensors(program: ModelProgram): ExpectedTensor[] {
  return program.variables
    .filter((v) => v.role === "model")
    .map((v) => ({ name: v.name, shape: [...v.shape], dtype: v.dtype === "f32" ? "F32" : "I32" }));
}
