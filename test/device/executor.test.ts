/**
 * @file The executor on the device: a small MLP trained for several SGD steps (GraphBuilder,
 * addGradients, updates) against the reference iterated on the host, several steps in one
 * submission, variable init determinism, pipeline caching by WGSL text, dispose semantics,
 * and the message of a WGSL compile error.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { addGradients } from "../../compiler/autodiff/grad.js";
import { planGraph } from "../../compiler/codegen/index.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { evaluateOutputs } from "../../compiler/reference.js";
import {
  DeviceError,
  Executor,
  type HostArray,
  initialValues,
  type KernelPlan,
  pipelineCount,
} from "../../runtime/index.js";
import {
  assertClose,
  checkOnDevice,
  device,
  randomFeeds,
  randomArray,
  rng,
  span,
  releaseDevice,
} from "./util.js";

/** relu MLP 5 -> 7 -> 3 with a mean squared error loss and SGD (lr 0.1) updates. */
function mlp(batch: number): Graph {
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [batch, 5], dtype: "f32" }, span);
  const y = b.source("input", "y", { shape: [batch, 3], dtype: "f32" }, span);
  const v = (name: string, shape: number[]) =>
    b.variable({
      name,
      kind: "param",
      shape,
      dtype: "f32",
      init: { dist: "normal", mean: 0, std: 0.5 },
      layer: name.split(".")[0]!,
      span,
    });
  const w1 = v("dense.w", [5, 7]);
  const b1 = v("dense.b", [7]);
  const w2 = v("dense_1.w", [7, 3]);
  const b2 = v("dense_1.b", [3]);
  const mm = (a: number, c: number) =>
    b.add("matmul", [a, c], { transA: false, transB: false }, span);
  const h = b.add("relu", [b.add("add", [mm(x, w1), b1], {}, span)], {}, span);
  const o = b.add("add", [mm(h, w2), b2], {}, span);
  const d = b.add("sub", [o, y], {}, span);
  const sq = b.add("square", [d], {}, span);
  const sum = b.add("reduce_sum", [sq], { axes: [0, 1], keepDims: false }, span);
  const loss = b.add("mul", [sum, b.constant(1 / (batch * 3), span)], {}, span);
  const params = [w1, b1, w2, b2];
  const names = ["dense.w", "dense.b", "dense_1.w", "dense_1.b"];
  const grads = addGradients(b, loss, params);
  const lr = b.constant(0.1, span);
  params.forEach((p, k) => {
    const step = b.add("mul", [grads[k]!, lr], {}, span);
    b.update(names[k]!, b.add("sub", [p, step], {}, span));
  });
  b.output("loss", loss);
  return b.build();
}

test("an MLP trains for several steps like the reference", async () => {
  const dev = await device();
  const g = mlp(8);
  const plan = planGraph(g, { limits: dev.limits });
  assert.ok(plan.updates.length <= 4); // the others are written in place
  const ex = await Executor.create(dev, plan);
  ex.initVariables(42);
  const r = rng(1);
  const x = randomArray(40, r);
  const y = randomArray(24, r);
  ex.writeInput("x", x);
  ex.writeInput("y", y);
  const vars = new Map<string, ArrayLike<number>>();
  for (const v of plan.variables) vars.set(v.name, await ex.getVariable(v.name));
  const losses: number[] = [];
  for (let step = 0; step < 5; step++) {
    const ref = evaluateOutputs(g, {
      inputs: new Map([
        ["x", x],
        ["y", y],
      ]),
      variables: vars,
    });
    const got = await ex.run();
    assertClose(`loss at step ${step}`, got.loss!, ref.get("loss")!);
    losses.push(got.loss![0]!);
    for (const v of plan.variables) {
      const next = ref.get(`update:${v.name}`)!.data;
      assertClose(`${v.name} after step ${step}`, await ex.getVariable(v.name), next, {
        rtol: 1e-4,
      });
      vars.set(v.name, Float32Array.from(next));
    }
  }
  assert.ok(losses[4]! < losses[0]!, `loss decreases: ${losses.join(", ")}`);
  ex.dispose();
});

