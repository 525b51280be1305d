/**
 * @file File-system failures as NncErrors, for the Node side of the runtime and the CLI: the
 * reason a call failed in words, output folders created without Node's recursive `mkdir`
 * (which spins forever on some paths, e.g. below /proc, in Node 20), writes whose failure
 * names the file, and atomic writes (checkpoints, training state, built modules). No browser code imports this.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileError } from "./file-errors.js";

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
 * Why `path` cannot be read as an input file ("no such file", "is a folder, not a file", a
 * permission problem), or null when it can.
 */
export function unreadable(path: string): string | null {
  try {
    if (statSync(path).isDirectory()) return "is a folder, not a file";
    return null;
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === "ENOENT" || code === "ENOTDIR" ? "no such file" : fsReason(e);
  }
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
        throw fileError("NN5003", { reason: fsReason(e) }, { file: p });
      }
      missing.push(p);
      p = parent;
      continue;
    }
    if (!isDir) throw fileError("NN5003", { reason: "a file of that name exists" }, { file: p });
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
      throw fileError("NN5003", { reason: fsReason(e) }, { file: dir });
    }
  }
}

/** Runs a file system call that writes `path`; its failure becomes NN5002 naming `path`. */
export function writeOrFail<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isFsError(e)) throw fileError("NN5002", { reason: fsReason(e) }, { file: path });
    throw e;
  }
}

export interface AtomicWriteOptions {
  /** Bytes per write call (default 4 MiB). */
  readonly chunkBytes?: number;
  /** Called after each chunk reaches the temporary file; an exception aborts the write. */
  readonly onProgress?: (written: number, total: number) => void;
}

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename over
 * `path`, fsync of the folder. A file-system failure is NN5002 naming `path`.
 */
export function writeFileAtomically(
  path: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  const dir = dirname(path);
  const suffix = `${process.pid}.${Math.floor(Math.random() * 0x100000000).toString(16)}`;
  const temp = join(dir, `.${basename(path)}.${suffix}.tmp`);
  const chunk = Math.max(1, options.chunkBytes ?? 4 << 20);
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx", 0o644);
    let written = 0;
    while (written < bytes.length) {
      const n = writeSync(fd, bytes, written, Math.min(chunk, bytes.length - written));
      written += n;
      options.onProgress?.(written, bytes.length);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters
      }
    }
    try {
      unlinkSync(temp);
    } catch {
      // the temporary file may not exist
    }
    if (isFsError(e)) throw fileError("NN5002", { reason: fsReason(e) }, { file: path });
    throw e;
  }
  // Make the rename itself durable; not every platform can fsync a directory.
  try {
    const d = openSync(dir, "r");
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // best effort
  }
}
