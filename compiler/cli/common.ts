/**
 * @file What the commands that run models share: rendering diagnostics and runtime errors
 * without stack traces, acquiring the device quietly, and loading the datasets a train run
 * names (compiling for a device, with its tuned kernels: tuning.ts).
 */
import { dirname, resolve } from "node:path";
import { acquireDevice, type DeviceChoice, type NncDevice } from "../../runtime/device.js";
import { isNncError, renderNncError } from "../../runtime/errors.js";
import { unreadable } from "../../runtime/fs-node.js";
import type { DataSpec, ModelProgram } from "../../runtime/program.js";
import {
  firstValueProblem,
  integerProblem,
  sampleSize,
  type Dataset,
  type IntegerInput,
} from "../../runtime/data/dataset.js";
import { describeItems } from "../../runtime/data/idx.js";
import { loadMnist, readCsvFile, readIdxDataset } from "../../runtime/data/node.js";
import { fileError } from "../../runtime/file-errors.js";
import { UsageError } from "./args.js";

/** A failure already reported to the user; carries the exit code. */
export class Reported extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** Runs a command body; user errors print one clean message, never a stack trace. */
export async function guard(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Reported) return e.exitCode;
    if (e instanceof UsageError) {
      process.stderr.write(`nnc ${command}: ${e.message} (see nnc ${command} --help)\n`);
      return 2;
    }
    if (isNncError(e)) {
      process.stderr.write(renderNncError(e) + "\n");
      return 1;
    }
    throw e;
  }
}

/**
 * `path` when it names a file `nnc COMMAND` can read; else says why on stderr and exits 2
 * (`what` names the missing argument when there is none).
 */
export function requireFile(
  command: string,
  path: string | undefined,
  what = "a .nn file",
): string {
  if (path === undefined) throw new UsageError(`needs ${what}`);
  const problem = unreadable(path);
  if (problem !== null) {
    process.stderr.write(`nnc ${command}: ${path}: ${problem}\n`);
    throw new Reported(2);
  }
  return path;
}

/** `--device CHOICE` checked: a usage error unless it names a device kind. */
export function deviceChoice(choice: string | undefined): DeviceChoice | undefined {
  if (choice !== undefined && !["auto", "gpu", "llvmpipe", "swiftshader"].includes(choice)) {
    throw new UsageError(
      `--device must be one of auto, gpu, llvmpipe, swiftshader (got '${choice}')`,
    );
  }
  return choice as DeviceChoice | undefined;
}

export async function device(choice: string | undefined): Promise<NncDevice> {
  const checked = deviceChoice(choice);
  return acquireDevice(checked === undefined ? {} : { device: checked });
}

/**
 * Exits 1 with a message when `program` is a multi-step run (a GAN): it has training steps
 * only, no evaluation or prediction plan.
 */
export function requireInference(
  command: "eval" | "predict",
  file: string,
  program: ModelProgram,
): void {
  if (program.evaluate && program.predict) return;
  const steps = program.steps?.map((s) => s.name).join(", ") ?? "";
  const models = [...new Set(program.steps?.flatMap((s) => s.updates) ?? [])].join(", ");
  process.stderr.write(
    `nnc ${command}: ${file}: train ${program.run} is a multi-step run (steps ${steps}); it has ` +
      `no ${command === "eval" ? "evaluation" : "prediction"} plan, only its training steps ` +
      `(\`nnc train\` trains it and saves the weights of ${models} in one checkpoint)\n`,
  );
  throw new Reported(1);
}

/**
 * Loads a train run's data source for `program` (relative paths are taken from the `.nn`
 * file's folder) and checks it against the program before any training (`fitData`). A CSV
 * file without `classes` holds regression targets; an integer input's values are checked where
 * the file has them.
 */
