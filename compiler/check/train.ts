/**
 * @file Train runs: settings are checked (known keys with suggestions, types, ranges, layer and
 * model names) and gathered into a plain `TrainConfig`; `buildForward` then elaborates the model
 * on a batch of data and the per-sample loss, and `buildStepLoss` a multi-model step's loss
 * expression. Checking and lowering both call these, so the graph the checker verified is the
 * graph that is lowered. `train X: Y` inherits the settings of the train Y, or trains the model
 * Y; without `: Y` a train trains the model of its own name, or the file's only model.
 */
import type * as ast from "../ast.js";
import { type Shape, formatShape, isConcrete, shapeEq } from "../dims.js";
import type { Note } from "../diagnostics.js";
import type { DType } from "../primitives.js";
import type { Span } from "../source.js";
import { type Elab, Scope } from "./elaborate.js";
import { type ModelRun, runModel } from "./model.js";
import type { Program } from "./program.js";
import { definedTwice } from "./resolve.js";
import { didYouMean } from "./suggest.js";
import {
  type BoundArgs,
  type DataSource,
  type FnValue,
  type TensorValue,
  type Value,
  describe,
  noArgs,
} from "./values.js";

export const settingKeys = [
  "model",
  "data",
  "validate",
  "loss",
  "optimizer",
  "batch",
  "epochs",
  "metrics",
  "init",
  "freeze",
  "regularize",
  "augment",
  "early_stop",
  "seed",
  "shuffle",
] as const;
export const stepKeys = ["loss", "optimizer", "updates"] as const;
export const metricNames = ["accuracy", "loss"] as const;
const earlyStopFields = ["metric", "patience", "min_delta"];
const earlyStopMetrics = ["loss", "accuracy", "val_loss", "val_accuracy"];

/**
 * The largest `seed` (and `nnc train --seed`): the runtime's random streams take 32-bit seeds
 * (`seed >>> 0`), so a larger or negative one would run as another seed, and could not be
 * saved and resumed as itself.
 */
export const maxSeed = 0xffffffff;

export interface ModelRef {
  readonly decl: ast.ModelDecl;
  readonly args: BoundArgs;
  readonly span: Span;
}

export interface StepConfig {
  readonly name: string;
  readonly span: Span;
  readonly loss: ast.Expr | null;
  readonly optimizer: FnValue | null;
  readonly optimizerSpan: Span;
  readonly updates: readonly string[]; // model names
}

export interface EarlyStop {
  readonly metric: string;
  readonly patience: number;
  readonly minDelta: number;
}

export interface TrainConfig {
  readonly name: string;
  readonly decl: ast.TrainDecl;
  readonly model: ModelRef | null;
  readonly data: DataSource | null;
  readonly validate: DataSource | null;
  readonly loss: FnValue | null;
  readonly lossSpan: Span;
  readonly optimizer: FnValue | null;
  readonly optimizerSpan: Span;
  readonly batch: number;
  readonly epochs: number;
  readonly metrics: readonly string[];
  readonly seed: number;
  readonly shuffle: boolean;
  readonly init: string | null;
  readonly freeze: readonly { name: string; span: Span }[];
  readonly regularize: readonly FnValue[];
  readonly regularizeSpan: Span;
  readonly augment: readonly { name: string; args: Readonly<Record<string, number>> }[];
  readonly earlyStop: EarlyStop | null;
  readonly steps: readonly StepConfig[];
  readonly noise: readonly ast.NoiseDecl[];
  /** The `search` axes of the run, in source order. */
  readonly searches: readonly ast.Search[];
}

/** Number of examples in a data source, where known without reading files. */
export function dataSize(d: DataSource | null): number | null {
  if (!d) return null;
  if (d.kind === "mnist") return d.split === "train" ? 60000 : 10000;
  return null;
}

/** Per-sample shapes of a data source: features (null: taken from the model) and labels. */
export function dataShapes(d: DataSource): { features: Shape | null; classes: number | null } {
  switch (d.kind) {
    case "mnist":
      return { features: [28, 28, 1], classes: 10 };
    case "idx":
      return { features: null, classes: d.classes };
    case "csv":
      return { features: null, classes: d.classes };
  }
}

