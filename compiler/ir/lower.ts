/**
 * @file Lowering a checked train run to graphs with concrete shapes. The checker's elaborator
 * runs again with a numeric batch and bound sequence lengths, so the lowered graphs are the
 * checked ones: `step` (training mode: forward, per-sample loss averaged over the batch, the
 * regularisers, gradients of the trainable, non-frozen parameters by autodiff, the optimizer's
 * update rule for each parameter and its state, and the batchnorm-style state updates; outputs
 * `loss` and `correct`), `evaluate` (evaluation mode: outputs `loss` summed over the batch and
 * `correct`) and `predict` (evaluation mode: `probabilities` when the loss takes logits, else
 * `output`). A multi-model run (a GAN) has one step graph per `step`. Everything returned is
 * plain data; user errors come back as diagnostics.
 */
import { GradientError, addGradients } from "../autodiff/grad.js";
import type * as ast from "../ast.js";
import { Elab } from "../check/elaborate.js";
import type { CheckedProgram } from "../check/index.js";
import { modelPrefixFor, trialChoices } from "../check/index.js";
import { type ParamRef, applyOptimizer } from "../check/optimizer.js";
import type { DataSource } from "../check/values.js";
import {
  type EarlyStop,
  type TrainConfig,
  buildForward,
  buildStepLoss,
  dataShapes,
  dataSize,
  searchesOf,
  stepScope,
  trainConfig,
} from "../check/train.js";
import { isConcrete, type Shape } from "../dims.js";
import type { Diagnostic } from "../diagnostics.js";
import { diag } from "../messages.js";
import type { DType } from "../primitives.js";
import { fileSpan, type Span } from "../source.js";
import type { Graph, Variable } from "./graph.js";

export interface LowerOptions {
  readonly batch: number;
  /** Values of symbolic dimensions, e.g. `{ T: 100 }`. */
  readonly bindings?: Readonly<Record<string, number>>;
  /** Which combination of `search` options (0-based; see `trials`). */
  readonly trial?: number;
  /**
   * The run's seed instead of its `seed` setting (`nnc train --seed`): it keys the streams of
   * dropout and noise, and is the `seed` the lowered run reports.
   */
  readonly seed?: number;
  /**
   * What the trainer runs instead of the file's data size and `epochs` (`nnc train --limit`,
   * `--epochs`): schedules' `total` is the run's step count.
   */
  readonly limit?: number;
  readonly epochs?: number;
}

export interface LoweredInput {
  readonly name: string; // graph input name
  readonly shape: Shape; // with the batch axis
  readonly dtype: DType;
  /** What feeds it: the data's features, its (one-hot) labels, or the 1-based step number. */
  readonly feed: "features" | "label" | "step";
}

export interface LoweredStep {
  readonly name: string;
  readonly graph: Graph;
  readonly inputs: readonly LoweredInput[];
  /** Models whose parameters this step trains. */
  readonly updates: readonly string[];
}

export interface LoweredTrain {
  readonly name: string;
  readonly models: readonly string[];
  /** The (first) training step graph. */
  readonly step: Graph;
  /** Every step graph in order (one, named `train`, for a single-model run). */
  readonly steps: readonly LoweredStep[];
  /** Whether the run declares `step` sections (a multi-model run such as a GAN). */
  readonly stepSections: boolean;
  readonly evaluate: Graph | null;
  readonly predict: Graph | null;
  readonly predictOutput: "probabilities" | "output" | null;
  readonly data: DataSource | null;
  readonly validate: DataSource | null;
  /** The batch size the graphs are built for. */
  readonly batch: number;
  /** The run's `batch` setting (what the graphs should normally be lowered with). */
  readonly configuredBatch: number;
  readonly epochs: number;
  readonly stepsPerEpoch: number | null;
  readonly metrics: readonly string[];
  readonly seed: number;
  readonly shuffle: boolean;
  readonly init: string | null;
  readonly freeze: readonly string[];
  readonly augment: readonly { name: string; args: Readonly<Record<string, number>> }[];
  readonly earlyStop: EarlyStop | null;
  /** Every parameter and state variable of every graph, with its initializer. */
  readonly variables: readonly Variable[];
  readonly trial: number;
  readonly trials: number;
  /** The option index chosen for each `search` (in source order). */
  readonly choices: readonly number[];
}

