/**
 * @file `nnc train FILE`: compiles a train run, trains it on a WebGPU device through the same
 * NncModel a built module uses, validates after every epoch, and after every epoch writes
 * `DIR/<Model>.safetensors` (atomically: temp file, then rename) and appends a line to
 * `DIR/metrics.jsonl` (a new run replaces the file with its first saved epoch's line; an epoch
 * that diverged is neither saved nor listed). Ctrl-C stops after the current step and still
 * saves. `--json` prints one summary object on stdout at the end (README.md lists its fields;
 * `stopped` says why training ended early, if it did). A run with `search` options trains
 * every trial (each in `DIR/trial-<k>/`), ranks them by validation accuracy (else validation
 * loss, else training loss), and copies the best trial's weights to `DIR/<Model>.safetensors`;
 * `--trial K` trains one trial; trials whose data settings differ each load their own data. After every epoch it
 * also writes the training state (train-state.ts), from which `--resume` continues the run bit
 * for bit: weights, optimizer state, step counter, epoch and data order.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { describeAugment } from "../../runtime/augment.js";
import { readCheckpoint, writeCheckpoint } from "../../runtime/checkpoint-node.js";
import { ensureDir, missingDirs, writeFileAtomically, writeOrFail } from "../../runtime/fs-node.js";
import type { Dataset } from "../../runtime/data/dataset.js";
import type { NncDevice } from "../../runtime/device.js";
import { NncModel, type EpochResult } from "../../runtime/model.js";
import { formatProfile, kernelProfileOf, profilingRequested } from "../../runtime/profile.js";
import { checkpointTensors, type ModelProgram } from "../../runtime/program.js";
import { Progress } from "../../runtime/progress.js";
import { relaunchQuietly } from "../../runtime/quiet.js";
import { maxSeed } from "../check/train.js";
import { dimFlag, parseArgs, parseDims, usage, type FlagSpec } from "./args.js";
import type { NamedTensor } from "../../runtime/checkpoint.js";
import { device, guard, isRegression, loadData, Reported, requireFile } from "./common.js";
import {
  fileHash,
  readState,
  readStateTensors,
  requireResumeFolder,
  statePath,
  writeState,
  type TrainState,
} from "./train-state.js";
import { compileForTuned, trainBudgetMs } from "./tuning.js";

const flags: Record<string, FlagSpec> = {
  epochs: { kind: "int", min: 1, help: "epochs to train (default: the file's `epochs`)" },
  batch: { kind: "int", min: 1, help: "batch size (default: the file's `batch`)" },
  limit: { kind: "int", min: 1, help: "use only the first N training and validation samples" },
  seed: {
    kind: "int",
    min: 0,
    max: maxSeed,
    help: "seed of all the run's randomness: initial weights, shuffling, dropout, noise, augmentation (default: the file's, else 0)",
  },
  resume: {
    kind: "boolean",
    help: "continue the run saved in the output folder from its last completed epoch (--epochs N: up to epoch N)",
  },
  out: { kind: "string", alias: "o", help: "output folder (default: out/<Model>)" },
  run: { kind: "string", help: "which train section to run, when the file has several" },
  dim: dimFlag,
  device: { kind: "string", help: "auto | gpu | llvmpipe | swiftshader (env NNC_DEVICE)" },
  json: {
    kind: "boolean",
    help: "print a JSON summary on stdout at the end (its fields are listed in README.md)",
  },
  trial: {
    kind: "int",
    min: 0,
    help: "train only this trial of the run's `search` grid (0-based; default: all of them)",
  },
  "no-tune": {
    kind: "boolean",
    help: "skip the kernel parameter search (cached winners still apply; NNC_TUNE=0: neither)",
  },
  help: { kind: "boolean", alias: "h", help: "show this help" },
};

export async function run(args: string[]): Promise<number> {
  const quiet = await relaunchQuietly();
  if (quiet !== undefined) return quiet;
  return guard("train", async () => {
    const { flags: f, positionals } = parseArgs(args, flags);
    if (f.help) {
      process.stdout.write(usage("train", "FILE [options]", flags) + "\n");
      return 0;
    }
    const file = requireFile("train", positionals[0]);
    const dims = parseDims(f.dim);
    // An output folder that cannot be one (a file is in the way) fails before any work.
    if (f.out !== undefined) missingDirs(f.out as string);
    if (f.resume === true && f.out !== undefined) requireResumeFolder(resolve(f.out as string));
    const started = performance.now();
    const dev = await device(f.device as string | undefined);
    try {
      const ctx: TrainContext = {
        file,
        dev,
        f,
        started,
        resume: f.resume === true,
        seed: f.seed as number | undefined,
        limit: f.limit as number | undefined,
        epochs: f.epochs as number | undefined,
        data: undefined,
      };
      const compileTrial = (trial: number, batch?: number) =>
        // Kernels tuned for this device: shapes the cache lacks are measured first (bounded).
        compileForTuned(
          file,
          dev,
          {
            ...(f.run !== undefined ? { run: f.run as string } : {}),
            ...((batch ?? f.batch) !== undefined ? { batch: (batch ?? f.batch) as number } : {}),
            ...(dims ? { bindings: dims } : {}),
            // --seed (or a resumed run's seed) keys dropout and noise too, so it is compiled in.
            ...(ctx.seed !== undefined ? { seed: ctx.seed } : {}),
            // Schedules' `total` is the number of steps this run takes.
            ...(ctx.limit !== undefined ? { limit: ctx.limit } : {}),
            ...(ctx.epochs !== undefined ? { epochs: ctx.epochs } : {}),
            trial,
          },
          {
            search: f["no-tune"] !== true,
            device: f.device as string | undefined,
            budgetMs: trainBudgetMs,
            // Bad data fails before the kernel search, not seconds after it. (A resumed run
            // loads its data once the saved --limit is known.)
            beforeSearch: (p) => {
              if (!ctx.resume) dataFor(ctx, p, ctx.limit);
              else resumableBefore(ctx, p, only);
            },
          },
        );
      const only = f.trial as number | undefined;
      const first = await compileTrial(only ?? 0);
      if (!first.settings.data) {
        process.stderr.write(`${file}: train ${first.run} has no \`data\` to train on\n`);
        return 1;
      }
      const outDir = resolve((f.out as string | undefined) ?? join("out", first.model));
      const trials = first.settings.search?.trials ?? 1;
      if (trials === 1 || only !== undefined) {
        const point = ctx.resume
          ? await resumePoint(ctx, first, outDir, (batch) => compileTrial(only ?? 0, batch))
          : undefined;
        const r = await trainOne(ctx, point?.program ?? first, outDir, ctx.started, "", point);
        if (f.json) process.stdout.write(JSON.stringify(summaryJson(ctx, r)) + "\n");
        return r.interrupted ? 130 : r.diverged !== undefined ? 1 : 0;
      }
      return await searchTrials(ctx, first, trials, compileTrial, outDir);
    } finally {
      dev.destroy();
    }
  });
}

interface TrainContext {
  readonly file: string;
  readonly dev: NncDevice;
  readonly f: Record<string, unknown>;
  readonly started: number;
  /** `--resume`: continue from the state in the output folder. */
  readonly resume: boolean;
  /** The seed every trial compiles with: `--seed`, else a resumed run's, else the file's. */
  seed: number | undefined;
  /** `--limit`, else a resumed run's. */
  limit: number | undefined;
  /** `--epochs`, else a resumed run's (undefined: the file's). */
  epochs: number | undefined;
  /** The data last loaded, and the settings it was loaded for (trials share it when equal). */
  data: { key: string; train: Dataset; validation: Dataset | undefined } | undefined;
}

