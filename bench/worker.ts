/**
 * @file One benchmark row in its own process, so that backends, threads,
 * device state and peak RSS do not leak between rows:
 * `node dist/bench/worker.js <system> <backend> <model> [--opts JSON] [--interleave]`.
 * Progress goes to stderr; the result is one line on stdout,
 * `BENCH_ROW {json}`, that `run.ts` collects. Any failure (an unsupported
 * kernel, a device error, an exception) becomes a row with `error` set.
 *
 * Alone, the worker runs the whole protocol, its timed windows back to back.
 * With `--interleave` (run.ts), it compiles and warms up, prints
 * `BENCH_READY`, then reads commands from stdin, one per line: `window` runs
 * one timed window and prints `BENCH_WINDOW {steps, seconds}`; `finish` runs
 * the rest and prints the row. So the driver can time the rows of a model in
 * turns while the others wait, idle.
 */
import { createInterface } from "node:readline";
import { createJaxTrainer } from "./jaxjs.js";
import { loadMnist, type Mnist } from "./mnist.js";
import type { ModelKind } from "./models.js";
import { createNncTrainer } from "./nnc.js";
import {
  DEFAULT_OPTIONS,
  errorMessage,
  errorRow,
  READY_MARKER,
  ROW_MARKER,
  RowRun,
  runProtocol,
  WINDOW_MARKER,
  type BenchOptions,
  type BenchRow,
  type System,
  type Trainer,
} from "./protocol.js";
import { createTfjsTrainer } from "./tfjs.js";

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function createTrainer(
  system: System,
  backend: string,
  model: ModelKind,
  opts: BenchOptions,
  data: Mnist,
): Promise<Trainer> {
  if (system === "nnc") return createNncTrainer(model, { ...opts, backend }, data);
  return system === "tfjs"
    ? createTfjsTrainer(backend, model, opts)
    : createJaxTrainer(backend, model, opts);
}

function emit(row: BenchRow): never {
  process.stdout.write(`${ROW_MARKER}${JSON.stringify(row)}\n`, () => process.exit(0));
  // process.exit happens in the write callback; keep the type checker happy.
  return undefined as never;
}

/** Runs `run` on the driver's commands from stdin; the row (or its error) ends the process. */
async function interleaved(run: RowRun): Promise<void> {
  try {
    await run.prepare();
  } catch (e) {
    await run.dispose();
    emit(run.errorRow(e));
  }
  process.stdout.write(`${READY_MARKER}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    try {
      if (line === "window") {
        const w = await run.window();
        process.stdout.write(`${WINDOW_MARKER}${JSON.stringify(w)}\n`);
      } else if (line === "finish") {
        const row = await run.finish();
        await run.dispose();
        emit(row);
      }
    } catch (e) {
      await run.dispose();
      emit(run.errorRow(e));
    }
  }
  // The driver went away without asking for the row.
  await run.dispose();
  process.exit(1);
}

async function main(): Promise<void> {
  const [system, backend, model, ...rest] = process.argv.slice(2);
  let opts = DEFAULT_OPTIONS;
  const i = rest.indexOf("--opts");
  if (i >= 0)
    opts = { ...DEFAULT_OPTIONS, ...(JSON.parse(rest[i + 1] ?? "{}") as Partial<BenchOptions>) };
  if (
    (system !== "nnc" && system !== "tfjs" && system !== "jax-js") ||
    !backend ||
    (model !== "cnn" && model !== "mlp")
  ) {
    process.stderr.write(
      "usage: node dist/bench/worker.js <nnc|tfjs|jax-js> <backend> <cnn|mlp> [--opts JSON] [--interleave]\n",
    );
    process.exit(2);
  }
  const fail = (e: unknown) => emit(errorRow(system, backend, model, `crash: ${errorMessage(e)}`));
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  const data = loadMnist();
  let trainer: Trainer;
  try {
    trainer = await createTrainer(system, backend, model, opts, data);
  } catch (e) {
    emit(errorRow(system, backend, model, `setup: ${errorMessage(e)}`));
  }
  if (rest.includes("--interleave")) {
    await interleaved(new RowRun(system, backend, model, trainer, data, opts, log));
  } else {
    emit(await runProtocol(system, backend, model, trainer, data, opts, log));
  }
}

await main();