export class LowerError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map((d) => `${d.code}: ${d.message}`).join("\n"));
  }
}

/** Reports (once per elaborator) a node whose shape is still symbolic; true when all are concrete. */
function concreteCheck(e: Elab, span: Span): boolean {
  for (const n of e.b.nodes) {
    if (!isConcrete(n.shape)) {
      const sym = n.shape.find((d) => typeof d === "string") as string;
      if (!e.diagnostics.some((d) => d.code === "NN3019")) {
        e.diagnostics.push(diag("NN3019", span, { name: sym }));
      }
      return false;
    }
  }
  return true;
}

function inputsOf(e: Elab): LoweredInput[] {
  const out: LoweredInput[] = [];
  for (const n of e.b.nodes) {
    if (n.op !== "input") continue;
    const name = (n.attrs as { name: string }).name;
    out.push({
      name,
      shape: n.shape,
      dtype: n.dtype,
      feed: name === "step" ? "step" : name === "label" ? "label" : "features",
    });
  }
  return out;
}

/** Sum over the batch axis of a [B] tensor: a scalar. */
function batchSum(e: Elab, node: number, span: Span): number {
  return e.b.add("reduce_sum", [node], { axes: [0], keepDims: false }, span);
}

/** Count of samples whose predicted class matches the label (argmax, or threshold for [1]). */
function correctCount(
  e: Elab,
  out: number,
  label: number,
  logits: boolean,
  span: Span,
): number | null {
  const s = e.b.shape(out);
  if (s.length !== 2) return null;
  let eq: number;
  if (s[1] === 1) {
    const thr = e.b.constant(logits ? 0 : 0.5, span);
    const pred = e.b.add("greater", [out, thr], {}, span);
    eq = e.b.add("equal", [pred, label], {}, span);
    eq = e.b.add("reshape", [eq], { shape: [s[0]!] }, span);
  } else {
    const a = e.b.add("argmax", [out], { axis: 1 }, span);
    const b = e.b.add("argmax", [label], { axis: 1 }, span);
    eq = e.b.add("equal", [a, b], {}, span);
  }
  return batchSum(e, eq, span);
}

function newElab(
  checked: CheckedProgram,
  cfgSeed: number,
  opts: LowerOptions,
  training: boolean,
  choices: readonly number[],
  searches: readonly ast.Search[],
  prefix: (m: string) => string,
  streamOffset = 0,
): Elab {
  const e = new Elab(checked.program, {
    batch: opts.batch,
    bindings: new Map(Object.entries(opts.bindings ?? {})),
    training,
    seed: cfgSeed + streamOffset,
    modelPrefix: prefix,
  });
  e.searchChoice = (s) => choices[searches.indexOf(s)] ?? 0;
  return e;
}

