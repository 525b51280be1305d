/**
 * @file Kernel parameters for the commands. `nnc train` (and `nnc build --tune`) compile with
 * the winners of the measured search on the device they use (compiler/codegen/tune.ts),
 * measuring first the matmul and convolution shapes the cache lacks; `nnc build` without
 * `--tune` makes no device, so it uses the cached winners of the adapter its device choice
 * gave last time. NNC_TUNE=0 turns all of it off: every kernel takes its heuristic, as
 * without a cache; `--no-tune` only skips the search.
 */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { compileFile, type CompileResult } from "../compile.js";
import { renderDiagnostic } from "../diagnostics.js";
import type { Graph } from "../ir/graph.js";
import {
  autotune,
  cachedAdapter,
  deviceChoice,
  loadTuning,
  pendingShapes,
  readTuneCache,
  rememberAdapter,
  tuneCachePath,
  tuneEnabled,
  type TuneTable,
  useTuning,
} from "../codegen/tune.js";
import type { NncDevice } from "../../runtime/device-core.js";
import type { ModelProgram } from "../../runtime/program.js";
import { relaunchQuietly } from "../../runtime/quiet.js";
import { parseDims } from "./args.js";
import { device, Reported, requireInference } from "./common.js";

/**
 * How long `nnc train` may search before it starts training. Shapes not reached are measured
 * by the next run; the MNIST CNN's step needs about 3 s on this 2-core machine.
 */
export const trainBudgetMs = 4000;

export interface TuneMode {
  /** Measure the shapes the cache lacks (else only use the cache). */
  readonly search: boolean;
  /** The command's `--device` flag (the cache remembers which adapter it gave). */
  readonly device: string | undefined;
  /** Stop starting new shapes after this long (undefined: no limit). */
  readonly budgetMs?: number;
  /**
   * Called with the program as first compiled, before any search: a check that should fail
   * fast (e.g. loading the training data) rather than after seconds of measuring.
   */
  readonly beforeSearch?: (program: ModelProgram) => void;
}

/** Whether stderr is a terminal (NNC_STDERR_TTY=1 says so when a quiet relaunch piped it). */
function stderrTty(): boolean {
  return process.env.NNC_STDERR_TTY === "1" || process.stderr.isTTY === true;
}

/**
 * The graphs whose kernels a compiled run plans: the training step's first (every step of a
 * multi-step run), as it dominates training.
 */
export function graphsOf(results: readonly CompileResult[]): Graph[] {
  return results.flatMap((r) => {
    const l = r.lowered;
    if (!l) return [];
    const steps = l.step.stepSections ? l.step.steps.map((s) => s.graph) : [l.step.step];
    return [...steps, l.infer.evaluate, l.infer.predict].filter((g): g is Graph => !!g);
  });
}

/**
 * Measures the shapes of `graphs` that `table` (the cache, loaded and active) lacks for `dev`
 * (when `mode.search`), and leaves the winners active. A live line on a terminal while it measures, one summary
 * line on stderr after; never anything on stdout. Returns whether anything was measured.
 */
async function tuneOn(
  dev: NncDevice,
  table: TuneTable,
  graphs: () => readonly Graph[],
  mode: TuneMode,
): Promise<boolean> {
  const path = tuneCachePath();
  const choice = deviceChoice(mode.device);
  const gs = mode.search ? graphs() : [];
  const pending = pendingShapes(dev.description, gs, dev.limits, table);
  if (pending.length === 0) {
    if (existsSync(path)) rememberAdapter(choice, dev.description, path);
    return false;
  }
  const tty = stderrTty();
  const started = performance.now();
  let shown = 0;
  const results = await autotune(dev, gs, {
    cachePath: path,
    reps: 1,
    trials: 3,
    ...(mode.budgetMs !== undefined ? { budgetMs: mode.budgetMs } : {}),
    onShape: (op) => {
      shown += 1;
      if (tty) {
        const text = `nnc: tuning kernels on ${dev.description}: ${shown}/${pending.length} ${op}`;
        process.stderr.write(`\r${text}\x1b[K`);
      }
    },
  });
  rememberAdapter(choice, dev.description, path);
  const measured = results.filter((r) => !r.cached && !r.skipped);
  const skipped = results.filter((r) => r.skipped).length;
  const faster = measured.filter((r) => r.ms < r.heuristicMs).length;
  const s = ((performance.now() - started) / 1000).toFixed(1);
  const where = relative(process.cwd(), path).startsWith("..")
    ? path
    : relative(process.cwd(), path);
  const rest = skipped > 0 ? `, ${skipped} left for the next run` : "";
  const text =
    `nnc: tuned ${measured.length} kernel shape${measured.length === 1 ? "" : "s"} in ${s} s ` +
    `(${faster} faster than the default${rest}; cached in ${where}; NNC_TUNE=0 skips)`;
  process.stderr.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
  return true;
}

