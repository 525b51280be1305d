/**
 * @file CSV for tabular data: a header row naming the columns, then one sample per row of
 * numeric feature columns and one label column (named by the caller): class names mapped to
 * indices, or with `regression` a number per row, the sample's target. Quoted fields ("a, b",
 * "say ""hi""") and CRLF line ends are read per RFC 4180; blank lines are skipped. Every error
 * names file:line:column of the offending field. Without an explicit class list, classes are
 * the distinct labels sorted (numerically when they are all numbers), so the mapping does not
 * depend on the row order; given only their number, numeric labels are the class indices.
 */
import { fileError } from "../file-errors.js";
import { integerProblem, type Dataset, type IntegerInput } from "./dataset.js";

export interface CsvOptions {
  /** The label column's name. */
  readonly label: string;
  /**
   * The classes: their names in index order (labels outside it are errors), or their number
   * (a `.nn` file's `classes`), in which case numeric labels are class indices below it and
   * names (sorted) may be no more. Default: the sorted distinct labels.
   */
  readonly classes?: readonly string[] | number;
  /** The label column holds regression targets: a number per row (`classes` is then 1). */
  readonly regression?: boolean;
  /** The features are ids of this integer model input, each checked where it is. */
  readonly integers?: IntegerInput;
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

/** The number in field `f` of column `column`, which must be one a 32-bit float holds. */
function numberIn(f: Field, column: string, source: string): number {
  const t = f.text.trim();
  const at = { file: source, line: f.line, column: f.column };
  if (!numberPattern.test(t)) {
    throw fileError("NN5204", { value: t === "" ? "an empty value" : `'${t}'`, column }, at);
  }
  const v = Number(t);
  if (!Number.isFinite(Math.fround(v))) throw fileError("NN5207", { value: `'${t}'`, column }, at);
  return v;
}

/** Parses CSV text into a Dataset of f32 features and class indices (or regression targets). */
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
  const ints = options.integers;
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
      const v = numberIn(f, names[c]!, source);
      const problem = ints && integerProblem(v, ints);
      if (problem) {
        throw fileError(
          "NN5602",
          { detail: `${f.text.trim()} in column '${names[c]!}' ${problem}` },
          { file: source, line: f.line, column: f.column },
        );
      }
      features[r * width + k] = v;
    });
    rawLabels.push(row.fields[labelColumn]!);
  });
  const data = { source, inputs: features, sampleShape: [width], count: body.length };
  if (options.regression) {
    const targets = Float32Array.from(rawLabels, (f) => numberIn(f, options.label, source));
    return { ...data, labels: new Int32Array(body.length), classes: 1, targets };
  }
  const { classNames, classes, indexOf } = classesOf(rawLabels, options.classes);
  const labels = new Int32Array(body.length);
  rawLabels.forEach((f, r) => {
    const t = f.text.trim();
    const k = indexOf(t);
    if (typeof k === "string") {
      throw fileError(
        "NN5205",
        { value: numberPattern.test(t) ? t : `'${t}'`, column: options.label, what: k },
        { file: source, line: f.line, column: f.column },
      );
    }
    labels[r] = k;
  });
  return { ...data, labels, classes, classNames };
}

/**
 * The classes of labels `raw` and each label's index, or what it is not (`one of the classes
 * [a, b]`): see `CsvOptions.classes`.
 */
function classesOf(
  raw: readonly Field[],
  given: CsvOptions["classes"],
): {
  classNames: readonly string[];
  classes: number;
  indexOf: (label: string) => number | string;
} {
  if (typeof given === "object") {
    const index = new Map(given.map((name, i) => [name, i]));
    const what = `one of the classes [${given.join(", ")}]`;
    return { classNames: given, classes: given.length, indexOf: (t) => index.get(t) ?? what };
  }
  const distinct = [...new Set(raw.map((f) => f.text.trim()))];
  const numeric = distinct.every((l) => numberPattern.test(l));
  if (given !== undefined && numeric) {
    const what = `a class index 0 to ${given - 1} (classes: ${given})`;
    return {
      classNames: Array.from({ length: given }, (_, i) => String(i)),
      classes: given,
      indexOf: (t) => {
        const k = Number(t);
        return Number.isInteger(k) && k >= 0 && k < given ? k : what;
      },
    };
  }
  const classNames = distinct.sort(compareLabels(numeric));
  const index = new Map(classNames.map((name, i) => [name, i]));
  const classes = given ?? classNames.length;
  const shown = classNames.length > 10 ? [...classNames.slice(0, 10), "..."] : classNames;
  const what = `a class: the column holds ${classNames.length} distinct labels (${shown.join(", ")}), more than the ${classes} classes`;
  return {
    classNames,
    classes,
    indexOf: (t) => {
      const k = index.get(t)!;
      return k < classes ? k : what;
    },
  };
}
