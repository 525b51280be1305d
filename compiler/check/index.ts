/**
 * @file The checker's entry: every model of the user's files is elaborated on symbolic inputs
 * (batch and sequence lengths as symbols) and every train run is checked: settings, the model
 * against the data, the loss against the model's output, steps, freezing, regularisers and the
 * optimizer's update rule on every parameter. Each `search` option is checked. The result is a
 * `CheckedProgram`: the loaded program plus plain tables of models (inputs, output, layer rows,
 * variables) and train configurations; lowering re-elaborates from it with concrete sizes.
 */
import type * as ast from "../ast.js";
import { type Shape, formatShape, shapeEq } from "../dims.js";
import type { Diagnostic } from "../diagnostics.js";
import type { Variable } from "../ir/graph.js";
import type { DType } from "../primitives.js";
import { BATCH, Elab, type LayerRow } from "./elaborate.js";
import { runModel } from "./model.js";
import { type ParamRef, applyOptimizer } from "./optimizer.js";
import type { Program } from "./program.js";
import { resolveNames } from "./resolve.js";
import { didYouMean } from "./suggest.js";
import {
  type TrainConfig,
  buildForward,
  buildStepLoss,
  dataShapes,
  dataSize,
  stepScope,
  trainConfig,
} from "./train.js";

export interface CheckedModel {
  readonly name: string;
  readonly decl: ast.ModelDecl;
  readonly inputs: readonly { name: string; shape: Shape; dtype: DType }[];
  readonly output: { shape: Shape; dtype: DType } | null;
  readonly rows: readonly LayerRow[];
  readonly variables: readonly Variable[];
}

export interface CheckedTrain {
  readonly name: string;
  readonly decl: ast.TrainDecl;
  /** Number of options of each `search` axis (empty: no search). */
  readonly grid: readonly number[];
  /** The model it trains (null: a run with `step` sections, or none found). */
  readonly model: string | null;
  /** The layers its `freeze` setting names (in its first trial). */
  readonly freeze: readonly string[];
}

export interface CheckedProgram {
  readonly program: Program;
  readonly models: ReadonlyMap<string, CheckedModel>;
  readonly trains: ReadonlyMap<string, CheckedTrain>;
}

/** Elaborates one model standalone (evaluation mode) on symbolic inputs. */
export function checkModel(
  program: Program,
  decl: ast.ModelDecl,
): { model: CheckedModel; diagnostics: Diagnostic[] } {
  const e = new Elab(program, { batch: BATCH, training: false });
  const run = runModel(e, decl);
  let output: CheckedModel["output"] = null;
  if (run.output.kind === "tensor") {
    output = { shape: e.sampleShape(run.output), dtype: e.dtype(run.output) };
  } else if (run.output.kind !== "error") {
    e.toTensor(run.output, decl.body.result?.span ?? decl.span, `model ${decl.name.name}'s output`);
  }
  if (run.output.kind === "error" && e.diagnostics.length === 0) {
    e.report("NN4001", decl.name.span, {
      op: "check",
      detail: `model ${decl.name.name} has no value`,
    });
  }
  return {
    model: {
      name: decl.name.name,
      decl,
      inputs: run.inputs.map((i) => ({ name: i.name, shape: i.shape, dtype: i.dtype })),
      output,
      rows: run.rows,
      variables: e.b.variables,
    },
    diagnostics: e.diagnostics,
  };
}

/** Elaborator options for a train: several models in one graph get `Model/` name prefixes. */
export function modelPrefixFor(cfg: TrainConfig): (model: string) => string {
  return cfg.steps.length > 0 ? (m) => `${m}/` : () => "";
}

/** The choice of each search axis for trial `trial` (mixed radix, first axis slowest). */
export function trialChoices(grid: readonly number[], trial: number): number[] {
  const out = new Array<number>(grid.length).fill(0);
  let t = trial;
  for (let i = grid.length - 1; i >= 0; i--) {
    out[i] = t % grid[i]!;
    t = Math.floor(t / grid[i]!);
  }
  return out;
}