test("a small CNN's gradients (conv, pools, softmax-style loss) match the reference", async () => {
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [3, 9, 8, 2], dtype: "f32" }, span);
  const p = (name: string, shape: number[]) =>
    b.variable({
      name,
      kind: "param",
      shape,
      dtype: "f32",
      init: { dist: "constant", value: 0 },
      layer: name.split(".")[0]!,
      span,
    });
  const w = p("conv2d.w", [3, 3, 2, 4]);
  const wd = p("dense.w", [4 * 4 * 4, 5]);
  const conv = b.add("conv2d", [x, w], { strides: [1, 1], pads: [1, 1, 1, 1] }, span);
  const act = b.add("tanh", [conv], {}, span);
  const pooled = b.add(
    "maxpool2d",
    [act],
    { window: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
    span,
  );
  const avg = b.add(
    "avgpool2d",
    [pooled],
    { window: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] },
    span,
  );
  const flat = b.add("reshape", [avg], { shape: [3, 64] }, span);
  const logits = b.add("matmul", [flat, wd], { transA: false, transB: false }, span);
  const mx = b.add("reduce_max", [logits], { axes: [1], keepDims: true }, span);
  const z = b.add("sub", [logits, mx], {}, span);
  const lse = b.add(
    "log",
    [b.add("reduce_sum", [b.add("exp", [z], {}, span)], { axes: [1], keepDims: true }, span)],
    {},
    span,
  );
  const logp = b.add("sub", [z, lse], {}, span);
  const eye = b.source("input", "onehot", { shape: [3, 5], dtype: "f32" }, span);
  const nll = b.add(
    "neg",
    [
      b.add(
        "reduce_sum",
        [b.add("mul", [logp, eye], {}, span)],
        { axes: [0, 1], keepDims: false },
        span,
      ),
    ],
    {},
    span,
  );
  const [gw, gd] = addGradients(b, nll, [w, wd]);
  b.output("loss", nll);
  b.output("gw", gw!);
  b.output("gd", gd!);
  const g = b.build();
  const feeds = randomFeeds(g, 5, { onehot: [0, 1] });
  await checkOnDevice(g, feeds, { rtol: 1e-3 });
});

test("several steps in one submission equal as many runs", async () => {
  const dev = await device();
  const plan = planGraph(mlp(4), { limits: dev.limits });
  const a = await Executor.create(dev, plan);
  const b = await Executor.create(dev, plan);
  const r = rng(2);
  const x = randomArray(20, r);
  const y = randomArray(12, r);
  for (const ex of [a, b]) {
    ex.initVariables(7);
    ex.writeInput("x", x);
    ex.writeInput("y", y);
  }
  for (let k = 0; k < 3; k++) await a.run({ outputs: [] });
  await b.submit(3);
  for (const v of plan.variables) {
    assert.equal([...(await b.getVariable(v.name))], [...(await a.getVariable(v.name))], v.name);
  }
  a.dispose();
  b.dispose();
});

test("variable initialisation is deterministic and follows the InitSpec", async () => {
  const dev = await device();
  const plan = planGraph(mlp(2), { limits: dev.limits });
  const ex = await Executor.create(dev, plan);
  ex.initVariables(3);
  const w = await ex.getVariable("dense.w");
  assert.equal([...w], [...initialValues(plan.variables[0]!, 3)]);
  ex.initVariables(4);
  assert.not.equal([...(await ex.getVariable("dense.w"))], [...w]);
  const big = initialValues(
    { name: "n", shape: [20000], dtype: "f32", init: { dist: "normal", mean: 1, std: 2 } },
    1,
  );
  const values = Array.from(big);
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  assert.ok(Math.abs(mean - 1) < 0.05 && Math.abs(sd - 2) < 0.05, `${mean} ${sd}`);
  const tn = initialValues(
    { name: "t", shape: [5000], dtype: "f32", init: { dist: "truncated_normal", mean: 0, std: 1 } },
    1,
  );
  assert.ok(tn.every((v) => Math.abs(v) <= 2));
  const u = initialValues(
    { name: "u", shape: [5000], dtype: "f32", init: { dist: "uniform", lo: -3, hi: -1 } },
    1,
  );
  assert.ok(u.every((v) => v >= -3 && v < -1));
  ex.dispose();
});

test("pipelines are cached by WGSL text across executors", async () => {
  const dev = await device();
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [3, 11], dtype: "f32" }, span);
  const z = b.source("input", "z", { shape: [3, 11], dtype: "f32" }, span);
  b.output("a", b.add("tanh", [x], {}, span));
  b.output("b", b.add("tanh", [z], {}, span)); // the same WGSL
  const plan = planGraph(b.build(), { limits: dev.limits, fuse: false });
  assert.is(plan.kernels.length, 2);
  assert.is(plan.kernels[0]!.wgsl, plan.kernels[1]!.wgsl);
  const before = pipelineCount(dev);
  const e1 = await Executor.create(dev, plan);
  assert.is(pipelineCount(dev), before + 1);
  const e2 = await Executor.create(dev, plan);
  assert.is(pipelineCount(dev), before + 1);
  e2.writeInput("x", new Float32Array(33).fill(0.5));
  e2.writeInput("z", new Float32Array(33).fill(-1));
  const out = await e2.run({ outputs: ["b"] });
  assert.equal(Object.keys(out), ["b"]);
  assertClose("b", out.b!, new Array(33).fill(Math.tanh(-1)));
  e1.dispose();
  e2.dispose();
});

