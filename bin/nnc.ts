#!/usr/bin/env node
/**
 * @file The `nnc` command line. This file only dispatches: each command lives in
 * compiler/cli/<command>.ts and is imported lazily, so `nnc --help` loads nothing heavy; from
 * dist/bundle/<command>.js when that bundle is fresh (see bundled.ts), as it loads far faster.
 * A command module exports `run(args: string[]): Promise<number>` (the exit code).
 *
 * The commands that compile and exit (`short`) raise V8's interrupt budget about twentyfold,
 * so V8 optimizes a function only after far more of its bytecode ran: a short compile no longer
 * spends a third of its CPU time (on a second thread, competing with the kernel validator on a
 * 2-core machine) optimizing functions that run a few times, and a long one still gets its hot
 * functions optimized (examples/rows.nn compiles in less time than with the default too). An
 * `--interrupt-budget` given to node is left as it is.
 */
import { setFlagsFromString } from "node:v8";

interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ run(args: string[]): Promise<number> }>;
  /** Compiles and exits: see the file comment. */
  readonly short?: boolean;
}

const commands: Record<string, Command> = {
  check: {
    short: true,
    summary: "check FILE...            report every error in .nn files",
    load: () => import("../compiler/cli/check.js"),
  },
  summary: {
    short: true,
    summary: "summary FILE             layers, output shapes and parameter counts",
    load: () => import("../compiler/cli/summary.js"),
  },
  fmt: {
    short: true,
    summary: "fmt [--check] FILE...    format .nn files in place",
    load: () => import("../compiler/cli/fmt.js"),
  },
  build: {
    short: true,
    summary: "build FILE [-o DIR]      compile to an embeddable TypeScript module",
    load: () => import("../compiler/cli/build.js"),
  },
  train: {
    summary: "train FILE [options]     train a model on a WebGPU device",
    load: () => import("../compiler/cli/train.js"),
  },
  eval: {
    summary: "eval FILE --weights CKPT evaluate saved weights on the validation data",
    load: () => import("../compiler/cli/eval.js"),
  },
  predict: {
    summary: "predict FILE --weights CKPT INPUT...  classify PNG images or an IDX file",
    load: () => import("../compiler/cli/predict.js"),
  },
};

function help(): string {
  const lines = Object.values(commands).map((c) => `  nnc ${c.summary}`);
  return [
    "nnc: a compiler for neural networks (.nn files -> WebGPU kernels + TypeScript)",
    "",
    "Usage:",
    ...lines,
    "",
    "Run `nnc COMMAND --help` for a command's options. NNC_DEBUG=1 prints phase timings and, after `nnc train`, each kernel's time.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(help() + "\n");
    return name === undefined ? 1 : 0;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write("nnc 0.1.0\n");
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`nnc: unknown command '${name}'\n\n${help()}\n`);
    return 2;
  }
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ");
  if (command.short && !given.includes("--interrupt-budget")) {
    setFlagsFromString("--interrupt-budget=1500000");
  }
  const { bundledCommand } = await import("./bundled.js");
  const bundled = bundledCommand(name);
  const mod = bundled
    ? ((await import(bundled)) as { run(args: string[]): Promise<number> })
    : await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Commands report user errors themselves; reaching here is a bug in nnc.
    process.stderr.write(
      `nnc: internal error: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    if (process.env.NNC_DEBUG && err instanceof Error && err.stack)
      process.stderr.write(err.stack + "\n");
    process.exitCode = 70;
  },
);
