/**
 * @file `nnc eval FILE --weights CKPT`: loads a checkpoint (validated against the model's
 * variables) and reports loss and accuracy (none for regression targets) on the train run's
 * validation data (`--data train`, or a run without any: its training data), saying which.
 */
import { readCheckpoint } from "../../runtime/checkpoint-node.js";
import { NncModel } from "../../runtime/model.js";
import { relaunchQuietly } from "../../runtime/quiet.js";
import { dimFlag, type FlagSpec, parseArgs, usage, UsageError } from "./args.js";
import { compileForInference } from "./tuning.js";
import { device, guard, isRegression, loadData, requireFile } from "./common.js";
import { checkpointTensors } from "../../runtime/program.js";

const flags: Record<string, FlagSpec> = {
  weights: { kind: "string", alias: "w", help: "safetensors checkpoint to evaluate (required)" },
  data: {
    kind: "string",
    help: "validate (default; train when the run has none) | train: which data set",
  },
  limit: { kind: "int", min: 1, help: "use only the first N samples" },
  run: { kind: "string", help: "which train section, when the file has several" },
  dim: dimFlag,
  device: { kind: "string", help: "auto | gpu | llvmpipe | swiftshader (env NNC_DEVICE)" },
  json: { kind: "boolean", help: "print the result as JSON on stdout" },
  help: { kind: "boolean", alias: "h", help: "show this help" },
};

export async function run(args: string[]): Promise<number> {
  const quiet = await relaunchQuietly();
  if (quiet !== undefined) return quiet;
  return guard("eval", async () => {
    const { flags: f, positionals } = parseArgs(args, flags);
    if (f.help) {
      process.stdout.write(usage("eval", "FILE --weights CKPT [options]", flags) + "\n");
      return 0;
    }
    const file = requireFile("eval", positionals[0]);
    const weights = requireFile("eval", f.weights as string | undefined, "--weights CKPT");
    const which = (f.data as string | undefined) ?? "validate";
    if (which !== "validate" && which !== "train")
      throw new UsageError("--data must be validate or train");
    const dev = await device(f.device as string | undefined);
    try {
      const program = await compileForInference("eval", file, dev, f);
      // Validate the checkpoint before any slow work.
      const ckpt = readCheckpoint(weights, checkpointTensors(program), program.model);
      if (f.data === "validate" && !program.settings.validate) {
        process.stderr.write(
          `${file}: train ${program.run} has no validate data; --data train evaluates the training data\n`,
        );
        return 1;
      }
      // Without --data, a run with no validate data is evaluated on its training data.
      const evaluated = which === "train" || !program.settings.validate ? "train" : "validate";
      const spec = evaluated === "train" ? program.settings.data : program.settings.validate;
      if (!spec) {
        process.stderr.write(`${file}: train ${program.run} names no data to evaluate on\n`);
        return 1;
      }
      const data = loadData(spec, file, program, f.limit as number | undefined);
      const model = await NncModel.create(program, dev);
      try {
        model.setWeights(ckpt.tensors);
        const r = await model.evaluate(data);
        // Regression targets have no classes, so no accuracy either.
        const accuracy = isRegression(spec) ? null : r.accuracy;
        if (f.json) {
          process.stdout.write(
            JSON.stringify({
              model: program.model,
              data: evaluated,
              samples: r.count,
              loss: r.loss,
              accuracy,
              device: dev.description,
            }) + "\n",
          );
        } else {
          process.stdout.write(
            `${program.model}: ${r.count.toLocaleString("en-US")} ${evaluated === "train" ? "training" : "validation"} samples, loss ${r.loss.toFixed(4)}` +
              (accuracy === null ? "\n" : `, accuracy ${(100 * accuracy).toFixed(2)}%\n`),
          );
        }
        return 0;
      } finally {
        model.dispose();
      }
    } finally {
      dev.destroy();
    }
  });
}
