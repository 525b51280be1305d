/**
 * @file The compiler's public API. `checkFile` loads a `.nn` file with its imports and the
 * stdlib, parses and checks it, and returns the checked program (null when there are errors),
 * every diagnostic, and the sources to render them with. `summarize` gives a model's layer table,
 * `lowerTrain` a train run's graphs with concrete shapes.
 */
import { parseModule } from "../grammar/index.js";
import { type Diagnostic, SourceMap } from "./diagnostics.js";
import { type CheckedProgram, checkProgram } from "./check/index.js";
import { loadProgram } from "./check/program.js";

export type { CheckedModel, CheckedProgram, CheckedTrain } from "./check/index.js";
export { formatSummary, summarize, type Summary, type SummaryRow } from "./check/summary.js";
export {
  lowerTrain,
  lowerTrainChecked,
  LowerError,
  type LoweredInput,
  type LoweredStep,
  type LoweredTrain,
  type LowerOptions,
} from "./ir/lower.js";
export type { DataSource } from "./check/values.js";
export { type Diagnostic, diagnosticToJson, renderDiagnostic, SourceMap } from "./diagnostics.js";

export interface CheckOptions {
  /** Paths in diagnostics are shown relative to this directory (default: the working directory). */
  readonly displayRoot?: string;
  /** The entry file's text, instead of reading it from disk. */
  readonly text?: string;
}

export interface CheckResult {
  readonly program: CheckedProgram | null;
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: SourceMap;
}

function position(d: Diagnostic): [string, number] {
  return [d.span.file, d.span.start];
}

/** Parses and checks `path` (and its imports). Never throws for a user error. */
export function checkFile(path: string, options: CheckOptions = {}): CheckResult {
  const loaded = loadProgram(path, {
    parse: parseModule,
    stdlibAst: true,
    ...(options.displayRoot !== undefined ? { displayRoot: options.displayRoot } : {}),
    ...(options.text !== undefined ? { text: options.text } : {}),
  });
  const sorted = (ds: Diagnostic[]) =>
    [...ds].sort((a, b) => {
      const [fa, sa] = position(a);
      const [fb, sb] = position(b);
      return fa === fb ? sa - sb : 0;
    });
  if (!loaded.program || loaded.diagnostics.length > 0) {
    return { program: null, diagnostics: sorted(loaded.diagnostics), sources: loaded.sources };
  }
  const r = checkProgram(loaded.program);
  return {
    program: r.diagnostics.length === 0 ? r.program : null,
    diagnostics: sorted(r.diagnostics),
    sources: loaded.sources,
  };
}