function collectSearches(e: ast.Expr | ast.TrainEntry | ast.Setting, out: ast.Search[]): void {
  const walk = (x: unknown): void => {
    if (!x || typeof x !== "object") return;
    if (Array.isArray(x)) {
      for (const i of x) walk(i);
      return;
    }
    const n = x as { kind?: string };
    if (n.kind === "Search") out.push(x as ast.Search);
    for (const [k, v] of Object.entries(x)) if (k !== "span" && k !== "opSpan") walk(v);
  };
  walk(e);
}

/** The `search` nodes of a train's settings (inherited ones included), in source order. */
export function searchesOf(program: Program, decl: ast.TrainDecl): ast.Search[] {
  const e = { program } as Elab;
  const out: ast.Search[] = [];
  for (const en of entriesOf(e, decl)) collectSearches(en, out);
  return out;
}

/** The settings of a train, including those inherited from `train X: Base`. */
function entriesOf(
  e: Elab,
  decl: ast.TrainDecl,
  seen: Set<ast.TrainDecl> = new Set(),
): ast.TrainEntry[] {
  seen.add(decl);
  const base = decl.model ? e.program.trains.get(decl.model.name) : undefined;
  const own = [...decl.entries];
  if (!base || seen.has(base)) return own;
  const inherited = entriesOf(e, base, seen);
  const ownKeys = new Set(
    own.map((x) => (x.kind === "Setting" ? `s:${x.key.name}` : `${x.kind}:${x.name.name}`)),
  );
  const kept = inherited.filter(
    (x) => !ownKeys.has(x.kind === "Setting" ? `s:${x.key.name}` : `${x.kind}:${x.name.name}`),
  );
  return [...kept, ...own];
}

/**
 * The chain of `train X: Y` from `decl` back to `decl` when `decl` inherits from itself
 * (`train A: B`, `train B: A`: [A, B, A]); null when it does not. A name that closes the
 * chain but also names a model is that model (`train Mnist: Mnist`), as in defaultModel.
 */
function inheritanceCycle(program: Program, decl: ast.TrainDecl): ast.TrainDecl[] | null {
  const chain = [decl];
  for (let t = decl; t.model;) {
    const base = program.trains.get(t.model.name);
    if (!base) return null;
    if (chain.includes(base)) {
      const g = program.globals.get(program.fileOf.get(t)!.abs)!;
      return base === decl && g.get(t.model.name)?.kind !== "Model" ? [...chain, base] : null;
    }
    chain.push(base);
    t = base;
  }
  return null;
}

/** The model a train trains when no `model = ...` setting says. */
function defaultModel(
  e: Elab,
  decl: ast.TrainDecl,
  seen: Set<ast.TrainDecl> = new Set(),
): ast.ModelDecl | null {
  seen.add(decl);
  const g = e.program.globals.get(e.program.fileOf.get(decl)!.abs)!;
  if (decl.model) {
    const base = e.program.trains.get(decl.model.name);
    if (base && !seen.has(base)) return defaultModel(e, base, seen);
    const m = g.get(decl.model.name);
    if (m && m.kind === "Model") return m;
    return null;
  }
  const same = g.get(decl.name.name);
  if (same && same.kind === "Model") return same;
  const models = e.program.entry.module.items.filter((i): i is ast.ModelDecl => i.kind === "Model");
  return models.length === 1 ? models[0]! : null;
}

export function modelNames(e: Elab): string[] {
  const g = e.program.globals.get(e.program.entry.abs)!;
  return [...g.values()].filter((d) => d.kind === "Model").map((d) => d.name.name);
}