/**
 * The training and validation data of `program`: loaded once and reused by every trial whose
 * data settings are the same; a trial with other ones (a `search` over `data`) loads its own.
 */
function dataFor(
  ctx: TrainContext,
  program: ModelProgram,
  limit: number | undefined,
): { train: Dataset; validation: Dataset | undefined } {
  const s = program.settings;
  const key = JSON.stringify({ data: s.data, validate: s.validate, limit: limit ?? null });
  if (ctx.data?.key === key) return ctx.data;
  if (!s.data) {
    process.stderr.write(`${ctx.file}: train ${program.run} has no \`data\` to train on\n`);
    throw new Reported(1);
  }
  if (ctx.data) {
    const trial = program.settings.search?.trial ?? 0;
    process.stderr.write(`nnc: trial ${trial} has other data settings; loading its data\n`);
  }
  ctx.data = undefined; // drop the old data before loading the new
  const train = loadData(s.data, ctx.file, program, limit);
  const validation = s.validate ? loadData(s.validate, ctx.file, program, limit) : undefined;
  ctx.data = { key, train, validation };
  return ctx.data;
}

/** Where `--resume` continues a program: the (re)compiled program, its state and tensors. */
interface ResumePoint {
  readonly program: ModelProgram;
  readonly state: TrainState;
  readonly weights: NamedTensor[];
  readonly optimizer: NamedTensor[];
}