/**
 * `compileFor` (common.ts) with tuned kernels: compiles FILE for `dev` with the cached
 * winners, and when a search measured new shapes, compiles again with them. Diagnostics end
 * the command (exit 1).
 */
export async function compileForTuned(
  path: string,
  dev: NncDevice,
  opts: {
    run?: string;
    batch?: number;
    inferBatch?: number;
    trial?: number;
    bindings?: Readonly<Record<string, number>>;
    seed?: number;
  },
  mode: TuneMode,
): Promise<ModelProgram> {
  const compile = () => compileFile(path, { ...opts, limits: dev.limits });
  let r: CompileResult;
  if (!tuneEnabled()) {
    useTuning(undefined);
    r = compile();
  } else {
    const table = loadTuning(dev);
    r = compile();
    const first = r;
    if (r.program) mode.beforeSearch?.(r.program);
    if (r.program && (await tuneOn(dev, table, () => graphsOf([first]), mode))) r = compile();
  }
  if (!r.program) {
    for (const d of r.diagnostics) process.stderr.write(renderDiagnostic(r.sources, d) + "\n");
    throw new Reported(1);
  }
  return r.program;
}

/**
 * Kernel parameters for `nnc build`. With `tune`, acquires the device `deviceFlag` names,
 * measures the shapes of the build's runs (`compile()`, called once) the cache lacks, and
 * releases it; without, makes no device and activates the cached winners of the adapter that
 * device choice gave last (none: heuristics). Either way later compiles use the result.
 */
export async function buildTuning(
  tune: boolean,
  deviceFlag: string | undefined,
  compile: () => readonly CompileResult[],
): Promise<void> {
  const graphs = () => graphsOf(compile());
  useTuning(undefined);
  if (!tuneEnabled()) return;
  if (tune) {
    // The search makes a Dawn device in this process: re-run the whole build with Dawn's
    // stderr noise filtered (the build itself keeps Dawn in its validator process), and end
    // with the child's exit code (guard() returns a Reported's code as the command's).
    const quiet = await relaunchQuietly();
    if (quiet !== undefined) throw new Reported(quiet);
    const dev = await device(deviceFlag);
    try {
      await tuneOn(dev, loadTuning(dev), graphs, { search: true, device: deviceFlag });
    } finally {
      dev.destroy();
    }
    return;
  }
  const path = tuneCachePath();
  if (!existsSync(path)) return;
  const table = readTuneCache(path);
  useTuning(cachedAdapter(table, deviceChoice(deviceFlag)), table);
}

/**
 * The program `nnc eval` and `nnc predict` run: the kernels `nnc train` used on this device (its
 * cached tuning, no new search), for the flags `--run`, `--dim` and `--device`. A multi-step run
 * (no evaluation or prediction plan) exits 1 with a message.
 */
export async function compileForInference(
  command: "eval" | "predict",
  file: string,
  dev: NncDevice,
  f: Readonly<Record<string, unknown>>,
): Promise<ModelProgram> {
  const program = await compileForTuned(
    file,
    dev,
    {
      ...(f.run !== undefined ? { run: f.run as string } : {}),
      ...(f.dim !== undefined ? { bindings: parseDims(f.dim)! } : {}),
    },
    { search: false, device: f.device as string | undefined },
  );
  requireInference(command, file, program);
  return program;
}
