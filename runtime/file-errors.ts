/**
 * @file The catalog of errors in what the runtime reads and writes on the host: IDX data, CSV
 * tables, PNG images and the file system (NN50xx-NN53xx), and data files that do not fit the
 * model they feed (NN56xx). `fileError` builds the same
 * `NncError` as runtime/errors.ts `nncError`; the catalog lives apart so that browser bundles,
 * which parse none of these formats, do not carry its messages.
 */
import { type ErrorLocation, fill, NncError } from "./errors.js";

export const fileMessages = {
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
  NN5107: "gzip data is corrupt or truncated: {reason}",
  // CSV files.
  NN5201: "{detail}", // malformed CSV: empty, no rows, duplicate column, text after a quote
  NN5202: "no column named '{label}' in the header (columns: {columns})",
  NN5203: "row has {found} fields but the header has {expected}",
  NN5204: "{value} in column '{column}' is not a number",
  NN5205: "label {value} in column '{column}' is not {what}",
  NN5206: "unterminated quoted field (the quote opened here is never closed)",
  NN5207: "{value} in column '{column}' is out of the range of 32-bit floats (about ±3.4e38)",
  // PNG images.
  NN5301: "not a PNG file: {detail}",
  NN5302:
    "PNG chunk {chunk} has a CRC of {found} but its bytes give {computed}; the file is corrupt",
  NN5303: "PNG is truncated: {detail}",
  NN5304: "unsupported PNG: {detail}",
  NN5305: "invalid PNG: {detail}",
  // Data against the model it feeds (nnc train, nnc eval, nnc predict), checked before running.
  NN5601: "{detail}", // samples not of the input's shape, targets not of the output's
  NN5602: "{detail}", // a value the input cannot take: not finite; not whole, not an id below the bound
} as const;

export type FileErrorCode = keyof typeof fileMessages;

/** Builds an NncError from the catalog template for `code`. */
export function fileError(
  code: FileErrorCode,
  args: Readonly<Record<string, string | number>>,
  location: ErrorLocation = {},
): NncError {
  return new NncError(code, fill(fileMessages[code], args), location);
}
