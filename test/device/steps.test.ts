/**
 * @file Multi-step runs (a GAN's `step` sections) on the device. One training batch of a tiny
 * GAN through NncModel (the path `nnc train` and built modules take) updates every parameter as
 * the float64 reference interpreter does when it runs the lowered step graphs one after the
 * other; the step that does not update a model leaves its weights bit for bit as they were;
 * each step computes gradients only for its own models' parameters (the generator's gradient
 * still flows through the discriminator). The `noise` a step draws on the device has the
 * declared distribution, is fresh every step and in every step of a batch, and repeats for the
 * same seed.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { planGraph } from "../../compiler/codegen/index.js";
import { compileFile } from "../../compiler/compile.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { verifyGraph } from "../../compiler/ir/verify.js";
import { evaluateOutputs } from "../../compiler/reference.js";
import { Executor, initialValues } from "../../runtime/executor.js";
import { NncModel } from "../../runtime/model.js";
import type { ModelProgram } from "../../runtime/program.js";
import { assertClose, device, releaseDevice, rng, tinyGan } from "./util.js";

test.after(releaseDevice);

async function compileTiny(opts: { batch?: number; settings?: string } = {}) {
  const dev = await device();
  const r = compileFile("tiny-gan.nn", {
    text: tinyGan(opts.settings),
    limits: dev.limits,
    ...(opts.batch ? { batch: opts.batch } : {}),
  });
  assert.equal(r.diagnostics, []);
  return { program: r.program!, steps: r.lowered!.step.steps };
}

const paramsOf = (p: ModelProgram, model: string) =>
  p.variables.filter((v) => v.role === "model" && v.name.startsWith(`${model}/`));

test("a tiny GAN compiles to one plan per step over one set of variables", async () => {
  const { program, steps } = await compileTiny();
  assert.equal(
    program.steps!.map((s) => [s.name, s.updates, s.loss]),
    [
      ["disc", ["Disc"], "metrics.disc.loss_sum"],
      ["gen", ["Gen"], "metrics.gen.loss_sum"],
    ],
  );
  assert.is(program.step, program.steps![0]!.plan);
  assert.is(program.evaluate, null);
  assert.is(program.predict, null);
  assert.is(program.classes, 0, "no step reads labels");
  // Each step updates only its own models' parameters and its optimizer's state.
  for (const s of steps) {
    const other = s.name === "disc" ? "Gen/" : "Disc/";
    const targets = s.graph.updates.map((u) => u.target);
    assert.ok(targets.length > 0);
    assert.ok(
      targets.every((t) => !t.startsWith(other) && !t.endsWith(`/${other}dense.w`)),
      `${s.name} updates ${targets.join(", ")}`,
    );
  }
  // Gradients only for the updated models: no node of a step's graph, other than the read of
  // the variable itself, has the shape of the other model's weights (their gradients would).
  for (const s of steps) {
    const frozen = s.name === "disc" ? "Gen" : "Disc";
    for (const v of paramsOf(program, frozen).filter((v) => v.shape.length === 2)) {
      const same = s.graph.nodes.filter((n) => JSON.stringify(n.shape) === JSON.stringify(v.shape));
      assert.is(same.length, 1, `${s.name}: nodes shaped like ${v.name}`);
    }
  }
});

/** Runs `graph` on the reference with `vars` (updated in place) and the step's inputs. */
function referenceStep(
  graph: Graph,
  vars: Map<string, Float64Array | Float32Array>,
  inputs: Map<string, ArrayLike<number>>,
): number {
  const out = evaluateOutputs(graph, { inputs, variables: vars });
  for (const u of graph.updates) vars.set(u.target, out.get(`update:${u.target}`)!.data);
  return out.get("loss")!.data[0]!;
}