/**
 * `--resume`, before the kernel search of `program` (as first compiled): a missing state, or a
 * `--seed`, `--batch` or `--limit` that would not continue the run, is refused now rather than
 * after seconds of measuring. A trial of a search without a state of its own is trained from
 * the start, so it is not refused here.
 */
function resumableBefore(ctx: TrainContext, program: ModelProgram, only: number | undefined) {
  const base = resolve((ctx.f.out as string | undefined) ?? join("out", program.model));
  const search = program.settings.search;
  const dir =
    !search || search.trials === 1 || only !== undefined
      ? base
      : join(base, `trial-${search.trial}`);
  if (dir !== base && !existsSync(statePath(dir, program.model))) return;
  resumeFlagsFit(ctx, readState(dir, program));
}

/**
 * `--seed`, `--batch` and `--limit` against a saved `state`: each defaults to the state's, and a
 * different value is an error (it would not continue the run).
 */
function resumeFlagsFit(ctx: TrainContext, state: TrainState): void {
  const { f } = ctx;
  const differs = (flag: string, given: unknown, saved: unknown, savedText: string) => {
    if (given === undefined || given === saved) return;
    process.stderr.write(
      `nnc train: ${state.path}: the run was trained with ${savedText}; --${flag} ${String(given)} ` +
        `would not continue it (leave --${flag} out to resume, or train without --resume)\n`,
    );
    throw new Reported(1);
  };
  differs("seed", f.seed, state.seed, `seed ${state.seed}`);
  differs("batch", f.batch, state.batch, `batch ${state.batch}`);
  differs(
    "limit",
    f.limit,
    state.limit ?? undefined,
    state.limit === null ? "all samples (no --limit)" : `--limit ${state.limit}`,
  );
}

/**
 * Reads the state in `dir` for `program` and checks the flags against it (`resumeFlagsFit`).
 * Recompiles when the state's seed, batch, `--limit` or epochs differ from the compiled ones
 * (schedules' `total` counts the run's steps).
 */
async function resumePoint(
  ctx: TrainContext,
  program: ModelProgram,
  dir: string,
  recompile: (batch: number) => Promise<ModelProgram>,
): Promise<ResumePoint> {
  const state = readState(dir, program);
  resumeFlagsFit(ctx, state);
  const compiled = { limit: ctx.limit, epochs: ctx.epochs };
  ctx.seed = state.seed;
  ctx.limit = state.limit ?? undefined;
  ctx.epochs ??= state.epochs;
  let p = program;
  if (
    p.settings.seed !== state.seed ||
    p.stepBatch !== state.batch ||
    ctx.limit !== compiled.limit ||
    ctx.epochs !== compiled.epochs
  )
    p = await recompile(state.batch);
  if (fileHash(ctx.file) !== state.source) {
    process.stderr.write(
      `nnc train: warning: ${ctx.file} changed since ${state.path} was saved; resuming with the file as it is now\n`,
    );
  }
  const { weights, optimizer } = readStateTensors(state, p);
  return { program: p, state, weights, optimizer };
}

interface TrainOutcome {
  readonly program: ModelProgram;
  readonly history: readonly EpochResult[];
  readonly interrupted: boolean;
  /** The epoch whose training loss was NaN or infinite: training stopped, nothing saved. */
  readonly diverged?: number;
  /** Whether early stopping ended the run (now, or when it was saved). */
  readonly stoppedEarly: boolean;
  /** The run's weights file; null when it wrote none (it diverged in its first epoch). */
  readonly ckpt: string | null;
  readonly imagesPerSecond: number;
  /** Seconds since the program's work began (its compiling included). */
  readonly seconds: number;
}

