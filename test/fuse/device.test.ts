/**
 * @file Fused kernels on the device against the float64 reference: elementwise groups on
 * both paths (vec4 lanes, and four scalars per invocation for odd sizes) with broadcasting
 * and several outputs, grids folded into 2-D, reductions with prologue and epilogue on both
 * paths (one pass, and partial results then their combination), argmax, serial regions (a
 * softmax cross-entropy forward and backward), epilogues of matmul and conv, and in-place
 * updates over several steps. Each graph also runs unfused, and both must agree with the
 * reference. Two reductions meeting in one node (a residual's bias gradient, an LSTM's
 * gradient summed over time steps) are two kernels; the training steps of
 * examples/residual.nn and examples/rows.nn, fused, match the reference.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { addGradients } from "../../compiler/autodiff/grad.js";
import { planGraph } from "../../compiler/codegen/index.js";
import { compileFile } from "../../compiler/compile.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import type { Pool2dAttrs } from "../../compiler/primitives.js";
import { evaluateOutputs } from "../../compiler/reference.js";
import { Executor } from "../../runtime/index.js";
import type { DeviceLimitsLike } from "../../runtime/plan.js";
import {
  assertClose,
  checkOnDevice,
  device,
  graphOf,
  randomArray,
  randomFeeds,
  releaseDevice,
  rng,
  span,
} from "../device/util.js";

test.after(releaseDevice);

async function both(g: Graph, seed = 1, ranges: Record<string, [number, number]> = {}) {
  const dev = await device();
  const feeds = randomFeeds(g, seed, ranges);
  await checkOnDevice(g, feeds, {}, dev.limits);
  // The unfused plan is the baseline the fused one replaces.
  const plain = planGraph(g, { limits: dev.limits, fuse: false });
  const fused = planGraph(g, { limits: dev.limits });
  assert.ok(fused.kernels.length <= plain.kernels.length);
  return fused;
}

test("elementwise: vec4 lanes with a broadcast bias and two outputs", async () => {
  const g = (() => {
    const b = new GraphBuilder();
    const x = b.source("input", "x", { shape: [33, 24], dtype: "f32" }, span);
    const bias = b.source("input", "bias", { shape: [24], dtype: "f32" }, span);
    const col = b.source("input", "col", { shape: [33, 1], dtype: "f32" }, span);
    const z = b.add("add", [b.add("mul", [x, col], {}, span), bias], {}, span);
    b.output("a", b.add("relu", [z], {}, span));
    b.output("b", b.add("sigmoid", [b.add("mul", [z, b.constant(0.5, span)], {}, span)], {}, span));
    return b.build();
  })();
  const plan = await both(g);
  assert.is(plan.kernels.length, 1);
  assert.match(plan.kernels[0]!.wgsl, "vec4<f32>");
});

test("elementwise: odd sizes run four scalars per invocation (where, pow, cast, compare)", async () => {
  const g = graphOf(
    [{ shape: [7, 5, 3] }, { shape: [5, 1] }, { shape: [7, 5, 3] }],
    (b, [x, y, z]) => {
      const c = b.add("greater", [x!, y!], {}, span);
      const p = b.add("pow", [b.add("abs", [z!], {}, span), b.constant(1.5, span)], {}, span);
      const i = b.add(
        "cast",
        [b.add("floor", [b.add("mul", [x!, b.constant(4, span)], {}, span)], {}, span)],
        { to: "i32" },
        span,
      );
      const f = b.add("cast", [i], { to: "f32" }, span);
      return b.add("where", [c, p, f], {}, span);
    },
  );
  const plan = await both(g);
  assert.is(plan.kernels.length, 1);
  assert.not.match(plan.kernels[0]!.wgsl, "vec4");
});

test("elementwise: grids past the workgroup limit fold into 2-D", async () => {
  const dev = await device();
  const g = graphOf([{ shape: [5000] }, { shape: [5000] }], (b, [x, y]) =>
    b.add("tanh", [b.add("add", [x!, y!], {}, span)], {}, span),
  );
  const limits = { ...dev.limits, maxComputeWorkgroupsPerDimension: 7 };
  const plan = planGraph(g, { limits });
  assert.ok(plan.kernels[0]!.dispatch[1] > 1);
  await checkOnDevice(g, randomFeeds(g, 3), {}, limits);
});

test("reductions: prologue and epilogue, in one pass and in two", async () => {
  const cases: [number[], number[]][] = [
    [[37, 13], [1]],
    [
      [64, 26, 26, 3],
      [0, 1, 2],
    ], // 43,264 elements into 3 sums: two passes
    [[6000], [0]],
    [[9, 700, 2], [1]],
  ];
  for (const [shape, axes] of cases) {
    const g = graphOf(
      [{ shape: [...shape] }, { shape: [shape[shape.length - 1]!] }],
      (b, [x, s]) => {
        const e = b.add("mul", [b.add("exp", [x!], {}, span), s!], {}, span);
        const r = b.add("reduce_sum", [e], { axes: [...axes], keepDims: false }, span);
        return b.add("log", [r], {}, span);
      },
    );
    const plan = await both(g, 2, { x1: [0.5, 1] });
    const partial = plan.kernels.some((k) => k.name.endsWith("_partial"));
    const count = axes.reduce((a, k) => a * shape[k]!, 1);
    assert.is(partial, count >= 4096, `${shape}: two passes`);
  }
  const mx = graphOf([{ shape: [3, 5000] }], (b, [x]) =>
    b.add("reduce_max", [b.add("neg", [x!], {}, span)], { axes: [1], keepDims: true }, span),
  );
  await both(mx);
  const am = graphOf([{ shape: [300, 17] }], (b, [x]) =>
    b.add("argmax", [b.add("square", [x!], {}, span)], { axis: 1 }, span),
  );
  await both(am);
});

test("a sum over leading axes keeping a multiple of 4 values reads vec4 in its partial pass", async () => {
  // [shape, vec4 partial pass]: a conv bias gradient's shape, then kept sizes that are not
  // a multiple of 4 or not contiguous (the sum over the middle axis).
  const cases: [number[], number[], boolean][] = [
    [[64, 26, 26, 8], [0, 1, 2], true],
    [[5000, 6], [0], false],
    [[3, 5000, 4], [1], false],
  ];
  for (const [shape, axes, vec4] of cases) {
    const g = graphOf([{ shape }], (b, [x]) =>
      b.add("log", [b.add("reduce_sum", [x!], { axes, keepDims: false }, span)], {}, span),
    );
    const plan = await both(g, 4, { x0: [0, 1] });
    const partial = plan.kernels.find((k) => k.name.endsWith("_partial"))!;
    assert.ok(partial, `${shape}: two passes`);
    assert.is(partial.wgsl.includes("array<vec4<f32>>"), vec4, `${shape}: vec4 ${vec4}`);
  }
});

test("two reductions into one add: two kernels, one pass and two passes, and a stored producer", async () => {
  // [rows, cols] summed over rows: 64 rows in one pass, 5000 in partial sums then their total.
  for (const [rows, cols, kernels] of [
    [64, 300, 2],
    [5000, 3, 4],
  ] as const) {
    const g = graphOf(
      [{ shape: [rows, cols] }, { shape: [rows, cols] }, { shape: [cols] }],
      (b, [a, x, c]) => {
        const sa = b.add(
          "reduce_sum",
          [b.add("exp", [a!], {}, span)],
          { axes: [0], keepDims: false },
          span,
        );
        const sx = b.add(
          "reduce_max",
          [b.add("square", [x!], {}, span)],
          { axes: [0], keepDims: false },
          span,
        );
        return b.add("div", [b.add("add", [sa, sx], {}, span), c!], {}, span);
      },
    );
    const plan = await both(g, 5, { x2: [1, 2] });
    assert.is(plan.kernels.length, kernels, `${rows}x${cols}`);
  }
  // The add's other input is an elementwise value stored for another reader: it joins the
  // reduction's epilogue, one kernel writing both.
  const b = new GraphBuilder();
  const a = b.source("input", "a", { shape: [64, 300], dtype: "f32" }, span);
  const z = b.source("input", "z", { shape: [300], dtype: "f32" }, span);
  const e = b.add("exp", [z], {}, span);
  b.output("e", e);
  b.output(
    "y",
    b.add("add", [b.add("reduce_sum", [a], { axes: [0], keepDims: false }, span), e], {}, span),
  );
  const plan = await both(b.build(), 6);
  assert.is(plan.kernels.length, 1);
});

/**
 * One training step of an example, fused, against the reference: the loss, the accuracy
 * count and every updated variable. Adam's second moments start positive and the step
 * counter at 5, so the update is a smooth function of the gradient. Pixels are in [0, 1] as
 * in the data: in [-1, 1] the LSTM's float32 gradient through 28 steps drifts past the
 * tolerance, by the same amount fused and unfused.
 */
