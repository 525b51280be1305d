/**
 * @file File-system failures as NncErrors, for the Node side of the runtime and the CLI: the
 * reason a call failed in words, output folders created without Node's recursive `mkdir`
 * (which spins forever on some paths, e.g. below /proc, in Node 20), and writes whose failure
 * names the file. No browser code imports this.
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { nncError } from "./errors.js";

const reasons: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EISDIR: "it is a directory",
  ENOTDIR: "a component of the path is not a directory",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EROFS: "read-only file system",
  EEXIST: "a file of that name exists",
};

/** The reason a file system call failed, in words. */
export function fsReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code !== undefined && reasons[code]) return reasons[code]!;
  return e instanceof Error ? e.message : String(e);
}

/** Whether `e` is an error of a file system call (it has a string `code`). */
export function isFsError(e: unknown): boolean {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

/**
 * The folders to create, outermost first, for `path` to be a folder: none when it is one. A
 * path that is (or passes through) a file, or that cannot be examined, is NN5003 naming it.
 */
export function missingDirs(path: string): string[] {
  const missing: string[] = [];
  for (let p = resolve(path); ;) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      const parent = dirname(p);
      // ENOTDIR: a file further up is in the way; walking up names it.
      const code = (e as { code?: string }).code;
      if ((code !== "ENOENT" && code !== "ENOTDIR") || parent === p) {
        throw nncError("NN5003", { reason: fsReason(e) }, { file: p });
      }
      missing.push(p);
      p = parent;
      continue;
    }
    if (!isDir) throw nncError("NN5003", { reason: "a file of that name exists" }, { file: p });
    return missing.reverse();
  }
}

/**
 * Makes sure `path` is a folder, creating it and any missing parents one level at a time;
 * a failure is NN5003 naming the folder.
 */
export function ensureDir(path: string): void {
  for (const dir of missingDirs(path)) {
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as { code?: string }).code === "EEXIST" && statSync(dir).isDirectory()) continue;
      throw nncError("NN5003", { reason: fsReason(e) }, { file: dir });
    }
  }
}

/** Runs a file system call that writes `path`; its failure becomes NN5002 naming `path`. */
export function writeOrFail<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isFsError(e)) throw nncError("NN5002", { reason: fsReason(e) }, { file: path });
    throw e;
  }
}