/** Why a run stopped before its last epoch, as `--json` names it (null: it did not). */
function stopReason(r: TrainOutcome): "interrupted" | "diverged" | "early_stop" | null {
  if (r.interrupted) return "interrupted";
  if (r.diverged !== undefined) return "diverged";
  return r.stoppedEarly ? "early_stop" : null;
}

/**
 * Trains one program into `outDir`: after every epoch, its weights, its training state and its
 * metrics line. With `resume`, continues from that state (a finished run trains nothing).
 * `began` is when the program's work began (`performance.now()`), for its `seconds`.
 */
async function trainOne(
  ctx: TrainContext,
  program: ModelProgram,
  outDir: string,
  began: number,
  label = "",
  resume?: ResumePoint,
): Promise<TrainOutcome> {
  const { file, dev, f } = ctx;
  const s = program.settings;
  const seed = s.seed;
  const done = resume?.state.epoch ?? 0;
  const epochs = (f.epochs as number | undefined) ?? resume?.state.epochs ?? s.epochs;
  ensureDir(outDir);
  const ckpt = join(outDir, `${program.model}.safetensors`);
  const stateFile = statePath(outDir, program.model);
  const metricsPath = join(outDir, "metrics.jsonl");
  const history: EpochResult[] = [...(resume?.state.history ?? [])];
  const rate = (h: readonly EpochResult[]) => {
    const seconds = h.reduce((a, r) => a + r.seconds, 0);
    return seconds > 0 ? h.reduce((a, r) => a + r.imagesPerSecond * r.seconds, 0) / seconds : 0;
  };
  if (resume) {
    const st = resume.state;
    const finished = st.epoch >= epochs || (st.stoppedEarly && f.epochs === undefined);
    if (finished) {
      process.stderr.write(
        `nnc train${label}: ${st.path}: ${program.model} already finished: ${st.epoch} epoch${st.epoch === 1 ? "" : "s"} trained` +
          (st.stoppedEarly
            ? " (early stopping)"
            : st.epoch > epochs
              ? ` (more than --epochs ${epochs})`
              : "") +
          `; nothing to resume (--epochs N with N > ${st.epoch} trains more)\n`,
      );
      return {
        program,
        history,
        interrupted: false,
        stoppedEarly: st.stoppedEarly,
        ckpt,
        imagesPerSecond: rate(history),
        seconds: (performance.now() - began) / 1000,
      };
    }
    continueMetrics(metricsPath, history);
  }
  const limit = ctx.limit;
  const { train, validation } = dataFor(ctx, program, limit);
  const source = fileHash(file);
  // Regression targets have no classes, so no accuracy either: only losses are reported.
  const regression = isRegression(s.data);

  const model = await NncModel.create(program, dev, { seed });
  try {
    if (resume) {
      model.setWeights(resume.weights);
      model.setOptimizerState(resume.optimizer);
      model.stepCount = resume.state.step;
    } else if (s.init) {
      const initPath = resolve(dirname(resolve(file)), s.init);
      model.setWeights(readCheckpoint(initPath, checkpointTensors(program), program.model).tensors);
    }
    const tty = process.env.NNC_STDERR_TTY === "1" || process.stderr.isTTY === true;
    const steps = Math.floor(train.count / program.stepBatch);
    const progress = new Progress({
      epochs,
      stepsPerEpoch: steps,
      batchSize: program.stepBatch,
      tty,
    });
    if (resume) progress.message(resumeMessage(resume.state, ckpt, epochs, label));
    progress.message(
      `nnc: training ${program.model}${label} (${basename(file)}) on ${dev.description}: ` +
        `${train.count.toLocaleString("en-US")} samples, batch ${program.stepBatch}, ${epochs} epoch${epochs === 1 ? "" : "s"}` +
        (resume ? ` (from epoch ${done + 1})` : "") +
        (s.augment?.length ? `; augment: ${describeAugment(s.augment)}` : ""),
    );
    const abort = new AbortController();
    const onInt = () => {
      if (abort.signal.aborted) process.exit(130);
      progress.message("nnc: interrupted; saving the last weights (Ctrl-C again to quit at once)");
      abort.abort(new Error("interrupted"));
    };
    process.on("SIGINT", onInt);
    let interrupted = false;
    let diverged: number | undefined;
    let stoppedEarly = false;
    /** The weights after `epoch`, then (unless `partial`) the state to resume from. */
    const save = async (epoch: number, partial: boolean, stoppedEarly = false) => {
      const weights = await model.getWeights();
      writeCheckpoint(ckpt, weights, {
        model: program.model,
        run: program.run,
        epoch: String(epoch),
        ...(partial ? { interrupted_in_epoch: String(epoch + 1) } : {}),
      });
      if (partial) return;
      const optimizer = await model.getOptimizerState();
      writeState(
        stateFile,
        {
          model: program.model,
          run: program.run,
          epoch,
          step: model.stepCount,
          epochs,
          seed,
          batch: program.stepBatch,
          limit: limit ?? null,
          source,
          stoppedEarly,
          history,
        },
        [...weights, ...optimizer],
      );
    };
    // A new run's metrics replace the last run's only once it has saved weights (its first
    // epoch's, or an interrupted epoch's): a run that fails or diverges first keeps the old file.
    let replace = !resume;
    const addMetrics = (text: string) =>
      writeOrFail(metricsPath, () => {
        if (replace) writeFileAtomically(metricsPath, new TextEncoder().encode(text));
        else appendFileSync(metricsPath, text);
        replace = false;
      });
    try {
      await model.fit(train, {
        epochs,
        initialEpoch: done,
        seed,
        ...(validation ? { validation } : {}),
        signal: abort.signal,
        onEpochStart: (e) => progress.startEpoch(e),
        onProgress: (p) => progress.step(p.step, stepMetrics(regression ? unclassified(p) : p)),
        onEpoch: async (fitted) => {
          const r = regression ? unclassified(fitted) : fitted;
          progress.step(steps);
          progress.endEpoch({
            ...stepMetrics(r),
            ...(r.valLoss !== undefined ? { valLoss: r.valLoss } : {}),
            ...(r.valAccuracy !== undefined ? { valAccuracy: r.valAccuracy } : {}),
          });
          if (!Number.isFinite(r.loss)) {
            // Saved, its weights (NaN) would replace the last good ones; its metrics line
            // would describe weights the folder does not hold (the progress line shows it).
            diverged = r.epoch;
            return false;
          }
          history.push(r);
          const go = earlyStop(history, s.earlyStop);
          // The weights first: a metrics line that cannot be written must not cost them.
          await save(r.epoch, false, !go);
          addMetrics(JSON.stringify(epochJson(r)) + "\n");
          stoppedEarly = !go;
          return go;
        },
      });
    } catch (e) {
      if (!abort.signal.aborted) throw e;
      interrupted = true;
      await save(history.length, true);
      // The weights are this run's now, so the last run's metrics go too.
      if (replace) addMetrics("");
    } finally {
      process.off("SIGINT", onInt);
      progress.finish();
    }
    const seconds = (performance.now() - began) / 1000;
    const outcome = {
      program,
      history,
      interrupted,
      stoppedEarly,
      ckpt,
      imagesPerSecond: rate(history),
      seconds,
    };
    if (diverged !== undefined) {
      const kept = history.at(-1);
      process.stderr.write(
        `nnc: epoch ${diverged}${label} ended with a training loss that is not a number (the run diverged), so its weights were not saved; ` +
          (kept
            ? `${ckpt} keeps epoch ${kept.epoch}'s (metrics in ${metricsPath})`
            : "no epoch finished before it") +
          "; a lower learning rate may help\n",
      );
      return { ...outcome, diverged, ckpt: kept ? ckpt : null };
    }
    if (stoppedEarly) process.stderr.write(earlyStopMessage(history, s.earlyStop!, label));
    process.stderr.write(
      `nnc: ${interrupted ? "stopped" : "done"}${label} in ${seconds.toFixed(1)} s; weights in ${ckpt}, metrics in ${metricsPath}` +
        (!interrupted
          ? ""
          : history.length > 0
            ? `; --resume continues from the end of epoch ${history.length}`
            : "; no epoch finished, so there is no state to resume from (train again to start over)") +
        "\n",
    );
    if (profilingRequested()) await printKernelProfile(program);
    return outcome;
  } finally {
    model.dispose();
  }
}

