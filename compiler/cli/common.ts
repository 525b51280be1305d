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
import type { Dataset } from "../../runtime/data/dataset.js";
import { loadMnist, readCsvFile, readIdxDataset } from "../../runtime/data/node.js";
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

/** Loads a train run's data source; relative paths are taken from the `.nn` file's folder. */
export function loadData(spec: DataSpec, nnFile: string, limit?: number): Dataset {
  const base = dirname(resolve(nnFile));
  const opt = limit === undefined ? {} : { limit };
  switch (spec.kind) {
    case "mnist":
      return loadMnist({ split: spec.split, ...opt });
    case "idx":
      return readIdxDataset(resolve(base, spec.images), resolve(base, spec.labels), opt);
    case "csv": {
      const ds = readCsvFile(resolve(base, spec.path), { label: spec.label });
      return limit === undefined || limit >= ds.count ? ds : { ...ds, count: limit };
    }
  }
}
