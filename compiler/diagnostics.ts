/**
 * @file One diagnostic type for every phase, and its rendering:
 * `file:line:col: error CODE: message`, the source line, a caret underline under the span,
 * then notes. Codes and message templates live in the catalog in `messages.ts`; phases
 * build diagnostics with `diag(code, span, args)` rather than writing messages inline.
 */
import { SourceFile, type Span } from "./source.js";

export type Severity = "error" | "warning";

export interface Note {
  readonly message: string;
  readonly span?: Span;
}

export interface Diagnostic {
  readonly code: string; // e.g. "NN2001"
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly notes: readonly Note[];
}

/** Maps file paths to their text, so diagnostics in imported files and the stdlib render too. */
export class SourceMap {
  private readonly files = new Map<string, SourceFile>();
  add(file: SourceFile): SourceFile {
    this.files.set(file.path, file);
    return file;
  }
  get(path: string): SourceFile | undefined {
    return this.files.get(path);
  }
}

export function location(sources: SourceMap, span: Span): string {
  const file = sources.get(span.file);
  if (!file || span.start < 0) return span.file;
  const p = file.position(span.start);
  return `${span.file}:${p.line}:${p.column}`;
}

/** The widest source line an excerpt shows; a longer one is cut around the span. */
const EXCERPT_WIDTH = 100;

/** Source line with a gutter and a caret underline; the underline covers the span's first line. */
function excerpt(file: SourceFile, span: Span): string[] {
  const start = file.position(span.start);
  const end = file.position(Math.max(span.start, span.end));
  const line = file.lineText(start.line);
  const lastCol = end.line === start.line ? end.column : line.length + 1;
  // A window of the line that holds the span's start (a minified or generated line can be
  // megabytes long), control characters shown as U+FFFD so they cannot reach the terminal.
  const from =
    line.length <= EXCERPT_WIDTH
      ? 0
      : Math.max(0, Math.min(start.column - 1 - EXCERPT_WIDTH / 4, line.length - EXCERPT_WIDTH));
  const before = from > 0 ? "..." : "";
  const after = from + EXCERPT_WIDTH < line.length ? "..." : "";
  const text = line
    .slice(from, from + EXCERPT_WIDTH)
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "\ufffd");
  const column = start.column - from + before.length;
  const width = Math.max(
    1,
    Math.min(lastCol - start.column, text.length + before.length - column + 2),
  );
  const gutter = String(start.line);
  const pad = " ".repeat(gutter.length);
  return [
    `  ${gutter} | ${before}${text}${after}`,
    `  ${pad} | ${" ".repeat(column - 1)}${"^".repeat(width)}`,
  ];
}

export function renderDiagnostic(sources: SourceMap, d: Diagnostic): string {
  const lines = [`${location(sources, d.span)}: ${d.severity} ${d.code}: ${d.message}`];
  const file = sources.get(d.span.file);
  if (file && d.span.start >= 0) lines.push(...excerpt(file, d.span));
  for (const n of d.notes) {
    lines.push(
      n.span ? `  note: ${n.message} (${location(sources, n.span)})` : `  note: ${n.message}`,
    );
  }
  return lines.join("\n");
}

export interface JsonDiagnostic {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: Severity;
  code: string;
  message: string;
  notes: { message: string; file?: string; line?: number; column?: number }[];
}

export function diagnosticToJson(sources: SourceMap, d: Diagnostic): JsonDiagnostic {
  // Line 0: no place in the file (it is not in `sources`, or the span is a fileSpan).
  const file = d.span.start >= 0 ? sources.get(d.span.file) : undefined;
  const s = file?.position(d.span.start) ?? { line: 0, column: 0 };
  const e = file?.position(d.span.end) ?? { line: 0, column: 0 };
  return {
    file: d.span.file,
    line: s.line,
    column: s.column,
    endLine: e.line,
    endColumn: e.column,
    severity: d.severity,
    code: d.code,
    message: d.message,
    notes: d.notes.map((n) => {
      if (!n.span) return { message: n.message };
      const p = sources.get(n.span.file)?.position(n.span.start);
      return { message: n.message, file: n.span.file, line: p?.line, column: p?.column };
    }),
  };
}

/** Thrown only for internal compiler errors; user errors are always Diagnostics. */
export class CompilerBug extends Error {}