/** Checks a train's settings and gathers them. */
export function trainConfig(e: Elab, decl: ast.TrainDecl): TrainConfig {
  const file = e.program.fileOf.get(decl)!;
  const scope = new Scope(null, file);
  const entries = entriesOf(e, decl);
  const settings = new Map<string, ast.Setting>();
  const steps: StepConfig[] = [];
  const noise: ast.NoiseDecl[] = [];
  const searches: ast.Search[] = [];
  for (const en of entries) collectSearches(en, searches);
  // The trials are every combination of the searches, each an axis of its own: one inside
  // another's options would make an axis that exists only for one of its options.
  const nested = new Set<ast.Search>();
  for (const s of searches) {
    const inner: ast.Search[] = [];
    collectSearches(s.options, inner);
    for (const i of inner) nested.add(i);
  }
  for (const i of nested) {
    e.report("NN2033", i.span, {
      what: "a `search` inside a `search`",
      why: "list every option in one search (search [1, 2, 3])",
    });
  }

  const cycle = inheritanceCycle(e.program, decl);
  if (cycle && decl.model) {
    e.report("NN3021", decl.model.span, {
      train: decl.name.name,
      cycle: cycle.map((t) => t.name.name).join(" -> "),
    });
  }
  if (decl.model && !e.program.trains.has(decl.model.name)) {
    const g = e.program.globals.get(file.abs)!;
    const m = g.get(decl.model.name);
    if (!m || m.kind !== "Model") {
      e.report("NN3014", decl.model.span, {
        name: decl.model.name,
        hint: didYouMean(decl.model.name, [...modelNames(e), ...e.program.trains.keys()]),
      });
    }
  }

  for (const kind of ["Noise", "Step"]) {
    const own = decl.entries.filter((x) => x.kind === kind) as (ast.NoiseDecl | ast.StepDecl)[];
    e.diagnostics.push(...definedTwice(own.map((x) => x.name)));
  }
  for (const en of entries) {
    if (en.kind === "Noise") {
      noise.push(en);
      continue;
    }
    if (en.kind === "Step") continue;
    const key = en.key.name;
    if (!(settingKeys as readonly string[]).includes(key)) {
      if (key === "updates") {
        e.report("NN3015", en.key.span, { name: key, where: "outside a `step`" });
      } else {
        e.report("NN3001", en.key.span, { name: key, hint: didYouMean(key, [...settingKeys]) });
      }
      continue;
    }
    if (settings.has(key) && decl.entries.includes(en)) {
      e.report("NN3002", en.key.span, { name: key });
      continue;
    }
    settings.set(key, en);
  }

  const value = (key: string): { v: Value; s: ast.Setting } | null => {
    const s = settings.get(key);
    return s ? { v: e.eval(s.value, scope), s } : null;
  };
  const bad = (s: ast.Setting, expected: string, v: Value): void => {
    if (v.kind === "error") return;
    if (v.kind === "fn" && v.args.positional.length + v.args.named.size > 0 && e.reportMissing(v))
      return;
    e.report("NN3004", s.value.span, { name: s.key.name, expected, found: describe(v) });
  };
  /** An int setting: a positive one, or one from 0 to `max`. */
  const intSetting = (
    key: string,
    fallback: number,
    range: "positive" | { readonly max: number },
  ): number => {
    const r = value(key);
    if (!r) return fallback;
    if (r.v.kind !== "int" || typeof r.v.value !== "number") {
      bad(r.s, "an int", r.v);
      return fallback;
    }
    if (range === "positive" && r.v.value <= 0) {
      e.report("NN3012", r.s.value.span, { name: key, found: r.v.value });
      return fallback;
    }
    if (range !== "positive" && (r.v.value < 0 || r.v.value > range.max)) {
      bad(r.s, `a whole number from 0 to ${range.max}`, r.v);
      return fallback;
    }
    return r.v.value;
  };
  const dataSetting = (key: string): DataSource | null => {
    const r = value(key);
    if (!r) return null;
    if (r.v.kind === "data") return r.v.source;
    bad(
      r.s,
      'a data source: mnist(split: "train"), idx(images:, labels:) or csv(path:, label:)',
      r.v,
    );
    return null;
  };

  // model
  let model: ModelRef | null = null;
  const given = inputArgument(e, settings.get("model")?.value, scope);
  const mr = given ? null : value("model");
  if (given) {
    // `model = M(...)` picks hyper-parameters; an input given there would run the model.
    const { decl: md, arg, param } = given;
    const hyper = md.params.filter((p) => p.type?.kind !== "TensorType").map((p) => p.name.name);
    e.report("NN2007", arg.span, {
      what: `model ${md.name.name}'s input ${param.name.name}`,
      expected: `the run's data, not an argument: model = ${md.name.name}(...) sets ${hyper.length > 0 ? `its hyper-parameters (${hyper.join(", ")})` : "nothing, as the model has no hyper-parameters"}`,
      found: e.text(arg.value.span),
    });
    model = { decl: md, args: noArgs, span: arg.span };
  } else if (mr) {
    const v = mr.v;
    if (v.kind === "fn" && v.fn.kind === "block" && v.fn.decl.kind === "Model") {
      model = { decl: v.fn.decl, args: v.args, span: mr.s.value.span };
    } else bad(mr.s, "a model, e.g. Mlp or Mlp(hidden: 64)", v);
  } else {
    const d = defaultModel(e, decl);
    if (d) model = { decl: d, args: noArgs, span: decl.name.span };
  }

  const data = dataSetting("data");
  const validate = dataSetting("validate");

  let loss: FnValue | null = null;
  const lr = value("loss");
  if (lr) {
    if (lr.v.kind === "fn" && lr.v.fn.kind !== "optimizer") loss = lr.v;
    else bad(lr.s, "a loss, e.g. softmax_cross_entropy", lr.v);
  }

  let optimizer: FnValue | null = null;
  const or = value("optimizer");
  if (or) {
    if (or.v.kind === "fn" && or.v.fn.kind === "optimizer") optimizer = or.v;
    else bad(or.s, "an optimizer, e.g. adam(lr: 0.001)", or.v);
  }

  const batch = intSetting("batch", 32, "positive");
  const epochs = intSetting("epochs", 1, "positive");
  const seed = intSetting("seed", 0, { max: maxSeed });

  let shuffle = true;
  const sr = value("shuffle");
  if (sr) {
    if (sr.v.kind === "bool") shuffle = sr.v.value;
    else bad(sr.s, "true or false", sr.v);
  }

  let init: string | null = null;
  const ir = value("init");
  if (ir) {
    if (ir.v.kind === "string") init = ir.v.value;
    else bad(ir.s, 'a checkpoint path, e.g. "checkpoints/mnist.safetensors"', ir.v);
  }

  // metrics: names, not values.
  const metrics: string[] = [];
  const ms = settings.get("metrics");
  if (ms) {
    const items = ms.value.kind === "List" ? ms.value.items : [ms.value];
    for (const it of items) {
      if (it.kind !== "Ident") {
        e.report("NN3004", it.span, {
          name: "metrics",
          expected: "a list of metric names, e.g. [accuracy]",
          found: e.text(it.span),
        });
        continue;
      }
      if (!(metricNames as readonly string[]).includes(it.name)) {
        e.report("NN3007", it.span, { name: it.name, hint: didYouMean(it.name, [...metricNames]) });
        continue;
      }
      metrics.push(it.name);
    }
  }

  // freeze: layer names, checked against the model later.
  const freeze: { name: string; span: Span }[] = [];
  const fs = settings.get("freeze");
  if (fs) {
    const items = fs.value.kind === "List" ? fs.value.items : [fs.value];
    for (const it of items) {
      if (it.kind === "Ident") freeze.push({ name: it.name, span: it.span });
      else if (it.kind === "String") freeze.push({ name: it.value, span: it.span });
      else
        e.report("NN3004", it.span, {
          name: "freeze",
          expected: "a list of layer names, e.g. [conv2d]",
          found: e.text(it.span),
        });
    }
  }

  const regularize: FnValue[] = [];
  const rr = value("regularize");
  if (rr) {
    const items = rr.v.kind === "list" ? rr.v.items : [rr.v];
    for (const it of items) {
      if (it.kind === "fn" && it.fn.kind === "block") regularize.push(it);
      else bad(rr.s, "a regulariser, e.g. l2(1e-4)", it);
    }
  }

  const augment: { name: string; args: Readonly<Record<string, number>> }[] = [];
  const ar = value("augment");
  if (ar) {
    const items = ar.v.kind === "list" ? ar.v.items : [ar.v];
    for (const it of items) {
      if (it.kind === "augment") augment.push({ name: it.name, args: it.args });
      else if (
        it.kind === "fn" &&
        it.fn.kind === "builtin" &&
        it.fn.builtin.role === "augmentation" &&
        it.fn.builtin.params.length === 0
      ) {
        augment.push({ name: it.fn.builtin.name, args: {} });
      } else bad(ar.s, "a list of augmentations, e.g. [random_shift(2)]", it);
    }
  }

  let earlyStop: EarlyStop | null = null;
  /** Where `early_stop` names its metric (null: it takes the default; undefined: a bad one). */
  let metricSpan: Span | null | undefined = null;
  const es = settings.get("early_stop");
  if (es) {
    if (es.value.kind !== "Record") {
      e.report("NN3004", es.value.span, {
        name: "early_stop",
        expected: "a record, e.g. { metric: val_accuracy, patience: 3 }",
        found: e.text(es.value.span),
      });
    } else {
      let metric = "val_loss";
      let patience = 3;
      let minDelta = 0;
      for (const f of es.value.fields) {
        const k = f.name.name;
        if (!earlyStopFields.includes(k)) {
          e.report("NN3016", f.name.span, {
            name: k,
            setting: "early_stop",
            hint: didYouMean(k, earlyStopFields),
          });
        } else if (k === "metric") {
          const name =
            f.value.kind === "Ident"
              ? f.value.name
              : f.value.kind === "String"
                ? f.value.value
                : null;
          if (name === null || !earlyStopMetrics.includes(name)) {
            e.report("NN3007", f.value.span, {
              name: name ?? e.text(f.value.span),
              hint: didYouMean(name ?? "", earlyStopMetrics),
            });
            metricSpan = undefined;
          } else {
            metric = name;
            metricSpan = f.value.span;
          }
        } else {
          const v = e.eval(f.value, scope);
          const n =
            (v.kind === "int" || v.kind === "float") && typeof v.value === "number"
              ? v.value
              : null;
          if (n === null || (k === "patience" && (v.kind !== "int" || n <= 0))) {
            if (v.kind !== "error") {
              e.report("NN3004", f.value.span, {
                name: `early_stop.${k}`,
                expected: k === "patience" ? "a positive int" : "a number",
                found: describe(v),
              });
            }
          } else if (k === "patience") patience = n;
          else minDelta = n;
        }
      }
      earlyStop = { metric, patience, minDelta };
    }
  }

  // steps
  for (const en of entries) {
    if (en.kind !== "Step") continue;
    const ss = new Map<string, ast.Setting>();
    for (const s of en.entries) {
      const k = s.key.name;
      if (!(stepKeys as readonly string[]).includes(k)) {
        if ((settingKeys as readonly string[]).includes(k)) {
          e.report("NN3015", s.key.span, {
            name: k,
            where: "inside a `step` (put it in the train)",
          });
        } else e.report("NN3001", s.key.span, { name: k, hint: didYouMean(k, [...stepKeys]) });
        continue;
      }
      if (ss.has(k)) {
        e.report("NN3002", s.key.span, { name: k });
        continue;
      }
      ss.set(k, s);
    }
    let opt: FnValue | null = optimizer;
    const os = ss.get("optimizer");
    if (os) {
      const v = e.eval(os.value, scope);
      if (v.kind === "fn" && v.fn.kind === "optimizer") opt = v;
      else bad(os, "an optimizer, e.g. adam(lr: 0.001)", v);
    }
    const updates: string[] = [];
    const us = ss.get("updates");
    if (us) {
      const items = us.value.kind === "List" ? us.value.items : [us.value];
      const models = modelNames(e);
      for (const it of items) {
        if (it.kind === "Ident" && models.includes(it.name)) updates.push(it.name);
        else
          e.report("NN3014", it.span, {
            name: e.text(it.span),
            hint: it.kind === "Ident" ? didYouMean(it.name, models) : "",
          });
      }
    } else {
      e.report("NN3003", en.name.span, {
        train: `${decl.name.name}.${en.name.name}`,
        name: "updates",
        why: "say which model this step trains, e.g. updates = Generator",
      });
    }
    if (!ss.get("loss")) {
      e.report("NN3003", en.name.span, {
        train: `${decl.name.name}.${en.name.name}`,
        name: "loss",
        why: "every step needs a loss",
      });
    }
    if (!opt) {
      e.report("NN3003", en.name.span, {
        train: `${decl.name.name}.${en.name.name}`,
        name: "optimizer",
        why: "e.g. optimizer = adam(lr: 2e-4)",
      });
    }
    steps.push({
      name: en.name.name,
      span: en.span,
      loss: ss.get("loss")?.value ?? null,
      optimizer: opt,
      optimizerSpan: os?.value.span ?? en.name.span,
      updates,
    });
  }

  if (steps.length === 0) {
    if (!model && !decl.model)
      e.report("NN3005", decl.name.span, {
        train: decl.name.name,
        models: modelNames(e).join(", ") || "none",
      });
    if (!settings.has("data"))
      e.report("NN3003", decl.name.span, {
        train: decl.name.name,
        name: "data",
        why: 'e.g. data = mnist(split: "train")',
      });
    if (!lr)
      e.report("NN3003", decl.name.span, {
        train: decl.name.name,
        name: "loss",
        why: "e.g. loss = softmax_cross_entropy",
      });
    if (!or)
      e.report("NN3003", decl.name.span, {
        train: decl.name.name,
        name: "optimizer",
        why: "e.g. optimizer = adam(lr: 0.001)",
      });
  } else {
    if (lr)
      e.report("NN3015", lr.s.key.span, {
        name: "loss",
        where: "beside `step`s (give each step its loss)",
      });
    if (fs)
      e.report("NN3015", fs.key.span, {
        name: "freeze",
        where: "beside `step`s (a step trains only its `updates` models)",
      });
    if (!settings.has("data"))
      e.report("NN3003", decl.name.span, {
        train: decl.name.name,
        name: "data",
        why: 'e.g. data = mnist(split: "train")',
      });
  }

  // A metric the run does not measure would never stop it.
  if (earlyStop && es && metricSpan !== undefined) {
    const why = unmeasured(earlyStop.metric, {
      validate: settings.has("validate"),
      regression: data !== null && dataShapes(data).classes === null,
      steps: steps.length > 0,
    });
    if (why) {
      e.report("NN3022", metricSpan ?? es.value.span, {
        metric: metricSpan ? `'${earlyStop.metric}'` : `'${earlyStop.metric}' (its default metric)`,
        train: decl.name.name,
        why,
      });
    }
  }

  return {
    name: decl.name.name,
    decl,
    model,
    data,
    validate,
    loss,
    lossSpan: lr?.s.value.span ?? decl.name.span,
    optimizer,
    optimizerSpan: or?.s.value.span ?? decl.name.span,
    batch,
    epochs,
    metrics,
    seed,
    shuffle,
    init,
    freeze,
    regularize,
    regularizeSpan: rr?.s.value.span ?? decl.name.span,
    augment,
    earlyStop,
    steps,
    noise,
    searches,
  };
}

