/**
 * @file `nnc summary FILE [--model NAME]`: a Keras-style table of a model's layers, output
 * shapes (`None` for the batch) and parameter counts. Exit 0; 1 when the file has errors (shown
 * like `nnc check`) or the model is unknown; 2 for a usage error or a missing file.
 */
import { existsSync, statSync } from "node:fs";
import { renderDiagnostic } from "../diagnostics.js";
import { formatSummary, summarize } from "../check/summary.js";
import { didYouMean } from "../check/suggest.js";
import { safeCheck } from "./check.js";

const usage = "usage: nnc summary FILE [--model NAME]";

export async function run(args: string[]): Promise<number> {
  let model: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    if (a === "--model") {
      model = args[++i];
      if (model === undefined) {
        process.stderr.write(`nnc summary: --model needs a name\n${usage}\n`);
        return 2;
      }
    } else if (a.startsWith("--model=")) model = a.slice("--model=".length);
    else if (a.startsWith("-")) {
      process.stderr.write(`nnc summary: unknown option '${a}'\n${usage}\n`);
      return 2;
    } else files.push(a);
  }
  if (files.length !== 1) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const file = files[0]!;
  if (!existsSync(file) || !statSync(file).isFile()) {
    process.stderr.write(`nnc summary: cannot read '${file}': no such file\n`);
    return 2;
  }
  const checked = safeCheck(file);
  if (checked.diagnostics.length > 0) {
    for (const d of checked.diagnostics)
      process.stderr.write(`${renderDiagnostic(checked.sources, d)}\n`);
    return 1;
  }
  try {
    const r = checked;
    const s = r.program ? summarize(r.program, model) : null;
    if (!s) {
      const names = r.program ? [...r.program.models.keys()] : [];
      const hint = model ? didYouMean(model, names) : "";
      process.stderr.write(
        model
          ? `nnc summary: no model '${model}' in ${file}${hint} (models: ${names.join(", ") || "none"})\n`
          : `nnc summary: ${file} declares no model\n`,
      );
      return 1;
    }
    process.stdout.write(`${formatSummary(s)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(
      `nnc summary: internal error: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 1;
  }
}