/** What `--resume` says before training: from which epoch, and what an interruption lost. */
function resumeMessage(state: TrainState, ckpt: string, epochs: number, label: string): string {
  let lost = "";
  try {
    const meta = existsSync(ckpt) ? readCheckpoint(ckpt).metadata : {};
    const n = meta.interrupted_in_epoch;
    if (n !== undefined && Number(n) === state.epoch + 1) {
      lost = `; the run was interrupted during epoch ${n}, which starts over`;
    }
  } catch {
    // the weights file is only consulted for this message; the state is what resumes
  }
  return (
    `nnc: resuming ${state.model}${label} from ${state.path}: ${state.epoch} epoch${state.epoch === 1 ? "" : "s"} ` +
    `done (step ${state.step}), training to epoch ${epochs}${lost}`
  );
}

/**
 * Continues `metrics.jsonl` for a resumed run: keeps the lines of the epochs `history` holds
 * (drops a line an interrupted save left for a later epoch), and rewrites it from `history`
 * when it is missing or unreadable.
 */
function continueMetrics(path: string, history: readonly EpochResult[]): void {
  const done = history.length;
  const fromHistory = () =>
    writeFileAtomically(
      path,
      new TextEncoder().encode(history.map((r) => JSON.stringify(epochJson(r)) + "\n").join("")),
    );
  if (!existsSync(path)) return fromHistory();
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const epochs = lines.map((l) => {
    try {
      return (JSON.parse(l) as { epoch?: unknown }).epoch;
    } catch {
      return undefined;
    }
  });
  if (!epochs.every((e) => typeof e === "number")) return fromHistory();
  const keep = lines.filter((_, i) => (epochs[i] as number) <= done);
  if (keep.length !== done) return fromHistory();
  if (keep.length !== lines.length) {
    writeFileAtomically(path, new TextEncoder().encode(keep.map((l) => l + "\n").join("")));
  }
}

