/**
 * @file Checkpoint files in Node. `writeCheckpoint` is atomic (fs-node.ts `writeFileAtomically`):
 * the final name always holds either the old checkpoint or the complete new one, never a
 * half-written file (a crash leaves at most a stray `.NAME.*.tmp`). `readCheckpoint` reads and
 * validates with decodeSafetensors, naming the file in every error.
 */
import { readFileSync } from "node:fs";
import { NncError } from "./errors.js";
import { fileError } from "./file-errors.js";
import { type AtomicWriteOptions, fsReason, writeFileAtomically } from "./fs-node.js";
import {
  decodeSafetensors,
  encodeSafetensors,
  type Checkpoint,
  type ExpectedTensor,
  type NamedTensor,
} from "./checkpoint.js";

export type WriteCheckpointOptions = AtomicWriteOptions;

/** Writes a safetensors checkpoint atomically (temp file, fsync, rename). */
export function writeCheckpoint(
  path: string,
  tensors: readonly NamedTensor[],
  metadata?: Readonly<Record<string, string>>,
  options: WriteCheckpointOptions = {},
): void {
  writeFileAtomically(path, encodeSafetensors(tensors, metadata), options);
}

/** Reads and validates a safetensors checkpoint (see decodeSafetensors). */
export function readCheckpoint(
  path: string,
  expected?: readonly ExpectedTensor[],
  model?: string,
): Checkpoint {
  let bytes: Uint8Array;
  try {
    const b = readFileSync(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    if (e instanceof NncError) throw e;
    throw fileError("NN5001", { reason: fsReason(e) }, { file: path });
  }
  return decodeSafetensors(bytes, path, expected, model);
}