/**
 * Why a run does not measure the early-stopping `metric` (null: it does): validation metrics
 * need `validate` data, accuracy needs classes (a csv without `classes:` is a regression), and a
 * run with `step` sections reports only its losses.
 */
function unmeasured(
  metric: string,
  run: { validate: boolean; regression: boolean; steps: boolean },
): string | null {
  if (run.steps && metric !== "loss") {
    return "a run with `step` sections measures only its losses (watch loss)";
  }
  if (metric.startsWith("val_") && !run.validate) {
    return "it has no `validate` data to measure it on (add `validate = ...`, or watch loss)";
  }
  if (metric.endsWith("accuracy") && run.regression) {
    const instead = run.validate ? "loss or val_loss" : "loss";
    return `its data has no classes (a csv without \`classes:\` is a regression), so it has no accuracy (watch ${instead})`;
  }
  return null;
}

export interface Forward {
  readonly run: ModelRun;
  readonly output: TensorValue | null;
  /** The `label` input ([batch, classes] one-hot f32, or shaped like the output). */
  readonly label: number | null;
  /** The per-sample loss ([batch]). */
  readonly perSample: TensorValue | null;
  /** Whether the loss takes logits (so predictions apply softmax or sigmoid). */
  readonly logits: boolean;
}

/** Elaborates the model on a batch and, with `withLoss`, the per-sample loss against `label`. */
export function buildForward(e: Elab, cfg: TrainConfig, withLoss: boolean): Forward | null {
  if (!cfg.model) return null;
  const m = cfg.model;
  const run = runModel(e, m.decl, m.args, m.span);
  const data = cfg.data;
  const fail: Forward = { run, output: null, label: null, perSample: null, logits: false };
  if (data) {
    const ds = dataShapes(data);
    const first = run.inputs[0];
    if (ds.features && first && (!shapeEq(first.shape, ds.features) || first.dtype !== "f32")) {
      const p = m.decl.params.find((x) => x.name.name === first.name)!;
      e.report("NN3008", p.type?.span ?? p.span, {
        model: m.decl.name.name,
        input: first.name,
        expected: formatShape(first.shape) + (first.dtype === "i32" ? " int" : ""),
        found: formatShape(ds.features),
      });
      return fail;
    }
  }
  if (run.output.kind === "error") return fail;
  const out = e.toTensor(
    run.output,
    m.decl.body.result?.span ?? m.decl.span,
    `model ${m.decl.name.name}'s output`,
  );
  if (!out) return fail;
  const outShape = e.sampleShape(out);
  if (!withLoss || !cfg.loss || !data)
    return { run, output: out, label: null, perSample: null, logits: false };

  const ds = dataShapes(data);
  const labelShape: Shape = ds.classes !== null ? [ds.classes] : outShape;
  if (
    ds.classes !== null &&
    !shapeEq(outShape, labelShape) &&
    !(ds.classes === 2 && shapeEq(outShape, [1]))
  ) {
    const notes: Note[] = [];
    const o = out.origin;
    if (o && o.leading.length > 0) {
      notes.push({
        message: `${o.text} acts on the last axis only; did you forget \`|> flatten\` before it?`,
        span: o.span,
      });
    }
    e.report(
      "NN3017",
      m.decl.result?.span ?? m.decl.name.span,
      {
        model: m.decl.name.name,
        found: formatShape(outShape),
        expected: `${formatShape(labelShape)} (one-hot, ${ds.classes} classes)`,
      },
      notes,
    );
    return { ...fail, output: out };
  }
  const dtype: DType = "f32";
  const labelFull = shapeEq(outShape, [1]) && ds.classes === 2 ? [1] : labelShape;
  const label = e.b.source(
    "input",
    "label",
    { shape: [e.batch, ...labelFull], dtype },
    cfg.lossSpan,
  );
  const labelV: TensorValue = { kind: "tensor", node: label, batched: true };
  const lossFn = cfg.loss;
  const before = e.diagnostics.length;
  const r = e.call(
    lossFn,
    {
      positional: [
        { value: out, span: cfg.lossSpan },
        { value: labelV, span: cfg.lossSpan },
      ],
      named: new Map(),
    },
    cfg.lossSpan,
  );
  if (r.kind === "error") {
    // Re-word a shape error at the loss's first parameter in terms of the model.
    const d = e.diagnostics[before];
    if (d && d.code === "NN2008" && lossFn.fn.kind === "block") {
      const p0 = lossFn.fn.decl.params[0];
      if (p0 && d.message.includes(`expects ${p0.name.name}:`)) {
        e.diagnostics.splice(before, 1);
        e.report("NN3009", cfg.lossSpan, {
          loss: lossFn.fn.decl.name.name,
          expected: p0.type && p0.type.kind === "TensorType" ? e.typeText(p0.type, null) : "?",
          model: m.decl.name.name,
          found: formatShape(outShape),
        });
      }
    }
    return { ...fail, output: out, label };
  }
  const t = e.toTensor(r, cfg.lossSpan, "the loss");
  if (!t) return { ...fail, output: out, label };
  if (e.sampleShape(t).length !== 0) {
    e.report("NN3010", cfg.lossSpan, {
      loss: e.text(cfg.lossSpan),
      found: formatShape(e.sampleShape(t)),
    });
    return { ...fail, output: out, label };
  }
  const logits = lossFn.fn.kind === "block" && lossFn.fn.decl.params[0]?.name.name === "logits";
  return { run, output: out, label, perSample: t.batched ? t : null, logits };
}

