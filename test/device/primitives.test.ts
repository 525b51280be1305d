/**
 * @file Every primitive forward on the device (llvmpipe here) against the float64 reference
 * interpreter on random inputs: odd sizes, broadcasting, constants inlined into kernels, i32
 * data, transposed and batched matmuls on both the vec4 and the scalar path, convolutions and
 * pools with strides and asymmetric padding, gather/scatter with out-of-range indices, and the
 * RNG (uniform bit for bit).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { binaryOps, unaryOps, type OpAttrs, type OpKind } from "../../compiler/primitives.js";
import { hostUniform } from "../../runtime/index.js";
import { evaluateOutputs } from "../../compiler/reference.js";
import {
  checkOnDevice,
  device,
  graphOf,
  randomFeeds,
  runOnDevice,
  span,
  releaseDevice,
} from "./util.js";

const positive = new Set(["log", "sqrt", "rsqrt", "reciprocal"]);

test("unary primitives on odd shapes", async () => {
  for (const op of unaryOps) {
    const g = graphOf([{ shape: [3, 5, 7] }], (b, [x]) => b.add(op, [x!], {}, span));
    const range: [number, number] = positive.has(op) ? [0.1, 4] : op === "exp" ? [-8, 8] : [-4, 4];
    await checkOnDevice(g, randomFeeds(g, 1, { x0: range }));
  }
});

test("tanh and sigmoid saturate without NaN", async () => {
  for (const op of ["tanh", "sigmoid", "exp"] as const) {
    const g = graphOf([{ shape: [6] }], (b, [x]) => b.add(op, [x!], {}, span));
    const x = Float32Array.from([-200, -50, -1e-3, 0, 30, 200]);
    await checkOnDevice(g, { inputs: new Map([["x0", x]]), variables: new Map() });
  }
});

test("binary primitives with broadcasting", async () => {
  for (const op of binaryOps) {
    const g = graphOf([{ shape: [4, 1, 6] }, { shape: [5, 1] }], (b, [x, y]) =>
      b.add(op, [x!, y!], {}, span),
    );
    const ranges: Record<string, [number, number]> =
      op === "div" ? { x1: [0.5, 2] } : op === "pow" ? { x0: [0.1, 3], x1: [-2, 2] } : {};
    await checkOnDevice(g, randomFeeds(g, 2, ranges));
  }
});

test("comparisons see equal values; pow of negative bases", async () => {
  const a = Float32Array.from([1, 2, 3, -2, -2, 0, -0.5, 0]);
  const c = Float32Array.from([1, 3, 2, 3, 2, 0, 0.5, -1]);
  for (const op of binaryOps) {
    const g = graphOf([{ shape: [8] }, { shape: [8] }], (b, [x, y]) =>
      b.add(op, [x!, y!], {}, span),
    );
    const feeds = {
      inputs: new Map([
        ["x0", a],
        ["x1", c],
      ]),
      variables: new Map(),
    };
    if (op === "div") continue; // division by zero: covered by the IEEE rules, not compared
    await checkOnDevice(g, feeds);
  }
});

test("constants are inlined and scalars broadcast", async () => {
  const g = graphOf([{ shape: [3, 4] }], (b, [x]) => {
    const two = b.constant(2, span);
    const half = b.constant(0.5, span, [4]);
    const y = b.add("mul", [x!, two], {}, span);
    return b.add("add", [y, half], {}, span);
  });
  await checkOnDevice(g, randomFeeds(g, 3));
});

test("i32 arithmetic, comparisons, where and casts", async () => {
  for (const op of ["add", "sub", "mul", "div", "max", "min", "greater", "equal"] as const) {
    const g = graphOf(
      [
        { shape: [2, 9], dtype: "i32" },
        { shape: [9], dtype: "i32" },
      ],
      (b, [x, y]) => b.add(op, [x!, y!], {}, span),
    );
    await checkOnDevice(g, randomFeeds(g, 4, { x0: [-50, 50], x1: [-4, 5] }));
  }
  const w = graphOf([{ shape: [7] }, { shape: [1] }, { shape: [7] }], (b, [c, x, y]) =>
    b.add("where", [c!, x!, y!], {}, span),
  );
  const c = Float32Array.from([0, 1, -1, 0, 0.5, 0, 2]);
  const feeds = randomFeeds(w, 5);
  feeds.inputs.set("x0", c);
  await checkOnDevice(w, feeds);
  const toInt = graphOf([{ shape: [8] }], (b, [x]) => b.add("cast", [x!], { to: "i32" }, span));
  const xs = Float32Array.from([-2.7, -0.5, 0, 0.9, 3.99, 1e10, -1e10, 7]);
  await checkOnDevice(toInt, { inputs: new Map([["x0", xs]]), variables: new Map() });
  const toFloat = graphOf([{ shape: [5], dtype: "i32" }], (b, [x]) =>
    b.add("cast", [x!], { to: "f32" }, span),
  );
  await checkOnDevice(toFloat, randomFeeds(toFloat, 6, { x0: [-1000, 1000] }));
});

test("reductions over several axes, long rows, argmax with ties", async () => {
  const cases: [number[], number[], boolean][] = [
    [[3, 5, 7], [0, 2], true],
    [[3, 5, 7], [1], false],
    [[3, 5, 7], [0, 1, 2], false],
    [[3, 1000], [1], false],
    [[700, 3], [0], true],
  ];
  for (const [shape, axes, keepDims] of cases) {
    for (const op of ["reduce_sum", "reduce_max"] as const) {
      const g = graphOf([{ shape }], (b, [x]) => b.add(op, [x!], { axes, keepDims }, span));
      await checkOnDevice(g, randomFeeds(g, 7));
    }
  }
  const ints = graphOf([{ shape: [4, 6], dtype: "i32" }], (b, [x]) =>
    b.add("reduce_sum", [x!], { axes: [1], keepDims: false }, span),
  );
  await checkOnDevice(ints, randomFeeds(ints, 8));
  for (const axis of [0, 1, 2]) {
    const g = graphOf([{ shape: [3, 4, 5] }], (b, [x]) => b.add("argmax", [x!], { axis }, span));
    const feeds = randomFeeds(g, 9);
    const x = feeds.inputs.get("x0")!;
    for (let k = 0; k < x.length; k++) x[k] = Math.floor(x[k]! * 3); // many ties
    await checkOnDevice(g, feeds);
  }
});

test("layout: transpose, broadcast_to, slice, pad, reshape views", async () => {
  const layouts: [
    number[],
    (b: Parameters<Parameters<typeof graphOf>[1]>[0], x: number) => number,
  ][] = [
    [[2, 3, 4], (b, x) => b.add("transpose", [x], { perm: [2, 0, 1] }, span)],
    [[3, 1], (b, x) => b.add("broadcast_to", [x], { shape: [2, 3, 5] }, span)],
    [[5, 6, 7], (b, x) => b.add("slice", [x], { starts: [1, 0, 3], sizes: [3, 6, 2] }, span)],
    [[3, 4], (b, x) => b.add("pad", [x], { lo: [1, 0], hi: [2, 3] }, span)],
    [
      [2, 6],
      (b, x) => {
        const r = b.add("reshape", [x], { shape: [3, 4] }, span);
        return b.add("transpose", [r], { perm: [1, 0] }, span);
      },
    ],
  ];
  for (const [shape, f] of layouts) {
    const g = graphOf([{ shape }], (b, [x]) => f(b, x!));
    await checkOnDevice(g, randomFeeds(g, 10));
  }
});

test("concat, including more inputs than the device binds", async () => {
  const g = graphOf([{ shape: [2, 3, 4] }, { shape: [2, 1, 4] }, { shape: [2, 5, 4] }], (b, xs) =>
    b.add("concat", xs, { axis: 1 }, span),
  );
  await checkOnDevice(g, randomFeeds(g, 11));
  const many = Array.from({ length: 21 }, (_, k) => ({ shape: [2, 1 + (k % 3)] }));
  const g2 = graphOf(many, (b, xs) => b.add("concat", xs, { axis: 1 }, span));
  await checkOnDevice(g2, randomFeeds(g2, 12));
});

test("matmul: odd sizes, vec4 sizes, every transpose, broadcast batches", async () => {
  const sizes: [number, number, number][] = [
    [5, 7, 6],
    [8, 12, 16],
    [1, 4, 4],
    [13, 4, 9],
    [4, 8, 3],
  ];
  for (const [m, k, n] of sizes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const g = graphOf(
          [{ shape: transA ? [k, m] : [m, k] }, { shape: transB ? [n, k] : [k, n] }],
          (b, [a, c]) => b.add("matmul", [a!, c!], { transA, transB }, span),
        );
        await checkOnDevice(g, randomFeeds(g, 13 + m));
      }
    }
  }
  const batched = graphOf([{ shape: [2, 3, 5, 8] }, { shape: [3, 8, 4] }], (b, [a, c]) =>
    b.add("matmul", [a!, c!], { transA: false, transB: false }, span),
  );
  await checkOnDevice(batched, randomFeeds(batched, 14));
  const bcast = graphOf([{ shape: [1, 6, 7] }, { shape: [4, 7, 5] }], (b, [a, c]) =>
    b.add("matmul", [a!, c!], { transA: false, transB: false }, span),
  );
  await checkOnDevice(bcast, randomFeeds(bcast, 15));
});

const conv: OpAttrs["conv2d"] = { strides: [2, 1], pads: [1, 1, 0, 2] };
const pool: OpAttrs["maxpool2d"] = { window: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1] };

test("conv2d and its gradients with strides and asymmetric padding", async () => {
  const fwd = graphOf([{ shape: [2, 7, 6, 3] }, { shape: [3, 2, 3, 5] }], (b, [x, w]) =>
    b.add("conv2d", [x!, w!], conv, span),
  );
  await checkOnDevice(fwd, randomFeeds(fwd, 16));
  const outShape = fwd.nodes[fwd.outputs[0]!.node]!.shape as number[];
  const gi = graphOf([{ shape: outShape }, { shape: [3, 2, 3, 5] }], (b, [dy, w]) =>
    b.add("conv2d_grad_input", [dy!, w!], { ...conv, inputShape: [2, 7, 6, 3] }, span),
  );
  await checkOnDevice(gi, randomFeeds(gi, 17));
  const gf = graphOf([{ shape: [2, 7, 6, 3] }, { shape: outShape }], (b, [x, dy]) =>
    b.add("conv2d_grad_filter", [x!, dy!], { ...conv, filterShape: [3, 2, 3, 5] }, span),
  );
  await checkOnDevice(gf, randomFeeds(gf, 18));
});

test("pools and their gradients; max ties go to the first maximum", async () => {
  for (const op of ["maxpool2d", "avgpool2d"] as const) {
    const g = graphOf([{ shape: [2, 7, 5, 3] }], (b, [x]) => b.add(op, [x!], pool, span));
    await checkOnDevice(g, randomFeeds(g, 19));
  }
  const fwd = graphOf([{ shape: [2, 7, 5, 3] }], (b, [x]) => b.add("maxpool2d", [x!], pool, span));
  const outShape = fwd.nodes[fwd.outputs[0]!.node]!.shape as number[];
  const mg = graphOf([{ shape: [2, 7, 5, 3] }, { shape: outShape }], (b, [x, dy]) =>
    b.add("maxpool2d_grad", [x!, dy!], pool, span),
  );
  const feeds = randomFeeds(mg, 20);
  const x = feeds.inputs.get("x0")!;
  for (let k = 0; k < x.length; k++) x[k] = Math.round(x[k]! * 2); // ties
  await checkOnDevice(mg, feeds);
  const ag = graphOf([{ shape: outShape }], (b, [dy]) =>
    b.add("avgpool2d_grad", [dy!], { ...pool, inputShape: [2, 7, 5, 3] }, span),
  );
  await checkOnDevice(ag, randomFeeds(ag, 21));
});

test("gather and scatter_add with i32 indices, out of range included", async () => {
  const g = graphOf([{ shape: [6, 3] }, { shape: [2, 5], dtype: "i32" }], (b, [t, i]) =>
    b.add("gather", [t!, i!], {}, span),
  );
  await checkOnDevice(g, randomFeeds(g, 22, { x1: [-2, 8] }));
  const gi = graphOf(
    [
      { shape: [7], dtype: "i32" },
      { shape: [4], dtype: "i32" },
    ],
    (b, [t, i]) => b.add("gather", [t!, i!], {}, span),
  );
  await checkOnDevice(gi, randomFeeds(gi, 23, { x1: [0, 7] }));
  const s = graphOf([{ shape: [2, 5, 3] }, { shape: [2, 5], dtype: "i32" }], (b, [u, i]) =>
    b.add("scatter_add", [u!, i!], { rows: 4 }, span),
  );
  await checkOnDevice(s, randomFeeds(s, 24, { x1: [-1, 5] }));
});

test("random numbers: uniform bit for bit, normal to float precision", async () => {
  for (const dtype of ["f32", "i32"] as const) {
    const g = graphOf([{ shape: [], dtype }], (b, [c]) => {
      const u = b.add("random_uniform", [c!], { stream: 7 }, span, {
        shape: [3, 50],
        dtype: "f32",
      });
      const n = b.add("random_normal", [c!], { stream: 3000000000 }, span, {
        shape: [101],
        dtype: "f32",
      });
      b.output("n", n);
      return u;
    });
    const counter = dtype === "f32" ? Float32Array.from([12345]) : Int32Array.from([-5]);
    const feeds = { inputs: new Map([["x0", counter]]), variables: new Map() };
    const got = await runOnDevice(g, feeds);
    const want = evaluateOutputs(g, feeds);
    assert.equal([...got.y!], [...want.get("y")!.data], "uniform is bit-exact");
    const c = dtype === "f32" ? 12345 : -5 >>> 0;
    assert.is(got.y![17], hostUniform(17, c, 7), "host generator agrees");
    await checkOnDevice(g, feeds, { rtol: 1e-5, atol: 1e-5 });
  }
  const constCounter = graphOf([], (b) => {
    const c = b.constant(9, span, [], "i32");
    return b.add("random_uniform", [c], { stream: 1 }, span, { shape: [64], dtype: "f32" });
  });
  await checkOnDevice(
    constCounter,
    { inputs: new Map(), variables: new Map() },
    { rtol: 0, atol: 0 },
  );
});

test("a shape needing more than 65,535 workgroups", async () => {
  const dev = await device();
  const n = 64 * 65536 + 3;
  const g = graphOf([{ shape: [n] }], (b, [x]) => b.add("neg", [x!], {}, span));
  const x = new Float32Array(n);
  for (let k = 0; k < n; k++) x[k] = k;
  const got = await runOnDevice(g, { inputs: new Map([["x0", x]]), variables: new Map() });
  const y = got.y!;
  assert.is(y.length, n);
  for (const k of [0, 1, 65535 * 64, 65536 * 64, n - 1]) assert.is(y[k], -k);
  let bad = 0;
  for (let k = 0; k < n; k++) if (y[k] !== -k) bad++;
  assert.is(bad, 0);
  assert.ok(dev.limits.maxComputeWorkgroupsPerDimension <= 65535);
});

test("the 2-D grid fold for every kernel kind under a tiny per-dimension limit", async () => {
  const dev = await device();
  const limits = { ...dev.limits, maxComputeWorkgroupsPerDimension: 4 };
  const kinds: [OpKind, () => ReturnType<typeof graphOf>][] = [
    [
      "add",
      () =>
        graphOf([{ shape: [9, 70] }, { shape: [70] }], (b, [x, y]) =>
          b.add("add", [x!, y!], {}, span),
        ),
    ],
    [
      "matmul",
      () =>
        graphOf([{ shape: [3, 40, 12] }, { shape: [12, 36] }], (b, [x, y]) =>
          b.add("matmul", [x!, y!], { transA: false, transB: false }, span),
        ),
    ],
    [
      "reduce_sum",
      () =>
        graphOf([{ shape: [700, 3] }], (b, [x]) =>
          b.add("reduce_sum", [x!], { axes: [1], keepDims: false }, span),
        ),
    ],
    [
      "conv2d",
      () =>
        graphOf([{ shape: [2, 9, 9, 2] }, { shape: [3, 3, 2, 4] }], (b, [x, w]) =>
          b.add("conv2d", [x!, w!], { strides: [1, 1], pads: [1, 1, 1, 1] }, span),
        ),
    ],
  ];
  for (const [, make] of kinds) {
    const g = make();
    await checkOnDevice(g, randomFeeds(g, 30), {}, limits);
  }
});

test.after(releaseDevice);

test.run();
