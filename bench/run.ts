/**
 * @file The side-by-side benchmark: trains the MNIST CNN and MLP with nnc,
 * TensorFlow.js (cpu, wasm, webgpu) and jax-js (wasm, webgpu), each row in a
 * fresh child process (`worker.ts`) run one after another, and prints a table
 * (or, with `--json`, one JSON array of rows on stdout). A row that cannot
 * train (an unsupported kernel, a crash, a timeout) is reported with `error`.
 * Run `node dist/bench/run.js --help` for the options; see bench/README.md.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { MODEL_KINDS, type ModelKind } from "./models.js";
import { NNC_BACKENDS } from "./nnc.js";
import {
  DEFAULT_OPTIONS,
  errorRow,
  QUICK_OPTIONS,
  ROW_MARKER,
  type BenchOptions,
  type BenchRow,
  type System,
} from "./protocol.js";

/** Every system and backend the harness knows, in table order. */
export const TARGETS: readonly { system: System; backend: string }[] = [
  ...NNC_BACKENDS.map((backend) => ({ system: "nnc" as const, backend })),
  { system: "tfjs", backend: "cpu" },
  { system: "tfjs", backend: "wasm" },
  { system: "tfjs", backend: "webgpu" },
  { system: "jax-js", backend: "wasm" },
  { system: "jax-js", backend: "webgpu" },
];

/** A row as printed by `--json`: a `BenchRow` plus its training speed relative to nnc's. */
export interface ReportRow extends BenchRow {
  /** This row's training images/s divided by nnc's (same model); null without an nnc figure. */
  readonly train_ratio_to_nnc: number | null;
}

interface CliOptions {
  readonly bench: BenchOptions;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly only: readonly string[];
  readonly models: readonly ModelKind[];
  readonly rowTimeoutSeconds: number | null;
  /** Also write the JSON report to this file. */
  readonly out: string | null;
  /** Print the table of a saved JSON report instead of running. */
  readonly table: string | null;
}

const HELP = `usage: node dist/bench/run.js [options]

  --quick                    short smoke run (10 timed steps, 2,560 training images, 1,024 test images)
  --json                     print one JSON array of rows on stdout (progress goes to stderr)
  --only SYS[:BACKEND],...   run only these, e.g. --only tfjs:webgpu,jax-js (repeatable)
  --models cnn,mlp           models to run (default both)
  --steps N                  timed training steps per row (default: a ${DEFAULT_OPTIONS.timedSeconds} s budget)
  --seconds S                time budget of the timed phase when --steps is not given
  --train-images N           images to train on before measuring accuracy (default 60000 = 1 epoch)
  --epoch-limit-seconds S    cap on each row's training time; accuracy is then flagged (default ${DEFAULT_OPTIONS.epochLimitSeconds})
  --test-images N            test images for inference speed and accuracy (default 10000)
  --infer-batch N            inference batch size (default ${DEFAULT_OPTIONS.inferBatch})
  --seed N                   seed for initial weights and shuffling (default ${DEFAULT_OPTIONS.seed})
  --row-timeout-seconds S    kill a row's worker after S seconds (default: derived from the above)
  --out FILE                 also write the JSON report to FILE
  --table FILE               print the table of a JSON report saved by --json or --out, run nothing
  --verbose                  pass the workers' stderr through
`;

function usage(msg: string): never {
  process.stderr.write(`${msg}\n\n${HELP}`);
  process.exit(2);
}

