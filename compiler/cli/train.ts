/**
 * @file `nnc train FILE`: compiles a train run, trains it on a WebGPU device through the same
 * NncModel a built module uses, validates after every epoch, and after every epoch writes
 * `DIR/<Model>.safetensors` (atomically: temp file, then rename) and appends a line to
 * `DIR/metrics.jsonl`. Ctrl-C stops after the current step and still saves. `--json` prints one
 * summary object on stdout at the end.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { readCheckpoint, writeCheckpoint } from "../../runtime/checkpoint-node.js";
import { NncModel, type EpochResult } from "../../runtime/model.js";
import { formatProfile, kernelProfileOf, profilingRequested } from "../../runtime/profile.js";
import { checkpointTensors, type ModelProgram } from "../../runtime/program.js";
import { Progress } from "../../runtime/progress.js";
import { relaunchQuietly } from "../../runtime/quiet.js";
import { parseArgs, usage, type FlagSpec } from "./args.js";
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
  device: { kind: "string", help: "auto | gpu | llvmpipe | swiftshader (env NNC_DEVICE)" },
  json: { kind: "boolean", help: "print a JSON summary on stdout at the end" },
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
    const started = performance.now();
    const dev = await device(f.device as string | undefined);
    // Kernels tuned for this device: shapes the cache lacks are measured first (bounded).
    const program = await compileForTuned(
      file,
      dev,
      {
        ...(f.run !== undefined ? { run: f.run as string } : {}),
        ...(f.batch !== undefined ? { batch: f.batch as number } : {}),
      },
      {
        search: f["no-tune"] !== true,
        device: f.device as string | undefined,
        budgetMs: trainBudgetMs,
      },
    );
    const s = program.settings;
    if (!s.data) {
      process.stderr.write(`${file}: train ${program.run} has no \`data\` to train on\n`);
      return 1;
    }
    const limit = f.limit as number | undefined;
    const train = loadData(s.data, file, limit);
    const validation = s.validate ? loadData(s.validate, file, limit) : undefined;
    const seed = (f.seed as number | undefined) ?? s.seed;
    const epochs = (f.epochs as number | undefined) ?? s.epochs;
    const outDir = resolve((f.out as string | undefined) ?? join("out", program.model));
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
        `nnc: training ${program.model} (${basename(file)}) on ${dev.description}: ` +
          `${train.count.toLocaleString("en-US")} samples, batch ${program.stepBatch}, ${epochs} epoch${epochs === 1 ? "" : "s"}`,
      );
      const abort = new AbortController();
      const onInt = () => {
        if (abort.signal.aborted) process.exit(130);
        progress.message(
          "nnc: interrupted; saving the last weights (Ctrl-C again to quit at once)",
        );
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
          onProgress: (p) => progress.step(p.step, { loss: p.loss, accuracy: p.accuracy }),
          onEpoch: async (r) => {
            progress.step(steps);
            progress.endEpoch({
              loss: r.loss,
              accuracy: r.accuracy,
              ...(r.valLoss !== undefined
                ? { valLoss: r.valLoss, valAccuracy: r.valAccuracy! }
                : {}),
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
      const last = history[history.length - 1];
      const seconds = (performance.now() - started) / 1000;
      const trainedSeconds = history.reduce((a, r) => a + r.seconds, 0);
      const imagesPerSecond =
        history.length === 0 ? 0 : (history.length * steps * program.stepBatch) / trainedSeconds;
      process.stderr.write(
        `nnc: ${interrupted ? "stopped" : "done"} in ${seconds.toFixed(1)} s; weights in ${ckpt}, metrics in ${metricsPath}\n`,
      );
      if (profilingRequested()) await printKernelProfile(program);
      if (f.json) {
        const summary = {
          model: program.model,
          run: program.run,
          epochs: history.length,
          train_loss: last?.loss ?? null,
          train_accuracy: last?.accuracy ?? null,
          val_loss: last?.valLoss ?? null,
          val_accuracy: last?.valAccuracy ?? null,
          images_per_second: Math.round(imagesPerSecond),
          seconds: Number(seconds.toFixed(3)),
          device: dev.description,
          checkpoint: ckpt,
          interrupted,
        };
        process.stdout.write(JSON.stringify(summary) + "\n");
      }
      return interrupted ? 130 : 0;
    } finally {
      model.dispose();
      dev.destroy();
    }
  });
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
    loss: r.loss,
    accuracy: r.accuracy,
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
