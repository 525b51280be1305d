/**
 * @file Every primitive of the reference interpreter against an independent computation: hand
 * values, naive loops indexed differently, conv2d through im2col and a matrix product, adjoint
 * identities for the gradient primitives, and a BigInt PCG for the random numbers. The case
 * table is typed by OpKind, so a new primitive without a forward test does not compile.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import {
  type BinaryOp,
  type Conv2dAttrs,
  opKinds,
  type OpKind,
  type Pool2dAttrs,
  type UnaryOp,
} from "../../compiler/primitives.js";
import { evaluate, evaluateOutputs } from "../../compiler/reference.js";
import {
  assertClose,
  at,
  count,
  dot,
  input,
  inputFeeds,
  param,
  randomArray,
  rng,
  run,
  span,
  unflat,
} from "./util.js";

const next = rng(1234);

// ---------------------------------------------------------------------------------------------
// Elementwise

const unaryValues: { [K in UnaryOp]: [number, number][] } = {
  neg: [
    [2, -2],
    [-0.5, 0.5],
    [0, 0],
  ],
  exp: [
    [0, 1],
    [1, Math.E],
    [-1, 0.36787944117144233],
    [2, 7.38905609893065],
  ],
  log: [
    [1, 0],
    [Math.E, 1],
    [0.5, -0.6931471805599453],
    [0, -Infinity],
    [-1, NaN],
  ],
  sqrt: [
    [4, 2],
    [0, 0],
    [2, 1.4142135623730951],
    [-1, NaN],
  ],
  rsqrt: [
    [4, 0.5],
    [0.25, 2],
    [0, Infinity],
  ],
  tanh: [
    [0, 0],
    [1, 0.7615941559557649],
    [-1, -0.7615941559557649],
    [30, 1],
  ],
  sigmoid: [
    [0, 0.5],
    [1, 0.7310585786300049],
    [-1, 0.2689414213699951],
    [-800, 0],
    [800, 1],
  ],
  relu: [
    [-1, 0],
    [0, 0],
    [2.5, 2.5],
  ],
  abs: [
    [-3, 3],
    [2, 2],
    [0, 0],
  ],
  sign: [
    [-3, -1],
    [0, 0],
    [0.1, 1],
  ],
  sin: [
    [0, 0],
    [Math.PI / 2, 1],
    [1, 0.8414709848078965],
  ],
  cos: [
    [0, 1],
    [Math.PI, -1],
    [1, 0.5403023058681398],
  ],
  floor: [
    [-1.5, -2],
    [1.5, 1],
    [2, 2],
  ],
  square: [
    [-3, 9],
    [0.5, 0.25],
  ],
  reciprocal: [
    [4, 0.25],
    [-0.5, -2],
    [0, Infinity],
  ],
};

function unaryCase(op: UnaryOp) {
  return () => {
    const pairs = unaryValues[op];
    const xs = pairs.map((p) => p[0]);
    const y = run((b, i) => b.add(op, [i.x!], {}, span), { x: { shape: [xs.length], data: xs } });
    assert.equal(y.shape, [xs.length]);
    assertClose(
      y.data,
      pairs.map((p) => p[1]),
      1e-15,
      op,
    );
  };
}

/** Independent scalar definitions, applied by explicit broadcasting loops. */
const binaryScalar: { [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  max: (a, b) => (a > b ? a : b),
  min: (a, b) => (a < b ? a : b),
  greater: (a, b) => Number(a > b),
  greater_equal: (a, b) => Number(a >= b),
  less: (a, b) => Number(a < b),
  less_equal: (a, b) => Number(a <= b),
  equal: (a, b) => Number(a === b),
  not_equal: (a, b) => Number(a !== b),
};

/** [2, 1, 3] with [4, 1] gives [2, 4, 3]; values include equal pairs for comparisons. */
function binaryCase(op: BinaryOp, extra?: () => void) {
  return () => {
    const a = [0.5, 1, 2, 3, 0.25, 1.5];
    const bv = [1, 2, 0.5, 3];
    const y = run((b, i) => b.add(op, [i.a!, i.b!], {}, span), {
      a: { shape: [2, 1, 3], data: a },
      b: { shape: [4, 1], data: bv },
    });
    assert.equal(y.shape, [2, 4, 3]);
    const want: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++)
        for (let k = 0; k < 3; k++) want.push(binaryScalar[op](a[i * 3 + k]!, bv[j]!));
    assertClose(y.data, want, 1e-15, op);
    // The scalar operand on the left broadcasts too.
    const z = run((b, i) => b.add(op, [b.constant(2, span), i.a!], {}, span), {
      a: { shape: [2, 3], data: a },
    });
    assertClose(
      z.data,
      a.map((v) => binaryScalar[op](2, v)),
      1e-15,
      `${op} scalar`,
    );
    extra?.();
  };
}

