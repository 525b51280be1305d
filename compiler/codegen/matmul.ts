/**
 * @file Batched matmul with optional transposes and broadcast batch axes. Each invocation
 * computes a 4x4 block of the output: on llvmpipe this runs about 5x faster than one
 * invocation per output (docs: /work/shared/design/webgpu.md). When the contiguous axis of
 * each operand and K are multiples of 4, operands are read as `vec4<f32>` and 4x4 tiles are
 * combined as matrices (transposed when the operand is stored transposed); otherwise the same
 * 4x4 blocking runs on scalar loads. Rows and columns past the edge are clamped on load and
 * skipped on store, so every size is correct.
 */
import { type EmitCtx, type Emitted, kernels } from "./context.js";
import { broadcastIndex, coords, kernelSource, numel, u32 } from "./wgsl.js";

export function matmulEmitter(ctx: EmitCtx<"matmul">): Emitted {
  const { transA, transB } = ctx.attrs;
  const aShape = ctx.inputs[0]!.shape;
  const bShape = ctx.inputs[1]!.shape;
  const out = ctx.shape;
  const M = out[out.length - 2]!;
  const N = out[out.length - 1]!;
  const K = transA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
  const batchShape = out.slice(0, -2);
  const TM = Math.ceil(M / 4);
  const TN = Math.ceil(N / 4);
  const total = numel(batchShape) * TM * TN;

  const vec = K % 4 === 0 && (transA ? M : K) % 4 === 0 && (transB ? K : N) % 4 === 0 && K > 0;
  const vecOut = N % 4 === 0;

  const lines: string[] = [
    `let tn = i % ${u32(TN)};`,
    `let tm = (i / ${u32(TN)}) % ${u32(TM)};`,
    `let bt = i / ${u32(TN * TM)};`,
    "let m0 = tm * 4u;",
    "let n0 = tn * 4u;",
  ];
  if (batchShape.length > 0) lines.push(...coords(batchShape, "bt", "c"));
  const aIdx = broadcastIndex(aShape.slice(0, -2), batchShape, "bt", "c");
  const bIdx = broadcastIndex(bShape.slice(0, -2), batchShape, "bt", "c");
  const mul = (e: string, s: number) => (e === "0u" ? "0u" : `(${e}) * ${u32(s)}`);
  lines.push(`let aBase = ${mul(aIdx, M * K)};`);
  lines.push(`let bBase = ${mul(bIdx, K * N)};`);
  lines.push(`let oBase = bt * ${u32(M * N)};`);
  for (let r = 0; r < 4; r++) lines.push(`var acc${r} = vec4<f32>(0.0f);`);
  const row = (r: number) => `min(m0 + ${r}u, ${u32(M - 1)})`;
  const col = (r: number) => `min(n0 + ${r}u, ${u32(N - 1)})`;

  if (vec) {
    const K4 = K / 4;
    if (transA) {
      lines.push("let aq = (aBase + m0) / 4u;");
    } else {
      for (let r = 0; r < 4; r++) lines.push(`let ar${r} = (aBase + ${row(r)} * ${u32(K)}) / 4u;`);
    }
    if (transB) {
      for (let r = 0; r < 4; r++) lines.push(`let bc${r} = (bBase + ${col(r)} * ${u32(K)}) / 4u;`);
    } else {
      lines.push("let bq = (bBase + n0) / 4u;");
    }
    const body: string[] = [];
    if (transA) {
      // Rows of A^T are columns of the tile: accumulate outer products (no transpose).
      const s = u32(M / 4);
      for (let j = 0; j < 4; j++) body.push(`let at${j} = a[aq + (4u * kq + ${j}u) * ${s}];`);
    } else {
      for (let r = 0; r < 4; r++) body.push(`let a${r} = a[ar${r} + kq];`);
    }
    if (transB) {
      body.push(
        "let bm = transpose(mat4x4<f32>(",
        ...[0, 1, 2, 3].map((j) => `  b[bc${j} + kq]${j < 3 ? "," : ""}`),
        "));",
      );
    } else {
      const s = u32(N / 4);
      body.push(
        "let bm = mat4x4<f32>(",
        ...[0, 1, 2, 3].map((j) => `  b[bq + (4u * kq + ${j}u) * ${s}]${j < 3 ? "," : ""}`),
        ");",
      );
    }
    if (transA) {
      for (let r = 0; r < 4; r++) {
        const c = "xyzw"[r]!;
        body.push(
          `acc${r} += at0.${c} * bm[0] + at1.${c} * bm[1] + at2.${c} * bm[2] + at3.${c} * bm[3];`,
        );
      }
    } else {
      for (let r = 0; r < 4; r++) body.push(`acc${r} += bm * a${r};`);
    }
    lines.push(`for (var kq = 0u; kq < ${u32(K4)}; kq++) {`, ...body.map((l) => `  ${l}`), "}");
  } else {
    const sAm = transA ? 1 : K;
    const sAk = transA ? M : 1;
    const sBk = transB ? 1 : N;
    const sBn = transB ? K : 1;
    const times = (e: string, s: number) => (s === 1 ? e : `${e} * ${u32(s)}`);
    for (let r = 0; r < 4; r++) lines.push(`let ar${r} = aBase + ${times(row(r), sAm)};`);
    for (let r = 0; r < 4; r++) lines.push(`let bc${r} = bBase + ${times(col(r), sBn)};`);
    const ak = times("k", sAk);
    const bk = times("k", sBk);
    lines.push(
      `for (var k = 0u; k < ${u32(K)}; k++) {`,
      `  let bv = vec4<f32>(b[bc0 + ${bk}], b[bc1 + ${bk}], b[bc2 + ${bk}], b[bc3 + ${bk}]);`,
      ...[0, 1, 2, 3].map((r) => `  acc${r} += a[ar${r} + ${ak}] * bv;`),
      "}",
    );
  }
  for (let r = 0; r < 4; r++) {
    lines.push(`if (m0 + ${r}u < ${u32(M)}) {`);
    if (vecOut) {
      lines.push(`  out[(oBase + (m0 + ${r}u) * ${u32(N)} + n0) / 4u] = acc${r};`);
    } else {
      lines.push(`  let o${r} = oBase + (m0 + ${r}u) * ${u32(N)} + n0;`);
      for (let c = 0; c < 4; c++) {
        const store = `out[o${r} + ${c}u] = acc${r}[${c}];`;
        lines.push(c === 0 ? `  ${store}` : `  if (n0 + ${c}u < ${u32(N)}) { ${store} }`);
      }
    }
    lines.push("}");
  }
  const elem = vec ? "vec4<f32>" : "f32";
  return kernels(
    kernelSource(
      {
        inputs: [
          { name: "a", type: elem },
          { name: "b", type: elem },
        ],
        reads: [0, 1],
        output: vecOut ? "vec4<f32>" : "f32",
        total,
        body: lines,
      },
      ctx.limits,
    ),
  );
}