async function exampleStep(
  path: string,
  batch: number,
  seed: number,
  limitsOf: (l: DeviceLimitsLike) => DeviceLimitsLike = (l) => l,
): Promise<number> {
  const dev = await device();
  const limits = limitsOf(dev.limits);
  const r = compileFile(path, { limits, batch });
  assert.ok(r.lowered, path);
  const g = r.lowered.step.step;
  const ranges: Record<string, [number, number]> = { step: [5, 5], image: [0, 1], label: [0, 1] };
  for (const v of g.variables) if (v.name.startsWith("adam.v/")) ranges[v.name] = [0.5, 1];
  const feeds = randomFeeds(g, seed, ranges);
  const plan = planGraph(g, { limits });
  const ex = await Executor.create(dev, plan);
  try {
    for (const [k, d] of feeds.inputs) ex.writeInput(k, d);
    for (const [k, d] of feeds.variables) ex.setVariable(k, d);
    const got = await ex.run();
    const want = evaluateOutputs(g, feeds);
    for (const o of g.outputs) assertClose(`${path} ${o.name}`, got[o.name]!, want.get(o.name)!);
    for (const u of g.updates) {
      const w = want.get(`update:${u.target}`)!;
      assertClose(`${path} ${u.target}`, await ex.getVariable(u.target), w);
    }
  } finally {
    ex.dispose();
  }
  return plan.kernels.length;
}