test("one GAN batch on the device updates both models as the reference runs the two steps", async () => {
  const dev = await device();
  const { program, steps } = await compileTiny();
  const seed = 5;
  const r = rng(11);
  const x = Float32Array.from({ length: 4 * 784 }, () => r());
  // Adam's second moments start positive, so its update is a smooth function of the gradient.
  const start = new Map<string, Float32Array>();
  for (const v of program.variables) {
    const values = initialValues(v, seed) as Float32Array;
    if (v.name.startsWith("adam.v/")) values.forEach((_, k) => (values[k] = 0.5 + 0.5 * r()));
    start.set(v.name, values);
  }
  const setUp = async (p: ModelProgram) => {
    const m = await NncModel.create(p, dev, { seed });
    const known = new Set(p.steps!.flatMap((s) => s.plan.variables.map((v) => v.name)));
    m.setWeights(
      [...start]
        .filter(([name]) => known.has(name))
        .map(([name, data]) => ({ name, dtype: "F32", shape: [data.length], data })),
    );
    return m;
  };

  const both = await setUp(program);
  const discOnly = await setUp({
    ...program,
    step: program.steps![0]!.plan,
    steps: [program.steps![0]!],
  });
  try {
    const got = await both.trainStep(x, new Float32Array(0));
    await discOnly.trainStep(x, new Float32Array(0));

    // The reference: the discriminator's step, then the generator's on its updated weights.
    const vars = new Map<string, Float64Array | Float32Array>(start);
    const inputs = new Map<string, ArrayLike<number>>([
      ["image", x],
      ["step", [1]],
    ]);
    const lossD = referenceStep(steps[0]!.graph, vars, inputs);
    const afterD = new Map(vars);
    const lossG = referenceStep(steps[1]!.graph, vars, inputs);
    assertClose("loss of disc", [got.losses!.disc!], [lossD], { rtol: 1e-4 });
    assertClose("loss of gen", [got.losses!.gen!], [lossG], { rtol: 1e-4 });
    assertClose("loss", [got.loss], [lossD + lossG], { rtol: 1e-4 });
    assert.ok(Number.isNaN(got.accuracy));

    const weights = new Map((await both.getWeights()).map((t) => [t.name, t.data]));
    const discWeights = new Map((await discOnly.getWeights()).map((t) => [t.name, t.data]));
    for (const v of program.variables.filter((v) => v.role === "model")) {
      const w = weights.get(v.name)!;
      assertClose(v.name, w, vars.get(v.name)!, { rtol: 2e-3, atol: 2e-5 });
      const moved = w.some((value, k) => value !== start.get(v.name)![k]);
      assert.ok(moved, `${v.name} was trained`);
      if (v.name.startsWith("Disc/")) {
        // The generator's step leaves the discriminator bit for bit as its own step left it.
        assert.equal([...w], [...discWeights.get(v.name)!], `${v.name} after the generator's step`);
        assertClose(`${v.name} after disc`, w, afterD.get(v.name)!, { rtol: 2e-3, atol: 2e-5 });
      } else {
        // The discriminator's step leaves the generator exactly as it was.
        assert.equal([...discWeights.get(v.name)!], [...start.get(v.name)!], v.name);
      }
    }
  } finally {
    both.dispose();
    discOnly.dispose();
  }
});

/**
 * The lowered graph up to step `name`'s scaled noise (`z`), as its own graph with output `z`
 * [batch, 8]: the noise exactly as the step computes it, from its `step` input.
 */
function noiseGraph(steps: readonly { name: string; graph: Graph }[], name: string): Graph {
  const g = steps.find((s) => s.name === name)!.graph;
  const random = g.nodes.find((n) => n.op === "random_normal")!;
  assert.is(g.nodes[random.inputs[0]!]!.op, "input", "the counter is the step input");
  const scaled = g.nodes.find((n) => n.op === "mul" && n.inputs.includes(random.id))!;
  const nodes = g.nodes.slice(0, scaled.id + 1);
  const names = new Set(
    nodes
      .filter((n) => n.op === "param" || n.op === "state")
      .map((n) => (n.attrs as { name: string }).name),
  );
  const out: Graph = {
    nodes,
    variables: g.variables.filter((v) => names.has(v.name)),
    outputs: [{ name: "z", node: scaled.id }],
    updates: [],
  };
  assert.equal(verifyGraph(out, { concrete: true }), []);
  return out;
}

