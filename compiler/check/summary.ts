/**
 * @file `summarize`: a model's layers as Keras prints them: one row per call at the model's top
 * level (layer name, kind, per-sample output shape, parameter count), then total, trainable and
 * non-trainable counts (state such as batchnorm statistics is non-trainable, and so are the
 * parameters of the layers the first train run of the model freezes, as Keras counts a frozen
 * layer's). `formatSummary` renders the table with `None` for the batch axis.
 */
import type { Dim, Shape } from "../dims.js";
import type { CheckedProgram } from "./index.js";

export interface SummaryRow {
  readonly layer: string;
  readonly kind: string;
  readonly shape: Shape | null; // per sample
  readonly params: Dim;
}

export interface Summary {
  readonly model: string;
  readonly rows: readonly SummaryRow[];
  readonly total: Dim;
  readonly trainable: Dim;
  readonly nonTrainable: Dim;
  /** The run whose `freeze` made parameters non-trainable, and the layers it names. */
  readonly frozenBy: { readonly train: string; readonly layers: readonly string[] } | null;
}

function add(a: Dim, b: Dim): Dim {
  return typeof a === "number" && typeof b === "number" ? a + b : `${a}+${b}`;
}

function sizeOf(shape: Shape): Dim {
  return shape.reduce<Dim>(
    (acc, d) => (typeof acc === "number" && typeof d === "number" ? acc * d : `${acc}*${d}`),
    1,
  );
}

/** The summary of `modelName` (default: the entry file's first model); null if unknown. */
export function summarize(program: CheckedProgram, modelName?: string): Summary | null {
  const name =
    modelName ??
    program.program.entry.module.items.find((i) => i.kind === "Model")?.name.name ??
    [...program.models.keys()][0];
  const m = name === undefined ? undefined : program.models.get(name);
  if (!m) return null;
  // The run `nnc train` would train the model with: the first that trains it.
  const run = [...program.trains.values()].find((t) => t.model === m.name);
  const frozen = new Set(run?.freeze ?? []);
  let trainable: Dim = 0;
  let nonTrainable: Dim = 0;
  for (const v of m.variables) {
    if (v.kind === "param" && !frozen.has(v.layer)) trainable = add(trainable, sizeOf(v.shape));
    else nonTrainable = add(nonTrainable, sizeOf(v.shape));
  }
  return {
    model: m.name,
    rows: m.rows.map((r) => ({
      layer: r.name,
      kind: r.kind,
      shape: r.shape,
      params: add(r.params, r.nonTrainable),
    })),
    total: add(trainable, nonTrainable),
    trainable,
    nonTrainable,
    frozenBy: run && frozen.size > 0 ? { train: run.name, layers: [...frozen] } : null,
  };
}

function commas(d: Dim): string {
  return typeof d === "number" ? d.toLocaleString("en-US") : d;
}

/** The Keras-style table. */
export function formatSummary(s: Summary): string {
  const head = ["Layer (type)", "Output Shape", "Param #"];
  const body = s.rows.map((r) => [
    `${r.layer} (${r.kind})`,
    r.shape ? `(None${r.shape.map((d) => `, ${d}`).join("")})` : "?",
    commas(r.params),
  ]);
  const w = [0, 1, 2].map((i) => Math.max(head[i]!.length, ...body.map((b) => b[i]!.length)) + 2);
  const line = (cells: string[]) =>
    `${cells[0]!.padEnd(w[0]!)}${cells[1]!.padEnd(w[1]!)}${cells[2]!.padStart(w[2]! - 2)}`.trimEnd();
  const width = w[0]! + w[1]! + w[2]! - 2;
  const out = [`Model: "${s.model}"`, "=".repeat(width), line(head), "=".repeat(width)];
  body.forEach((b, i) => {
    out.push(line(b));
    if (i < body.length - 1) out.push("-".repeat(width));
  });
  out.push("=".repeat(width));
  out.push(`Total params: ${commas(s.total)}`);
  out.push(`Trainable params: ${commas(s.trainable)}`);
  const frozen = s.frozenBy
    ? ` (train ${s.frozenBy.train} freezes ${s.frozenBy.layers.join(", ")})`
    : "";
  out.push(`Non-trainable params: ${commas(s.nonTrainable)}${frozen}`);
  return out.join("\n");
}
