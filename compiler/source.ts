/**
 * @file Source text and spans. A `Span` is a half-open range of UTF-16 offsets into one
 * source file, named by path; `SourceFile` turns offsets into 1-based line/column pairs.
 * Every AST node and every IR node carries a Span, so a late error still points at user code.
 */

export interface Span {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

export interface Position {
  readonly line: number; // 1-based
  readonly column: number; // 1-based, in UTF-16 code units
}

export class SourceFile {
  readonly lineStarts: readonly number[];

  constructor(
    readonly path: string,
    readonly text: string,
  ) {
    // Lines end in \n, \r\n or a lone \r (old Mac files), as the lexer reads them.
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
    }
    this.lineStarts = starts;
  }

  position(offset: number): Position {
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  }

  /** The text of a 1-based line, without its line break. */
  lineText(line: number): string {
    const start = this.lineStarts[line - 1] ?? this.text.length;
    const next = this.lineStarts[line];
    let end = next === undefined ? this.text.length : next - 1;
    if (end > start && this.text.charCodeAt(end) === 10 && this.text.charCodeAt(end - 1) === 13)
      end--;
    return this.text.slice(start, end);
  }

  span(start: number, end: number): Span {
    return { file: this.path, start, end };
  }
}

/** The smallest span covering both. Both must be in the same file. */
export function joinSpans(a: Span, b: Span): Span {
  return { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/**
 * A span for a whole file, when no place in it is to blame (a `--run` that names none of its
 * train sections): diagnostics show the file's path alone, without a line or an excerpt.
 */
export function fileSpan(file: string): Span {
  return { file, start: -1, end: -1 };
}

/** A span for things the compiler made up (e.g. the implicit batch axis). */
export const noSpan: Span = { file: "<builtin>", start: 0, end: 0 };
