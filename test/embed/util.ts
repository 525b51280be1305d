/**
 * @file Helpers for the tests of built modules: the repository root, running the `nnc` CLI in
 * a child process, the MNIST program compiled for WebGPU's default limits (once per file), a
 * scratch folder under `.nnc-cache/` (inside the package, so a module written there resolves
 * `nnc/runtime/embed` and `webgpu` the way an installed one does), and loading an emitted
 * TypeScript module in-process after esbuild strips its types.
 */
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compileFile, type CompileResult } from "../../compiler/compile.js";
import { defaultLimits } from "../../runtime/plan.js";
import type { ModelProgram } from "../../runtime/program.js";

/** The repository root (this file runs from dist/test/embed/). */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const mnistFile = join(root, "examples/mnist.nn");
export const nncBin = join(root, "dist/bin/nnc.js");

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command; never rejects for a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      cwd: opts.cwd ?? root,
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** `node dist/bin/nnc.js ARGS`. */
export function nnc(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return run(process.execPath, [nncBin, ...args], opts);
}

let mnist: CompileResult | undefined;
/** examples/mnist.nn compiled for WebGPU's default limits, as `nnc build` compiles it. */
export function mnistResult(): CompileResult {
  mnist ??= compileFile(mnistFile, { limits: defaultLimits });
  if (!mnist.program) throw new Error(mnist.diagnostics.map((d) => d.message).join("\n"));
  return mnist;
}

export function mnistProgram(): ModelProgram {
  return mnistResult().program!;
}

/** A fresh folder `.nnc-cache/<name>-<pid>` inside the package; removed by `cleanup`. */
export function scratch(name: string): { dir: string; cleanup(): void } {
  const dir = join(root, ".nnc-cache", `${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Imports TypeScript `source` (types stripped by esbuild) written as `dir/name.mjs`. */
export async function importTypeScript<T>(dir: string, name: string, source: string): Promise<T> {
  const esbuild = await import("esbuild");
  const js = await esbuild.transform(source, { loader: "ts", format: "esm", target: "es2022" });
  const path = join(dir, `${name}.mjs`);
  writeFileSync(path, js.code);
  return (await import(pathToFileURL(path).href)) as T;
}

/** 28x28 test images from MNIST's test set as bytes, and their labels. */
export async function mnistTest(
  count: number,
): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const { loadMnist } = await import("../../runtime/data/node.js");
  const ds = loadMnist({ split: "test", limit: count });
  return {
    images: (ds.inputs as Uint8Array).slice(0, count * 784),
    labels: Uint8Array.from(ds.labels.subarray(0, count)),
  };
}

/** The same for the training set. */
export async function mnistTrain(
  count: number,
): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const { loadMnist } = await import("../../runtime/data/node.js");
  const ds = loadMnist({ split: "train", limit: count });
  return {
    images: (ds.inputs as Uint8Array).slice(0, count * 784),
    labels: Uint8Array.from(ds.labels.subarray(0, count)),
  };
}

/** Largest absolute difference between two equally long arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