export function loadData(
  spec: DataSpec,
  nnFile: string,
  program: ModelProgram,
  limit?: number,
): Dataset {
  const base = dirname(resolve(nnFile));
  const opt = limit === undefined ? {} : { limit };
  const input = program.inputs.length === 1 ? program.inputs[0]! : undefined;
  const integers =
    input && input.dtype !== "f32"
      ? { name: input.name, ...(input.below !== undefined ? { below: input.below } : {}) }
      : undefined;
  let ds: Dataset;
  switch (spec.kind) {
    case "mnist":
      ds = loadMnist({ split: spec.split, ...opt });
      break;
    case "idx":
      ds = readIdxDataset(resolve(base, spec.images), resolve(base, spec.labels), {
        ...opt,
        classes: spec.classes,
      });
      break;
    case "csv":
      ds = readCsvFile(resolve(base, spec.path), {
        label: spec.label,
        ...(spec.classes === null ? { regression: true } : { classes: spec.classes }),
        ...(integers ? { integers } : {}),
      });
      if (limit !== undefined && limit < ds.count) ds = { ...ds, count: limit };
      break;
  }
  return fitData(ds, spec, program, spec.kind === "csv" ? undefined : integers);
}

export { isRegression } from "../../runtime/program.js";

/**
 * `ds` shaped for `program`, or an NN56xx error naming its file: the samples must fit the
 * model's input (as many CSV features as it takes; an IDX item of the same dimensions, up to
 * axes of size 1, or of the same size for a flat input), `integers` (not yet checked where the
 * file holds them) must hold the input's ids, and the labels must be what the steps read:
 * regression targets of the output's size, or classes (two classes for an output of [1] are
 * fed as targets 0 and 1).
 */
function fitData(
  ds: Dataset,
  spec: DataSpec,
  program: ModelProgram,
  integers: IntegerInput | undefined,
): Dataset {
  const file = { file: ds.source };
  const shape = (s: readonly number[]) => `[${s.join(", ")}]`;
  const input = program.inputs.length === 1 ? program.inputs[0]! : undefined;
  const per = sampleSize(ds);
  if (input) {
    const takes = `model ${program.model}'s input ${input.name} takes ${shape(input.shape)}`;
    const size = sampleSize({ sampleShape: input.shape });
    if (spec.kind === "csv" && per !== size) {
      throw fileError(
        "NN5601",
        {
          detail: `the file has ${per} feature column${per === 1 ? "" : "s"} besides the label '${spec.label}', but ${takes} (${size} values per sample)`,
        },
        { ...file, line: 1, column: 1 },
      );
    }
    const bare = (s: readonly number[]) => shape(s.filter((d) => d !== 1));
    const flat = input.shape.length === 1 && per === size;
    if (spec.kind !== "csv" && !flat && bare(ds.sampleShape) !== bare(input.shape)) {
      throw fileError(
        "NN5601",
        { detail: `the file holds ${describeItems([ds.count, ...ds.sampleShape])}, but ${takes}` },
        file,
      );
    }
    let inputs = ds.inputs;
    if (integers) {
      // Token ids are taken as they are, never scaled like image bytes.
      inputs = Float32Array.from(ds.inputs.subarray(0, ds.count * per));
      const problem = firstValueProblem(inputs, per, (v) => integerProblem(v, integers));
      if (problem !== undefined) throw fileError("NN5602", { detail: problem }, file);
    }
    ds = { ...ds, inputs, sampleShape: input.shape };
  }
  const want = program.classes;
  if (want === 0 || ds.classes === want) return ds;
  if (spec.kind === "csv" && ds.targets) {
    const output = shape(program.output?.shape ?? []);
    throw fileError(
      "NN5601",
      {
        detail: `column '${spec.label}' holds one regression target per row, but model ${program.model}'s output is ${output} (${want} values); one column is the target of an output of [1] or [] (for classes, give csv(...) classes: N)`,
      },
      { ...file, line: 1, column: 1 },
    );
  }
  if (ds.classes !== 2 || want !== 1) {
    throw fileError(
      "NN5601",
      {
        detail: `the data has ${ds.classes} classes, but model ${program.model}'s labels take ${want}`,
      },
      file,
    );
  }
  return { ...ds, classes: 1, targets: Float32Array.from(ds.labels) };
}