function stats(values: ArrayLike<number>): { mean: number; std: number; within1: number } {
  let sum = 0;
  let sq = 0;
  let within1 = 0;
  for (let k = 0; k < values.length; k++) {
    sum += values[k]!;
    sq += values[k]! * values[k]!;
  }
  const mean = sum / values.length;
  const std = Math.sqrt(sq / values.length - mean * mean);
  for (let k = 0; k < values.length; k++) if (Math.abs(values[k]! - mean) < std) within1++;
  return { mean, std, within1: within1 / values.length };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const sa = stats(a);
  const sb = stats(b);
  let c = 0;
  for (let k = 0; k < a.length; k++) c += (a[k]! - sa.mean) * (b[k]! - sb.mean);
  return c / a.length / (sa.std * sb.std);
}

test("noise: normal(std: 0.5) drawn on the device per step, fresh each step, repeatable", async () => {
  const dev = await device();
  const batch = 512; // 4,096 values per step
  const { steps } = await compileTiny({ batch });
  const { steps: reseeded } = await compileTiny({ batch, settings: "seed = 9" });
  const draw = async (g: Graph, counters: number[]): Promise<Float32Array[]> => {
    const ex = await Executor.create(dev, planGraph(g, { limits: dev.limits }));
    try {
      const out: Float32Array[] = [];
      for (const c of counters) {
        ex.writeInput("step", [c]);
        out.push((await ex.run({ outputs: ["z"] })).z as Float32Array);
      }
      return out;
    } finally {
      ex.dispose();
    }
  };
  const disc = noiseGraph(steps, "disc");
  const counters = Array.from({ length: 16 }, (_, k) => k + 1);
  const draws = await draw(disc, counters);
  const all = new Float32Array(draws.length * draws[0]!.length);
  draws.forEach((d, k) => all.set(d, k * d.length));
  const s = stats(all); // 65,536 values
  assert.ok(Math.abs(s.mean) < 0.01, `mean ${s.mean}`); // standard error 0.002
  assert.ok(Math.abs(s.std - 0.5) < 0.006, `std ${s.std}`); // standard error 0.0014
  assert.ok(Math.abs(s.within1 - 0.6827) < 0.01, `within one std: ${s.within1}`);
  // Each step draws afresh: consecutive steps are uncorrelated (standard error 0.016).
  for (let k = 1; k < draws.length; k++) {
    assert.ok(Math.abs(correlation(draws[k - 1]!, draws[k]!)) < 0.08, `steps ${k} and ${k + 1}`);
  }
  // The same seed and step repeat bit for bit, with no host upload but the counter.
  const [again] = await draw(disc, [3]);
  assert.equal([...again!], [...draws[2]!]);
  // The reference interpreter draws the same numbers (to float precision).
  const image = new Float32Array(batch * 784);
  const want = evaluateOutputs(disc, {
    inputs: new Map<string, ArrayLike<number>>([
      ["step", [3]],
      ["image", image],
    ]),
    variables: new Map(),
  }).get("z")!.data;
  assertClose("noise against the reference", again!, want, { rtol: 1e-4, atol: 1e-5 });
  // The generator's step of the same batch draws its own noise; another seed, other noise.
  const [gen] = await draw(noiseGraph(steps, "gen"), [3]);
  assert.ok(Math.abs(correlation(gen!, draws[2]!)) < 0.08, "disc and gen noise of one batch");
  const [other] = await draw(noiseGraph(reseeded, "disc"), [3]);
  assert.ok(Math.abs(correlation(other!, draws[2]!)) < 0.08, "another seed");
});

test.run();