test("examples/residual.nn: one fused training step equals the reference", async () => {
  const n = await exampleStep("examples/residual.nn", 2, 7);
  assert.ok(n < 140, `${n} kernels`);
});

test("examples/rows.nn: one fused training step equals the reference", async () => {
  // 20 rows: the gate gradients [20, 256] are over SERIAL_MAX, so their sums over the batch
  // are reduce kernels, added over the 28 time steps.
  const n = await exampleStep("examples/rows.nn", 20, 8);
  assert.ok(n < 900, `${n} kernels`);
});

test("examples/mnist.nn: the ReLU mask is the max-pool gradient's epilogue; a fused step equals the reference", async () => {
  const dev = await device();
  for (const limits of [dev.limits, { ...dev.limits, maxStorageBuffersPerShaderStage: 4 }]) {
    const plan = compileFile("examples/mnist.nn", { limits, batch: 2 }).program!.step;
    const grad = plan.kernels.filter((k) => k.op === "maxpool2d_grad");
    assert.is(grad.length, 1);
    assert.match(grad[0]!.wgsl, "nnc_epilogue4(");
    assert.ok(
      plan.kernels.every((k) => k.op !== "mul" && !/greater/.test(k.name)),
      plan.kernels.map((k) => k.name).join(", "),
    );
  }
  await exampleStep("examples/mnist.nn", 2, 12);
});

