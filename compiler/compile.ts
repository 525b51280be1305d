/**
 * @file The whole compiler as one function: check a `.nn` file, lower one of its train runs to
 * graphs of concrete shapes, differentiate (inside lowering), add the on-device metric
 * accumulators to the training step, plan kernels for a device's limits, and return a
 * ModelProgram: the plain data that `nnc train` runs and `nnc build` embeds.
 */
import { checkFile } from "./index.js";
import type { CheckedModel } from "./check/index.js";
import { searchesOf } from "./check/train.js";
import { lowerTrainChecked, type LoweredStep, type LoweredTrain } from "./ir/lower.js";
import { GraphBuilder } from "./ir/builder.js";
import type { Graph, Variable } from "./ir/graph.js";
import { verifyGraph } from "./ir/verify.js";
import { planKernels } from "./codegen/plan.js";
import { CompilerBug, type Diagnostic, type SourceMap } from "./diagnostics.js";
import { diag } from "./messages.js";
import { isConcrete, symbolsOf } from "./dims.js";
import type { DeviceLimitsLike, KernelPlan } from "../runtime/plan.js";
import type { ModelProgram, ProgramStep, ProgramVariable } from "../runtime/program.js";
import { fileSpan, type Span } from "./source.js";

export interface CompileOptions {
  /** The train section to compile (default: the only one, else the first). */
  readonly run?: string;
  /** Override the run's batch size. */
  readonly batch?: number;
  /** Batch size of the evaluation and prediction plans (default 256, capped by memory). */
  readonly inferBatch?: number;
  readonly limits: DeviceLimitsLike;
  /** The entry file's text instead of reading it. */
  readonly text?: string;
  /** Which combination of the run's `search` options to compile (0-based, default 0). */
  readonly trial?: number;
  /** Sizes of symbolic dimensions of the model's inputs (`{ T: 100 }`). */
  readonly bindings?: Readonly<Record<string, number>>;
  /**
   * The run's seed instead of its `seed` setting (`nnc train --seed`): dropout and noise
   * streams are drawn from it, and `settings.seed` (initial weights, shuffling, augmentation)
   * is it.
   */
  readonly seed?: number;
  /**
   * The samples and epochs the run trains (`nnc train --limit`, `--epochs`) instead of the
   * data's size and the file's `epochs`: schedules' `total` is the run's step count.
   */
  readonly limit?: number;
  readonly epochs?: number;
}

export interface CompileResult {
  readonly program: ModelProgram | null;
  readonly lowered: { step: LoweredTrain; infer: LoweredTrain } | null;
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: SourceMap;
}

export const LOSS_SUM = "metrics.loss_sum";
export const CORRECT_SUM = "metrics.correct_sum";

function builderFrom(g: Graph): GraphBuilder {
  const b = new GraphBuilder();
  b.nodes.push(...g.nodes);
  b.variables.push(...g.variables);
  b.outputs.push(...g.outputs);
  b.updates.push(...g.updates);
  return b;
}

function outputNode(g: Graph, name: string): number {
  const o = g.outputs.find((x) => x.name === name);
  if (!o) throw new CompilerBug(`lowered graph has no output '${name}'`);
  return o.node;
}

/** Adds a scalar f32 accumulator `name` (a metrics state variable) and `name += value`. */
function accumulate(b: GraphBuilder, name: string, value: number, span: Span): void {
  const v = b.variable({
    name,
    kind: "state",
    shape: [],
    dtype: "f32",
    init: { dist: "constant", value: 0 },
    layer: "metrics",
    span,
  });
  b.update(name, b.add("add", [v, value], {}, span));
}

/** The step graph, plus `metrics.loss_sum += loss * batch` and `metrics.correct_sum += correct`. */
function withMetricSums(g: Graph, batch: number): Graph {
  const b = builderFrom(g);
  const loss = outputNode(g, "loss");
  const span = b.node(loss).span;
  accumulate(b, LOSS_SUM, b.add("mul", [loss, b.constant(batch, span)], {}, span), span);
  const correct = g.outputs.find((o) => o.name === "correct");
  accumulate(
    b,
    CORRECT_SUM,
    correct ? b.add("cast", [correct.node], { to: "f32" }, span) : b.constant(0, span),
    span,
  );
  return b.build();
}

/**
 * Evaluation outputs per sample (`loss` [B], `correct` [B]) so a zero-padded last batch counts
 * only its real samples: lowering sums over the batch; take the summed vector instead.
 */
function perSampleOutputs(g: Graph): Graph {
  const outputs = g.outputs.map((o) => {
    const n = g.nodes[o.node]!;
    if (
      (o.name === "loss" || o.name === "correct") &&
      n.op === "reduce_sum" &&
      n.shape.length === 0
    ) {
      const input = g.nodes[n.inputs[0]!]!;
      if (input.shape.length === 1) return { name: o.name, node: input.id };
    }
    return o;
  });
  return { ...g, outputs };
}