function checkTrainOnce(
  program: Program,
  decl: ast.TrainDecl,
  choose: (s: ast.Search) => number,
): { config: TrainConfig; diagnostics: Diagnostic[] } {
  const probe = new Elab(program, { batch: BATCH, training: true });
  probe.searchChoice = choose;
  const config = trainConfig(probe, decl);
  const e = new Elab(program, {
    batch: BATCH,
    training: true,
    modelPrefix: modelPrefixFor(config),
  });
  e.searchChoice = choose;
  e.diagnostics.push(...probe.diagnostics);
  const total = (() => {
    const n = dataSize(config.data);
    return n === null ? null : config.epochs * Math.ceil(n / config.batch);
  })();
  const t = e.step(decl.name.span);

  const optimize = (
    params: readonly Variable[],
    opt: TrainConfig["optimizer"],
    span: ast.Node["span"],
  ): void => {
    if (!opt) return;
    const refs: ParamRef[] = params.map((v) => ({
      name: v.name,
      node: e.b.variable(v),
      variable: v,
    }));
    applyOptimizer(
      e,
      opt,
      refs,
      refs.map((r) => r.node),
      t,
      total,
      span,
    );
  };

  if (config.steps.length === 0) {
    const fwd = buildForward(e, config, true);
    const first = fwd?.run.inputs[0];
    if (first && config.validate && config.data) {
      // The validation data must look like the training data.
      const v = dataShapes(config.validate);
      const d = dataShapes(config.data);
      const vs = decl.entries.find((x) => x.kind === "Setting" && x.key.name === "validate");
      const span = vs && vs.kind === "Setting" ? vs.value.span : decl.name.span;
      if (v.features && !shapeEq(v.features, first.shape)) {
        e.report("NN3008", span, {
          model: config.model!.decl.name.name,
          input: first.name,
          expected: formatShape(first.shape),
          found: formatShape(v.features),
        });
      } else if (v.classes !== null && d.classes !== null && v.classes !== d.classes) {
        e.report("NN3004", span, {
          name: "validate",
          expected: `labels of ${d.classes} classes like the training data`,
          found: `${v.classes} classes`,
        });
      }
    }
    if (config.augment.length > 0) checkAugment(e, decl, config, fwd?.run.inputs ?? null);
    if (fwd) {
      const layers = [...new Set(e.b.variables.map((v) => v.layer))];
      for (const f of config.freeze) {
        if (!layers.includes(f.name)) {
          e.report("NN3006", f.span, {
            name: f.name,
            model: config.model?.decl.name.name ?? "the model",
            hint:
              didYouMean(f.name, layers) ||
              (layers.length ? ` (its layers: ${layers.join(", ")})` : ""),
          });
        }
      }
      const params = e.b.variables.filter(
        (v) => v.kind === "param" && !config.freeze.some((f) => f.name === v.layer),
      );
      for (const r of config.regularize) {
        for (const p of params.filter((v) => v.shape.length >= 2)) {
          const v = e.call(
            r,
            {
              positional: [
                {
                  value: { kind: "tensor", node: e.b.variable(p), batched: false },
                  span: config.regularizeSpan,
                },
              ],
              named: new Map(),
            },
            config.regularizeSpan,
          );
          if (v.kind === "error") break;
          const tv = e.toTensor(v, config.regularizeSpan, "a regulariser");
          if (!tv) break;
          if (e.sampleShape(tv).length !== 0) {
            e.report("NN3010", config.regularizeSpan, {
              loss: e.text(config.regularizeSpan),
              found: `[${e.sampleShape(tv).join(", ")}]`,
            });
            break;
          }
        }
      }
      if (fwd.perSample) optimize(params, config.optimizer, config.optimizerSpan);
    }
  } else {
    const scope = stepScope(e, config);
    for (const s of config.steps) {
      const loss = buildStepLoss(e, config, s, scope);
      if (!loss) continue;
      const prefixes = s.updates.map((m) => `${m}/`);
      const params = e.b.variables.filter(
        (v) => v.kind === "param" && prefixes.some((p) => v.name.startsWith(p)),
      );
      optimize(params, s.optimizer, s.optimizerSpan);
    }
  }
  return { config, diagnostics: e.diagnostics };
}