test("the updates of several parameters share a kernel; MLP and CNN steps equal the reference", async () => {
  const dev = await device();
  // On the device's 16 storage buffers both dense kernels' Adam updates (weight, m, v and
  // their gradient, 4 buffers each, plus the step) run side by side in one kernel.
  const plan = compileFile("examples/mlp.nn", { limits: dev.limits, batch: 64 }).program!.step;
  const writers = (name: string) => {
    const b = plan.variables.find((x) => x.name === name)!.buffer;
    return plan.kernels.filter((k) =>
      k.bindings.some((x) => x.buffer === b && x.access === "read_write"),
    );
  };
  const [w1] = writers("dense.w");
  assert.equal(writers("dense_1.w"), [w1]);
  assert.equal(writers("adam.v/dense_1.w"), [w1]);
  assert.ok(w1!.bindings.length <= dev.limits.maxStorageBuffersPerShaderStage);
  // Steps equal the reference on the device's limits and on WebGPU's default 4 (compatibility)
  // and 8 (core) storage buffers, where smaller pieces share kernels as they fit.
  const most = (n: number) => (l: DeviceLimitsLike) => ({
    ...l,
    maxStorageBuffersPerShaderStage: n,
  });
  for (const path of ["examples/mlp.nn", "examples/mnist.nn"]) {
    await exampleStep(path, 3, 21);
    await exampleStep(path, 3, 22, most(4));
    await exampleStep(path, 3, 23, most(8));
  }
});

test("serial region: softmax cross-entropy, its gradient and accuracy in one kernel", async () => {
  const b = new GraphBuilder();
  const logits = b.source("input", "logits", { shape: [16, 10], dtype: "f32" }, span);
  const labels = b.source("input", "labels", { shape: [16, 10], dtype: "f32" }, span);
  const mx = b.add("reduce_max", [logits], { axes: [1], keepDims: true }, span);
  const z = b.add("sub", [logits, mx], {}, span);
  const lse = b.add(
    "log",
    [b.add("reduce_sum", [b.add("exp", [z], {}, span)], { axes: [1], keepDims: true }, span)],
    {},
    span,
  );
  const per = b.add(
    "reduce_sum",
    [b.add("mul", [labels, b.add("sub", [lse, z], {}, span)], {}, span)],
    { axes: [1], keepDims: false },
    span,
  );
  const loss = b.add(
    "div",
    [b.add("reduce_sum", [per], { axes: [0], keepDims: false }, span), b.constant(16, span)],
    {},
    span,
  );
  const [dl] = addGradients(b, loss, [logits]);
  const correct = b.add(
    "reduce_sum",
    [
      b.add(
        "equal",
        [
          b.add("argmax", [logits], { axis: 1 }, span),
          b.add("argmax", [labels], { axis: 1 }, span),
        ],
        {},
        span,
      ),
    ],
    { axes: [0], keepDims: false },
    span,
  );
  b.output("loss", loss);
  b.output("grad", dl!);
  b.output("correct", correct);
  const plan = await both(b.build(), 4, { labels: [0, 1] });
  assert.is(plan.kernels.length, 1);
  assert.is(plan.kernels[0]!.op, "serial");
});