function checkGraph(name: string, g: Graph): void {
  const problems = verifyGraph(g, { concrete: true });
  if (problems.length > 0)
    throw new CompilerBug(`${name} graph is malformed:\n${problems.join("\n")}`);
}

/** NN4013 for the first of `bindings` that no input of `models` has as a dimension. */
function unknownDimension(
  models: readonly CheckedModel[],
  bindings: Readonly<Record<string, number>>,
): Diagnostic | null {
  if (models.length === 0) return null;
  const symbols = new Set(
    models.flatMap((m) => m.inputs.flatMap((i) => i.shape.flatMap((d) => symbolsOf(d)))),
  );
  const name = Object.keys(bindings).find((n) => !symbols.has(n));
  if (name === undefined) return null;
  const known =
    symbols.size > 0
      ? `its symbolic dimensions: ${[...symbols].join(", ")}`
      : "its inputs have fixed sizes";
  return diag("NN4013", models[0]!.decl.name.span, { name, model: models[0]!.name, known });
}

/** Compiles `path` into a ModelProgram for a device with `limits`. Never throws for user errors. */
export function compileFile(path: string, opts: CompileOptions): CompileResult {
  const checked = checkFile(path, opts.text !== undefined ? { text: opts.text } : {});
  const fail = (diagnostics: readonly Diagnostic[]): CompileResult => ({
    program: null,
    lowered: null,
    diagnostics,
    sources: checked.sources,
  });
  if (!checked.program) return fail(checked.diagnostics);
  const program = checked.program;
  const runs = [...program.trains.keys()];
  // Not a place in the file: a run it lacks (or none at all) is about the whole file.
  const entrySpan = fileSpan(program.program.entry.module.span.file);
  if (runs.length === 0) return fail([diag("NN4010", entrySpan, { file: path })]);
  const run = opts.run ?? runs[0]!;
  if (!program.trains.has(run)) {
    return fail([
      diag("NN3018", entrySpan, { name: run, hint: ` (train sections: ${runs.join(", ")})` }),
    ]);
  }
  const trial = opts.trial ?? 0;
  const bindings = opts.bindings ?? {};
  const probe = lowerTrainChecked(program, run, { batch: opts.batch ?? 1, trial, bindings });
  // A size for a dimension no input of the run's models declares is a mistake (a misspelt
  // name would otherwise be ignored). Checked when the run does not lower too, against the
  // model it names (else every model): the misspelt name leaves the real dimension unbound,
  // and that NN3019 alone would not say why.
  const decl = program.trains.get(run)!.decl;
  const named = program.models.get(decl.model?.name ?? decl.name.name);
  const models = probe.train
    ? probe.train.models.map((m) => program.models.get(m)!)
    : named
      ? [named]
      : [...program.models.values()];
  const unknown = unknownDimension(models, bindings);
  if (unknown) return fail([unknown, ...probe.diagnostics]);
  if (!probe.train) return fail(probe.diagnostics);
  const batch = opts.batch ?? probe.train.configuredBatch;
  const inferBatch = opts.inferBatch ?? 256;
  // A batch given by the caller (nnc train --batch, NncModel's compile) is checked as the file's is.
  for (const [name, found] of [
    ["batch", batch],
    ["inferBatch", inferBatch],
  ] as const) {
    if (!Number.isInteger(found) || found < 1) {
      return fail([diag("NN3012", program.trains.get(run)!.decl.name.span, { name, found })]);
    }
  }
  if (!Number.isInteger(trial) || trial < 0 || trial >= probe.train.trials) {
    return fail([
      diag("NN4012", program.trains.get(run)!.decl.name.span, {
        name: run,
        trial,
        trials: probe.train.trials,
      }),
    ]);
  }
  const seed = opts.seed !== undefined ? { seed: opts.seed } : {};
  const steps = { limit: opts.limit, epochs: opts.epochs };
  const stepL = lowerTrainChecked(program, run, { batch, trial, bindings, ...seed, ...steps });
  const inferL = lowerTrainChecked(program, run, { batch: inferBatch, trial, bindings, ...seed });
  if (!stepL.train || !inferL.train) return fail([...stepL.diagnostics, ...inferL.diagnostics]);
  const st = stepL.train;
  const planOf = (g: Graph): KernelPlan | readonly Diagnostic[] => {
    const r = planKernels(g, { limits: opts.limits, sources: checked.sources });
    return r.diagnostics.length > 0 ? r.diagnostics : r.plan;
  };
  const settingsOf = (): ModelProgram["settings"] => ({
    epochs: st.epochs,
    batch,
    seed: st.seed,
    shuffle: st.shuffle,
    metrics: st.metrics,
    data: st.data,
    validate: st.validate,
    init: st.init,
    earlyStop: st.earlyStop ? { ...st.earlyStop } : null,
    augment: st.augment.map((a) => ({ name: a.name, args: { ...a.args } })),
    search: {
      trial: st.trial,
      trials: st.trials,
      choices: describeChoices(
        program.program,
        program.trains.get(run)!.decl,
        st.choices,
        checked.sources,
      ),
    },
  });
  if (st.stepSections) {
    const runSpan = program.trains.get(run)!.decl.name.span;
    const r = compileSteps(st, batch, planOf, settingsOf, path, inferBatch, runSpan);
    if (!Array.isArray(r)) {
      return {
        program: r as ModelProgram,
        lowered: { step: st, infer: inferL.train },
        diagnostics: [],
        sources: checked.sources,
      };
    }
    return fail(r as readonly Diagnostic[]);
  }
  if (!inferL.train.evaluate || !inferL.train.predict) {
    return fail([diag("NN4011", program.trains.get(run)!.decl.name.span, { name: run })]);
  }
  const step = withMetricSums(st.step, batch);
  const evaluate = perSampleOutputs(inferL.train.evaluate);
  const predictRaw = inferL.train.predict;
  const predictOut = outputNode(predictRaw, inferL.train.predictOutput ?? "output");
  const predict: Graph = { ...predictRaw, outputs: [{ name: "output", node: predictOut }] };
  for (const [name, g] of [
    ["step", step],
    ["evaluate", evaluate],
    ["predict", predict],
  ] as const) {
    checkGraph(name, g);
  }
  // No unfused fallback: a fusion bug throws (a CompilerBug) so that tests catch it.
  const plans = [planOf(step), planOf(evaluate), planOf(predict)];
  const planDiags = plans.filter((p): p is readonly Diagnostic[] => Array.isArray(p)).flat();
  // The plans share most values: a value too big for the device is reported once, by the first.
  const seen = new Set<string>();
  const distinct = planDiags.filter((d) => {
    const key = `${d.code} ${d.span.file}:${d.span.start}`;
    return !seen.has(key) && Boolean(seen.add(key));
  });
  if (distinct.length > 0) return fail(distinct);
  const [stepPlan, evalPlan, predictPlan] = plans as KernelPlan[];

  const stepInputs = stepL.train.steps[0]!.inputs;
  const features = stepInputs.filter((i) => i.feed === "features");
  const label = stepInputs.find((i) => i.feed === "label");
  const outNode = predict.nodes[predictOut]!;
  const variables = programVariables(step.variables, st);
  const perSample = (shape: readonly (number | string)[]) => shape.slice(1) as number[];
  const modelProgram: ModelProgram = {
    version: 1,
    model: st.models[0] ?? run,
    run,
    source: path,
    inputs: programInputs(features, [step]),
    classes: labelValues(label),
    output: { name: "output", shape: perSample(outNode.shape), dtype: outNode.dtype },
    variables,
    settings: settingsOf(),
    step: stepPlan!,
    stepBatch: batch,
    evaluate: evalPlan!,
    predict: predictPlan!,
    inferBatch,
  };
  return {
    program: modelProgram,
    lowered: { step: st, infer: inferL.train },
    diagnostics: [],
    sources: checked.sources,
  };
}