function i32Binary(op: BinaryOp, a: number[], bv: number[], want: number[]) {
  const y = run((b, i) => b.add(op, [i.a!, i.b!], {}, span), {
    a: { shape: [a.length], data: a, dtype: "i32" },
    b: { shape: [bv.length], data: bv, dtype: "i32" },
  });
  assert.is(y.dtype, "i32");
  assert.equal(Array.from(y.data), want, `${op} i32`);
}

// ---------------------------------------------------------------------------------------------
// Random numbers: the PCG hash again, in BigInt arithmetic

const M32 = (1n << 32n) - 1n;
function pcgBig(v: bigint): bigint {
  const s = (v * 747796405n + 2891336453n) & M32;
  const w = (((s >> ((s >> 28n) + 4n)) ^ s) * 277803737n) & M32;
  return ((w >> 22n) ^ w) & M32;
}
function uniformBig(i: number, counter: number, stream: number): number {
  const h = pcgBig((pcgBig((pcgBig(BigInt(i)) + BigInt(counter)) & M32) + BigInt(stream)) & M32);
  return Number(h >> 8n) / 2 ** 24;
}

function randomGraph(op: "random_uniform" | "random_normal", counter: number, n: number) {
  return run((b, i) => b.add(op, [i.t!], { stream: 3 }, span, { shape: [n], dtype: "f32" }), {
    t: { shape: [], data: [counter], dtype: "i32" },
  });
}

// ---------------------------------------------------------------------------------------------
// Images

/** conv2d as im2col (zero-padded patches, (ky, kx, c) order) times the filter as a matrix. */
function convIm2col(
  x: number[],
  xs: number[],
  w: number[],
  ws: number[],
  a: Conv2dAttrs,
): { shape: number[]; data: number[] } {
  const [N, H, W, C] = xs as [number, number, number, number];
  const [KH, KW, , F] = ws as [number, number, number, number];
  const OH = Math.floor((H + a.pads[0] + a.pads[1] - KH) / a.strides[0]) + 1;
  const OW = Math.floor((W + a.pads[2] + a.pads[3] - KW) / a.strides[1]) + 1;
  const rows: number[][] = [];
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const row: number[] = [];
        for (let ky = 0; ky < KH; ky++)
          for (let kx = 0; kx < KW; kx++)
            for (let c = 0; c < C; c++) {
              const y = oy * a.strides[0] + ky - a.pads[0];
              const xx = ox * a.strides[1] + kx - a.pads[2];
              row.push(y >= 0 && y < H && xx >= 0 && xx < W ? x[at(xs, n, y, xx, c)]! : 0);
            }
        rows.push(row);
      }
  // The filter [KH, KW, C, F] is already a row-major [KH*KW*C, F] matrix.
  const out: number[] = [];
  for (const row of rows)
    for (let f = 0; f < F; f++) {
      let s = 0;
      for (let k = 0; k < row.length; k++) s += row[k]! * w[k * F + f]!;
      out.push(s);
    }
  return { shape: [N, OH, OW, F], data: out };
}

const convAttrs: Conv2dAttrs = { strides: [2, 1], pads: [1, 0, 2, 1] };
const convX = [2, 6, 5, 3];
const convW = [3, 2, 3, 4];

function convSetup() {
  const x = randomArray(count(convX), next);
  const w = randomArray(count(convW), next);
  const ref = convIm2col(x, convX, w, convW, convAttrs);
  const dy = randomArray(ref.data.length, next);
  return { x, w, dy, yShape: ref.shape, ref };
}

const pool3 = [1, 5, 2, 5, 3, 0, 4, 4, 6];
const pool2x2: Pool2dAttrs = { window: [2, 2], strides: [1, 1], pads: [0, 0, 0, 0] };

function avgpoolPad(): Pool2dAttrs {
  return { window: [2, 2], strides: [1, 1], pads: [1, 0, 1, 0] };
}

// ---------------------------------------------------------------------------------------------
// The cases, one per primitive