/**
 * What the progress line shows: the loss and accuracy, or for a multi-step run each step's
 * loss (`loss_discriminator 0.6931 loss_generator 0.7012`).
 */
function stepMetrics(m: {
  loss: number;
  accuracy: number;
  losses?: Readonly<Record<string, number>>;
}): { loss?: number; accuracy?: number; losses?: Record<string, number> } {
  if (m.losses) return { losses: stepLosses(m.losses) };
  return Number.isNaN(m.accuracy) ? { loss: m.loss } : { loss: m.loss, accuracy: m.accuracy };
}

/** Metrics on regression targets: accuracy NaN (as a multi-step run's), none on validation. */
function unclassified<T extends { accuracy: number; valAccuracy?: number }>(m: T): T {
  const { valAccuracy: _, ...rest } = m;
  return { ...rest, accuracy: NaN } as T;
}

/** A multi-step run's losses by key: `loss_<step>` (e.g. `loss_generator`). */
function stepLosses(losses: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(losses).map(([k, v]) => [`loss_${k}`, v]));
}

/** A number for JSON: null when it is not finite (a multi-step run's accuracy is NaN). */
function finite(x: number | undefined): number | null {
  return x === undefined || !Number.isFinite(x) ? null : x;
}

/** The last epoch a run finished (none when it was stopped in the first). */
function lastEpoch(r: TrainOutcome): EpochResult | undefined {
  return r.history[r.history.length - 1];
}

