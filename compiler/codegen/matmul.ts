/**
 * @file Batched matmul with optional transposes and broadcast batch axes, generated from
 * parameters (tune.ts): each invocation computes a `bm` x `bn` block of the output (rows x
 * columns, up to 16 x 16, `bn` a multiple of 4), so every loaded value feeds several multiply-adds; on
 * llvmpipe a 4x4 block ran about 5x faster than one invocation per output and bigger blocks
 * faster still (docs: /work/shared/design/webgpu.md). When the contiguous axis of each operand
 * and K are multiples of 4, operands are read as `vec4<f32>` and 4x4 tiles are combined as
 * matrices (as outer products when A is stored transposed); otherwise the same blocking runs
 * on scalar loads. Rows and columns past the edge are clamped on load and skipped on store,
 * so every size is correct. Stored values pass through the fused epilogue, if any.
 */
import { type EmitCtx, type Emitted, kernels } from "./context.js";
import { itemsKernel, itemsWorkgroup, type MatmulConfig, matmulKey, tuned } from "./tune.js";
import { broadcastIndex, coords, numel, u32 } from "./wgsl.js";

/**
 * The heuristic block: 8x8 with vec4 loads, measured fastest on llvmpipe for most sizes among
 * blocks up to 8x8. Bigger blocks (up to 16x16, and one block as wide as N when N <= 16) often
 * run faster there (64x128x784: 8x8 ~1.3 ms, 16x16 ~0.9 ms; 64x10x5408: 1.55 ms, 8x16 0.88 ms),
 * but their WGSL is up to 4x longer and a built module embeds every kernel (the MNIST module's
 * 30 KB budget), so they are the search's candidates (tune.ts), not the default.
 */
export function matmulHeuristic(M: number, N: number, K: number): MatmulConfig {
  void K;
  const bm = M >= 8 ? 8 : M >= 4 ? 4 : M >= 2 ? 2 : 1;
  const bn = N >= 8 ? 8 : 4;
  return { bm, bn, wg: 64 };
}

