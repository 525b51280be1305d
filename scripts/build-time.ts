/**
 * @file `node dist/scripts/build-time.js`: the wall time of `nnc build examples/mnist.nn -o DIR
 * -q` as a user sees it (a new `node` process, kernel validation included), with an empty
 * kernel cache (`.nnc-cache/` removed before each run) and with a warm one (left from the run
 * before). Each build runs in its own temporary working directory, so the repository's own
 * `.nnc-cache/` (tune winners included) is never used. Prints each case's median, min and max.
 *
 * Options: `--runs N` (default 10) builds per case and variant; `--file F` (default
 * examples/mnist.nn); `--nnc PATH` (repeatable) compares several `nnc.js` entry points, run
 * alternately (A, B, A, B, ...) so that machine noise hits each alike; `--json` prints the
 * figures as JSON. Each build's CPU time is reported too (user + system, of the `nnc` process
 * and of its kernel validator process, read through a `--import` hook in NODE_OPTIONS): on a
 * shared machine it varies far less than the wall time. Exits 1 when a build fails.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

interface Options {
  readonly runs: number;
  readonly file: string;
  readonly nnc: readonly string[];
  readonly json: boolean;
}

function options(argv: readonly string[]): Options {
  let runs = 10;
  let file = join(root, "examples", "mnist.nn");
  const nnc: string[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--runs") runs = Number(argv[++i]);
    else if (a === "--file") file = resolve(argv[++i]!);
    else if (a === "--nnc") nnc.push(resolve(argv[++i]!));
    else if (a === "--json") json = true;
    else throw new Error(`unknown argument '${a}'`);
  }
  if (!(runs >= 1)) throw new Error("--runs takes a positive number");
  return { runs, file, nnc: nnc.length > 0 ? nnc : [join(root, "dist", "bin", "nnc.js")], json };
}

/**
 * A module for `node --import` that appends the process's CPU time (ms) to the file named by
 * NNC_BUILD_TIME_LOG when it exits: `main` for the nnc process, `child` for any other.
 */
const hook = `
import { appendFileSync } from "node:fs";
const main = process.argv.includes("build");
process.on("exit", () => {
  const u = process.cpuUsage();
  appendFileSync(process.env.NNC_BUILD_TIME_LOG, \`\${main ? "main" : "child"} \${(u.user + u.system) / 1000}\\n\`);
});
`;

interface Times {
  readonly wallMs: number;
  /** CPU time of the nnc process. */
  readonly mainCpuMs: number;
  /** CPU time of its other processes (the kernel validator). */
  readonly childCpuMs: number;
}

/** One build's times, in `cwd`; `hookFile` is the written `hook`. */
function buildOnce(nnc: string, file: string, cwd: string, hookFile: string): Times {
  const log = join(cwd, "cpu.log");
  writeFileSync(log, "");
  const t = performance.now();
  const r = spawnSync(process.execPath, [nnc, "build", file, "-o", join(cwd, "out"), "-q"], {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      NNC_DEBUG: "",
      NNC_BUILD_TIME_LOG: log,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${pathToFileURL(hookFile).href}`,
    },
  });
  const wallMs = performance.now() - t;
  if (r.status !== 0) {
    throw new Error(`${nnc} build failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
  }
  // The validator may still be writing its line: nnc does not wait for it to exit.
  let lines: string[] = [];
  for (let i = 0; i < 100; i++) {
    lines = readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l !== "");
    if (lines.length >= 2) break;
    spawnSync("sleep", ["0.02"]);
  }
  const sum = (role: string) =>
    lines.filter((l) => l.startsWith(`${role} `)).reduce((a, l) => a + Number(l.split(" ")[1]), 0);
  return { wallMs, mainCpuMs: sum("main"), childCpuMs: sum("child") };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function main(argv: readonly string[]): number {
  const o = options(argv);
  const cases = ["empty", "warm"] as const;
  const dirs = o.nnc.map(() => mkdtempSync(join(tmpdir(), "nnc-build-time-")));
  const times = new Map<string, Times[]>();
  const key = (c: string, v: number) => `${c} ${v}`;
  const hookFile = join(dirs[0]!, "cpu-hook.mjs");
  writeFileSync(hookFile, hook);
  try {
    // One untimed build each, so the warm case starts warm and the OS caches hold the files.
    o.nnc.forEach((n, v) => buildOnce(n, o.file, dirs[v]!, hookFile));
    for (const c of cases) {
      for (let i = 0; i < o.runs; i++) {
        o.nnc.forEach((n, v) => {
          if (c === "empty") rmSync(join(dirs[v]!, ".nnc-cache"), { recursive: true, force: true });
          const k = key(c, v);
          times.set(k, [...(times.get(k) ?? []), buildOnce(n, o.file, dirs[v]!, hookFile)]);
        });
      }
    }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  const rows = cases.flatMap((c) =>
    o.nnc.map((n, v) => {
      const ts = times.get(key(c, v))!;
      const xs = ts.map((t) => t.wallMs);
      return {
        cache: c,
        nnc: n,
        runs: xs.length,
        medianMs: Math.round(median(xs)),
        minMs: Math.round(Math.min(...xs)),
        maxMs: Math.round(Math.max(...xs)),
        mainCpuMs: Math.round(median(ts.map((t) => t.mainCpuMs))),
        childCpuMs: Math.round(median(ts.map((t) => t.childCpuMs))),
      };
    }),
  );
  if (o.json) {
    process.stdout.write(JSON.stringify(rows, null, 1) + "\n");
  } else {
    for (const r of rows) {
      process.stdout.write(
        `${r.cache.padEnd(5)} cache  median ${r.medianMs} ms  (min ${r.minMs}, max ${r.maxMs}, ` +
          `${r.runs} runs); median CPU: nnc ${r.mainCpuMs} ms, validator ${r.childCpuMs} ms` +
          `${o.nnc.length > 1 ? `  ${r.nnc}` : ""}\n`,
      );
    }
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`build-time: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
