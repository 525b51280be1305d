/**
 * @file `nnc check FILE... [--format json]`: checks each file and reports every diagnostic.
 * Exit 0 when clean, 1 with diagnostics (rendered on stderr, or a JSON array on stdout with
 * `--format json`), 2 for a usage error or a missing file (the other files are still checked
 * and their diagnostics reported). An internal failure is reported as a diagnostic, never as a
 * stack trace.
 */
import { type CheckResult, checkFile } from "../index.js";
import {
  type JsonDiagnostic,
  SourceMap,
  diagnosticToJson,
  renderDiagnostic,
} from "../diagnostics.js";
import { diag } from "../messages.js";
import { unreadable } from "../../runtime/fs-node.js";

const usage = "usage: nnc check FILE... [--format text|json]";

/** Checks one file; an internal error becomes an NN4001 diagnostic at the file's start. */
export function safeCheck(file: string): CheckResult {
  try {
    return checkFile(file);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    const d = diag("NN4001", { file, start: 0, end: 0 }, { op: "internal error", detail });
    return { program: null, diagnostics: [d], sources: new SourceMap() };
  }
}

export async function run(args: string[]): Promise<number> {
  let format = "text";
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    if (a === "--format") {
      format = args[++i] ?? "";
      if (format !== "text" && format !== "json") {
        process.stderr.write(`nnc check: unknown format '${format}'\n${usage}\n`);
        return 2;
      }
    } else if (a.startsWith("--format=")) {
      format = a.slice("--format=".length);
      if (format !== "text" && format !== "json") {
        process.stderr.write(`nnc check: unknown format '${format}'\n${usage}\n`);
        return 2;
      }
    } else if (a.startsWith("-")) {
      process.stderr.write(`nnc check: unknown option '${a}'\n${usage}\n`);
      return 2;
    } else files.push(a);
  }
  if (files.length === 0) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const json: JsonDiagnostic[] = [];
  let count = 0;
  let missing = 0;
  for (const f of files) {
    // A file that cannot be read is reported in its turn; the others are still checked.
    const problem = unreadable(f);
    if (problem !== null) {
      process.stderr.write(`nnc check: ${f}: ${problem}\n`);
      missing++;
      continue;
    }
    const r = safeCheck(f);
    count += r.diagnostics.length;
    for (const d of r.diagnostics) {
      if (format === "json") json.push(diagnosticToJson(r.sources, d));
      else process.stderr.write(`${renderDiagnostic(r.sources, d)}\n`);
    }
  }
  if (format === "json") process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else if (count > 0) process.stderr.write(`${count} error${count === 1 ? "" : "s"}\n`);
  return missing > 0 ? 2 : count > 0 ? 1 : 0;
}