/** Scope for a multi-model step's loss: data fields (`image`, `label`) and noise tensors. */
export function stepScope(
  e: Elab,
  cfg: TrainConfig,
  steps: readonly StepConfig[] = cfg.steps,
): Scope {
  const file = e.program.fileOf.get(cfg.decl)!;
  const scope = new Scope(null, file);
  // Only the data fields some step's loss mentions become graph inputs.
  const used = new Set<string>();
  const walk = (x: unknown): void => {
    if (!x || typeof x !== "object") return;
    if (Array.isArray(x)) return x.forEach(walk);
    const n = x as { kind?: string; name?: unknown };
    if (n.kind === "Ident" && typeof n.name === "string") used.add(n.name);
    for (const [k, v] of Object.entries(x)) if (k !== "span" && k !== "opSpan") walk(v);
  };
  for (const st of steps) walk(st.loss);
  if (cfg.data) {
    const ds = dataShapes(cfg.data);
    const features = used.has("image") ? (ds.features ?? imageShape(e, steps, scope)) : null;
    if (features) {
      const image = e.b.source(
        "input",
        "image",
        { shape: [e.batch, ...features], dtype: "f32" },
        cfg.decl.name.span,
      );
      scope.set("image", { kind: "tensor", node: image, batched: true }, "let");
    }
    if (used.has("label")) {
      // One-hot classes, or a regression csv's target per sample.
      const label = e.b.source(
        "input",
        "label",
        { shape: [e.batch, ds.classes ?? 1], dtype: "f32" },
        cfg.decl.name.span,
      );
      scope.set("label", { kind: "tensor", node: label, batched: true }, "let");
    }
  }
  for (const n of cfg.noise) {
    const shape = e.evalShape(n.type, scope, `noise ${n.name.name}`);
    if (!shape) {
      scope.set(n.name.name, { kind: "error" }, "let");
      continue;
    }
    const spec = e.initSpec(n.init, shape, scope, `noise ${n.name.name}`);
    const v = spec
      ? e.materialize(spec, [e.batch, ...shape], true, n.span)
      : ({ kind: "error" } as Value);
    scope.set(n.name.name, v, "let");
  }
  return scope;
}