/**
 * The program's inputs, per sample; an integer input that indexes the rows of a table in
 * `graphs` (an embedding's token ids) gets the fewest rows of any such table as its bound.
 */
function programInputs(
  features: readonly LoweredStep["inputs"][number][],
  graphs: readonly Graph[],
): ModelProgram["inputs"] {
  return features.map((i) => {
    let below: number | undefined;
    for (const g of graphs) {
      const input = g.nodes.find((n) => n.op === "input" && n.attrs.name === i.name);
      if (!input) continue;
      for (const n of g.nodes) {
        if (n.op !== "gather" || n.inputs[1] !== input.id) continue;
        const rows = g.nodes[n.inputs[0]!]!.shape[0] as number;
        below = Math.min(below ?? rows, rows);
      }
    }
    const shape = i.shape.slice(1) as number[];
    return { name: i.name, shape, dtype: i.dtype, ...(below !== undefined ? { below } : {}) };
  });
}

/** The values of each sample's `label` input (one-hot classes, or a target's size); 0: none. */
function labelValues(label: LoweredStep["inputs"][number] | undefined): number {
  return label ? (label.shape.slice(1) as number[]).reduce((a, b) => a * b, 1) : 0;
}

/** The program's variables: each with its role (model, optimizer state, metric accumulator). */
function programVariables(vars: readonly Variable[], st: LoweredTrain): ProgramVariable[] {
  const frozen = new Set(st.freeze);
  return vars.map((v) => {
    if (!isConcrete(v.shape)) throw new CompilerBug(`variable ${v.name} has a symbolic shape`);
    const role =
      v.layer === "metrics"
        ? "metric"
        : v.name.includes("/") && !st.models.some((m) => v.name.startsWith(`${m}/`))
          ? "optimizer"
          : "model";
    return {
      name: v.name,
      kind: v.kind,
      shape: v.shape,
      dtype: v.dtype,
      init: v.init,
      layer: v.layer,
      trainable: v.kind === "param" && !frozen.has(v.layer),
      role,
    };
  });
}