export function matmulEmitter(ctx: EmitCtx<"matmul">): Emitted {
  const { transA, transB } = ctx.attrs;
  const aShape = ctx.inputs[0]!.shape;
  const bShape = ctx.inputs[1]!.shape;
  const out = ctx.shape;
  const M = out[out.length - 2]!;
  const N = out[out.length - 1]!;
  const K = transA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
  const batchShape = out.slice(0, -2);
  const vec = K % 4 === 0 && (transA ? M : K) % 4 === 0 && (transB ? K : N) % 4 === 0 && K > 0;
  const vecOut = N % 4 === 0;
  const key = matmulKey(batchShape, M, N, K, transA, transB);
  const cfg = tuned("matmul", key, matmulHeuristic(M, N, K));
  // Transposed A on the vec4 path loads rows in fours.
  let bm = Math.max(1, Math.min(16, Math.round(cfg.bm)));
  if (vec && transA) bm = Math.ceil(bm / 4) * 4;
  const bn = Math.max(4, Math.min(16, Math.ceil(cfg.bn / 4) * 4));
  const nc = bn / 4;
  const TM = Math.ceil(M / bm);
  const TN = Math.ceil(N / bn);
  const total = numel(batchShape) * TM * TN;
  const ep = ctx.epilogue;

  const lines: string[] = [
    `let tn = i % ${u32(TN)};`,
    `let tm = (i / ${u32(TN)}) % ${u32(TM)};`,
    `let bt = i / ${u32(TN * TM)};`,
    `let m0 = tm * ${u32(bm)};`,
    `let n0 = tn * ${u32(bn)};`,
  ];
  if (batchShape.length > 0) lines.push(...coords(batchShape, "bt", "c"));
  const aIdx = broadcastIndex(aShape.slice(0, -2), batchShape, "bt", "c");
  const bIdx = broadcastIndex(bShape.slice(0, -2), batchShape, "bt", "c");
  const mul = (e: string, s: number) => (e === "0u" ? "0u" : `(${e}) * ${u32(s)}`);
  lines.push(`let aBase = ${mul(aIdx, M * K)};`);
  lines.push(`let bBase = ${mul(bIdx, K * N)};`);
  lines.push(`let oBase = bt * ${u32(M * N)};`);
  const acc = (r: number, c: number) => `acc${r}_${c}`;
  for (let r = 0; r < bm; r++)
    for (let c = 0; c < nc; c++) lines.push(`var ${acc(r, c)} = vec4<f32>(0.0f);`);
  const row = (r: number) => (M % bm === 0 ? `(m0 + ${r}u)` : `min(m0 + ${r}u, ${u32(M - 1)})`);
  const col = (j: number) => (N % bn === 0 ? `(n0 + ${j}u)` : `min(n0 + ${j}u, ${u32(N - 1)})`);
  const body: string[] = [];

  if (vec) {
    const K4 = K / 4;
    const N4 = N / 4;
    if (transA) {
      // Rows of A^T are columns of the tile: accumulate outer products (no transpose).
      const M4 = M / 4;
      for (let h = 0; h < bm / 4; h++) {
        const q = M % bm === 0 ? `m0 / 4u + ${h}u` : `min(m0 / 4u + ${h}u, ${u32(M4 - 1)})`;
        lines.push(`let aq${h} = aBase / 4u + ${q};`);
      }
      for (let j = 0; j < 4; j++)
        for (let h = 0; h < bm / 4; h++)
          body.push(`let at${j}_${h} = a[aq${h} + (4u * kq + ${j}u) * ${u32(M4)}];`);
    } else {
      for (let r = 0; r < bm; r++) lines.push(`let ar${r} = (aBase + ${row(r)} * ${u32(K)}) / 4u;`);
      for (let r = 0; r < bm; r++) body.push(`let a${r} = a[ar${r} + kq];`);
    }
    if (transB) {
      for (let j = 0; j < bn; j++) lines.push(`let bc${j} = (bBase + ${col(j)} * ${u32(K)}) / 4u;`);
      for (let c = 0; c < nc; c++) {
        body.push(
          `let bm${c} = transpose(mat4x4<f32>(`,
          ...[0, 1, 2, 3].map((j) => `  b[bc${4 * c + j} + kq]${j < 3 ? "," : ""}`),
          "));",
        );
      }
    } else {
      for (let c = 0; c < nc; c++) {
        const q = N % bn === 0 ? `n0 / 4u + ${c}u` : `min(n0 / 4u + ${c}u, ${u32(N4 - 1)})`;
        lines.push(`let bq${c} = bBase / 4u + ${q};`);
      }
      for (let c = 0; c < nc; c++) {
        body.push(
          `let bm${c} = mat4x4<f32>(`,
          ...[0, 1, 2, 3].map(
            (j) => `  b[bq${c} + (4u * kq + ${j}u) * ${u32(N4)}]${j < 3 ? "," : ""}`,
          ),
          ");",
        );
      }
    }
    for (let r = 0; r < bm; r++) {
      for (let c = 0; c < nc; c++) {
        if (transA) {
          const h = Math.floor(r / 4);
          const x = "xyzw"[r % 4]!;
          const terms = [0, 1, 2, 3].map((j) => `at${j}_${h}.${x} * bm${c}[${j}]`);
          body.push(`${acc(r, c)} += ${terms.join(" + ")};`);
        } else {
          body.push(`${acc(r, c)} += bm${c} * a${r};`);
        }
      }
    }
    lines.push(`for (var kq = 0u; kq < ${u32(K4)}; kq++) {`, ...body.map((l) => `  ${l}`), "}");
  } else {
    const sAm = transA ? 1 : K;
    const sAk = transA ? M : 1;
    const sBk = transB ? 1 : N;
    const sBn = transB ? K : 1;
    const times = (e: string, s: number) => (s === 1 ? e : `${e} * ${u32(s)}`);
    for (let r = 0; r < bm; r++) lines.push(`let ar${r} = aBase + ${times(row(r), sAm)};`);
    for (let j = 0; j < bn; j++) lines.push(`let bc${j} = bBase + ${times(col(j), sBn)};`);
    const ak = times("k", sAk);
    const bk = times("k", sBk);
    const loop = [];
    for (let c = 0; c < nc; c++) {
      const els = [0, 1, 2, 3].map((j) => `b[bc${4 * c + j} + ${bk}]`);
      loop.push(`let bv${c} = vec4<f32>(${els.join(", ")});`);
    }
    for (let r = 0; r < bm; r++) {
      loop.push(`let av${r} = a[ar${r} + ${ak}];`);
      for (let c = 0; c < nc; c++) loop.push(`${acc(r, c)} += av${r} * bv${c};`);
    }
    lines.push(`for (var k = 0u; k < ${u32(K)}; k++) {`, ...loop.map((l) => `  ${l}`), "}");
  }

  for (let r = 0; r < bm; r++) {
    const st: string[] = [`let o${r} = oBase + (m0 + ${r}u) * ${u32(N)} + n0;`];
    for (let c = 0; c < nc; c++) {
      const o = c === 0 ? `o${r}` : `o${r} + ${u32(4 * c)}`;
      if (vecOut) {
        const v = ep ? `nnc_epilogue4(${acc(r, c)}, ${o})` : acc(r, c);
        const store = `out[(${o}) / 4u] = ${v};`;
        st.push(N % bn === 0 ? store : `if (n0 + ${u32(4 * c)} < ${u32(N)}) { ${store} }`);
      } else {
        for (let j = 0; j < 4; j++) {
          const oj = `${o} + ${u32(j)}`;
          const v = ep ? `nnc_epilogue(${acc(r, c)}[${j}], ${oj})` : `${acc(r, c)}[${j}]`;
          const store = `out[${oj}] = ${v};`;
          st.push(4 * c + j === 0 ? store : `if (n0 + ${u32(4 * c + j)} < ${u32(N)}) { ${store} }`);
        }
      }
    }
    if (M % bm === 0 && r > 0) lines.push(...st);
    else if (r === 0) lines.push(...st);
    else lines.push(`if (m0 + ${r}u < ${u32(M)}) {`, ...st.map((l) => `  ${l}`), "}");
  }
  const elem = vec ? "vec4<f32>" : "f32";
  return kernels(
    itemsKernel(
      {
        inputs: [
          { name: "a", type: elem },
          { name: "b", type: elem },
        ],
        reads: [0, 1],
        output: vecOut ? "vec4<f32>" : "f32",
        total,
        wg: itemsWorkgroup(total, cfg.wg),
        body: lines,
        ...(ep ? { epilogue: ep } : {}),
      },
      ctx.limits,
    ),
  );
}