test("serial region on one workgroup: split sums, a transpose, broadcasts and in-place state", async () => {
  const dev = await device();
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [150, 3], dtype: "f32" }, span);
  const acc = b.variable({
    name: "acc",
    kind: "state",
    shape: [3],
    dtype: "f32",
    init: { dist: "constant", value: 0 },
    layer: "l",
    span,
  });
  const total = b.variable({
    name: "total",
    kind: "state",
    shape: [1],
    dtype: "f32",
    init: { dist: "constant", value: 0 },
    layer: "l",
    span,
  });
  // 150 rows into 3 sums (16 lanes each) and 450 squares into one (all 64 lanes).
  const s = b.add("reduce_sum", [x], { axes: [0], keepDims: false }, span);
  const sq = b.add(
    "reduce_sum",
    [b.add("square", [x], {}, span)],
    { axes: [0, 1], keepDims: true },
    span,
  );
  // The same sums through a transpose, read back at other invocations' indices.
  const xt = b.add("transpose", [b.add("exp", [x], {}, span)], { perm: [1, 0] }, span);
  const st = b.add("reduce_sum", [xt], { axes: [1], keepDims: false }, span);
  const mx = b.add("reduce_max", [x], { axes: [0], keepDims: false }, span);
  const y = b.add(
    "add",
    [b.add("div", [s, b.add("reshape", [sq], { shape: [1] }, span)], {}, span), mx],
    {},
    span,
  );
  b.output("y", b.add("mul", [y, st], {}, span));
  b.output("arg", b.add("argmax", [x], { axis: 0 }, span));
  // State read across invocations (acc[0] broadcast, total) and updated in place.
  const a0 = b.add(
    "reshape",
    [b.add("reduce_max", [acc], { axes: [0], keepDims: true }, span)],
    { shape: [1] },
    span,
  );
  b.update("acc", b.add("add", [b.add("mul", [acc, a0], {}, span), s], {}, span));
  b.update("total", b.add("add", [total, b.add("reshape", [sq], { shape: [1] }, span)], {}, span));
  const g = b.build();
  // Workgroups of 64 (the default), 32 (a limit of 48 rounds down to a power of two) and 1.
  const cases: [number, number, string[]][] = [
    [dev.limits.maxComputeInvocationsPerWorkgroup, 64, ["lid % 16u;", "lid % 64u;"]],
    [48, 32, ["lid % 8u;", "lid % 32u;"]],
    [1, 1, []],
  ];
  for (const [most, wg, lanes] of cases) {
    const limits = { ...dev.limits, maxComputeInvocationsPerWorkgroup: most };
    const plan = planGraph(g, { limits });
    assert.is(plan.kernels.length, 1);
    const k = plan.kernels[0]!;
    assert.is(k.op, "serial");
    assert.equal(k.workgroupSize, [wg, 1, 1]);
    for (const l of lanes) assert.match(k.wgsl, `let lane = ${l}`);
    assert.is(k.wgsl.includes("nnc_part"), lanes.length > 0);
    assert.equal(plan.updates, []); // both written in place
    const ex = await Executor.create(dev, plan);
    const r = rng(11);
    const xs = randomArray(450, r);
    const vars = new Map<string, ArrayLike<number>>([
      ["acc", randomArray(3, r, 0.1, 0.5)],
      ["total", randomArray(1, r)],
    ]);
    for (const [name, d] of vars) ex.setVariable(name, d);
    ex.writeInput("x", xs);
    for (let step = 0; step < 3; step++) {
      const ref = evaluateOutputs(g, { inputs: new Map([["x", xs]]), variables: vars });
      const got = await ex.run();
      assertClose(`y ${wg} ${step}`, got.y!, ref.get("y")!);
      assert.equal([...got.arg!], [...ref.get("arg")!.data], `arg ${wg} ${step}`);
      for (const name of ["acc", "total"]) {
        const next = ref.get(`update:${name}`)!.data;
        assertClose(`${name} ${wg} ${step}`, await ex.getVariable(name), next);
        vars.set(name, Float32Array.from(next));
      }
    }
    ex.dispose();
  }
});

test("epilogues: matmul + bias + relu, conv + bias + tanh + residual", async () => {
  const g1 = graphOf([{ shape: [13, 20] }, { shape: [20, 12] }, { shape: [12] }], (b, [x, w, c]) =>
    b.add(
      "relu",
      [
        b.add(
          "add",
          [b.add("matmul", [x!, w!], { transA: false, transB: false }, span), c!],
          {},
          span,
        ),
      ],
      {},
      span,
    ),
  );
  await both(g1);
  const g2 = graphOf(
    [{ shape: [2, 7, 6, 3] }, { shape: [3, 3, 3, 5] }, { shape: [5] }, { shape: [2, 7, 6, 5] }],
    (b, [x, w, c, res]) => {
      const conv = b.add("conv2d", [x!, w!], { strides: [1, 1], pads: [1, 1, 1, 1] }, span);
      return b.add(
        "add",
        [b.add("tanh", [b.add("add", [conv, c!], {}, span)], {}, span), res!],
        {},
        span,
      );
    },
  );
  await both(g2);
});

