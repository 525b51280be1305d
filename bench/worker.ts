/**
 * @file One benchmark row in its own process, so that backends, threads,
 * device state and peak RSS do not leak between rows:
 * `node dist/bench/worker.js <system> <backend> <model> [--opts JSON]`.
 * Progress goes to stderr; the result is one line on stdout,
 * `BENCH_ROW {json}`, that `run.ts` collects. Any failure (an unsupported
 * kernel, a device error, an exception) becomes a row with `error` set.
 */
import { createJaxTrainer } from "./jaxjs.js";
import { loadMnist } from "./mnist.js";
import type { ModelKind } from "./models.js";
import { benchNnc } from "./nnc.js";
import {
  DEFAULT_OPTIONS,
  errorMessage,
  errorRow,
  ROW_MARKER,
  runProtocol,
  type BenchOptions,
  type BenchRow,
  type System,
  type Trainer,
} from "./protocol.js";
import { createTfjsTrainer } from "./tfjs.js";

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function runRow(
  system: System,
  backend: string,
  model: ModelKind,
  opts: BenchOptions,
): Promise<BenchRow> {
  if (system === "nnc") return benchNnc(model, { ...opts, backend });
  const data = loadMnist();
  let trainer: Trainer;
  try {
    trainer =
      system === "tfjs"
        ? await createTfjsTrainer(backend, model, opts)
        : await createJaxTrainer(backend, model, opts);
  } catch (e) {
    return errorRow(system, backend, model, `setup: ${errorMessage(e)}`);
  }
  return runProtocol(system, backend, model, trainer, data, opts, log);
}

function emit(row: BenchRow): never {
  process.stdout.write(`${ROW_MARKER}${JSON.stringify(row)}\n`, () => process.exit(0));
  // process.exit happens in the write callback; keep the type checker happy.
  return undefined as never;
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
      "usage: node dist/bench/worker.js <nnc|tfjs|jax-js> <backend> <cnn|mlp> [--opts JSON]\n",
    );
    process.exit(2);
  }
  const fail = (e: unknown) => emit(errorRow(system, backend, model, `crash: ${errorMessage(e)}`));
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  try {
    emit(await runRow(system, backend, model, opts));
  } catch (e) {
    fail(e);
  }
}

await main();