/** The ranges runtime/augment.ts accepts: each augmentation's argument and its bounds. */
const AUGMENT_RANGES: Readonly<Record<string, { arg: string; max?: number; text: string }>> = {
  random_shift: { arg: "pixels", text: "pixels, 0 or more" },
  random_rotate: { arg: "degrees", text: "degrees, 0 or more" },
  random_zoom: { arg: "factor", max: 1, text: "a factor from 0 to below 1" },
};

/**
 * Augmentations resample images (runtime/augment.ts), so the model must take exactly one
 * input shaped [H, W, C] or [H, W] (NN3020 otherwise), and each range must be one the runtime
 * can draw from (NN3004), both at the `augment` setting. `inputs` is null when the model
 * could not be built (its own diagnostics say why).
 */
function checkAugment(
  e: Elab,
  decl: ast.TrainDecl,
  config: TrainConfig,
  inputs: readonly { name: string; shape: Shape }[] | null,
): void {
  const setting = decl.entries.find((x) => x.kind === "Setting" && x.key.name === "augment");
  const span = setting && setting.kind === "Setting" ? setting.value.span : decl.name.span;
  for (const a of config.augment) {
    const range = AUGMENT_RANGES[a.name];
    const v = range ? a.args[range.arg] : undefined;
    if (range && v !== undefined && (v < 0 || (range.max !== undefined && v >= range.max))) {
      e.report("NN3004", span, {
        name: "augment",
        expected: `${a.name}(${range.text})`,
        found: `${a.name}(${v})`,
      });
    }
  }
  if (!inputs) return;
  const notImage = inputs.find((i) => i.shape.length < 2 || i.shape.length > 3);
  const bad = notImage ?? (inputs.length > 1 ? inputs[1] : undefined);
  if (!bad) return;
  e.report("NN3020", span, {
    model: config.model?.decl.name.name ?? "the model",
    input: bad.name,
    shape: formatShape(bad.shape),
  });
}

export function checkTrain(
  program: Program,
  decl: ast.TrainDecl,
): { train: CheckedTrain; diagnostics: Diagnostic[] } {
  const first = checkTrainOnce(program, decl, () => 0);
  const searches = first.config.searches;
  const grid = searches.map((s) => s.options.items.length);
  const diagnostics = [...first.diagnostics];
  searches.forEach((s, i) => {
    for (let j = 1; j < grid[i]!; j++) {
      const r = checkTrainOnce(program, decl, (x) => (x === s ? j : 0));
      diagnostics.push(...r.diagnostics);
    }
  });
  const train: CheckedTrain = {
    name: decl.name.name,
    decl,
    grid,
    model: first.config.steps.length === 0 ? (first.config.model?.decl.name.name ?? null) : null,
    freeze: first.config.freeze.map((f) => f.name),
  };
  return { train, diagnostics };
}

function dedupe(ds: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of ds) {
    const k = `${d.code}@${d.span.file}:${d.span.start}:${d.span.end}:${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  return out;
}

/** Checks every model and train of the program's user files. */
export function checkProgram(program: Program): {
  program: CheckedProgram;
  diagnostics: Diagnostic[];
} {
  const diagnostics: Diagnostic[] = [];
  const models = new Map<string, CheckedModel>();
  const trains = new Map<string, CheckedTrain>();
  for (const f of program.files) {
    if (f.stdlib) continue;
    for (const item of f.module.items) {
      if (item.kind !== "Model") continue;
      const r = checkModel(program, item);
      diagnostics.push(...r.diagnostics);
      if (!models.has(item.name.name)) models.set(item.name.name, r.model);
    }
  }
  for (const decl of program.trains.values()) {
    const r = checkTrain(program, decl);
    diagnostics.push(...r.diagnostics);
    trains.set(decl.name.name, r.train);
  }
  // Unknown names in bodies elaboration never reached (e.g. blocks nobody calls).
  const at = new Set(diagnostics.map((d) => `${d.span.file}:${d.span.start}`));
  const inner = new Set(
    diagnostics.flatMap((d) =>
      d.notes.map((n) => (n.span ? `${n.span.file}:${n.span.start}` : "")),
    ),
  );
  for (const d of resolveNames(program)) {
    const k = `${d.span.file}:${d.span.start}`;
    if (!at.has(k) && !inner.has(k)) diagnostics.push(d);
  }
  return { program: { program, models, trains }, diagnostics: dedupe(diagnostics) };
}