const cases: { [K in OpKind]: () => void } = {
  input: () => {
    const y = run((_b, i) => i.x!, { x: { shape: [2, 2], data: [1, 2, 3, 4] } });
    assert.equal(Array.from(y.data), [1, 2, 3, 4]);
    const b = new GraphBuilder();
    input(b, "pixels", [2]);
    assert.throws(() => evaluate(b.build(), inputFeeds({})), /pixels/);
    assert.throws(() => evaluate(b.build(), inputFeeds({ pixels: [1, 2, 3] })), /3 values/);
  },
  param: () => {
    const b = new GraphBuilder();
    const w = param(b, "dense.w", [3]);
    const g = b.build();
    const v = evaluate(g, { inputs: new Map(), variables: new Map([["dense.w", [1, 2, 3]]]) });
    assert.equal(Array.from(v.get(w)!.data), [1, 2, 3]);
    assert.throws(() => evaluate(g, inputFeeds({})), /dense\.w/);
  },
  state: () => {
    const b = new GraphBuilder();
    const s = b.variable({
      name: "bn.mean",
      kind: "state",
      shape: [2],
      dtype: "f32",
      init: { dist: "constant", value: 0 },
      layer: "bn",
      span,
    });
    const one = b.add("add", [s, b.constant(1, span)], {}, span);
    b.update("bn.mean", one);
    b.output("mean", s);
    const out = evaluateOutputs(b.build(), {
      inputs: new Map(),
      variables: new Map([["bn.mean", [5, 6]]]),
    });
    assert.equal(Array.from(out.get("mean")!.data), [5, 6]);
    assert.equal(Array.from(out.get("update:bn.mean")!.data), [6, 7]);
  },
  constant: () => {
    const y = run((b) => b.constant(2.5, span, [2, 3]), {});
    assert.equal(y.shape, [2, 3]);
    assert.equal(Array.from(y.data), [2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
    const i = run((b) => b.constant(-2.7, span, [2], "i32"), {});
    assert.equal(Array.from(i.data), [-2, -2]);
  },
  random_uniform: () => {
    const n = 4000;
    const y = randomGraph("random_uniform", 7, n);
    const want = Array.from({ length: n }, (_, i) => uniformBig(i, 7, 3));
    assert.equal(Array.from(y.data), want); // bit for bit
    const mean = want.reduce((a, v) => a + v, 0) / n;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
    assert.ok(want.every((v) => v >= 0 && v < 1));
    // Another counter or stream gives other numbers; a float counter truncates.
    assert.not.equal(Array.from(randomGraph("random_uniform", 8, 8).data), want.slice(0, 8));
    const f = run(
      (b, i) => b.add("random_uniform", [i.t!], { stream: 3 }, span, { shape: [8], dtype: "f32" }),
      { t: { shape: [], data: [7.9] } },
    );
    assert.equal(Array.from(f.data), want.slice(0, 8));
  },
  random_normal: () => {
    const n = 4000;
    const y = randomGraph("random_normal", 11, n);
    const want = Array.from({ length: n }, (_, i) => {
      const u1 = uniformBig(2 * i, 11, 3);
      const u2 = uniformBig(2 * i + 1, 11, 3);
      return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    });
    assertClose(y.data, want, 1e-15, "normal");
    const mean = want.reduce((a, v) => a + v, 0) / n;
    const variance = want.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    assert.ok(Math.abs(mean) < 0.06 && Math.abs(variance - 1) < 0.08, `${mean} ${variance}`);
  },

  neg: unaryCase("neg"),
  exp: unaryCase("exp"),
  log: unaryCase("log"),
  sqrt: unaryCase("sqrt"),
  rsqrt: unaryCase("rsqrt"),
  tanh: unaryCase("tanh"),
  sigmoid: unaryCase("sigmoid"),
  relu: unaryCase("relu"),
  abs: unaryCase("abs"),
  sign: unaryCase("sign"),
  sin: unaryCase("sin"),
  cos: unaryCase("cos"),
  floor: unaryCase("floor"),
  square: unaryCase("square"),
  reciprocal: unaryCase("reciprocal"),

  add: binaryCase("add", () =>
    i32Binary("add", [2147483647, -3, 5], [1, 4, -7], [-2147483648, 1, -2]),
  ),
  sub: binaryCase("sub", () => i32Binary("sub", [-2147483648, 3], [1, 5], [2147483647, -2])),
  mul: binaryCase("mul", () => i32Binary("mul", [65536, -3, 7], [65536, 4, 6], [0, -12, 42])),
  div: binaryCase("div", () => i32Binary("div", [7, -7, 7, 9], [2, 2, 0, -4], [3, -3, 7, -2])),
  pow: binaryCase("pow"),
  max: binaryCase("max", () => i32Binary("max", [1, -5], [2, -6], [2, -5])),
  min: binaryCase("min"),
  greater: binaryCase("greater"),
  greater_equal: binaryCase("greater_equal"),
  less: binaryCase("less"),
  less_equal: binaryCase("less_equal"),
  equal: binaryCase("equal"),
  not_equal: binaryCase("not_equal"),
  where: () => {
    const y = run((b, i) => b.add("where", [i.c!, i.a!, b.constant(-1, span)], {}, span), {
      c: { shape: [2, 1], data: [0, 2] },
      a: { shape: [1, 3], data: [10, 20, 30] },
    });
    assert.equal(y.shape, [2, 3]);
    assert.equal(Array.from(y.data), [-1, -1, -1, 10, 20, 30]);
  },
  cast: () => {
    const y = run((b, i) => b.add("cast", [i.x!], { to: "i32" }, span), {
      x: { shape: [6], data: [-1.7, 1.7, 2.5, -0.5, 3e9, NaN] },
    });
    assert.is(y.dtype, "i32");
    assert.equal(Array.from(y.data), [-1, 1, 2, 0, 2147483647, 0]);
    const z = run((b, i) => b.add("cast", [i.x!], { to: "f32" }, span), {
      x: { shape: [2], data: [3, -4], dtype: "i32" },
    });
    assert.is(z.dtype, "f32");
    assert.equal(Array.from(z.data), [3, -4]);
  },

  reduce_sum: () => {
    const x = randomArray(24, next);
    for (const keepDims of [false, true]) {
      const y = run((b, i) => b.add("reduce_sum", [i.x!], { axes: [0, 2], keepDims }, span), {
        x: { shape: [2, 3, 4], data: x },
      });
      assert.equal(y.shape, keepDims ? [1, 3, 1] : [3]);
      const want = [0, 1, 2].map((j) => {
        let s = 0;
        for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) s += x[at([2, 3, 4], i, j, k)]!;
        return s;
      });
      assertClose(y.data, want, 1e-14, "reduce_sum");
    }
    const all = run(
      (b, i) => b.add("reduce_sum", [i.x!], { axes: [0, 1, 2], keepDims: false }, span),
      {
        x: { shape: [2, 3, 4], data: x },
      },
    );
    assert.equal(all.shape, []);
    assertClose(all.data, [x.reduce((a, v) => a + v, 0)], 1e-14);
  },
  reduce_max: () => {
    const x = randomArray(24, next);
    const y = run((b, i) => b.add("reduce_max", [i.x!], { axes: [1], keepDims: false }, span), {
      x: { shape: [2, 3, 4], data: x },
    });
    assert.equal(y.shape, [2, 4]);
    const want: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let k = 0; k < 4; k++)
        want.push(Math.max(...[0, 1, 2].map((j) => x[at([2, 3, 4], i, j, k)]!)));
    assert.equal(Array.from(y.data), want);
  },
  argmax: () => {
    const y = run((b, i) => b.add("argmax", [i.x!], { axis: 1 }, span), {
      x: { shape: [3, 4], data: [1, 3, 3, 0, 5, 5, 5, 5, -1, -2, -0.5, -3] },
    });
    assert.is(y.dtype, "i32");
    assert.equal(Array.from(y.data), [1, 0, 2]);
    const z = run((b, i) => b.add("argmax", [i.x!], { axis: 0 }, span), {
      x: { shape: [3, 2], data: [1, 9, 4, 9, 4, 2] },
    });
    assert.equal(Array.from(z.data), [1, 0]);
  },

  reshape: () => {
    const y = run((b, i) => b.add("reshape", [i.x!], { shape: [3, 2] }, span), {
      x: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
    });
    assert.equal(y.shape, [3, 2]);
    assert.equal(Array.from(y.data), [1, 2, 3, 4, 5, 6]);
  },
  transpose: () => {
    const x = randomArray(24, next);
    const y = run((b, i) => b.add("transpose", [i.x!], { perm: [2, 0, 1] }, span), {
      x: { shape: [2, 3, 4], data: x },
    });
    assert.equal(y.shape, [4, 2, 3]);
    for (let f = 0; f < 24; f++) {
      const [i, j, k] = unflat([4, 2, 3], f) as [number, number, number];
      assert.is(y.data[f], x[at([2, 3, 4], j, k, i)]);
    }
  },
  broadcast_to: () => {
    const y = run((b, i) => b.add("broadcast_to", [i.x!], { shape: [2, 3, 4] }, span), {
      x: { shape: [3, 1], data: [7, 8, 9] },
    });
    for (let f = 0; f < 24; f++) assert.is(y.data[f], 7 + unflat([2, 3, 4], f)[1]!);
  },
  slice: () => {
    const x = Array.from({ length: 20 }, (_, i) => i);
    const y = run((b, i) => b.add("slice", [i.x!], { starts: [1, 2], sizes: [2, 3] }, span), {
      x: { shape: [4, 5], data: x },
    });
    assert.equal(Array.from(y.data), [7, 8, 9, 12, 13, 14]);
  },
  pad: () => {
    const y = run((b, i) => b.add("pad", [i.x!], { lo: [1, 0], hi: [0, 2] }, span), {
      x: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
    });
    assert.equal(y.shape, [3, 5]);
    assert.equal(Array.from(y.data), [0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0]);
  },
  concat: () => {
    const y = run((b, i) => b.add("concat", [i.a!, i.b!, i.c!], { axis: 1 }, span), {
      a: { shape: [2, 1], data: [1, 2] },
      b: { shape: [2, 3], data: [3, 4, 5, 6, 7, 8] },
      c: { shape: [2, 2], data: [9, 10, 11, 12] },
    });
    assert.equal(y.shape, [2, 6]);
    assert.equal(Array.from(y.data), [1, 3, 4, 5, 9, 10, 2, 6, 7, 8, 11, 12]);
  },

  matmul: () => {
    const [M, K, N] = [2, 3, 4];
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        // A batch [2, 1] and B batch [3] broadcast to [2, 3].
        const aShape = [2, 1, ...(transA ? [K, M] : [M, K])];
        const bShape = [3, ...(transB ? [N, K] : [K, N])];
        const a = randomArray(count(aShape), next);
        const bv = randomArray(count(bShape), next);
        const y = run((b, i) => b.add("matmul", [i.a!, i.b!], { transA, transB }, span), {
          a: { shape: aShape, data: a },
          b: { shape: bShape, data: bv },
        });
        assert.equal(y.shape, [2, 3, M, N]);
        const A = (p: number, i: number, k: number) =>
          a[transA ? at(aShape, p, 0, k, i) : at(aShape, p, 0, i, k)]!;
        const B = (q: number, k: number, j: number) =>
          bv[transB ? at(bShape, q, j, k) : at(bShape, q, k, j)]!;
        const want: number[] = [];
        for (let p = 0; p < 2; p++)
          for (let q = 0; q < 3; q++)
            for (let i = 0; i < M; i++)
              for (let j = 0; j < N; j++) {
                let s = 0;
                for (let k = 0; k < K; k++) s += A(p, i, k) * B(q, k, j);
                want.push(s);
              }
        assertClose(y.data, want, 1e-14, `matmul ${transA} ${transB}`);
      }
  },
  conv2d: () => {
    const { x, w, ref } = convSetup();
    const y = run((b, i) => b.add("conv2d", [i.x!, i.w!], convAttrs, span), {
      x: { shape: convX, data: x },
      w: { shape: convW, data: w },
    });
    assert.equal(y.shape, ref.shape);
    assertClose(y.data, ref.data, 1e-14, "conv2d");
  },
  // <conv(x, w), dy> = <x, grad_input(dy, w)> = <w, grad_filter(x, dy)>
  conv2d_grad_input: () => {
    const { x, w, dy, yShape, ref } = convSetup();
    const dx = run(
      (b, i) =>
        b.add("conv2d_grad_input", [i.dy!, i.w!], { ...convAttrs, inputShape: convX }, span),
      { dy: { shape: yShape, data: dy }, w: { shape: convW, data: w } },
    );
    assert.equal(dx.shape, convX);
    assertClose([dot(dx.data, x)], [dot(ref.data, dy)], 1e-13, "adjoint");
  },
  conv2d_grad_filter: () => {
    const { x, w, dy, yShape, ref } = convSetup();
    const dw = run(
      (b, i) =>
        b.add("conv2d_grad_filter", [i.x!, i.dy!], { ...convAttrs, filterShape: convW }, span),
      { x: { shape: convX, data: x }, dy: { shape: yShape, data: dy } },
    );
    assert.equal(dw.shape, convW);
    assertClose([dot(dw.data, w)], [dot(ref.data, dy)], 1e-13, "adjoint");
  },
  maxpool2d: () => {
    const y = run((b, i) => b.add("maxpool2d", [i.x!], pool2x2, span), {
      x: { shape: [1, 3, 3, 1], data: pool3 },
    });
    assert.equal(y.shape, [1, 2, 2, 1]);
    assert.equal(Array.from(y.data), [5, 5, 5, 6]);
    // Padding cells are skipped, not read as zeros.
    const padded: Pool2dAttrs = { window: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1] };
    const z = run((b, i) => b.add("maxpool2d", [i.x!], padded, span), {
      x: { shape: [1, 2, 2, 1], data: [-1, -2, -3, -4] },
    });
    assert.equal(Array.from(z.data), [-1, -2, -3, -4]);
  },
  maxpool2d_grad: () => {
    // Windows of 5 5 / 5 3 tie: the first maximum in row-major order (0, 1) takes it.
    const dx = run((b, i) => b.add("maxpool2d_grad", [i.x!, i.dy!], pool2x2, span), {
      x: { shape: [1, 3, 3, 1], data: pool3 },
      dy: { shape: [1, 2, 2, 1], data: [1, 2, 3, 4] },
    });
    assert.equal(Array.from(dx.data), [0, 3, 0, 3, 0, 0, 0, 0, 4]);
  },
  avgpool2d: () => {
    const y = run((b, i) => b.add("avgpool2d", [i.x!], avgpoolPad(), span), {
      x: { shape: [1, 2, 2, 1], data: [1, 2, 3, 4] },
    });
    assert.equal(Array.from(y.data), [1, 1.5, 2, 2.5]);
  },
  avgpool2d_grad: () => {
    const dx = run(
      (b, i) =>
        b.add("avgpool2d_grad", [i.dy!], { ...avgpoolPad(), inputShape: [1, 2, 2, 1] }, span),
      { dy: { shape: [1, 2, 2, 1], data: [1, 1, 1, 1] } },
    );
    assert.equal(Array.from(dx.data), [2.25, 0.75, 0.75, 0.25]);
    // Adjoint of avgpool2d on a strided, padded case with several channels.
    const attrs: Pool2dAttrs = { window: [3, 2], strides: [2, 2], pads: [1, 1, 0, 1] };
    const xs = [2, 5, 4, 3];
    const x = randomArray(count(xs), next);
    const y = run((b, i) => b.add("avgpool2d", [i.x!], attrs, span), { x: { shape: xs, data: x } });
    const dy = randomArray(y.data.length, next);
    const back = run(
      (b, i) => b.add("avgpool2d_grad", [i.dy!], { ...attrs, inputShape: xs }, span),
      { dy: { shape: y.shape, data: dy } },
    );
    assertClose([dot(back.data, x)], [dot(y.data, dy)], 1e-13, "adjoint");
  },

  gather: () => {
    const y = run((b, i) => b.add("gather", [i.t!, i.i!], {}, span), {
      t: { shape: [4, 2], data: [0, 1, 10, 11, 20, 21, 30, 31] },
      i: { shape: [2, 3], data: [3, 0, 1, 3, 4, -1], dtype: "i32" },
    });
    assert.equal(y.shape, [2, 3, 2]);
    // Out-of-range indices read zeros.
    assert.equal(Array.from(y.data), [30, 31, 0, 1, 10, 11, 30, 31, 0, 0, 0, 0]);
  },
  scatter_add: () => {
    const y = run((b, i) => b.add("scatter_add", [i.u!, i.i!], { rows: 4 }, span), {
      u: { shape: [4, 2], data: [1, 2, 3, 4, 5, 6, 7, 8] },
      i: { shape: [4], data: [2, 0, 2, 9], dtype: "i32" },
    });
    assert.equal(y.shape, [4, 2]);
    // Out-of-range indices are dropped.
    assert.equal(Array.from(y.data), [3, 4, 0, 0, 6, 8, 0, 0]);
  },
};

for (const op of opKinds) test(`${op} forward`, cases[op]);

test("every primitive has a forward case", () => {
  for (const op of opKinds) assert.type(cases[op], "function", op);
});

test("symbolic shapes are refused", () => {
  const b = new GraphBuilder();
  input(b, "x", ["batch", 3]);
  assert.throws(() => evaluate(b.build(), inputFeeds({ x: [1, 2, 3] })), /symbolic/);
});

test.run();
