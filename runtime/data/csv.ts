/**
 * @file CSV for tabular data: a header row naming the columns, then one sample per row of
 * numeric feature columns and one label column (named by the caller) whose values are class
 * names mapped to indices. Quoted fields ("a, b", "say ""hi""") and CRLF line ends are read
 * per RFC 4180; blank lines are skipped. Every error names file:line:column of the offending
 * field. Without an explicit class list, classes are the distinct labels sorted (numerically
 * when they are all numbers), so the mapping does not depend on the row order.
 */
import { fileError } from "../file-errors.js";
import type { Dataset } from "./dataset.js";

export interface CsvOptions {
  /** The label column's name. */
  readonly label: string;
  /** Class names in index order; labels outside it are errors. Default: the sorted distinct labels. */
  readonly classes?: readonly string[];
  /** Feature columns, in order; default every column but the label. */
  readonly features?: readonly string[];
  /** Field separator (default ","). */
  readonly delimiter?: string;
}

interface Field {
  readonly text: string;
  readonly line: number;
  readonly column: number;
}

interface Row {
  readonly fields: Field[];
  readonly line: number;
  /** Column just past the last character of the row, for "missing field" errors. */
  readonly endColumn: number;
}

/** Splits CSV text into rows of fields with their 1-based positions. */
function tokenize(text: string, source: string, delimiter: string): Row[] {
  const rows: Row[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = i;
  const n = text.length;
  const d = delimiter;
  while (i < n) {
    const rowLine = line;
    const fields: Field[] = [];
    let endColumn = 1;
    for (;;) {
      const column = i - lineStart + 1;
      const fieldLine = line;
      let value = "";
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) {
            throw fileError("NN5206", {}, { file: source, line: fieldLine, column });
          }
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === "\n") {
            line++;
            lineStart = i + 1;
          }
          value += c;
          i++;
        }
        if (i < n && !text.startsWith(d, i) && text[i] !== "\n" && text[i] !== "\r") {
          throw fileError(
            "NN5201",
            {
              detail: `unexpected ${JSON.stringify(text[i])} after a closing quote; a quoted field ends at the quote`,
            },
            { file: source, line, column: i - lineStart + 1 },
          );
        }
      } else {
        const start = i;
        while (i < n && !text.startsWith(d, i) && text[i] !== "\n" && text[i] !== "\r") i++;
        value = text.slice(start, i);
      }
      fields.push({ text: value, line: fieldLine, column });
      endColumn = i - lineStart + 1;
      if (i < n && text.startsWith(d, i)) {
        i += d.length;
        continue;
      }
      break;
    }
    if (text[i] === "\r") i++;
    if (text[i] === "\n") i++;
    line++;
    lineStart = i;
    const blank = fields.length === 1 && fields[0]!.text.trim() === "";
    if (!blank) rows.push({ fields, line: rowLine, endColumn });
  }
  return rows;
}

const numberPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function compareLabels(numeric: boolean) {
  return (a: string, b: string) => {
    if (numeric) return Number(a) - Number(b);
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

/** Parses CSV text into a Dataset of f32 features and class indices. */
export function parseCsv(text: string, source: string, options: CsvOptions): Dataset {
  const rows = tokenize(text, source, options.delimiter ?? ",");
  const header = rows[0];
  if (header === undefined) {
    throw fileError(
      "NN5201",
      { detail: "the file is empty; a CSV file starts with a header row naming the columns" },
      { file: source, line: 1, column: 1 },
    );
  }
  const names = header.fields.map((f) => f.text.trim());
  const seen = new Map<string, number>();
  names.forEach((name, c) => {
    const first = seen.get(name);
    if (first !== undefined) {
      throw fileError(
        "NN5201",
        {
          detail: `column '${name}' appears twice in the header (columns ${first + 1} and ${c + 1})`,
        },
        { file: source, line: header.line, column: header.fields[c]!.column },
      );
    }
    seen.set(name, c);
  });
  const columnOf = (name: string): number => {
    const c = seen.get(name);
    if (c === undefined) {
      throw fileError(
        "NN5202",
        { label: name, columns: names.join(", ") },
        { file: source, line: header.line, column: 1 },
      );
    }
    return c;
  };
  const labelColumn = columnOf(options.label);
  const featureColumns = options.features
    ? options.features.map(columnOf)
    : names.map((_, c) => c).filter((c) => c !== labelColumn);
  const body = rows.slice(1);
  if (body.length === 0) {
    throw fileError(
      "NN5201",
      { detail: "the file has a header but no data rows" },
      { file: source, line: header.line + 1, column: 1 },
    );
  }
  const width = featureColumns.length;
  const features = new Float32Array(body.length * width);
  const rawLabels: Field[] = [];
  body.forEach((row, r) => {
    if (row.fields.length !== names.length) {
      const extra = row.fields[names.length];
      throw fileError(
        "NN5203",
        { found: row.fields.length, expected: names.length },
        { file: source, line: row.line, column: extra ? extra.column : row.endColumn },
      );
    }
    featureColumns.forEach((c, k) => {
      const f = row.fields[c]!;
      const t = f.text.trim();
      if (!numberPattern.test(t)) {
        throw fileError(
          "NN5204",
          { value: t === "" ? "an empty value" : `'${t}'`, column: names[c]! },
          { file: source, line: f.line, column: f.column },
        );
      }
      features[r * width + k] = Number(t);
    });
    rawLabels.push(row.fields[labelColumn]!);
  });
  let classNames: readonly string[];
  if (options.classes) {
    classNames = options.classes;
  } else {
    const distinct = [...new Set(rawLabels.map((f) => f.text.trim()))];
    const numeric = distinct.every((l) => numberPattern.test(l));
    classNames = distinct.sort(compareLabels(numeric));
  }
  const index = new Map(classNames.map((name, i) => [name, i]));
  const labels = new Int32Array(body.length);
  rawLabels.forEach((f, r) => {
    const t = f.text.trim();
    const k = index.get(t);
    if (k === undefined) {
      throw fileError(
        "NN5205",
        { value: `'${t}'`, classes: `[${classNames.join(", ")}]` },
        { file: source, line: f.line, column: f.column },
      );
    }
    labels[r] = k;
  });
  return {
    source,
    inputs: features,
    sampleShape: [width],
    labels,
    count: body.length,
    classes: classNames.length,
    classNames,
  };
}
