/**
 * @file Runtime errors. Everything the runtime reads from outside (IDX and CSV data, PNG
 * images, safetensors checkpoints) can be wrong in ways that are the user's to fix, so those
 * failures are `NncError`s with a stable code from the catalog below (NN5xxx: data and
 * checkpoints), the file (and, for text, line and column) they concern, and a message that
 * says exactly what is wrong. `error.message` starts with the location; `renderNncError`
 * gives the CLI form `FILE: error CODE: message`. The runtime imports nothing from
 * compiler/, so this catalog is separate from the compiler's, with the same `{name}` templates.
 */

/** Every runtime error code and its message template (`{name}` filled from the args). */
export const runtimeMessages = {
  // Files and generic input.
  NN5001: "cannot read the file: {reason}",
  NN5002: "cannot write the file: {reason}",
  NN5003: "cannot create the folder: {reason}",
  // IDX files.
  NN5101: "not an IDX file: {detail}",
  NN5102:
    "IDX element type byte 0x{type} is not one of 08 (ubyte), 09 (byte), 0B (short), 0C (int), 0D (float), 0E (double)",
  NN5103: "the file holds {size} bytes but its IDX header of rank {rank} needs {need}",
  NN5104: "header says {items} ({bytes} bytes) but the file holds {actual} bytes after the header",
  NN5105: "{detail}", // labels unusable: not rank 1, not integers, negative, too many classes
  NN5106: "{detail}", // image and label counts disagree
  NN5107: "gzip data is corrupt or truncated: {reason}",
  // CSV files.
  NN5201: "{detail}", // malformed CSV: empty, no rows, duplicate column, text after a quote
  NN5202: "no column named '{label}' in the header (columns: {columns})",
  NN5203: "row has {found} fields but the header has {expected}",
  NN5204: "{value} in column '{column}' is not a number",
  NN5205: "label {value} is not one of the classes {classes}",
  NN5206: "unterminated quoted field (the quote opened here is never closed)",
  // PNG images.
  NN5301: "not a PNG file: {detail}",
  NN5302:
    "PNG chunk {chunk} has a CRC of {found} but its bytes give {computed}; the file is corrupt",
  NN5303: "PNG is truncated: {detail}",
  NN5304: "unsupported PNG: {detail}",
  NN5305: "invalid PNG: {detail}",
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

export type RuntimeErrorCode = keyof typeof runtimeMessages;

/** Where an error is: a file, optionally a 1-based line and column in it. */
export interface ErrorLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

function fill(template: string, args: Readonly<Record<string, string | number>>): string {
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
  code: RuntimeErrorCode,
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
