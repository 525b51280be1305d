/**
 * @file The training state `nnc train` saves next to the weights after every completed epoch,
 * so `nnc train --resume` continues a run exactly: `DIR/<Model>.state.safetensors` holds the
 * model's tensors and the optimizer's (Adam's m and v under the program's names), and in its
 * metadata the completed epoch, the step counter, the seed, batch size and `--limit` the run
 * used, a hash of the `.nn` file and every finished epoch's metrics (early stopping needs
 * them). It is self-contained: the weights file `DIR/<Model>.safetensors` stays a clean
 * weights-only file (it may be newer, from an interrupted epoch), and resuming reads only this
 * one. Both are written atomically, weights first, so a crash between them leaves a state that
 * is one epoch behind at worst, from which resuming repeats that epoch bit for bit.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readCheckpoint, writeCheckpoint } from "../../runtime/checkpoint-node.js";
import type { NamedTensor } from "../../runtime/checkpoint.js";
import { isNncError, renderNncError } from "../../runtime/errors.js";
import type { EpochResult } from "../../runtime/model.js";
import type { ModelProgram } from "../../runtime/program.js";
import { Reported } from "./common.js";

const FORMAT = "nnc train state";
const VERSION = "1";

/** Where a run's state lives: next to its weights. */
export function statePath(outDir: string, model: string): string {
  return join(outDir, `${model}.state.safetensors`);
}

/** What a state file says besides its tensors. */
export interface TrainState {
  readonly path: string;
  readonly model: string;
  readonly run: string;
  /** Epochs completed (1-based count); the weights and optimizer state are those after it. */
  readonly epoch: number;
  /** The model's step counter after that epoch (`NncModel.stepCount`). */
  readonly step: number;
  /** The epoch the run was to stop after. */
  readonly epochs: number;
  readonly seed: number;
  readonly batch: number;
  /** `--limit`, or null for all samples. */
  readonly limit: number | null;
  /** sha256 of the `.nn` file when the state was saved. */
  readonly source: string;
  /** Whether early stopping ended the run after `epoch`. */
  readonly stoppedEarly: boolean;
  /** Every completed epoch's result, in order. */
  readonly history: readonly EpochResult[];
}

/** sha256 of a file's bytes (hex). */
export function fileHash(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The tensors a state of `program` holds: the model's, then the optimizer's. */
function stateTensorNames(program: ModelProgram) {
  return program.variables
    .filter((v) => v.role === "model" || v.role === "optimizer")
    .map((v) => ({
      name: v.name,
      shape: [...v.shape],
      dtype: v.dtype === "f32" ? ("F32" as const) : ("I32" as const),
    }));
}

/** Writes `state` with the model's and optimizer's tensors, atomically. */
export function writeState(
  path: string,
  state: Omit<TrainState, "path">,
  tensors: readonly NamedTensor[],
): void {
  writeCheckpoint(path, tensors, {
    format: FORMAT,
    version: VERSION,
    model: state.model,
    run: state.run,
    epoch: String(state.epoch),
    step: String(state.step),
    epochs: String(state.epochs),
    seed: String(state.seed),
    batch: String(state.batch),
    limit: state.limit === null ? "" : String(state.limit),
    source_sha256: state.source,
    stopped_early: state.stoppedEarly ? "true" : "false",
    history: JSON.stringify(state.history.map(historyJson)),
  });
}

/** An epoch's result as JSON (NaN and missing values as null). */
function historyJson(r: EpochResult): Record<string, unknown> {
  const num = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : x);
  return {
    epoch: r.epoch,
    loss: num(r.loss),
    accuracy: num(r.accuracy),
    ...(r.losses ? { losses: r.losses } : {}),
    val_loss: num(r.valLoss),
    val_accuracy: num(r.valAccuracy),
    seconds: r.seconds,
    images_per_second: r.imagesPerSecond,
  };
}

function fromHistoryJson(x: unknown): EpochResult | null {
  if (x === null || typeof x !== "object") return null;
  const o = x as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" ? v : NaN);
  if (typeof o.epoch !== "number") return null;
  return {
    epoch: o.epoch,
    loss: num(o.loss),
    accuracy: num(o.accuracy),
    ...(o.losses && typeof o.losses === "object"
      ? { losses: o.losses as Record<string, number> }
      : {}),
    ...(typeof o.val_loss === "number" ? { valLoss: o.val_loss } : {}),
    ...(typeof o.val_accuracy === "number" ? { valAccuracy: o.val_accuracy } : {}),
    seconds: num(o.seconds),
    imagesPerSecond: num(o.images_per_second),
  };
}