/**
 * The per-sample shape of `image` for data whose features come from the file (csv, idx): the
 * input of the first model that a step's loss calls on it (`Net(image)`, `Net(image + z)`), or
 * null when no model with a fixed input shape takes it.
 */
function imageShape(e: Elab, steps: readonly StepConfig[], scope: Scope): Shape | null {
  const mentions = (x: unknown): boolean => {
    if (!x || typeof x !== "object") return false;
    if (Array.isArray(x)) return x.some(mentions);
    const n = x as { kind?: string; name?: unknown };
    if (n.kind === "Ident" && n.name === "image") return true;
    return Object.entries(x).some(([k, v]) => k !== "span" && k !== "opSpan" && mentions(v));
  };
  let found: Shape | null = null;
  const walk = (x: unknown): void => {
    if (found || !x || typeof x !== "object") return;
    if (Array.isArray(x)) return x.forEach(walk);
    const call = x as ast.Expr;
    if (call.kind === "Call" && call.callee.kind === "Ident") {
      const callee = e.lookup(call.callee.name, scope);
      if (callee?.kind === "fn" && callee.fn.kind === "block" && callee.fn.decl.kind === "Model") {
        const decl = callee.fn.decl;
        for (const [i, arg] of call.args.entries()) {
          const param = arg.name
            ? decl.params.find((p) => p.name.name === arg.name!.name)
            : decl.params[i];
          if (param?.type?.kind !== "TensorType" || !mentions(arg.value)) continue;
          const own = new Scope(null, e.program.fileOf.get(decl)!);
          const shape = e.evalShape(param.type, own, "a model input", "a model input", true);
          if (shape && isConcrete(shape)) found = shape;
          return;
        }
      }
    }
    for (const [k, v] of Object.entries(x)) if (k !== "span" && k !== "opSpan") walk(v);
  };
  for (const st of steps) walk(st.loss);
  return found;
}