test("dispose frees the executor; later calls throw a clear error", async () => {
  const dev = await device();
  const ex = await Executor.create(dev, planGraph(mlp(2), { limits: dev.limits }));
  ex.dispose();
  ex.dispose(); // idempotent
  assert.ok(ex.isDisposed);
  for (const call of [
    () => ex.run(),
    () => ex.getVariable("dense.w"),
    async () => ex.writeInput("x", new Float32Array(10)),
    async () => ex.initVariables(1),
  ]) {
    try {
      await call();
      assert.unreachable("should throw");
    } catch (e) {
      assert.instance(e, DeviceError);
      assert.match((e as Error).message, /disposed/);
    }
  }
});

test("bad names and sizes are clear errors", async () => {
  const dev = await device();
  const ex = await Executor.create(dev, planGraph(mlp(2), { limits: dev.limits }));
  assert.throws(() => ex.writeInput("nope", [1]), /no input named 'nope' \(inputs: x, y\)/);
  assert.throws(
    () => ex.writeInput("x", new Float32Array(3)),
    /shape \[2, 5\] \(10 values\) but 3/,
  );
  assert.throws(() => ex.setVariable("dense.q", [1]), /no variable named 'dense.q'/);
  await ex.run({ outputs: ["nope"] }).then(
    () => assert.unreachable("should throw"),
    (e: Error) => assert.match(e.message, /no output named 'nope' \(outputs: loss\)/),
  );
  ex.dispose();
});

test("a WGSL compile error shows [line:col], the numbered shader and the .nn location", async () => {
  const dev = await device();
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [4], dtype: "f32" }, span);
  b.output("y", b.add("exp", [x], {}, span));
  const plan = planGraph(b.build(), { limits: dev.limits, fuse: false });
  const k = plan.kernels[0]!;
  const broken: KernelPlan = {
    ...plan,
    kernels: [{ ...k, location: "model.nn:3:7", wgsl: k.wgsl.replace("exp(v0)", "exp(v0, 1)") }],
  };
  const line = broken.kernels[0]!.wgsl.split("\n").findIndex((l) => l.includes("exp(v0, 1)")) + 1;
  try {
    await Executor.create(dev, broken);
    assert.unreachable("should throw");
  } catch (e) {
    assert.instance(e, DeviceError);
    const m = (e as Error).message;
    assert.match(m, "kernel exp_1 for model.nn:3:7 failed to compile");
    assert.match(m, new RegExp(`\\[${line}:\\d+\\] `));
    assert.match(m, `${String(line).padStart(2)} |   out[i] = exp(v0, 1);`);
    assert.match(m, " 1 | @group(0) @binding(0)");
  }
});

test("outputs are read before the updates of the same step", async () => {
  const dev = await device();
  const b = new GraphBuilder();
  const s = b.variable({
    name: "count",
    kind: "state",
    shape: [2],
    dtype: "i32",
    init: { dist: "constant", value: 5 },
    layer: "counter",
    span,
  });
  const next = b.add("add", [s, b.constant(1, span, [], "i32")], {}, span);
  b.update("count", next);
  b.output("old", s);
  b.output("new", next);
  const ex = await Executor.create(dev, planGraph(b.build(), { limits: dev.limits }));
  ex.initVariables(0);
  const r1 = await ex.run();
  assert.equal([...r1.old!, ...r1.new!], [5, 5, 6, 6]);
  assert.instance(r1.old, Int32Array);
  const r2 = await ex.run();
  assert.equal([...r2.old!], [6, 6]);
  assert.equal([...(await ex.getVariable("count"))], [7, 7]);
  ex.dispose();
});

test("a destroyed device is a clear error", async () => {
  const { acquireDevice } = await import("../../runtime/index.js");
  const other = await acquireDevice();
  const ex = await Executor.create(other, planGraph(mlp(2), { limits: other.limits }));
  other.destroy();
  await ex.run().then(
    () => assert.unreachable("should throw"),
    (e: Error) => {
      assert.instance(e, DeviceError);
      assert.match(e.message, /device was lost: the device was destroyed/);
    },
  );
});

test.after(releaseDevice);

test.run();

export type { HostArray };
