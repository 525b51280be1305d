/**
 * @file Which kernels already compiled on an adapter: `nnc build` validates every kernel on Dawn
 * at WebGPU's default limits, and a kernel whose exact text, entry point and bindings compiled
 * on the same adapter with the same Dawn before compiles again, so the validator skips it. The
 * file (`.nnc-cache/kernels.json` under the working directory, or NNC_KERNEL_CACHE; `0` turns
 * it off) holds SHA-256 keys of kernels that compiled, never of ones that failed. A missing,
 * unreadable or malformed file is an empty cache; writes go through a temporary file and a
 * rename. Imports only Node built-ins and runtime/fs-node.js (which needs only runtime/errors.js):
 * the validator process loads it at start.
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ensureDir } from "../../runtime/fs-node.js";
import type { KernelSource } from "./kernel-compile.js";

/** Keys kept at most (the oldest are dropped): a few thousand kernels, a few hundred KB. */
const MOST = 4096;

/** The cache file, or null when NNC_KERNEL_CACHE=0. */
export function kernelCachePath(): string | null {
  const env = process.env.NNC_KERNEL_CACHE;
  if (env === "0") return null;
  return env && env !== "" ? env : join(process.cwd(), ".nnc-cache", "kernels.json");
}

/** The version of the Dawn binding (npm `webgpu`), part of every key. */
function dawnVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require("webgpu/package.json") as { version?: string }).version ?? "?";
  } catch {
    return "?";
  }
}

/** The keys of `kernels` compiled on the adapter `device`. */
export function kernelKeys(device: string, kernels: readonly KernelSource[]): string[] {
  const prefix = `${dawnVersion()}\n${device}\n`;
  return kernels.map((k) =>
    createHash("sha256")
      .update(prefix)
      .update(`${k.entryPoint}\n${k.bindings.map((b) => `${b.binding}:${b.access}`).join(",")}\n`)
      .update(k.wgsl)
      .digest("hex"),
  );
}

/** The keys in the cache file (none when it is missing or not a cache). */
export function readKernelCache(path: string): string[] {
  try {
    const data = JSON.parse(readFileSync(path, "utf8")) as { version?: number; compiled?: unknown };
    if (data.version !== 1 || !Array.isArray(data.compiled)) return [];
    return data.compiled.filter((k): k is string => typeof k === "string");
  } catch {
    return [];
  }
}

/** Writes `keys` (the newest last; at most MOST kept), atomically; a failure is ignored. */
export function writeKernelCache(path: string, keys: readonly string[]): void {
  const kept = [...new Set(keys)].slice(-MOST);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    ensureDir(dirname(path));
    writeFileSync(tmp, JSON.stringify({ version: 1, compiled: kept }));
    renameSync(tmp, path);
  } catch {
    // A cache that cannot be written only costs the next build its time.
  }
}