/** The `--json` object of one trained program. */
function summaryJson(ctx: TrainContext, r: TrainOutcome): Record<string, unknown> {
  const last = lastEpoch(r);
  const search = r.program.settings.search;
  return {
    model: r.program.model,
    run: r.program.run,
    epochs: r.history.length,
    train_loss: finite(last?.loss),
    train_accuracy: finite(last?.accuracy),
    val_loss: last?.valLoss ?? null,
    val_accuracy: last?.valAccuracy ?? null,
    ...(r.program.steps
      ? Object.fromEntries(
          r.program.steps.map((st) => [`loss_${st.name}`, finite(last?.losses?.[st.name])]),
        )
      : {}),
    images_per_second: Math.round(r.imagesPerSecond),
    seconds: Number(r.seconds.toFixed(3)),
    device: ctx.dev.description,
    checkpoint: r.ckpt,
    interrupted: r.interrupted,
    stopped: stopReason(r),
    ...(search && search.trials > 1 ? { trial: search.trial, choices: search.choices } : {}),
  };
}

/** The number a search maximises: validation accuracy, else -validation loss, else -loss. */
function score(r: TrainOutcome): number {
  const last = lastEpoch(r);
  if (!last) return -Infinity;
  if (last.valAccuracy !== undefined) return last.valAccuracy;
  if (last.valLoss !== undefined) return -last.valLoss;
  return -last.loss;
}

/**
 * Trains every trial of a `search` grid, one after another, each into `DIR/trial-<k>/`; writes
 * `DIR/search.jsonl` (a line per trial), prints the trials ranked, and copies the best trial's
 * checkpoint to `DIR/<Model>.safetensors`. Ctrl-C stops the search after saving the current
 * trial; the best finished trial is still kept.
 */
async function searchTrials(
  ctx: TrainContext,
  first: ModelProgram,
  trials: number,
  compileTrial: (trial: number, batch?: number) => Promise<ModelProgram>,
  outDir: string,
): Promise<number> {
  ensureDir(outDir);
  const searchPath = join(outDir, "search.jsonl");
  process.stderr.write(
    `nnc: ${first.run} has ${trials} trials (every combination of its \`search\` options); training each\n`,
  );
  const done: TrainOutcome[] = [];
  let interrupted = false;
  for (let k = 0; k < trials; k++) {
    // A trial's seconds count from its compiling (the first's: from the start, as one run's).
    const began = k === 0 ? ctx.started : performance.now();
    const compiled = k === 0 ? first : await compileTrial(k);
    const dir = join(outDir, `trial-${k}`);
    let point: ResumePoint | undefined;
    if (ctx.resume) {
      if (existsSync(statePath(dir, compiled.model))) {
        point = await resumePoint(ctx, compiled, dir, (batch) => compileTrial(k, batch));
      } else {
        process.stderr.write(
          `nnc: trial ${k} has no saved state in ${dir}; training it from the start\n`,
        );
      }
    }
    const program = point?.program ?? compiled;
    const choices = program.settings.search?.choices ?? [];
    const r = await trainOne(
      ctx,
      program,
      dir,
      began,
      ` trial ${k} of ${trials} (${choices.join(", ")})`,
      point,
    );
    done.push(r);
    // The first trial's line replaces the last search's file (a search that fails before
    // finishing a trial keeps it), the others are appended.
    const line = JSON.stringify({ ...summaryJson(ctx, r), trial: k, choices }) + "\n";
    writeOrFail(searchPath, () =>
      done.length === 1 ? writeFileSync(searchPath, line) : appendFileSync(searchPath, line),
    );
    if (r.interrupted) {
      interrupted = true;
      break;
    }
  }
  const ranked = [...done].sort((a, b) => score(b) - score(a));
  const best = ranked[0]!;
  if (!lastEpoch(best)) {
    process.stderr.write(`nnc: no trial finished an epoch; nothing to rank\n`);
    return interrupted ? 130 : 1;
  }
  const target = join(outDir, `${first.model}.safetensors`);
  writeFileAtomically(target, readFileSync(best.ckpt!));
  const pct = (v: number | undefined) => (v === undefined ? "-" : `${(v * 100).toFixed(2)}%`);
  const num = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(4));
  const rows = ranked.map((r) => {
    const last = lastEpoch(r);
    const search = r.program.settings.search!;
    const note = r.diverged !== undefined ? ` (diverged in epoch ${r.diverged})` : "";
    return `  ${String(search.trial).padStart(3)}  ${pct(last?.valAccuracy).padStart(8)}  ${num(last?.valLoss).padStart(8)}  ${num(last?.loss).padStart(8)}  ${search.choices.join(", ")}${note}`;
  });
  process.stderr.write(
    [
      `nnc: ${done.length} of ${trials} trials${interrupted ? " (interrupted)" : ""}, best first:`,
      "  trial   val_acc  val_loss      loss  choices",
      ...rows,
      `nnc: best: trial ${best.program.settings.search!.trial}; weights copied to ${target}; all trials in ${searchPath}`,
      "",
    ].join("\n"),
  );
  if (ctx.f.json) {
    // The best trial's summary, but the search's checkpoint (the copy), interruption and time.
    const summary = {
      ...summaryJson(ctx, best),
      checkpoint: target,
      interrupted,
      search_seconds: Number(((performance.now() - ctx.started) / 1000).toFixed(3)),
      trials: done.map((r) => {
        const last = lastEpoch(r);
        return {
          trial: r.program.settings.search!.trial,
          choices: r.program.settings.search!.choices,
          val_accuracy: last?.valAccuracy ?? null,
          val_loss: last?.valLoss ?? null,
          train_loss: last?.loss ?? null,
          checkpoint: r.ckpt,
          stopped: stopReason(r),
        };
      }),
    };
    process.stdout.write(JSON.stringify(summary) + "\n");
  }
  return interrupted ? 130 : 0;
}

