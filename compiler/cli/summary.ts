/**
 * @file `nnc summary FILE [--model NAME]`: a Keras-style table of a model's layers, output
 * shapes (`None` for the batch) and parameter counts. For a file whose first train run has
 * `step` sections (a GAN), one table per model the steps train, as its checkpoint holds them. Exit 0; 1 when the file has errors (shown
 * like `nnc check`) or the model is unknown; 2 for a usage error or a missing file.
 */
import { renderDiagnostic } from "../diagnostics.js";
import { formatSummary, summarize } from "../check/summary.js";
import { didYouMean } from "../check/suggest.js";
import { safeCheck } from "./check.js";
import type { CheckedProgram } from "../check/index.js";
import { unreadable } from "../../runtime/fs-node.js";

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
  const problem = unreadable(file);
  if (problem !== null) {
    process.stderr.write(`nnc summary: ${file}: ${problem}\n`);
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
    const several = !model && r.program ? stepModels(r.program) : null;
    if (several && r.program) {
      const tables = several.models.map((m) => summarize(r.program!, m));
      if (tables.every((t) => t !== null)) {
        const text = tables.map((t) => formatSummary(t!)).join("\n\n");
        process.stdout.write(
          `${text}\n\ntrain ${several.run} trains ${several.models.join(" and ")}; its checkpoint ` +
            `holds every model's tensors as <Model>/<layer>.<param> (e.g. ${several.models[0]}/dense.w)\n`,
        );
        return 0;
      }
    }
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

/** The first train run with `step` sections and the models its steps update, in order. */
function stepModels(program: CheckedProgram): { run: string; models: string[] } | null {
  for (const decl of program.program.trains.values()) {
    const steps = decl.entries.filter((e) => e.kind === "Step");
    if (steps.length === 0) continue;
    const models: string[] = [];
    const walk = (x: unknown): void => {
      if (!x || typeof x !== "object") return;
      if (Array.isArray(x)) return x.forEach(walk);
      const n = x as { kind?: string; name?: unknown };
      if (n.kind === "Ident" && typeof n.name === "string") {
        if (program.models.has(n.name) && !models.includes(n.name)) models.push(n.name);
        return;
      }
      for (const [k, v] of Object.entries(x)) if (k !== "span") walk(v);
    };
    for (const st of steps) {
      for (const e of st.entries) if (e.key.name === "updates") walk(e.value);
    }
    return models.length > 0 ? { run: decl.name.name, models } : null;
  }
  return null;
}
