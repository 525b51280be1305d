/**
 * @file Checkpoint files in Node. `writeCheckpoint` is atomic: it writes a temporary file in
 * the same directory, fsyncs it, renames it over the final name and fsyncs the directory, so
 * the final name always holds either the old checkpoint or the complete new one, never a
 * half-written file (a crash leaves at most a stray `.NAME.*.tmp`). `readCheckpoint` reads and
 * validates with decodeSafetensors, naming the file in every error.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { NncError, nncError } from "./errors.js";
import { fsReason, isFsError } from "./fs-node.js";
import {
  decodeSafetensors,
  encodeSafetensors,
  type Checkpoint,
  type ExpectedTensor,
  type NamedTensor,
} from "./checkpoint.js";

export interface WriteCheckpointOptions {
  /** Bytes per write call (default 4 MiB). */
  readonly chunkBytes?: number;
  /** Called after each chunk reaches the temporary file; an exception aborts the write. */
  readonly onProgress?: (written: number, total: number) => void;
}

/** Writes a safetensors checkpoint atomically (temp file, fsync, rename). */
export function writeCheckpoint(
  path: string,
  tensors: readonly NamedTensor[],
  metadata?: Readonly<Record<string, string>>,
  options: WriteCheckpointOptions = {},
): void {
  writeFileAtomically(path, encodeSafetensors(tensors, metadata), options);
}

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename over
 * `path`, fsync of the folder. A file-system failure is NN5002 naming `path`.
 */
export function writeFileAtomically(
  path: string,
  bytes: Uint8Array,
  options: WriteCheckpointOptions = {},
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
    if (isFsError(e)) throw nncError("NN5002", { reason: fsReason(e) }, { file: path });
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

/** Reads and validates a safetensors checkpoint (see decodeSafetensors). */
export function readCheckpoint(path: string, expected?: readonly ExpectedTensor[]): Checkpoint {
  let bytes: Uint8Array;
  try {
    const b = readFileSync(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    if (e instanceof NncError) throw e;
    throw nncError("NN5001", { reason: fsReason(e) }, { file: path });
  }
  return decodeSafetensors(bytes, path, expected);
}
