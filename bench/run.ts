/**
 * @file The side-by-side benchmark: trains the MNIST CNN and MLP with nnc,
 * TensorFlow.js (cpu, wasm, webgpu) and jax-js (wasm, webgpu), each row in a
 * fresh child process (`worker.ts`), their timed windows taken in turns
 * (`runModel`), and prints a table
 * (or, with `--json`, one JSON array of rows on stdout). A row that cannot
 * train (an unsupported kernel, a crash, a timeout) is reported with `error`.
 * Run `node dist/bench/run.js --help` for the options; see bench/README.md.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { MODEL_KINDS, type ModelKind } from "./models.js";
import { NNC_BACKENDS } from "./nnc.js";
import {
  DEFAULT_OPTIONS,
  errorRow,
  QUICK_OPTIONS,
  READY_MARKER,
  ROW_MARKER,
  WINDOW_MARKER,
  type BenchOptions,
  type BenchRow,
  type System,
  type TimedWindow,
  windowRate,
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
  --rounds N                 windows the timed phase is cut into, the rows of a model taking turns;
                             a row's speed is its windows' median (default ${DEFAULT_OPTIONS.rounds})
  --warmup-seconds S         untimed warm-up before the timed phase, at least (default ${DEFAULT_OPTIONS.warmupSeconds})
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
      case "--rounds":
        bench = { ...bench, rounds: Math.floor(num(a, next(), 1)) };
        break;
      case "--warmup-seconds":
        bench = { ...bench, warmupSeconds: num(a, next(), 0) };
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

/** What an interleaved worker said next. */
type Reply =
  | { readonly kind: "ready" }
  | { readonly kind: "window"; readonly window: TimedWindow }
  | { readonly kind: "row"; readonly row: BenchRow }
  | { readonly kind: "died"; readonly why: string };

/**
 * One row's worker process in `--interleave` mode: the driver sends it `window` and `finish`
 * and waits for its replies (worker.ts).
 */
class RowWorker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: Reply[] = [];
  private waiting: ((r: Reply) => void) | null = null;
  private stderrTail: string[] = [];
  private ended = false;

  constructor(
    readonly system: System,
    readonly backend: string,
    readonly model: ModelKind,
    opts: BenchOptions,
    verbose: boolean,
  ) {
    const worker = fileURLToPath(new URL("./worker.js", import.meta.url));
    this.child = spawn(
      process.execPath,
      [worker, system, backend, model, "--opts", JSON.stringify(opts), "--interleave"],
      { env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? "surfaceless" } },
    );
    this.child.stdin.on("error", () => {}); // a worker that died; `close` reports it
    lines(this.child.stdout, (line) => {
      if (line === READY_MARKER) this.reply({ kind: "ready" });
      else if (line.startsWith(WINDOW_MARKER))
        this.reply({ kind: "window", window: JSON.parse(line.slice(WINDOW_MARKER.length)) });
      else if (line.startsWith(ROW_MARKER))
        this.reply({ kind: "row", row: JSON.parse(line.slice(ROW_MARKER.length)) as BenchRow });
    });
    lines(this.child.stderr, (line) => {
      if (verbose || line.startsWith("[bench]")) process.stderr.write(`${line}\n`);
      if (line.trim()) this.stderrTail = [...this.stderrTail.slice(-29), line];
    });
    this.child.on("close", (code, signal) => {
      this.ended = true;
      // The most telling line of a crash is the last one naming an error
      // (Node ends an uncaught exception's report with its version line).
      const tail = this.stderrTail;
      const telling = [...tail].reverse().find((l) => /error|abort|fault/i.test(l));
      const last = (telling ?? tail[tail.length - 1] ?? "no output").trim();
      this.reply({ kind: "died", why: `${WORKER_DIED} (${signal ?? `exit ${code}`}): ${last}` });
    });
  }

  private reply(r: Reply): void {
    const w = this.waiting;
    if (w) {
      this.waiting = null;
      w(r);
    } else this.replies.push(r);
  }

  /** Sends `command` (none: only waits) and returns the worker's next reply. */
  async ask(command: "window" | "finish" | null, timeoutSeconds: number): Promise<Reply> {
    if (command && !this.ended) this.child.stdin.write(`${command}\n`);
    const queued = this.replies.shift();
    if (queued) return queued;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.child.kill("SIGKILL");
        resolve({ kind: "died", why: `timeout: no reply after ${timeoutSeconds} s` });
      }, timeoutSeconds * 1000);
      this.waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  /** The row a reply ends with: the worker's own, or an error row saying why there is none. */
  rowOf(r: Reply): BenchRow {
    if (r.kind === "row") return r.row;
    const why = r.kind === "died" ? r.why : `unexpected reply '${r.kind}'`;
    return { ...errorRow(this.system, this.backend, this.model, why), peak_rss_mb: null };
  }
}