/** Lowers a train run; user errors (an unbound dimension, a bad setting) come back as diagnostics. */
export function lowerTrainChecked(
  checked: CheckedProgram,
  trainName: string,
  opts: LowerOptions,
): { train: LoweredTrain | null; diagnostics: Diagnostic[] } {
  const t = checked.trains.get(trainName);
  const decl = t?.decl ?? checked.program.trains.get(trainName);
  if (!decl) {
    const span = fileSpan(checked.program.entry.module.span.file);
    return { train: null, diagnostics: [diag("NN3018", span, { name: trainName, hint: "" })] };
  }
  const grid = t?.grid ?? [];
  const trials = grid.reduce((a, n) => a * n, 1);
  const trial = opts.trial ?? 0;
  const choices = trialChoices(grid, trial);

  // Settings, with this trial's choices.
  const searches = searchesOf(checked.program, decl);
  const probe = new Elab(checked.program, { batch: opts.batch, training: true });
  probe.searchChoice = (s) => choices[searches.indexOf(s)] ?? 0;
  const cfg: TrainConfig = trainConfig(probe, decl);
  const seed = opts.seed ?? cfg.seed;
  const diagnostics: Diagnostic[] = [...probe.diagnostics];
  if (diagnostics.length > 0) return { train: null, diagnostics };
  const prefix = modelPrefixFor(cfg);
  const size = dataSize(cfg.data);
  const n = size === null ? null : Math.min(size, opts.limit ?? size);
  const stepsPerEpoch = n === null ? null : Math.ceil(n / opts.batch);
  const total = stepsPerEpoch === null ? null : stepsPerEpoch * (opts.epochs ?? cfg.epochs);
  const frozen = new Set(cfg.freeze.map((f) => f.name));
  const variables = new Map<string, Variable>();
  const steps: LoweredStep[] = [];
  let evaluate: Graph | null = null;
  let predict: Graph | null = null;
  let predictOutput: LoweredTrain["predictOutput"] = null;
  const models: string[] = [];

  const finish = (e: Elab, span: Span): Graph | null => {
    concreteCheck(e, cfg.decl.name.span);
    diagnostics.push(...e.diagnostics);
    if (e.diagnostics.length > 0) return null;
    for (const v of e.b.variables) if (!variables.has(v.name)) variables.set(v.name, v);
    return e.b.build();
  };

  const update = (
    e: Elab,
    params: Variable[],
    loss: number,
    opt: TrainConfig["optimizer"],
    optSpan: Span,
    stateBefore: Map<string, number>,
  ): void => {
    const refs: ParamRef[] = params.map((v) => ({
      name: v.name,
      node: e.b.variable(v),
      variable: v,
    }));
    if (!concreteCheck(e, cfg.decl.name.span)) return;
    let grads: number[];
    try {
      grads = addGradients(
        e.b,
        loss,
        refs.map((r) => r.node),
      );
    } catch (err) {
      if (!(err instanceof GradientError)) throw err;
      e.diagnostics.push(diag("NN4001", optSpan, { op: "gradient", detail: err.message }));
      return;
    }
    if (opt) {
      const r = applyOptimizer(e, opt, refs, grads, e.step(optSpan), total, optSpan);
      if (r) for (const [name, node] of r.updates) e.b.update(name, node);
    }
    for (const [name, node] of stateBefore) e.b.update(name, node);
  };

  if (cfg.steps.length === 0) {
    if (!cfg.model) return { train: null, diagnostics };
    models.push(cfg.model.decl.name.name);
    const span = cfg.model.span;
    // Training step.
    const e = newElab(checked, seed, opts, true, choices, searches, prefix);
    e.step(cfg.decl.name.span);
    const fwd = buildForward(e, cfg, true);
    if (fwd?.perSample && fwd.output && fwd.label !== null) {
      const states = new Map(e.stateUpdates);
      const sum = batchSum(e, fwd.perSample.node, cfg.lossSpan);
      let loss = e.b.add("div", [sum, e.b.constant(opts.batch, cfg.lossSpan)], {}, cfg.lossSpan);
      const params = e.b.variables.filter((v) => v.kind === "param" && !frozen.has(v.layer));
      for (const r of cfg.regularize) {
        for (const p of params.filter((v) => v.shape.length >= 2)) {
          const v = e.call(
            r,
            {
              positional: [
                {
                  value: { kind: "tensor", node: e.b.variable(p), batched: false },
                  span: cfg.regularizeSpan,
                },
              ],
              named: new Map(),
            },
            cfg.regularizeSpan,
          );
          const tv = e.toTensor(v, cfg.regularizeSpan, "a regulariser");
          if (tv) loss = e.b.add("add", [loss, tv.node], {}, cfg.regularizeSpan);
        }
      }
      e.b.output("loss", loss);
      const correct = correctCount(e, fwd.output.node, fwd.label, fwd.logits, span);
      if (correct !== null) e.b.output("correct", correct);
      update(e, params, loss, cfg.optimizer, cfg.optimizerSpan, states);
    }
    const g = finish(e, span);
    if (g) steps.push({ name: "train", graph: g, inputs: inputsOf(e), updates: models });

    // Evaluation.
    const ev = newElab(checked, seed, opts, false, choices, searches, prefix);
    const fe = buildForward(ev, cfg, true);
    if (fe?.perSample && fe.output && fe.label !== null) {
      ev.b.output("loss", batchSum(ev, fe.perSample.node, cfg.lossSpan));
      const correct = correctCount(ev, fe.output.node, fe.label, fe.logits, span);
      if (correct !== null) ev.b.output("correct", correct);
      evaluate = finish(ev, span);
    }

    // Prediction.
    const pr = newElab(checked, seed, opts, false, choices, searches, prefix);
    const fp = buildForward(pr, cfg, false);
    if (fp?.output) {
      const out = fp.output.node;
      const s = pr.b.shape(out);
      const probs = (() => {
        if (!fe?.logits || s.length !== 2) return null;
        if (s[1] === 1) return pr.b.add("sigmoid", [out], {}, span);
        const m = pr.b.add("reduce_max", [out], { axes: [1], keepDims: true }, span);
        const z = pr.b.add("exp", [pr.b.add("sub", [out, m], {}, span)], {}, span);
        const sum = pr.b.add("reduce_sum", [z], { axes: [1], keepDims: true }, span);
        return pr.b.add("div", [z, sum], {}, span);
      })();
      predictOutput = probs === null ? "output" : "probabilities";
      pr.b.output(predictOutput, probs ?? out);
      predict = finish(pr, span);
    }
  } else {
    cfg.steps.forEach((s, i) => {
      const e = newElab(checked, seed, opts, true, choices, searches, prefix, 1000 * i);
      e.step(s.span);
      const scope = stepScope(e, cfg, [s]);
      const perSample = buildStepLoss(e, cfg, s, scope);
      if (perSample) {
        const states = new Map(e.stateUpdates);
        const loss = perSample.batched
          ? e.b.add(
              "div",
              [batchSum(e, perSample.node, s.span), e.b.constant(opts.batch, s.span)],
              {},
              s.span,
            )
          : perSample.node;
        e.b.output("loss", loss);
        const owned = s.updates.map((m) => `${m}/`);
        const params = e.b.variables.filter(
          (v) =>
            v.kind === "param" && owned.some((p) => v.name.startsWith(p)) && !frozen.has(v.layer),
        );
        update(e, params, loss, s.optimizer, s.optimizerSpan, states);
      }
      for (const m of s.updates) if (!models.includes(m)) models.push(m);
      const g = finish(e, s.span);
      if (g) steps.push({ name: s.name, graph: g, inputs: inputsOf(e), updates: s.updates });
    });
  }

  if (diagnostics.length > 0 || steps.length === 0) {
    const seen = new Set<string>();
    const unique = diagnostics.filter((d) => {
      const k = `${d.code}:${d.span.file}:${d.span.start}:${d.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    return { train: null, diagnostics: unique };
  }
  return {
    train: {
      name: cfg.name,
      models,
      step: steps[0]!.graph,
      steps,
      stepSections: cfg.steps.length > 0,
      evaluate,
      predict,
      predictOutput,
      data: cfg.data,
      validate: cfg.validate,
      batch: opts.batch,
      configuredBatch: cfg.batch,
      epochs: cfg.epochs,
      stepsPerEpoch,
      metrics: cfg.metrics,
      seed,
      shuffle: cfg.shuffle,
      init: cfg.init,
      freeze: [...frozen],
      augment: cfg.augment,
      earlyStop: cfg.earlyStop,
      variables: [...variables.values()],
      trial,
      trials,
      choices,
    },
    diagnostics,
  };
}

/** Lowers a train run; throws LowerError (carrying diagnostics) on a user error. */
export function lowerTrain(
  checked: CheckedProgram,
  trainName: string,
  opts: LowerOptions,
): LoweredTrain {
  const r = lowerTrainChecked(checked, trainName, opts);
  if (!r.train) throw new LowerError(r.diagnostics);
  return r.train;
}

/** The data's per-sample feature shape and classes (for runtimes). */
export { dataShapes };
