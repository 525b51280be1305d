/**
 * @file `nnc train FILE`: compiles a train run, trains it on a WebGPU device through the same
 * NncModel a built module uses, validates after every epoch, and after every epoch writes
 * `DIR/<Model>.safetensors` (atomically: temp file, then rename) and appends a line to
 * `DIR/metrics.jsonl`. Ctrl-C stops after the current step and still saves. `--json` prints one
 * summary object on stdout at the end. A run with `search` options trains every trial (each in
 * `DIR/trial-<k>/`), ranks them by validation accuracy (else validation loss, else training
 * loss), and copies the best trial's weights to `DIR/<Model>.safetensors`; `--trial K` trains
 * one trial.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { describeAugment } from "../../runtime/augment.js";
import {
  readCheckpoint,
  writeCheckpoint,
  writeFileAtomically,
} from "../../runtime/checkpoint-node.js";
import type { Dataset } from "../../runtime/data/dataset.js";
import type { NncDevice } from "../../runtime/device.js";
import { NncModel, type EpochResult } from "../../runtime/model.js";
import { formatProfile, kernelProfileOf, profilingRequested } from "../../runtime/profile.js";
import { checkpointTensors, type ModelProgram } from "../../runtime/program.js";
import { Progress } from "../../runtime/progress.js";
import { relaunchQuietly } from "../../runtime/quiet.js";
import { dimFlag, parseArgs, parseDims, usage, type FlagSpec } from "./args.js";
import { device, guard, loadData, requireFile } from "./common.js";
import { compileForTuned, trainBudgetMs } from "./tuning.js";

const flags: Record<string, FlagSpec> = {
  epochs: { kind: "int", help: "epochs to train (default: the file's `epochs`)" },
  batch: { kind: "int", help: "batch size (default: the file's `batch`)" },
  limit: { kind: "int", help: "use only the first N training and validation samples" },
  seed: {
    kind: "int",
    help: "seed for initial weights and shuffling (default: the file's, else 0)",
  },
  out: { kind: "string", alias: "o", help: "output folder (default: out/<Model>)" },
  run: { kind: "string", help: "which train section to run, when the file has several" },
  dim: dimFlag,
  device: { kind: "string", help: "auto | gpu | llvmpipe | swiftshader (env NNC_DEVICE)" },
  json: { kind: "boolean", help: "print a JSON summary on stdout at the end" },
  trial: {
    kind: "int",
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
    const started = performance.now();
    const dev = await device(f.device as string | undefined);
    try {
      const compileTrial = (trial: number) =>
        // Kernels tuned for this device: shapes the cache lacks are measured first (bounded).
        compileForTuned(
          file,
          dev,
          {
            ...(f.run !== undefined ? { run: f.run as string } : {}),
            ...(f.batch !== undefined ? { batch: f.batch as number } : {}),
            ...(dims ? { bindings: dims } : {}),
            trial,
          },
          {
            search: f["no-tune"] !== true,
            device: f.device as string | undefined,
            budgetMs: trainBudgetMs,
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
      const limit = f.limit as number | undefined;
      const train = loadData(first.settings.data, file, limit);
      const validation = first.settings.validate
        ? loadData(first.settings.validate, file, limit)
        : undefined;
      const ctx: TrainContext = { file, dev, f, train, validation, started };
      if (trials === 1 || only !== undefined) {
        const r = await trainOne(ctx, first, outDir);
        if (f.json) process.stdout.write(JSON.stringify(summaryJson(ctx, r)) + "\n");
        return r.interrupted ? 130 : 0;
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
  readonly train: Dataset;
  readonly validation: Dataset | undefined;
  readonly started: number;
}

interface TrainOutcome {
  readonly program: ModelProgram;
  readonly history: readonly EpochResult[];
  readonly interrupted: boolean;
  readonly ckpt: string;
  readonly imagesPerSecond: number;
}

/** Trains one program into `outDir` (checkpoint and metrics after every epoch). */
async function trainOne(
  ctx: TrainContext,
  program: ModelProgram,
  outDir: string,
  label = "",
): Promise<TrainOutcome> {
  const { file, dev, f, train, validation } = ctx;
  const s = program.settings;
  const seed = (f.seed as number | undefined) ?? s.seed;
  const epochs = (f.epochs as number | undefined) ?? s.epochs;
  mkdirSync(outDir, { recursive: true });
  const ckpt = join(outDir, `${program.model}.safetensors`);
  const metricsPath = join(outDir, "metrics.jsonl");
  writeFileSync(metricsPath, "");

  const model = await NncModel.create(program, dev, { seed });
  try {
    if (s.init) {
      const initPath = resolve(dirname(resolve(file)), s.init);
      model.setWeights(readCheckpoint(initPath, checkpointTensors(program)).tensors);
    }
    const tty = process.env.NNC_STDERR_TTY === "1" || process.stderr.isTTY === true;
    const steps = Math.floor(train.count / program.stepBatch);
    const progress = new Progress({
      epochs,
      stepsPerEpoch: steps,
      batchSize: program.stepBatch,
      tty,
    });
    progress.message(
      `nnc: training ${program.model}${label} (${basename(file)}) on ${dev.description}: ` +
        `${train.count.toLocaleString("en-US")} samples, batch ${program.stepBatch}, ${epochs} epoch${epochs === 1 ? "" : "s"}` +
        (s.augment?.length ? `; augment: ${describeAugment(s.augment)}` : ""),
    );
    const abort = new AbortController();
    const onInt = () => {
      if (abort.signal.aborted) process.exit(130);
      progress.message("nnc: interrupted; saving the last weights (Ctrl-C again to quit at once)");
      abort.abort(new Error("interrupted"));
    };
    process.on("SIGINT", onInt);
    const history: EpochResult[] = [];
    let interrupted = false;
    const save = async (epoch: number) => {
      const tensors = await model.getWeights();
      writeCheckpoint(ckpt, tensors, {
        model: program.model,
        run: program.run,
        epoch: String(epoch),
      });
    };
    try {
      await model.fit(train, {
        epochs,
        seed,
        ...(validation ? { validation } : {}),
        signal: abort.signal,
        onEpochStart: (e) => progress.startEpoch(e),
        onProgress: (p) => progress.step(p.step, stepMetrics(p)),
        onEpoch: async (r) => {
          progress.step(steps);
          progress.endEpoch({
            ...stepMetrics(r),
            ...(r.valLoss !== undefined ? { valLoss: r.valLoss, valAccuracy: r.valAccuracy! } : {}),
          });
          history.push(r);
          appendFileSync(metricsPath, JSON.stringify(epochJson(r)) + "\n");
          await save(r.epoch);
          return earlyStop(history, s.earlyStop);
        },
      });
    } catch (e) {
      if (!abort.signal.aborted) throw e;
      interrupted = true;
      await save(history.length);
    } finally {
      process.off("SIGINT", onInt);
      progress.finish();
    }
    const trainedSeconds = history.reduce((a, r) => a + r.seconds, 0);
    const imagesPerSecond =
      history.length === 0 ? 0 : (history.length * steps * program.stepBatch) / trainedSeconds;
    const seconds = (performance.now() - ctx.started) / 1000;
    process.stderr.write(
      `nnc: ${interrupted ? "stopped" : "done"}${label} in ${seconds.toFixed(1)} s; weights in ${ckpt}, metrics in ${metricsPath}\n`,
    );
    if (profilingRequested()) await printKernelProfile(program);
    return { program, history, interrupted, ckpt, imagesPerSecond };
  } finally {
    model.dispose();
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
  if (!m.losses) return { loss: m.loss, accuracy: m.accuracy };
  return { losses: stepLosses(m.losses) };
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
    seconds: Number(((performance.now() - ctx.started) / 1000).toFixed(3)),
    device: ctx.dev.description,
    checkpoint: r.ckpt,
    interrupted: r.interrupted,
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
  compileTrial: (trial: number) => Promise<ModelProgram>,
  outDir: string,
): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  const searchPath = join(outDir, "search.jsonl");
  writeFileSync(searchPath, "");
  process.stderr.write(
    `nnc: ${first.run} has ${trials} trials (every combination of its \`search\` options); training each\n`,
  );
  const done: TrainOutcome[] = [];
  let interrupted = false;
  for (let k = 0; k < trials; k++) {
    const program = k === 0 ? first : await compileTrial(k);
    const choices = program.settings.search?.choices ?? [];
    const r = await trainOne(
      ctx,
      program,
      join(outDir, `trial-${k}`),
      ` trial ${k} of ${trials} (${choices.join(", ")})`,
    );
    done.push(r);
    appendFileSync(
      searchPath,
      JSON.stringify({ ...summaryJson(ctx, r), trial: k, choices }) + "\n",
    );
    if (r.interrupted) {
      interrupted = true;
      break;
    }
  }
  const ranked = [...done].sort((a, b) => score(b) - score(a));
  const best = ranked[0]!;
  const target = join(outDir, `${first.model}.safetensors`);
  writeFileAtomically(target, readFileSync(best.ckpt));
  const pct = (v: number | undefined) => (v === undefined ? "-" : `${(v * 100).toFixed(2)}%`);
  const num = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(4));
  const rows = ranked.map((r) => {
    const last = lastEpoch(r);
    const search = r.program.settings.search!;
    return `  ${String(search.trial).padStart(3)}  ${pct(last?.valAccuracy).padStart(8)}  ${num(last?.valLoss).padStart(8)}  ${num(last?.loss).padStart(8)}  ${search.choices.join(", ")}`;
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
    const summary = {
      ...summaryJson(ctx, best),
      checkpoint: target,
      interrupted,
      trials: done.map((r) => {
        const last = lastEpoch(r);
        return {
          trial: r.program.settings.search!.trial,
          choices: r.program.settings.search!.choices,
          val_accuracy: last?.valAccuracy ?? null,
          val_loss: last?.valLoss ?? null,
          train_loss: last?.loss ?? null,
          checkpoint: r.ckpt,
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

/** False (stop) when the watched metric has not improved for `patience` epochs. */
function earlyStop(
  history: readonly EpochResult[],
  rule: { metric: string; patience: number } | null,
): boolean {
  if (!rule || history.length <= rule.patience) return true;
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
  if (values.some((v) => v === undefined)) return true;
  const best = Math.max(...(values as number[]).slice(0, -rule.patience));
  return (values as number[]).slice(-rule.patience).some((v) => v > best);
}
