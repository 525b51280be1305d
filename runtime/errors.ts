/**
 * @file Runtime errors. Everything the runtime reads from outside (IDX and CSV data, PNG
 * images, safetensors checkpoints) can be wrong in ways that are the user's to fix, so those
 * failures are `NncError`s with a stable code from the catalog below (NN5xxx: data and
 * checkpoints), the file (and, for text, line and column) they concern, and a message that
 * says exactly what is wrong. `error.message` starts with the location; `renderNncError`
 * gives the CLI form `FILE: error CODE: message`. The runtime imports nothing from
 * compiler/, so this catalog is separate from the compiler's, with the same `{name}` templates.
 */
import type { FileErrorCode } from "./file-errors.js";

/**
 * The runtime error codes browsers can meet, and their message templates (`{name}` filled
 * from the args); the codes of the host's file formats and file system are in
 * runtime/file-errors.ts, so browser bundles do not carry those messages.
 */
export const runtimeMessages = {
  // Datasets made in memory (runtime/data/dataset.ts): labels and counts.
  NN5105: "{detail}", // labels unusable: not rank 1, not integers, negative, too many classes
  NN5106: "{detail}", // image and label counts disagree
  // safetensors checkpoints.
  NN5401: "{detail}", // not a safetensors file: too short, header length past the end
  NN5402: "checkpoint header is not valid: {detail}",
  NN5403: "tensor {name}: {detail}",
  NN5404: "{detail}", // data layout: overlapping tensors, gaps, bytes after the last tensor
  NN5405:
    "tensor {name} has shape {found} but the model expects {expected}; was it saved from another model?",
  NN5406: "{detail}", // tensors missing from the file or not in the model
  NN5407: "tensor {name} has dtype {found} but the model expects {expected}",
  // Using a compiled model: wrong input sizes, calls after dispose(), bad programs.
  NN5501: "{detail}",
} as const;

export type RuntimeErrorCode = keyof typeof runtimeMessages | FileErrorCode;

/** Where an error is: a file, optionally a 1-based line and column in it. */
export interface ErrorLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export function fill(template: string, args: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in args ? String(args[k]) : m));
}

function where(loc: ErrorLocation): string | undefined {
  if (loc.file === undefined) return undefined;
  if (loc.line === undefined) return loc.file;
  return loc.column === undefined
    ? `${loc.file}:${loc.line}`
    : `${loc.file}:${loc.line}:${loc.column}`;
}

/** A user-facing runtime error: bad data, image or checkpoint. Never a bug in nnc. */
export class NncError extends Error {
  override readonly name = "NncError";
  /** What is wrong, without the location. */
  readonly detail: string;

  constructor(
    readonly code: RuntimeErrorCode,
    detail: string,
    readonly location: ErrorLocation = {},
  ) {
    const at = where(location);
    super(at === undefined ? detail : `${at}: ${detail}`);
    this.detail = detail;
  }

  get file(): string | undefined {
    return this.location.file;
  }
}

/** Builds an NncError from the catalog template for `code`. */
export function nncError(
  code: keyof typeof runtimeMessages,
  args: Readonly<Record<string, string | number>>,
  location: ErrorLocation = {},
): NncError {
  return new NncError(code, fill(runtimeMessages[code], args), location);
}

export function isNncError(e: unknown): e is NncError {
  return e instanceof NncError;
}

/** The CLI form: `FILE[:LINE[:COL]]: error CODE: message` (no stack trace). */
export function renderNncError(e: NncError): string {
  const at = where(e.location);
  return at === undefined ? `error ${e.code}: ${e.detail}` : `${at}: error ${e.code}: ${e.detail}`;
}