export function parseArgs(argv: readonly string[]): CliOptions {
  let bench: BenchOptions = argv.includes("--quick") ? QUICK_OPTIONS : DEFAULT_OPTIONS;
  let json = false;
  let verbose = false;
  const only: string[] = [];
  let models: ModelKind[] = [...MODEL_KINDS];
  let rowTimeoutSeconds: number | null = null;
  let out: string | null = null;
  let table: string | null = null;
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min)
      usage(`${flag} needs a number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i];
    switch (a) {
      case "--quick":
        break;
      case "--json":
        json = true;
        break;
      case "--verbose":
        verbose = true;
        break;
      case "--out":
        out = next() ?? usage("--out needs a file name");
        break;
      case "--table":
        table = next() ?? usage("--table needs a file name");
        break;
      case "--help":
      case "-h":
        process.stdout.write(HELP);
        process.exit(0);
      case "--only":
        only.push(...(next() ?? usage("--only needs a value")).split(",").filter((s) => s));
        break;
      case "--models": {
        const list = (next() ?? usage("--models needs a value")).split(",").filter((s) => s);
        for (const m of list) if (m !== "cnn" && m !== "mlp") usage(`unknown model '${m}'`);
        models = list as ModelKind[];
        break;
      }
      case "--steps":
        bench = { ...bench, timedSteps: Math.floor(num(a, next(), 1)) };
        break;
      case "--seconds":
        bench = { ...bench, timedSteps: null, timedSeconds: num(a, next(), 0.1) };
        break;
      case "--train-images":
        bench = { ...bench, trainImages: Math.floor(num(a, next(), 0)) };
        break;
      case "--epoch-limit-seconds":
        bench = { ...bench, epochLimitSeconds: num(a, next(), 1) };
        break;
      case "--test-images":
        bench = { ...bench, testImages: Math.floor(num(a, next(), 1)) };
        break;
      case "--infer-batch":
        bench = { ...bench, inferBatch: Math.floor(num(a, next(), 1)) };
        break;
      case "--seed":
        bench = { ...bench, seed: Math.floor(num(a, next(), 0)) };
        break;
      case "--row-timeout-seconds":
        rowTimeoutSeconds = num(a, next(), 1);
        break;
      default:
        usage(`unknown option '${a}'`);
    }
  }
  for (const o of only) {
    const [sys, be] = o.split(":");
    if (!TARGETS.some((t) => t.system === sys && (be === undefined || t.backend === be))) {
      usage(
        `--only ${o}: no such system/backend (known: ${TARGETS.map((t) => `${t.system}:${t.backend}`).join(", ")})`,
      );
    }
  }
  return { bench, json, verbose, only, models, rowTimeoutSeconds, out, table };
}

function selected(only: readonly string[], system: System, backend: string): boolean {
  if (only.length === 0) return true;
  return only.some((o) => {
    const [sys, be] = o.split(":");
    return sys === system && (be === undefined || be === backend);
  });
}

/** Runs one row in a child process and parses its result line. */
function runWorker(
  system: System,
  backend: string,
  model: ModelKind,
  opts: BenchOptions,
  timeoutSeconds: number,
  verbose: boolean,
): Promise<BenchRow> {
  const worker = fileURLToPath(new URL("./worker.js", import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [worker, system, backend, model, "--opts", JSON.stringify(opts)],
      {
        env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? "surfaceless" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderrTail: string[] = [];
    let partial = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      const lines = (partial + d).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        if (verbose || line.startsWith("[bench]")) process.stderr.write(`${line}\n`);
        if (line.trim()) stderrTail = [...stderrTail.slice(-29), line];
      }
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutSeconds * 1000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((l) => l.startsWith(ROW_MARKER));
      if (line) {
        resolve(JSON.parse(line.slice(ROW_MARKER.length)) as BenchRow);
        return;
      }
      // The most telling line of a crash is the last one naming an error
      // (Node ends an uncaught exception's report with its version line).
      const telling = [...stderrTail].reverse().find((l) => /error|abort|fault/i.test(l));
      const why = timedOut
        ? `timeout: no result after ${timeoutSeconds} s`
        : `${WORKER_DIED} (${signal ?? `exit ${code}`}): ${(telling ?? stderrTail[stderrTail.length - 1] ?? "no output").trim()}`;
      const row = errorRow(system, backend, model, why);
      resolve({ ...row, peak_rss_mb: null });
    });
  });
}

/** How a row whose worker produced no result starts its `error`. */
const WORKER_DIED = "worker died";

/** Default per-row timeout: every phase's budget plus generous slack for compilation and inference. */
function rowTimeout(opts: BenchOptions): number {
  const timed = opts.timedSteps === null ? opts.timedSeconds : opts.timedSteps * 5;
  return Math.ceil(opts.epochLimitSeconds + timed + 300);
}

function fmt(n: number | null, digits = 0): string {
  return n === null ? "-" : n.toFixed(digits);
}

/** The rows as an aligned text table. */
export function formatTable(rows: readonly ReportRow[]): string {
  const head = [
    "system",
    "backend",
    "model",
    "train img/s",
    "infer img/s",
    "train vs nnc",
    "compile s",
    "accuracy",
    "peak RSS MB",
    "loss first -> last",
    "notes / error",
  ];
  const body = rows.map((r) => [
    r.system,
    r.backend,
    r.model,
    fmt(r.train_images_per_second),
    fmt(r.infer_images_per_second),
    r.train_ratio_to_nnc === null ? "-" : `${r.train_ratio_to_nnc.toFixed(2)}x`,
    fmt(r.compile_seconds, 2),
    r.accuracy === null
      ? "-"
      : `${(r.accuracy * 100).toFixed(2)}%${r.accuracy_capped ? ` (capped: ${r.train_images_seen} imgs)` : ""}`,
    fmt(r.peak_rss_mb),
    r.loss_first === null || r.loss_last === null
      ? "-"
      : `${r.loss_first.toFixed(3)} -> ${r.loss_last.toFixed(3)}`,
    r.error ??
      (r.notes.includes("retried after") ? r.notes.slice(r.notes.indexOf("retried after")) : ""),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const right = new Set([3, 4, 5, 6, 8]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** Adds `train_ratio_to_nnc` from the first nnc row of each model that has a training figure. */
export function withRatios(rows: readonly BenchRow[]): ReportRow[] {
  return rows.map((r) => {
    const nnc = rows.find(
      (n) => n.system === "nnc" && n.model === r.model && n.train_images_per_second,
    );
    const ratio =
      nnc && r.train_images_per_second !== null
        ? r.train_images_per_second / nnc.train_images_per_second!
        : null;
    return { ...r, train_ratio_to_nnc: ratio };
  });
}

async function main(): Promise<void> {
  const cli = parseArgs(process.argv.slice(2));
  if (cli.table) {
    const saved = JSON.parse(readFileSync(cli.table, "utf8")) as BenchRow[];
    process.stdout.write(`${formatTable(withRatios(saved))}\n`);
    return;
  }
  const timeout = cli.rowTimeoutSeconds ?? rowTimeout(cli.bench);
  const rows: BenchRow[] = [];
  const t0 = performance.now();
  for (const model of cli.models) {
    for (const { system, backend } of TARGETS) {
      if (!selected(cli.only, system, backend)) continue;
      process.stderr.write(`[bench] ${system} ${backend} ${model} ...\n`);
      let row = await runWorker(system, backend, model, cli.bench, timeout, cli.verbose);
      if (row.error?.startsWith(WORKER_DIED)) {
        // A worker can die on something outside the measurement (e.g. a build
        // rewriting dist/ while it loads); try once more and say so.
        process.stderr.write(
          `[bench] ${system}/${backend}/${model}: ${row.error}; retrying once\n`,
        );
        const first = row.error;
        row = await runWorker(system, backend, model, cli.bench, timeout, cli.verbose);
        row = { ...row, notes: [row.notes, `retried after: ${first}`].filter((n) => n).join("; ") };
      }
      if (row.error)
        process.stderr.write(`[bench] ${system}/${backend}/${model}: error: ${row.error}\n`);
      rows.push(row);
    }
  }
  const report = withRatios(rows);
  if (cli.out) writeFileSync(cli.out, `${JSON.stringify(report, null, 2)}\n`);
  if (cli.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const b = cli.bench;
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  process.stdout.write(
    `nnc benchmark: MNIST, batch ${b.batchSize}, ` +
      `${b.timedSteps !== null ? `${b.timedSteps} timed steps` : `${b.timedSeconds} s timed`}, ` +
      `accuracy after ${b.trainImages} training images (cap ${b.epochLimitSeconds} s), ${b.testImages} test images\n` +
      `${availableParallelism()} x ${cpu}, Node ${process.versions.node}; ` +
      `total ${((performance.now() - t0) / 1000).toFixed(0)} s\n\n` +
      `${formatTable(report)}\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