/** The name of step `name`'s summed-loss accumulator in a multi-step program. */
export function stepLossSum(name: string): string {
  return `metrics.${name}.loss_sum`;
}

/**
 * A multi-step run (`step NAME { loss; optimizer; updates }` sections) as a program: one
 * training plan per step, each with its own loss accumulator, over one set of variables (a
 * variable read by several steps, such as the discriminator's weights, is one variable; each
 * step updates only its own models' parameters and its optimizer's state). There is no
 * evaluation or prediction plan: such a run has no labelled loss to evaluate.
 */
function compileSteps(
  st: LoweredTrain,
  batch: number,
  planOf: (g: Graph) => KernelPlan | readonly Diagnostic[],
  settings: () => ModelProgram["settings"],
  path: string,
  inferBatch: number,
  runSpan: Span,
): ModelProgram | readonly Diagnostic[] {
  const graphs = st.steps.map((s) => {
    if (!s.graph.outputs.some((o) => o.name === "loss")) return null;
    const g = withLossSum(s.graph, batch, stepLossSum(s.name));
    checkGraph(`step ${s.name}`, g);
    return g;
  });
  if (graphs.some((g) => g === null)) return [diag("NN4011", runSpan, { name: st.name })];
  const plans = (graphs as Graph[]).map(planOf);
  const planDiags = plans.filter((p): p is readonly Diagnostic[] => Array.isArray(p)).flat();
  if (planDiags.length > 0) return planDiags;
  const seen = new Map<string, Variable>();
  for (const g of graphs as Graph[])
    for (const v of g.variables) if (!seen.has(v.name)) seen.set(v.name, v);
  const inputs = new Map<string, LoweredStep["inputs"][number]>();
  for (const s of st.steps)
    for (const i of s.inputs) if (!inputs.has(i.name)) inputs.set(i.name, i);
  const features = [...inputs.values()].filter((i) => i.feed === "features");
  const label = inputs.get("label");
  const steps: ProgramStep[] = st.steps.map((s, k) => ({
    name: s.name,
    updates: [...s.updates],
    plan: plans[k] as KernelPlan,
    loss: stepLossSum(s.name),
  }));
  return {
    version: 1,
    model: st.name,
    run: st.name,
    source: path,
    inputs: programInputs(features, graphs as Graph[]),
    classes: labelValues(label),
    output: null,
    variables: programVariables([...seen.values()], st),
    settings: settings(),
    step: steps[0]!.plan,
    steps,
    stepBatch: batch,
    evaluate: null,
    predict: null,
    inferBatch,
  };
}

/** A step graph plus `name += loss * batch` (a multi-step run's per-step loss accumulator). */
function withLossSum(g: Graph, batch: number, name: string): Graph {
  const b = builderFrom(g);
  const loss = outputNode(g, "loss");
  const span = b.node(loss).span;
  accumulate(b, name, b.add("mul", [loss, b.constant(batch, span)], {}, span), span);
  return b.build();
}

/**
 * `hidden = 64`-style words for a trial's choices: the name written before each `search` (the
 * argument or setting it fills) and the source text of the chosen option.
 */
function describeChoices(
  program: Parameters<typeof searchesOf>[0],
  decl: Parameters<typeof searchesOf>[1],
  choices: readonly number[],
  sources: SourceMap,
): string[] {
  return searchesOf(program, decl).map((s, k) => {
    const file = sources.get(s.span.file);
    const option = s.options.items[choices[k] ?? 0];
    if (!file || !option) return `search ${k + 1}: option ${(choices[k] ?? 0) + 1}`;
    const text = file.text.slice(option.span.start, option.span.end).trim();
    const lineStart = file.text.lastIndexOf("\n", s.span.start - 1) + 1;
    const before = file.text.slice(lineStart, s.span.start);
    const name = /([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*$/.exec(before)?.[1] ?? `search ${k + 1}`;
    return `${name} = ${text}`;
  });
}