/** Calls `onLine` for every complete line of `stream`. */
function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (d: string) => {
    const parts = (partial + d).split("\n");
    partial = parts.pop()!;
    for (const p of parts) onLine(p);
  });
}

/**
 * Runs the rows of `model`: starts each row's worker in turn and waits until it has compiled
 * and warmed up (alone, so compile times and start-up do not overlap), then times them in
 * `rounds` turns, one window each per turn and the starting row rotating, while the others
 * wait idle, so a slow spell of a shared machine falls on every row alike; then finishes
 * each in turn (untimed training, inference, the row). Rows come back in `targets` order.
 */
async function runModel(
  model: ModelKind,
  targets: readonly { system: System; backend: string }[],
  cli: CliOptions,
  timeout: number,
): Promise<BenchRow[]> {
  const rows = new Map<number, BenchRow>();
  const live: { k: number; worker: RowWorker; note: string }[] = [];
  const say = (w: RowWorker, what: string) =>
    process.stderr.write(`[bench] ${w.system}/${w.backend}/${model}: ${what}\n`);
  for (const [k, { system, backend }] of targets.entries()) {
    process.stderr.write(`[bench] ${system} ${backend} ${model} ...\n`);
    let note = "";
    let worker = new RowWorker(system, backend, model, cli.bench, cli.verbose);
    let r = await worker.ask(null, timeout);
    if (r.kind === "died" && r.why.startsWith(WORKER_DIED)) {
      // A worker can die on something outside the measurement (e.g. a build
      // rewriting dist/ while it loads); try once more and say so.
      say(worker, `${r.why}; retrying once`);
      note = `retried after: ${r.why}`;
      worker = new RowWorker(system, backend, model, cli.bench, cli.verbose);
      r = await worker.ask(null, timeout);
    }
    if (r.kind === "ready") live.push({ k, worker, note });
    else rows.set(k, worker.rowOf(r));
  }
  const done = (k: number, row: BenchRow, note: string) => {
    const notes = [row.notes, note].filter((n) => n).join("; ");
    rows.set(k, { ...row, notes });
    const at = live.findIndex((l) => l.k === k);
    if (at >= 0) live.splice(at, 1);
  };
  for (let round = 0; round < cli.bench.rounds; round++) {
    const turn = live.map((_, i) => live[(i + round) % live.length]!);
    const rates: string[] = [];
    for (const { k, worker, note } of turn) {
      const r = await worker.ask("window", timeout);
      const name = `${worker.system}/${worker.backend}`;
      if (r.kind !== "window") {
        done(k, worker.rowOf(r), note);
        rates.push(`${name} failed`);
      } else {
        const ips = windowRate(r.window, cli.bench.batchSize);
        rates.push(`${name} ${ips === null ? "-" : ips.toFixed(0)}`);
      }
    }
    if (rates.length > 0) {
      process.stderr.write(
        `[bench] ${model} turn ${round + 1}/${cli.bench.rounds}: ${rates.join(", ")} img/s\n`,
      );
    }
  }
  for (const { k, worker, note } of [...live]) {
    const r = await worker.ask("finish", timeout);
    done(k, worker.rowOf(r), note);
  }
  return targets.map((_, k) => {
    const row = rows.get(k)!;
    if (row.error)
      process.stderr.write(`[bench] ${row.system}/${row.backend}/${model}: error: ${row.error}\n`);
    return row;
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
    const targets = TARGETS.filter((t) => selected(cli.only, t.system, t.backend));
    rows.push(...(await runModel(model, targets, cli, timeout)));
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