/** A step's loss: its expression, averaged over the batch when it is per-sample. */
export function buildStepLoss(
  e: Elab,
  cfg: TrainConfig,
  step: StepConfig,
  scope: Scope,
): TensorValue | null {
  if (!step.loss) return null;
  const v = e.eval(step.loss, scope);
  const t = e.toTensor(v, step.loss.span, `step ${step.name}'s loss`);
  if (!t) return null;
  const s = e.sampleShape(t);
  if (s.length !== 0) {
    e.report("NN3010", step.loss.span, { loss: `step ${step.name}'s loss`, found: formatShape(s) });
    return null;
  }
  return t;
}

/** In `model = M(...)`, an argument that gives one of M's tensor inputs, if any. */
function inputArgument(
  e: Elab,
  expr: ast.Expr | undefined,
  scope: Scope,
): { decl: ast.ModelDecl; arg: ast.Arg; param: ast.ParamSig } | null {
  if (expr?.kind !== "Call") return null;
  const callee = e.eval(expr.callee, scope);
  if (callee.kind !== "fn" || callee.fn.kind !== "block" || callee.fn.decl.kind !== "Model") {
    return null;
  }
  const decl = callee.fn.decl;
  for (const [i, arg] of expr.args.entries()) {
    const param = arg.name
      ? decl.params.find((p) => p.name.name === arg.name!.name)
      : decl.params[i];
    if (param?.type?.kind === "TensorType") return { decl, arg, param };
  }
  return null;
}
