/**
 * @file The planner without a device: plans are plain JSON, reshape is a view, temporaries are
 * shared only between values whose lifetimes do not overlap, dead nodes get no kernel,
 * constants are inlined, concat splits by the binding limit, big grids fold into 2-D, and
 * values or kernels over the device limits become NN4xxx diagnostics at the node's span.
 * Golden WGSL for a few kernels lives in test/golden/wgsl/. Most tests plan without fusion
 * (`fuse: false`, every node by its own emitter); test/fuse/ covers the fused plans.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { planKernels, planGraph, PlanError } from "../../compiler/codegen/index.js";
import { SourceMap } from "../../compiler/diagnostics.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { SourceFile, type Span } from "../../compiler/source.js";
import { defaultLimits, type KernelPlan } from "../../runtime/plan.js";
import { expectGolden } from "../util/golden.js";

const file = new SourceFile("model.nn", "model M(x: [4]) {\n  relu(x @ w)\n}\n");
const sources = new SourceMap();
sources.add(file);
const span: Span = file.span(20, 31);
const limits = { ...defaultLimits, maxStorageBuffersPerShaderStage: 8 };

function chain(): ReturnType<GraphBuilder["build"]> {
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [6, 4], dtype: "f32" }, span);
  let v = x;
  for (const op of ["exp", "neg", "tanh", "relu", "sin"] as const) v = b.add(op, [v], {}, span);
  const r = b.add("reshape", [v], { shape: [24] }, span);
  b.add("cos", [x], {}, span); // dead: nothing reads it
  b.output("y", r);
  return b.build();
}

function aliases(plan: KernelPlan): void {
  for (const k of plan.kernels) {
    const out = k.bindings.find((b) => b.access === "read_write")!;
    for (const b of k.bindings) {
      if (b !== out) assert.is.not(b.buffer, out.buffer, `${k.name} reads its own output`);
    }
  }
}

test("a plan is plain JSON; reshape is a view; dead nodes get no kernel", () => {
  const plan = planGraph(chain(), { limits, sources, fuse: false });
  assert.equal(JSON.parse(JSON.stringify(plan)), plan);
  assert.equal(
    plan.kernels.map((k) => k.op),
    ["exp", "neg", "tanh", "relu", "sin"],
  );
  assert.is(plan.kernels[0]!.location, "model.nn:2:3");
  const last = plan.kernels[4]!.bindings[1]!.buffer;
  assert.equal(plan.outputs, [{ name: "y", buffer: last, shape: [24], dtype: "f32" }]);
  assert.is(plan.buffers[last]!.role, "output");
  aliases(plan);
  // exp -> t1, neg -> t2, tanh -> t1, relu -> t2: two temporaries serve four values.
  const temps = plan.buffers.filter((b) => b.role === "temp");
  assert.is(temps.length, 2);
  assert.equal(plan.memory, {
    totalBytes: 4 * 96,
    persistentBytes: 2 * 96,
    lowerBoundBytes: 4 * 96,
  });
  // Fused, the chain is one kernel from x to y.
  const fused = planGraph(chain(), { limits, sources });
  assert.is(fused.kernels.length, 1);
  assert.equal(
    fused.kernels[0]!.bindings.map((b) => b.access),
    ["read", "read_write"],
  );
  assert.is(fused.buffers.filter((b) => b.role === "temp").length, 0);
});

test("constants are inlined into elementwise kernels, buffered for others", () => {
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [3, 4], dtype: "f32" }, span);
  const y = b.add("mul", [x, b.constant(0.25, span)], {}, span);
  const w = b.constant(1.5, span, [4, 2]);
  b.output("z", b.add("matmul", [y, w], { transA: false, transB: false }, span));
  const plan = planGraph(b.build(), { limits, fuse: false });
  assert.match(plan.kernels[0]!.wgsl, "out[i] = v0 * 0.25f;");
  assert.is(plan.kernels[0]!.bindings.length, 2);
  const consts = plan.buffers.filter((x) => x.role === "constant");
  assert.equal(consts, [
    { id: consts[0]!.id, size: 32, role: "constant", fill: 1.5, dtype: "f32" },
  ]);
});

test("updates: identity updates are dropped, a variable read by another update is copied", () => {
  const b = new GraphBuilder();
  const v = (name: string) =>
    b.variable({
      name,
      kind: "state",
      shape: [3],
      dtype: "f32",
      init: { dist: "constant", value: 0 },
      layer: "s",
      span,
    });
  const a = v("a");
  const c = v("c");
  b.update("a", c); // swap
  b.update("c", a);
  b.update("a", a);
  const plan = planGraph(b.build(), { limits });
  assert.is(plan.kernels.length, 2);
  assert.ok(plan.kernels.every((k) => k.op === "copy"));
  assert.equal(
    plan.updates.map((u) => u.variable),
    ["a", "c"],
  );
  for (const u of plan.updates) assert.is(plan.buffers[u.buffer]!.role, "output");
});

test("concat splits by the storage-buffer limit", () => {
  const b = new GraphBuilder();
  const xs = Array.from({ length: 10 }, (_, k) =>
    b.source("input", `x${k}`, { shape: [2, 3], dtype: "f32" }, span),
  );
  b.output("y", b.add("concat", xs, { axis: 0 }, span));
  const plan = planGraph(b.build(), { limits: { ...limits, maxStorageBuffersPerShaderStage: 4 } });
  assert.is(plan.kernels.length, 4); // 3 + 3 + 3 + 1 inputs
  for (const k of plan.kernels) assert.ok(k.bindings.length <= 4);
});

test("grids past the per-dimension limit fold into 2-D", () => {
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [64 * 65536 + 1], dtype: "f32" }, span);
  b.output("y", b.add("neg", [x], {}, span));
  const plan = planGraph(b.build(), {
    limits: { ...limits, maxComputeInvocationsPerWorkgroup: 64 },
    fuse: false,
  });
  const k = plan.kernels[0]!;
  assert.equal(k.dispatch, [32769, 2, 1]);
  assert.match(k.wgsl, "let i = (wid.y * 32769u + wid.x) * 64u + lid;");
  assert.match(k.wgsl, "if (i >= 4194305u) {");
});

test("limits become diagnostics at the node's span", () => {
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [1000, 1000], dtype: "f32" }, span);
  b.output("y", b.add("exp", [x], {}, span));
  const g = b.build();
  const small = { ...limits, maxBufferSize: 1 << 20 };
  const r = planKernels(g, { limits: small });
  // One diagnostic, at the first value over the limit; a note points at the others' largest.
  assert.equal(
    r.diagnostics.map((d) => d.code),
    ["NN4002"],
  );
  assert.equal(r.diagnostics[0]!.span, span);
  assert.match(r.diagnostics[0]!.message, "input: this value needs a buffer of 4000000 bytes");
  assert.equal(
    r.diagnostics[0]!.notes.map((n) => n.message),
    ["1 more value is over the limit too, the largest of them (exp, 4000000 bytes) here"],
  );
  assert.throws(
    () => planGraph(g, { limits: small }),
    (e: unknown) => e instanceof PlanError,
  );
  const grid = planKernels(g, { limits: { ...limits, maxComputeWorkgroupsPerDimension: 10 } });
  assert.equal(
    grid.diagnostics.map((d) => d.code),
    ["NN4004"],
  );
  const sym = new GraphBuilder();
  const s = sym.source("input", "x", { shape: ["batch", 3], dtype: "f32" }, span);
  sym.output("y", sym.add("exp", [s], {}, span));
  const rs = planKernels(sym.build(), { limits });
  assert.equal(
    rs.diagnostics.map((d) => d.code),
    ["NN4005", "NN4005"],
  );
});

test("golden WGSL", () => {
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [5, 7], dtype: "f32" }, span);
  const w = b.source("input", "w", { shape: [7, 6], dtype: "f32" }, span);
  const v = b.source("input", "v", { shape: [8, 12], dtype: "f32" }, span);
  const u = b.source("input", "u", { shape: [16, 12], dtype: "f32" }, span);
  const img = b.source("input", "img", { shape: [2, 9, 9, 3], dtype: "f32" }, span);
  const f = b.source("input", "f", { shape: [3, 3, 3, 4], dtype: "f32" }, span);
  const idx = b.source("input", "idx", { shape: [4], dtype: "i32" }, span);
  const cases: [string, number][] = [
    [
      "add_broadcast",
      b.add("add", [x, b.source("input", "bias", { shape: [7], dtype: "f32" }, span)], {}, span),
    ],
    ["matmul_scalar", b.add("matmul", [x, w], { transA: false, transB: false }, span)],
    ["matmul_vec4_transb", b.add("matmul", [v, u], { transA: false, transB: true }, span)],
    ["reduce_sum_axis0", b.add("reduce_sum", [x], { axes: [0], keepDims: false }, span)],
    ["conv2d", b.add("conv2d", [img, f], { strides: [2, 2], pads: [1, 1, 1, 1] }, span)],
    [
      "maxpool2d_grad",
      b.add(
        "maxpool2d_grad",
        [
          img,
          b.add("maxpool2d", [img], { window: [2, 2], strides: [2, 2], pads: [0, 1, 0, 1] }, span),
        ],
        { window: [2, 2], strides: [2, 2], pads: [0, 1, 0, 1] },
        span,
      ),
    ],
    ["gather", b.add("gather", [w, idx], {}, span)],
    [
      "random_normal",
      b.add("random_normal", [b.constant(3, span, [], "i32")], { stream: 11 }, span, {
        shape: [10],
        dtype: "f32",
      }),
    ],
  ];
  for (const [name, node] of cases) b.output(name, node);
  const plan = planGraph(b.build(), { limits, fuse: false });
  for (const [name, node] of cases) {
    const k = plan.kernels.find((k) => k.node === node)!;
    expectGolden(`test/golden/wgsl/${name}.wgsl`, k.wgsl);
  }
});

test.run();