test("epilogues: a ReLU mask on max- and average-pool gradients, disjoint and overlapping windows", async () => {
  // [input shape, window, stride, pool output shape]: cells (vec4 and scalar), then the gather.
  const cases: [number[], number, number, number[]][] = [
    [[2, 6, 4, 8], 2, 2, [2, 3, 2, 8]],
    [[2, 7, 5, 3], 2, 2, [2, 3, 2, 3]],
    [[2, 7, 6, 4], 3, 2, [2, 3, 2, 4]],
  ];
  for (const [shape, k, st, outShape] of cases) {
    const attrs: Pool2dAttrs = { window: [k, k], strides: [st, st], pads: [0, 0, 0, 0] };
    const masked = (b: GraphBuilder, y: number, grad: number) =>
      b.add("mul", [grad, b.add("greater", [y, b.constant(0, span)], {}, span)], {}, span);
    const max = graphOf([{ shape }, { shape: outShape }], (b, [y, dy]) =>
      masked(b, y!, b.add("maxpool2d_grad", [y!, dy!], attrs, span)),
    );
    const avg = graphOf([{ shape }, { shape: outShape }], (b, [y, dy]) =>
      masked(b, y!, b.add("avgpool2d_grad", [dy!], { ...attrs, inputShape: shape }, span)),
    );
    for (const g of [max, avg]) {
      const fused = await both(g, 3, { x0: [-1, 1] });
      assert.is(fused.kernels.length, 1, `${g.nodes.map((n) => n.op).join(" ")} ${shape}`);
      assert.match(fused.kernels[0]!.wgsl, "nnc_epilogue");
    }
  }
});

test("in-place updates: momentum SGD over several steps equals the reference", async () => {
  const dev = await device();
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [8, 6], dtype: "f32" }, span);
  const v = (name: string, shape: number[], kind: "param" | "state") =>
    b.variable({
      name,
      kind,
      shape,
      dtype: "f32",
      init: { dist: "constant", value: 0 },
      layer: "l",
      span,
    });
  const w = v("w", [6, 4], "param");
  const m = v("m/w", [6, 4], "state");
  const y = b.add(
    "tanh",
    [b.add("matmul", [x, w], { transA: false, transB: false }, span)],
    {},
    span,
  );
  const loss = b.add(
    "reduce_sum",
    [b.add("square", [y], {}, span)],
    { axes: [0, 1], keepDims: false },
    span,
  );
  const [gw] = addGradients(b, loss, [w]);
  const m2 = b.add("add", [b.add("mul", [m, b.constant(0.9, span)], {}, span), gw!], {}, span);
  b.update("m/w", m2);
  b.update("w", b.add("sub", [w, b.add("mul", [m2, b.constant(0.05, span)], {}, span)], {}, span));
  b.output("loss", loss);
  const g = b.build();
  const plan = planGraph(g, { limits: dev.limits });
  assert.equal(plan.updates, []); // both written in place
  const ex = await Executor.create(dev, plan);
  const r = rng(9);
  const xs = randomArray(48, r);
  const vars = new Map<string, ArrayLike<number>>([
    ["w", randomArray(24, r)],
    ["m/w", randomArray(24, r)],
  ]);
  for (const [k, d] of vars) ex.setVariable(k, d);
  ex.writeInput("x", xs);
  for (let step = 0; step < 3; step++) {
    const ref = evaluateOutputs(g, { inputs: new Map([["x", xs]]), variables: vars });
    const got = await ex.run();
    assertClose(`loss ${step}`, got.loss!, ref.get("loss")!);
    for (const name of ["w", "m/w"]) {
      const next = ref.get(`update:${name}`)!.data;
      assertClose(`${name} ${step}`, await ex.getVariable(name), next);
      vars.set(name, Float32Array.from(next));
    }
  }
  ex.dispose();
});

test.run();