/** Prints `nnc train: PATH: message` (and a hint line) and exits 1. */
function fail(path: string, message: string, hint?: string): never {
  process.stderr.write(`nnc train: ${path}: ${message}\n`);
  if (hint) process.stderr.write(`nnc train: ${hint}\n`);
  throw new Reported(1);
}

const fresh = "train without --resume to start over (it overwrites the folder's files)";

/**
 * `--resume --out DIR` with no folder DIR: exits 1 at once, before any compiling or tuning (the
 * state file's name needs the compiled model's; the folder's absence does not).
 */
export function requireResumeFolder(outDir: string): void {
  if (!existsSync(outDir)) {
    fail(
      outDir,
      "nothing to resume: no such folder",
      `a run saves its state there after every completed epoch; ${fresh}`,
    );
  }
}

/**
 * Reads the state in `outDir` for `program`'s metadata only (the tensors are checked against a
 * program by `readStateTensors`). Exits 1 with a message naming the file when there is none,
 * or it is not a state file, or it is another run's.
 */
export function readState(outDir: string, program: ModelProgram): TrainState {
  const path = statePath(outDir, program.model);
  if (!existsSync(path)) {
    const weights = join(outDir, `${program.model}.safetensors`);
    fail(
      path,
      "nothing to resume: no such file" +
        (existsSync(weights)
          ? ` (${weights} has weights but no training state: the run stopped during its first epoch, or an older nnc wrote it)`
          : ""),
      `a run saves its state after every completed epoch; ${fresh}`,
    );
  }
  let metadata: Readonly<Record<string, string>>;
  try {
    metadata = readCheckpoint(path).metadata;
  } catch (e) {
    if (!isNncError(e)) throw e;
    process.stderr.write(renderNncError(e) + "\n");
    fail(path, "cannot resume from this state file (corrupt or truncated)", fresh);
  }
  if (metadata.format !== FORMAT) {
    fail(path, `not an nnc training state (its metadata has no format "${FORMAT}")`, fresh);
  }
  if (metadata.version !== VERSION) {
    fail(path, `training state version ${metadata.version ?? "(none)"}; this nnc reads ${VERSION}`);
  }
  const int = (key: string): number => {
    const v = metadata[key];
    const n = v === undefined || !/^-?\d+$/.test(v) ? NaN : Number(v);
    if (!Number.isSafeInteger(n))
      fail(path, `its metadata ${key} is ${JSON.stringify(v)}, not a whole number`, fresh);
    return n;
  };
  let history: EpochResult[] = [];
  try {
    const raw = JSON.parse(metadata.history ?? "[]") as unknown;
    if (!Array.isArray(raw)) throw new Error("not a list");
    history = raw.map((x) => {
      const r = fromHistoryJson(x);
      if (!r) throw new Error("an entry is not an epoch's metrics");
      return r;
    });
  } catch (e) {
    fail(path, `its metadata history is not valid (${(e as Error).message})`, fresh);
  }
  const state: TrainState = {
    path,
    model: metadata.model ?? "",
    run: metadata.run ?? "",
    epoch: int("epoch"),
    step: int("step"),
    epochs: int("epochs"),
    seed: int("seed"),
    batch: int("batch"),
    limit: metadata.limit === "" || metadata.limit === undefined ? null : int("limit"),
    source: metadata.source_sha256 ?? "",
    stoppedEarly: metadata.stopped_early === "true",
    history,
  };
  if (state.model !== program.model || state.run !== program.run) {
    fail(
      path,
      `it is the state of train ${state.run} (model ${state.model}), not of train ${program.run} (model ${program.model})`,
      fresh,
    );
  }
  if (history.length !== state.epoch) {
    fail(
      path,
      `its metadata says epoch ${state.epoch} but lists ${history.length} epochs' metrics`,
      fresh,
    );
  }
  return state;
}

/**
 * The model's and optimizer's tensors of `state`, checked against `program`: a missing,
 * extra or mis-shaped tensor (the model or its optimizer changed) exits 1 naming the file.
 */
export function readStateTensors(
  state: TrainState,
  program: ModelProgram,
): { weights: NamedTensor[]; optimizer: NamedTensor[] } {
  let tensors: readonly NamedTensor[];
  try {
    tensors = readCheckpoint(state.path, stateTensorNames(program)).tensors;
  } catch (e) {
    if (!isNncError(e)) throw e;
    process.stderr.write(renderNncError(e) + "\n");
    fail(
      state.path,
      `cannot resume: the state does not fit train ${program.run} as ${program.source} now defines it (its model or optimizer changed)`,
      fresh,
    );
  }
  const roles = new Map(program.variables.map((v) => [v.name, v.role]));
  return {
    weights: tensors.filter((t) => roles.get(t.name) === "model"),
    optimizer: tensors.filter((t) => roles.get(t.name) === "optimizer"),
  };
}
