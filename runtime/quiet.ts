/**
 * @file Keeps Dawn's native stderr noise (`Warning: maxDynamic... artificially reduced`,
 * `XDG_RUNTIME_DIR is invalid`, Vulkan probing warnings and their `at operator()` lines) away
 * from users. Native code writes straight to file descriptor 2, which Node cannot intercept in
 * process, so `relaunchQuietly()` re-runs the current command in a child process whose stderr
 * is piped through `filterNoise`, and returns the child's exit code; in the child (or when
 * NNC_DEBUG is set) it returns undefined and the caller just goes on. Usage at the top of a CLI
 * entry point:
 *
 *     const code = await relaunchQuietly();
 *     if (code !== undefined) process.exit(code);
 *
 * The child learns that its stderr is a terminal from NNC_STDERR_TTY=1 (and NNC_COLUMNS).
 * `spawnQuiet()` starts any other node child (e.g. `nnc build`'s kernel validator) the same way.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

const noise: readonly RegExp[] = [
  /^Warning: maxDynamic\w* artificially reduced/,
  /XDG_RUNTIME_DIR/,
  /^Warning: Couldn't load Vulkan/,
  /^Warning: .*\b(Vulkan|vulkan|VK_|vk\w+)\b/,
  /^\s+at \S+ \(.*(third_party\/dawn|dawn\/native|\.cpp:\d+\))/,
];

/** True for one line of Dawn's known, harmless stderr output. */
export function isNoise(line: string): boolean {
  return noise.some((r) => r.test(line));
}

/**
 * Copies `input` to `output` line by line, dropping noise lines and the blank line that
 * follows a dropped block. A partial line is held at most `holdMs` (so progress bars that
 * redraw with `\r` still show at once).
 */
export function filterNoise(input: Readable, output: Writable, holdMs = 50): Promise<void> {
  return new Promise((resolve) => {
    let partial = "";
    let dropping = false;
    let timer: NodeJS.Timeout | undefined;
    const flushPartial = () => {
      timer = undefined;
      if (partial.length > 0 && !isNoise(partial)) {
        output.write(partial);
        partial = "";
        dropping = false;
      }
    };
    const line = (l: string) => {
      if (isNoise(l)) {
        dropping = true;
        return;
      }
      if (dropping && l.trim() === "") return;
      dropping = false;
      output.write(l + "\n");
    };
    input.setEncoding("utf8");
    input.on("data", (chunk: string) => {
      if (timer) clearTimeout(timer);
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const p of parts) line(p);
      if (partial.length > 0) {
        if (/^(W|\s|e|M|$)/.test(partial) && !partial.includes("\r")) {
          timer = setTimeout(flushPartial, holdMs);
        } else flushPartial();
      }
    });
    input.on("end", () => {
      if (timer) clearTimeout(timer);
      if (partial.length > 0 && !isNoise(partial)) output.write(partial);
      resolve();
    });
  });
}

export interface QuietChild {
  readonly child: ChildProcess;
  /**
   * The child's exit code (130 or 143 when a forwarded SIGINT or SIGTERM ended it), once its
   * stderr has been copied through `filterNoise`.
   */
  readonly exit: Promise<number>;
}

export interface QuietOptions {
  /** stdin and stdout of the child (default: this process's own). */
  readonly stdin?: "inherit" | "pipe";
  readonly stdout?: "inherit" | "pipe";
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Forward SIGINT and SIGTERM to the child while it runs (default true). A helper child that
   * should die with this process passes false: installing handlers would stop this process
   * from ending on Ctrl-C.
   */
  readonly forwardSignals?: boolean;
  /** Node options of the child (default: this process's `process.execArgv`). */
  readonly execArgv?: readonly string[];
}

/** Options that choose what node runs, taking the next argument as their value. */
const runsWithValue = new Set(["-e", "--eval", "-p", "--print"]);

/**
 * `process.execArgv` fit for a child that runs another script: without the options that would
 * make node run something else (`-e CODE`, `-p`, `-i`, `--test`, `--watch`) or clash with this
 * process (`--inspect*`). Profiling, memory and preload options stay.
 */
export function helperExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (runsWithValue.has(a)) {
      i++;
      continue;
    }
    const name = a.split("=")[0]!;
    if (runsWithValue.has(name) || ["-i", "--interactive", "--input-type"].includes(name)) continue;
    if (/^--(test|watch|inspect)/.test(name)) continue;
    out.push(a);
  }
  return out;
}

/**
 * Starts `node ARGS` (with this process's execArgv) whose stderr reaches this process's stderr
 * through `filterNoise`, or unfiltered when NNC_DEBUG is set, so Dawn's native warnings stay
 * hidden without a second process in between.
 */
export function spawnQuiet(args: readonly string[], opts: QuietOptions = {}): QuietChild {
  const debug = Boolean(process.env.NNC_DEBUG);
  const child = spawn(process.execPath, [...(opts.execArgv ?? process.execArgv), ...args], {
    stdio: [opts.stdin ?? "inherit", opts.stdout ?? "inherit", debug ? "inherit" : "pipe"],
    env: opts.env ?? process.env,
  });
  const forward = opts.forwardSignals ?? true;
  const send = (sig: NodeJS.Signals) => () => {
    if (child.exitCode === null) child.kill(sig);
  };
  const onInt = send("SIGINT");
  const onTerm = send("SIGTERM");
  if (forward) {
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  }
  const filtered = child.stderr ? filterNoise(child.stderr, process.stderr) : Promise.resolve();
  const exit = (async () => {
    const code = await new Promise<number>((resolve) => {
      child.on("error", (e) => {
        process.stderr.write(`nnc: cannot start a child process: ${e.message}\n`);
        resolve(1);
      });
      child.on("close", (c, signal) => {
        resolve(c ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 1));
      });
    });
    await filtered;
    if (forward) {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    }
    return code;
  })();
  return { child, exit };
}

/**
 * Re-runs this process with stderr filtered; resolves to the child's exit code. Resolves to
 * undefined (run normally) inside the child, or when NNC_DEBUG is set.
 */
export async function relaunchQuietly(): Promise<number | undefined> {
  if (process.env.NNC_DEBUG || process.env.NNC_QUIET_CHILD) return undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, NNC_QUIET_CHILD: "1" };
  if (process.stderr.isTTY) {
    env.NNC_STDERR_TTY = "1";
    env.NNC_COLUMNS = String(process.stderr.columns ?? 80);
  }
  const quiet = spawnQuiet(process.argv.slice(1), { env });
  const code = await quiet.exit;
  // Killed by the signal rather than stopping on it (as training does, after saving): say so,
  // or Ctrl-C during the kernel search or a data load would end the command without a word.
  const signal = quiet.child.signalCode;
  if (signal === "SIGINT" || signal === "SIGTERM") {
    process.stderr.write(`nnc: interrupted (${signal})\n`);
  }
  return code;
}