/**
 * With NNC_DEBUG: the per-kernel times of the training step on stderr (runtime/profile.ts),
 * after the weights are saved, so a failure here costs nothing but the table.
 */
async function printKernelProfile(program: ModelProgram): Promise<void> {
  try {
    const p = await kernelProfileOf(program.step);
    if (!p) return;
    const what = `the training step of ${program.model} (batch ${program.stepBatch})`;
    process.stderr.write(`${formatProfile(p, what)}\n`);
  } catch (e) {
    process.stderr.write(`nnc: no kernel profile: ${(e as Error).message}\n`);
  }
}

function epochJson(r: EpochResult): Record<string, number | null> {
  return {
    epoch: r.epoch,
    loss: finite(r.loss),
    accuracy: finite(r.accuracy),
    ...(r.losses ? stepLosses(r.losses) : {}),
    val_loss: r.valLoss ?? null,
    val_accuracy: r.valAccuracy ?? null,
    seconds: Number(r.seconds.toFixed(3)),
    images_per_second: Math.round(r.imagesPerSecond),
  };
}

/** What nnc train says when early stopping ended a run after the last epoch of `history`. */
function earlyStopMessage(
  history: readonly EpochResult[],
  rule: { metric: string; patience: number; minDelta: number },
  label: string,
): string {
  const by = rule.minDelta === 0 ? "" : ` by more than ${Math.abs(rule.minDelta)}`;
  const n = rule.patience;
  return (
    `nnc: stopped early${label} after epoch ${history.at(-1)!.epoch}: ${rule.metric} has not ` +
    `improved${by} for ${n} epoch${n === 1 ? "" : "s"}\n`
  );
}

/**
 * False (stop) when the watched metric has not improved for `patience` epochs, as Keras's
 * EarlyStopping does: an epoch improves on the best so far only by more than `minDelta` (its
 * size: a negative one counts as positive), and only an improvement becomes the new best.
 */
export function earlyStop(
  history: readonly EpochResult[],
  rule: { metric: string; patience: number; minDelta: number } | null,
): boolean {
  if (!rule || history.length <= rule.patience) return true;
  // Higher is better: losses are negated.
  const value = (r: EpochResult): number | undefined => {
    switch (rule.metric) {
      case "val_accuracy":
        return r.valAccuracy;
      case "accuracy":
        return r.accuracy;
      case "val_loss":
        return r.valLoss === undefined ? undefined : -r.valLoss;
      case "loss":
        return -r.loss;
      default:
        return undefined;
    }
  };
  const values = history.map(value);
  // A metric a run does not have (accuracy of a regression run: NaN) never stops it.
  if (values.some((v) => v === undefined || Number.isNaN(v))) return true;
  const minDelta = Math.abs(rule.minDelta);
  let best = -Infinity;
  let wait = 0;
  for (const v of values as number[]) {
    if (v - minDelta > best) {
      best = v;
      wait = 0;
    } else wait++;
  }
  return wait < rule.patience;
}
