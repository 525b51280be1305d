/**
 * @file Image kernels (NHWC, filters HWIO) as direct loops, one invocation per output element:
 * conv2d and its two gradients, max and average pooling and their gradients. Gradients are
 * gathers (each input pixel sums the windows that cover it): WebGPU has no float atomics.
 * Window positions are computed in i32 so padding can make them negative.
 */
import type { Conv2dAttrs, Pool2dAttrs } from "../primitives.js";
import { type EmitCtx, type Emitted, type Epilogue, kernels } from "./context.js";
import {
  type ConvConfig,
  convKey,
  type GradFilterConfig,
  groupKernel,
  itemsKernel,
  itemsWorkgroup,
  tuned,
} from "./tune.js";
import {
  type BufferDecl,
  clampWorkgroup,
  coords,
  indent,
  kernelSource,
  numel,
  u32,
} from "./wgsl.js";

/**
 * One invocation per output element. Pass `epilogue` only when `body` stores through it (the
 * planner then binds its buffers); without it an epilogue the planner offered is declined.
 */
function f32Kernel(
  ctx: EmitCtx,
  inputs: BufferDecl[],
  body: string[],
  epilogue?: Epilogue,
): Emitted {
  return kernels(
    kernelSource(
      {
        inputs,
        reads: inputs.map((_, k) => k),
        output: "f32",
        total: numel(ctx.shape),
        body,
        ...(epilogue ? { epilogue } : {}),
      },
      ctx.limits,
    ),
  );
}

const f32buf = (name: string): BufferDecl => ({ name, type: "f32" });

/** Lines looping `o` over the output positions whose window covers input position `p`. */
function coveringLoop(
  o: string,
  p: string,
  k: string,
  window: number,
  stride: number,
  padLo: number,
  outSize: number,
  inner: string[],
): string[] {
  return [
    `for (var ${k} = 0; ${k} < ${window}; ${k}++) {`,
    `  let t${o} = ${p} + ${padLo} - ${k};`,
    `  if (t${o} < 0${stride > 1 ? ` || t${o} % ${stride} != 0` : ""}) {`,
    "    continue;",
    "  }",
    `  let ${o} = t${o} / ${stride};`,
    `  if (${o} >= ${outSize}) {`,
    "    continue;",
    "  }",
    ...indent(inner),
    "}",
  ];
}

/**
 * Register-blocked direct convolution: each invocation computes `px` neighbouring output pixels
 * of one row x `bf` filters (vec4 over filters when F % 4 == 0, and over input channels when
 * C % 4 == 0), looping over the window and the input channels; cells in the padding read 0.
 * Every stored value passes through the epilogue when the planner fused one.
 */
export function conv2dEmitter(ctx: EmitCtx<"conv2d">): Emitted {
  const [N, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [KH, KW, , F] = ctx.inputs[1]!.shape as [number, number, number, number];
  const [, OH, OW] = ctx.shape as [number, number, number, number];
  const { strides: s, pads: p } = ctx.attrs;
  const cw = C % 4 === 0 ? 4 : 1;
  const fw = F % 4 === 0 ? 4 : 1;
  const key = convKey([N, H, W, C], KH, KW, F, s, p);
  const cfg = tuned("conv2d", key, convHeuristic(OW, C, F));
  const bf = Math.min(Math.max(Math.ceil(cfg.ch / fw) * fw, fw), Math.ceil(F / fw) * fw, 32);
  const px = Math.max(1, Math.min(cfg.px, OW, Math.floor(128 / bf)));
  const nq = bf / fw;
  const nFB = Math.ceil(F / bf);
  const nPB = Math.ceil(OW / px);
  const ft = fw === 4 ? "vec4<f32>" : "f32";
  const xt = cw === 4 ? "vec4<f32>" : "f32";
  const C4 = C / cw;
  const F4 = F / fw;
  const ep = ctx.epilogue;
  const padW = p[2] > 0 || p[3] > 0 || OW % px !== 0;
  const lines: string[] = [
    `let fb = i % ${u32(nFB)};`,
    `let pb = (i / ${u32(nFB)}) % ${u32(nPB)};`,
    `let row = i / ${u32(nFB * nPB)};`, // n * OH + oh
    `let n = row / ${u32(OH)};`,
    `let oh = i32(row % ${u32(OH)});`,
    `let f0 = fb * ${u32(bf)};`,
    `let ow0 = i32(pb * ${u32(px)});`,
  ];
  for (let j = 0; j < px; j++)
    for (let q = 0; q < nq; q++) lines.push(`var a${j}_${q} = ${ft}(0);`);
  // Filter vector q of this invocation's block (clamped at the edge; its stores are skipped).
  for (let q = 0; q < nq; q++) {
    const fq = `f0 / ${u32(fw)} + ${u32(q)}`;
    lines.push(`let fq${q} = ${F % bf === 0 ? fq : `min(${fq}, ${u32(F4 - 1)})`};`);
  }
  const geo: ConvGeometry = { s, p, H, W, KH, KW, C, C4, F4, cw, nq, px, padW, xt };
  lines.push(...(KW <= 8 ? convColumns(geo) : convTaps(geo)));
  for (let j = 0; j < px; j++) {
    const guard = OW % px !== 0 ? `ow0 + ${j} < ${OW}` : "";
    const st: string[] = [];
    for (let q = 0; q < nq; q++) {
      const o = `ob${j} + ${u32(q * fw)}`;
      const val = ep ? `nnc_epilogue${fw === 4 ? "4" : ""}(a${j}_${q}, ${o})` : `a${j}_${q}`;
      const store = `out[(${o})${fw === 4 ? " / 4u" : ""}] = ${val};`;
      st.push(F % bf === 0 ? store : `if (f0 + ${u32(q * fw)} < ${u32(F)}) { ${store} }`);
    }
    const base = `let ob${j} = (row * ${u32(OW)} + u32(ow0 + ${j})) * ${u32(F)} + f0;`;
    if (guard) lines.push(`if (${guard}) {`, ...indent([base, ...st]), "}");
    else lines.push(base, ...st);
  }
  return kernels(
    itemsKernel(
      {
        inputs: [
          { name: "x", type: xt },
          { name: "w", type: ft },
        ],
        reads: [0, 1],
        output: ft,
        total: N * OH * nPB * nFB,
        wg: itemsWorkgroup(N * OH * nPB * nFB, cfg.wg),
        body: lines,
        ...(ep ? { epilogue: ep } : {}),
      },
      ctx.limits,
    ),
  );
}

interface ConvGeometry {
  readonly s: readonly [number, number];
  readonly p: readonly number[];
  readonly H: number;
  readonly W: number;
  readonly KH: number;
  readonly KW: number;
  readonly C: number;
  /** Channel groups (C / cw) and filter groups (F / fw) per pixel. */
  readonly C4: number;
  readonly F4: number;
  readonly cw: number;
  readonly nq: number;
  readonly px: number;
  /** Some input column may fall outside the image (padding, or the last block's overhang). */
  readonly padW: boolean;
  readonly xt: string;
}

/** Loads of weights `w${l}_${q}` for channel lane l and filter vector q at tap base `wb`. */
function weightLoads(g: ConvGeometry, wb: string, name = "w"): string[] {
  const out: string[] = [];
  for (let l = 0; l < g.cw; l++)
    for (let q = 0; q < g.nq; q++)
      out.push(`let ${name}${l}_${q} = w[${wb} + ${u32(l * g.F4)} + fq${q}];`);
  return out;
}

function fmas(g: ConvGeometry, j: number, x: string, w: string): string[] {
  const out: string[] = [];
  for (let l = 0; l < g.cw; l++) {
    const xv = g.cw === 4 ? `${x}.${"xyzw"[l]}` : x;
    for (let q = 0; q < g.nq; q++) out.push(`a${j}_${q} += ${xv} * ${w}${l}_${q};`);
  }
  return out;
}

/** The window row's ih, skipped when it lies in the padding; `xr` its first pixel. */
function rowLoop(g: ConvGeometry, inner: string[]): string[] {
  return [
    `for (var kh = 0; kh < ${g.KH}; kh++) {`,
    `  let ih = oh * ${g.s[0]} + kh - ${g.p[0]};`,
    `  if (ih < 0 || ih >= ${g.H}) {`,
    "    continue;",
    "  }",
    `  let xr = (n * ${u32(g.H)} + u32(ih)) * ${u32(g.W)};`,
    ...indent(inner),
    "}",
  ];
}

/**
 * The window's columns unrolled: per window row and channel group, each input column the
 * block's pixels touch is loaded once ((px - 1) * stride + KW loads instead of px * KW) and
 * feeds every (pixel, kw) pair that reads it.
 */
function convColumns(g: ConvGeometry): string[] {
  const s1 = g.s[1];
  const used = new Set<number>();
  for (let j = 0; j < g.px; j++) for (let kw = 0; kw < g.KW; kw++) used.add(j * s1 + kw);
  const cols = [...used].sort((a, b) => a - b);
  const lines: string[] = [];
  for (const u of cols) {
    const d = u - g.p[2]!;
    lines.push(`let iw${u} = ow0 * ${s1} ${d < 0 ? "-" : "+"} ${Math.abs(d)};`);
    if (g.padW) lines.push(`let ok${u} = iw${u} >= 0 && iw${u} < ${g.W};`);
  }
  const inner: string[] = [];
  for (const u of cols) {
    const idx = `(xr + u32(iw${u})) * ${u32(g.C4)} + c`;
    inner.push(
      g.padW
        ? `let x${u} = select(${g.xt}(0), x[select(0u, ${idx}, ok${u})], ok${u});`
        : `let x${u} = x[${idx}];`,
    );
  }
  for (let kw = 0; kw < g.KW; kw++) {
    inner.push(...weightLoads(g, `wb + ${u32(kw * g.C * g.F4)}`, `k${kw}w`));
    for (let j = 0; j < g.px; j++) inner.push(...fmas(g, j, `x${j * s1 + kw}`, `k${kw}w`));
  }
  return [
    ...lines,
    ...rowLoop(g, [
      `let tb = u32(kh * ${g.KW}) * ${u32(g.C)};`,
      `for (var c = 0u; c < ${u32(g.C4)}; c++) {`,
      `  let wb = (tb + c * ${u32(g.cw)}) * ${u32(g.F4)};`,
      ...indent(inner),
      "}",
    ]),
  ];
}

/** Wide windows: loops over the window's columns, px loads of x per tap. */
function convTaps(g: ConvGeometry): string[] {
  const inner = weightLoads(g, "wb");
  for (let j = 0; j < g.px; j++) {
    const idx = `(xr + u32(iw${j})) * ${u32(g.C4)} + c`;
    inner.push(
      g.padW
        ? `let x${j} = select(${g.xt}(0), x[select(0u, ${idx}, ok${j})], ok${j});`
        : `let x${j} = x[${idx}];`,
      ...fmas(g, j, `x${j}`, "w"),
    );
  }
  const cols: string[] = [];
  for (let j = 0; j < g.px; j++) {
    cols.push(`let iw${j} = (ow0 + ${j}) * ${g.s[1]} + kw - ${g.p[2]};`);
    if (g.padW) cols.push(`let ok${j} = iw${j} >= 0 && iw${j} < ${g.W};`);
  }
  return rowLoop(g, [
    `for (var kw = 0; kw < ${g.KW}; kw++) {`,
    ...indent(cols),
    `  let tb = u32(kh * ${g.KW} + kw) * ${u32(g.C)};`,
    `  for (var c = 0u; c < ${u32(g.C4)}; c++) {`,
    `    let wb = (tb + c * ${u32(g.cw)}) * ${u32(g.F4)};`,
    ...indent(inner, 2),
    "  }",
    "}",
  ]);
}

/**
 * Pixels x filters per invocation for conv2d, as measured on llvmpipe: long runs of pixels with
 * one vec4 of filters for few input channels (the seed CNN's 3x3x1x32: 13 x 4 ran 5x faster
 * than one invocation per output), 8 x 8 when input channels come in fours. The run of pixels
 * is balanced so the last block of a row is not mostly empty.
 */
export function convHeuristic(OW: number, C: number, F: number): ConvConfig {
  const vecC = C % 4 === 0;
  const ch = F % 4 === 0 ? (vecC ? Math.min(8, F) : 4) : Math.min(F, 4);
  const most = vecC ? 8 : 16;
  const blocks = Math.ceil(OW / Math.min(most, OW));
  return { px: Math.ceil(OW / blocks), ch, wg: 64 };
}

/**
 * dx[n, h, w, c] = sum over the (kh, kw) whose output position covers (h, w) and over f of
 * dy[n, oh, ow, f] * w[kh, kw, c, f]. With F % 4 == 0 each invocation computes `px` pixels of
 * one row x `bc` channels: per window tap and vec4 of filters it loads px dy vectors and bc
 * weight vectors and accumulates their products as vec4 partial sums, added up at the end.
 * Otherwise one invocation per element. The epilogue is applied in both.
 */
export function conv2dGradInputEmitter(ctx: EmitCtx<"conv2d_grad_input">): Emitted {
  const F = ctx.inputs[0]!.shape[3]!;
  return F % 4 === 0 ? gradInputBlocked(ctx) : gradInputPerElement(ctx);
}

function gradInputBlocked(ctx: EmitCtx<"conv2d_grad_input">): Emitted {
  const [, OH, OW, F] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [KH, KW, C] = ctx.inputs[1]!.shape as [number, number, number, number];
  const [N, H, W] = ctx.shape as [number, number, number, number];
  const { strides: s, pads: p } = ctx.attrs;
  const key = convKey([N, H, W, C], KH, KW, F, s, p);
  const blocks = Math.ceil(W / Math.min(8, W));
  const cfg = tuned("conv2d_grad_input", key, { px: Math.ceil(W / blocks), ch: 4, wg: 64 });
  const bc = Math.max(1, Math.min(cfg.ch, C, 16));
  const px = Math.max(1, Math.min(cfg.px, W, Math.floor(32 / bc)));
  const F4 = F / 4;
  const nCB = Math.ceil(C / bc);
  const nPB = Math.ceil(W / px);
  const ep = ctx.epilogue;
  const lines: string[] = [
    `let cb = i % ${u32(nCB)};`,
    `let pb = (i / ${u32(nCB)}) % ${u32(nPB)};`,
    `let row = i / ${u32(nCB * nPB)};`, // n * H + h
    `let n = row / ${u32(H)};`,
    `let h = i32(row % ${u32(H)});`,
    `let c0 = cb * ${u32(bc)};`,
    `let w0 = i32(pb * ${u32(px)});`,
  ];
  for (let l = 0; l < bc; l++)
    lines.push(`let cl${l} = ${C % bc === 0 ? `c0 + ${l}u` : `min(c0 + ${l}u, ${u32(C - 1)})`};`);
  for (let j = 0; j < px; j++)
    for (let l = 0; l < bc; l++) lines.push(`var a${j}_${l} = vec4<f32>(0);`);
  const inner: string[] = [];
  for (let l = 0; l < bc; l++) inner.push(`let w${l} = w[(tb + cl${l}) * ${u32(F4)} + f];`);
  for (let j = 0; j < px; j++) {
    inner.push(`let d${j} = select(vec4<f32>(0), dy[select(0u, db${j} + f, ok${j})], ok${j});`);
    for (let l = 0; l < bc; l++) inner.push(`a${j}_${l} += d${j} * w${l};`);
  }
  const cols: string[] = [];
  for (let j = 0; j < px; j++) {
    cols.push(
      `let tw${j} = w0 + ${j} + ${p[2]} - kw;`,
      `let ow${j} = tw${j} / ${s[1]};`,
      `let ok${j} = tw${j} >= 0 && ${s[1] > 1 ? `tw${j} % ${s[1]} == 0 && ` : ""}ow${j} < ${OW} && w0 + ${j} < ${W};`,
      `let db${j} = (dr + u32(max(ow${j}, 0))) * ${u32(F4)};`,
    );
  }
  lines.push(
    `for (var kh = 0; kh < ${KH}; kh++) {`,
    `  let th = h + ${p[0]} - kh;`,
    `  if (th < 0${s[0] > 1 ? ` || th % ${s[0]} != 0` : ""} || th / ${s[0]} >= ${OH}) {`,
    "    continue;",
    "  }",
    `  let dr = (n * ${u32(OH)} + u32(th / ${s[0]})) * ${u32(OW)};`,
    `  for (var kw = 0; kw < ${KW}; kw++) {`,
    ...indent(cols, 2),
    `    let tb = u32(kh * ${KW} + kw) * ${u32(C)};`,
    `    for (var f = 0u; f < ${u32(F4)}; f++) {`,
    ...indent(inner, 3),
    "    }",
    "  }",
    "}",
  );
  const sum = (j: number, l: number) => `dot(a${j}_${l}, vec4<f32>(1.0f))`;
  for (let j = 0; j < px; j++) {
    const st: string[] = [`let ob${j} = (row * ${u32(W)} + u32(w0 + ${j})) * ${u32(C)} + c0;`];
    for (let l = 0; l < bc; l++) {
      const o = `ob${j} + ${u32(l)}`;
      const v = ep ? `nnc_epilogue(${sum(j, l)}, ${o})` : sum(j, l);
      const store = `out[${o}] = ${v};`;
      st.push(C % bc === 0 || l === 0 ? store : `if (c0 + ${u32(l)} < ${u32(C)}) { ${store} }`);
    }
    if (W % px === 0 || j === 0) lines.push(...st);
    else lines.push(`if (w0 + ${j} < ${W}) {`, ...indent(st), "}");
  }
  return kernels(
    itemsKernel(
      {
        inputs: [
          { name: "dy", type: "vec4<f32>" },
          { name: "w", type: "vec4<f32>" },
        ],
        reads: [0, 1],
        output: "f32",
        total: N * H * nPB * nCB,
        wg: itemsWorkgroup(N * H * nPB * nCB, cfg.wg),
        body: lines,
        ...(ep ? { epilogue: ep } : {}),
      },
      ctx.limits,
    ),
  );
}

function gradInputPerElement(ctx: EmitCtx<"conv2d_grad_input">): Emitted {
  const [, OH, OW, F] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [KH, KW, C] = ctx.inputs[1]!.shape as [number, number, number, number];
  const [, H, W] = ctx.shape as [number, number, number, number];
  const { strides: s, pads: p } = ctx.attrs;
  const inner = [
    `let db = ((c0 * ${u32(OH)} + u32(oh)) * ${u32(OW)} + u32(ow)) * ${u32(F)};`,
    `let wb = ((u32(kh) * ${u32(KW)} + u32(kw)) * ${u32(C)} + c3) * ${u32(F)};`,
    `for (var f = 0u; f < ${u32(F)}; f++) {`,
    "  acc += dy[db + f] * w[wb + f];",
    "}",
  ];
  const body = [
    ...coords([ctx.shape[0]!, H, W, C], "i", "c"),
    "let h = i32(c1);",
    "let x = i32(c2);",
    "var acc = 0.0f;",
    ...coveringLoop(
      "oh",
      "h",
      "kh",
      KH,
      s[0],
      p[0],
      OH,
      coveringLoop("ow", "x", "kw", KW, s[1], p[2], OW, inner),
    ),
    "out[i] = acc;",
  ];
  return f32Kernel(ctx, [f32buf("dy"), f32buf("w")], body);
}

/**
 * dW[kh, kw, c, f] = sum over (n, oh, ow) of x[n, ih, iw, c] * dy[n, oh, ow, f]: a few outputs
 * (KH*KW*C*F) each summing N*OH*OW products. One workgroup per block of `bt` taps x `cw`
 * channels x `bf` filters: its invocations take interleaved rows (n, oh) and accumulate the
 * block in registers (vec4 over filters when F % 4 == 0, over channels when C % 4 == 0), then
 * sum their partial blocks through workgroup memory.
 */
export function conv2dGradFilterEmitter(ctx: EmitCtx<"conv2d_grad_filter">): Emitted {
  const [N, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [, OH, OW, F] = ctx.inputs[1]!.shape as [number, number, number, number];
  const [KH, KW] = ctx.shape as [number, number, number, number];
  const { strides: s, pads: p } = ctx.attrs;
  const T = KH * KW;
  const cw = C % 4 === 0 ? 4 : 1;
  const fw = F % 4 === 0 ? 4 : 1;
  const key = convKey([N, H, W, C], KH, KW, F, s, p);
  const cfg = tuned("conv2d_grad_filter", key, gradFilterHeuristic(T, C, F));
  // At most 160 accumulators per invocation (bigger blocks compile for seconds).
  const bf = Math.min(Math.max(Math.ceil(cfg.bf / fw) * fw, fw), Math.ceil(F / fw) * fw, 64);
  const bt = Math.max(1, Math.min(cfg.bt, T, Math.floor(160 / (cw * bf))));
  const nq = bf / fw;
  const nTB = Math.ceil(T / bt);
  const nCB = C / cw;
  const nFB = Math.ceil(F / bf);
  const wg = clampWorkgroup(Math.min(cfg.wg, pow2AtLeast(N * OH)), ctx.limits);
  const ft = fw === 4 ? "vec4<f32>" : "f32";
  const xt = cw === 4 ? "vec4<f32>" : "f32";
  const acc = (t: number, j: number, q: number) => `a${t}_${j}_${q}`;
  const A = bt * cw * nq;
  const padded = p.some((v) => v !== 0);

  const lines: string[] = [
    `let fb = g % ${u32(nFB)};`,
    `let cb = (g / ${u32(nFB)}) % ${u32(nCB)};`,
    `let tb = g / ${u32(nFB * nCB)};`,
    `let f0 = fb * ${u32(bf)};`,
    `let c0 = cb * ${u32(cw)};`,
  ];
  for (let t = 0; t < bt; t++) {
    lines.push(`let t${t} = min(tb * ${u32(bt)} + ${u32(t)}, ${u32(T - 1)});`);
    lines.push(`let kh${t} = i32(t${t} / ${u32(KW)});`, `let kw${t} = i32(t${t} % ${u32(KW)});`);
  }
  for (let t = 0; t < bt; t++)
    for (let j = 0; j < cw; j++)
      for (let q = 0; q < nq; q++) lines.push(`var ${acc(t, j, q)} = ${ft}(0);`);
  const fIdx = (q: number) =>
    F % bf === 0
      ? `${fw === 4 ? "f0 / 4u" : "f0"} + ${u32(q)}`
      : `min(${fw === 4 ? "f0 / 4u" : "f0"} + ${u32(q)}, ${u32(F / fw - 1)})`;
  const inner: string[] = [
    `let dp = (row * ${u32(OW)} + ow) * ${u32(F / fw)};`,
    ...Array.from({ length: nq }, (_, q) => `let d${q} = dy[dp + ${fIdx(q)}];`),
  ];
  for (let t = 0; t < bt; t++) {
    const iw = `i32(ow) * ${s[1]} + kw${t} - ${p[2]}`;
    const idx = `(xr${t} + u32(iw${t})) * ${u32(C / cw)} + c0 / ${u32(cw)}`;
    if (padded) {
      inner.push(
        `let iw${t} = ${iw};`,
        `let ok${t} = okh${t} && iw${t} >= 0 && iw${t} < ${W};`,
        `let x${t} = select(${xt}(0), x[select(0u, ${idx}, ok${t})], ok${t});`,
      );
    } else {
      inner.push(`let iw${t} = ${iw};`, `let x${t} = x[${idx}];`);
    }
    for (let j = 0; j < cw; j++) {
      const xv = cw === 4 ? `x${t}.${"xyzw"[j]}` : `x${t}`;
      for (let q = 0; q < nq; q++) inner.push(`${acc(t, j, q)} += ${xv} * d${q};`);
    }
  }
  lines.push(
    `for (var row = lid; row < ${u32(N * OH)}; row += ${u32(wg)}) {`,
    `  let n = row / ${u32(OH)};`,
    `  let oh = i32(row % ${u32(OH)});`,
  );
  for (let t = 0; t < bt; t++) {
    lines.push(`  let ih${t} = oh * ${s[0]} + kh${t} - ${p[0]};`);
    if (padded) {
      lines.push(
        `  let okh${t} = ih${t} >= 0 && ih${t} < ${H};`,
        `  let xr${t} = (n * ${u32(H)} + u32(clamp(ih${t}, 0, ${H - 1}))) * ${u32(W)};`,
      );
    } else {
      lines.push(`  let xr${t} = (n * ${u32(H)} + u32(ih${t})) * ${u32(W)};`);
    }
  }
  lines.push(`  for (var ow = 0u; ow < ${u32(OW)}; ow++) {`, ...indent(inner, 2), "  }", "}");

  // Partial blocks through workgroup memory, in chunks that fit.
  const perChunk = Math.max(
    1,
    Math.floor(ctx.limits.maxComputeWorkgroupStorageSize / (wg * fw * 4)),
  );
  const chunk = Math.min(A, perChunk);
  const all: [number, number, number][] = [];
  for (let t = 0; t < bt; t++)
    for (let j = 0; j < cw; j++) for (let q = 0; q < nq; q++) all.push([t, j, q]);
  for (let a0 = 0; a0 < A; a0 += chunk) {
    const part = all.slice(a0, a0 + chunk);
    if (a0 > 0) lines.push("workgroupBarrier();");
    part.forEach(([t, j, q], k) => lines.push(`parts[${u32(k * wg)} + lid] = ${acc(t, j, q)};`));
    lines.push(
      "workgroupBarrier();",
      `for (var a = lid; a < ${u32(part.length)}; a += ${u32(wg)}) {`,
      `  var v = parts[a * ${u32(wg)}];`,
      `  for (var k = 1u; k < ${u32(wg)}; k++) {`,
      `    v += parts[a * ${u32(wg)} + k];`,
      "  }",
      // Accumulator a0 + a is (t, j, q) in row-major order over (bt, cw, nq).
      `  let ai = a + ${u32(a0)};`,
      `  let tt = tb * ${u32(bt)} + ai / ${u32(cw * nq)};`,
      `  let cc = c0 + (ai / ${u32(nq)}) % ${u32(cw)};`,
      `  let ff = f0 + (ai % ${u32(nq)}) * ${u32(fw)};`,
      `  if (tt < ${u32(T)}) {`,
      `    let o = (tt * ${u32(C)} + cc) * ${u32(F)} + ff;`,
      `    if (ff < ${u32(F)}) {`,
      `      out[${fw === 4 ? "o / 4u" : "o"}] = v;`,
      "    }",
      "  }",
      "}",
    );
  }
  return kernels(
    groupKernel(
      {
        inputs: [
          { name: "x", type: xt },
          { name: "dy", type: ft },
        ],
        reads: [0, 1],
        output: ft,
        groups: nTB * nCB * nFB,
        wg,
        shared: [`var<workgroup> parts: array<${ft}, ${chunk * wg}>;`],
        body: lines,
      },
      ctx.limits,
    ),
  );
}

/**
 * Taps x filters per invocation. On llvmpipe each loaded value costs about as much as several
 * multiply-adds (loads are per-lane gathers; accumulators past the registers spill cheaply),
 * so blocks are large: up to 16 filters and as many taps as keep 144 accumulators per
 * invocation (measured: 9 taps x 16 filters ran 7x faster than one invocation per output).
 */
export function gradFilterHeuristic(T: number, C: number, F: number): GradFilterConfig {
  const cw = C % 4 === 0 ? 4 : 1;
  let bf = F % 4 === 0 ? Math.min(16, F) : Math.min(F, 4);
  while (F % bf !== 0 && bf > 4) bf -= 4;
  const bt = Math.max(1, Math.min(T, Math.floor(144 / (cw * bf))));
  return { bt: Math.ceil(T / Math.ceil(T / bt)), bf, wg: 32 };
}

function pow2AtLeast(n: number): number {
  let p = 8;
  while (p < n && p < 1024) p *= 2;
  return p;
}

/** Lines computing the valid window rows/cols [h0, h1) x [w0, w1) of output (c1, c2). */
function windowBounds(a: Pool2dAttrs, H: number, W: number, oh: string, ow: string): string[] {
  return [
    `let h0 = max(${oh} * ${a.strides[0]} - ${a.pads[0]}, 0);`,
    `let h1 = min(${oh} * ${a.strides[0]} - ${a.pads[0]} + ${a.window[0]}, ${H});`,
    `let w0 = max(${ow} * ${a.strides[1]} - ${a.pads[2]}, 0);`,
    `let w1 = min(${ow} * ${a.strides[1]} - ${a.pads[2]} + ${a.window[1]}, ${W});`,
  ];
}

/**
 * One invocation per output pixel and group of `cw` channels (four, as vec4, when C % 4 == 0):
 * the first maximum of the window's valid cells.
 */
export function maxpoolEmitter(ctx: EmitCtx<"maxpool2d">): Emitted {
  const [, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [N, OH, OW] = ctx.shape as [number, number, number, number];
  const cw = C % 4 === 0 ? 4 : 1;
  const t = cw === 4 ? "vec4<f32>" : "f32";
  const C4 = C / cw;
  const body = [
    ...coords([N, OH, OW, C4], "i", "c"),
    ...windowBounds(ctx.attrs, H, W, "i32(c1)", "i32(c2)"),
    `let xb = c0 * ${u32(H)};`,
    `var m = ${t}(0);`,
    "if (h0 < h1 && w0 < w1) {",
    `  m = x[((xb + u32(h0)) * ${u32(W)} + u32(w0)) * ${u32(C4)} + c3];`,
    "  for (var h = h0; h < h1; h++) {",
    "    for (var w = w0; w < w1; w++) {",
    `      let v = x[((xb + u32(h)) * ${u32(W)} + u32(w)) * ${u32(C4)} + c3];`,
    "      m = select(m, v, v > m);",
    "    }",
    "  }",
    "}",
    "out[i] = m;",
  ];
  return kernels(
    itemsKernel(
      {
        inputs: [{ name: "x", type: t }],
        reads: [0],
        output: t,
        total: N * OH * OW * C4,
        wg: 64,
        body,
      },
      ctx.limits,
    ),
  );
}

export function avgpoolEmitter(ctx: EmitCtx<"avgpool2d">): Emitted {
  const [, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const body = [
    ...coords(ctx.shape, "i", "c"),
    ...windowBounds(ctx.attrs, H, W, "i32(c1)", "i32(c2)"),
    "var acc = 0.0f;",
    "for (var h = h0; h < h1; h++) {",
    "  for (var w = w0; w < w1; w++) {",
    `    acc += x[((c0 * ${u32(H)} + u32(h)) * ${u32(W)} + u32(w)) * ${u32(C)} + c3];`,
    "  }",
    "}",
    "out[i] = acc / f32(max((h1 - h0) * (w1 - w0), 1));",
  ];
  return f32Kernel(ctx, [f32buf("x")], body);
}

/**
 * Windows that do not overlap (window <= stride, no padding) are computed from the output side:
 * one invocation per stride x stride cell of the input and group of `cw` channels finds the
 * first maximum of the cell's window and writes dy there and zeros elsewhere in the cell, so
 * every input pixel is written once. Overlapping windows take the general gather, where each
 * input pixel asks every window covering it whether it is that window's first maximum.
 */
export function maxpoolGradEmitter(ctx: EmitCtx<"maxpool2d_grad">): Emitted {
  const a = ctx.attrs;
  const disjoint =
    a.window[0] <= a.strides[0] && a.window[1] <= a.strides[1] && a.pads.every((p) => p === 0);
  return disjoint ? maxpoolGradCells(ctx) : maxpoolGradGather(ctx);
}

function maxpoolGradCells(ctx: EmitCtx<"maxpool2d_grad">): Emitted {
  const [N, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [, OH, OW] = ctx.inputs[1]!.shape as [number, number, number, number];
  const [KH, KW] = ctx.attrs.window;
  const [SH, SW] = ctx.attrs.strides;
  const cw = C % 4 === 0 ? 4 : 1;
  const t = cw === 4 ? "vec4<f32>" : "f32";
  const C4 = C / cw;
  const CH = Math.ceil(H / SH);
  const CW = Math.ceil(W / SW);
  const k = cw === 4 ? "vec4<u32>" : "u32";
  // The gradient of input cell (r, s), through the epilogue (an activation's mask) if any.
  const grad = `select(${t}(0), d, best == ${k}(at))`;
  const ep = ctx.epilogue;
  const body = [
    ...coords([N, CH, CW, C4], "i", "c"),
    `let valid = c1 < ${u32(OH)} && c2 < ${u32(OW)};`,
    `let h0 = c1 * ${u32(SH)};`,
    `let w0 = c2 * ${u32(SW)};`,
    `let px = (c0 * ${u32(H)} + h0) * ${u32(W)} + w0;`,
    // Window cell (r, s) is at px + r * W + s; `best` is its position r * KW + s.
    `var best = ${k}(0u);`,
    `var d = ${t}(0);`,
    "if (valid) {",
    `  var m = x[px * ${u32(C4)} + c3];`,
    `  for (var r = 0u; r < ${u32(KH)}; r++) {`,
    `    for (var s = 0u; s < ${u32(KW)}; s++) {`,
    `      let v = x[(px + r * ${u32(W)} + s) * ${u32(C4)} + c3];`,
    "      let gt = v > m;",
    "      m = select(m, v, gt);",
    `      best = select(best, ${k}(r * ${u32(KW)} + s), gt);`,
    "    }",
    "  }",
    `  d = dy[((c0 * ${u32(OH)} + c1) * ${u32(OW)} + c2) * ${u32(C4)} + c3];`,
    "}",
    `for (var r = 0u; r < ${u32(SH)}; r++) {`,
    `  if (h0 + r >= ${u32(H)}) {`,
    "    break;",
    "  }",
    `  for (var s = 0u; s < ${u32(SW)}; s++) {`,
    `    if (w0 + s >= ${u32(W)}) {`,
    "      break;",
    "    }",
    `    let at = select(${u32(KH * KW)}, r * ${u32(KW)} + s, r < ${u32(KH)} && s < ${u32(KW)});`,
    `    let o = (px + r * ${u32(W)} + s) * ${u32(C4)} + c3;`,
    `    out[o] = ${ep ? `nnc_epilogue${cw === 4 ? "4" : ""}(${grad}, ${cw === 4 ? "o * 4u" : "o"})` : grad};`,
    "  }",
    "}",
  ];
  return kernels(
    itemsKernel(
      {
        inputs: [
          { name: "x", type: t },
          { name: "dy", type: t },
        ],
        reads: [0, 1],
        output: t,
        total: N * CH * CW * C4,
        wg: 64,
        body,
        ...(ep ? { epilogue: ep } : {}),
      },
      ctx.limits,
    ),
  );
}

function maxpoolGradGather(ctx: EmitCtx<"maxpool2d_grad">): Emitted {
  const [, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [, OH, OW] = ctx.inputs[1]!.shape as [number, number, number, number];
  const a = ctx.attrs;
  const xAt = (h: string, w: string) =>
    `x[((c0 * ${u32(H)} + u32(${h})) * ${u32(W)} + u32(${w})) * ${u32(C)} + c3]`;
  // For each window covering (ph, pw): is (ph, pw) its first maximum?
  const inner = [
    ...windowBounds(a, H, W, "oh", "ow"),
    "var m = 0.0f;",
    "var bh = -1;",
    "var bw = -1;",
    "for (var h = h0; h < h1; h++) {",
    "  for (var w = w0; w < w1; w++) {",
    `    let v = ${xAt("h", "w")};`,
    "    if (bh < 0 || v > m) {",
    "      m = v;",
    "      bh = h;",
    "      bw = w;",
    "    }",
    "  }",
    "}",
    "if (bh == ph && bw == pw) {",
    `  acc += dy[((c0 * ${u32(OH)} + u32(oh)) * ${u32(OW)} + u32(ow)) * ${u32(C)} + c3];`,
    "}",
  ];
  return f32Kernel(ctx, [f32buf("x"), f32buf("dy")], coveringSum(ctx, OH, OW, inner), ctx.epilogue);
}

export function avgpoolGradEmitter(ctx: EmitCtx<"avgpool2d_grad">): Emitted {
  const [, OH, OW, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [, H, W] = ctx.shape as [number, number, number, number];
  const a = ctx.attrs;
  const inner = [
    ...windowBounds(a, H, W, "oh", "ow"),
    "let n = f32(max((h1 - h0) * (w1 - w0), 1));",
    `acc += dy[((c0 * ${u32(OH)} + u32(oh)) * ${u32(OW)} + u32(ow)) * ${u32(C)} + c3] / n;`,
  ];
  return f32Kernel(ctx, [f32buf("dy")], coveringSum(ctx, OH, OW, inner), ctx.epilogue);
}

/**
 * The body of a pooling gradient computed from the input side: for input pixel (c1, c2),
 * `acc` sums `inner` over every output position (oh, ow) of an OH x OW output whose window
 * covers it; the sum is stored through the epilogue, if any.
 */
function coveringSum(
  ctx: EmitCtx<"maxpool2d_grad" | "avgpool2d_grad">,
  OH: number,
  OW: number,
  inner: string[],
): string[] {
  const a = ctx.attrs;
  return [
    ...coords(ctx.shape, "i", "c"),
    "let ph = i32(c1);",
    "let pw = i32(c2);",
    "var acc = 0.0f;",
    ...coveringLoop(
      "oh",
      "ph",
      "kh",
      a.window[0],
      a.strides[0],
      a.pads[0],
      OH,
      coveringLoop("ow", "pw", "kw", a.window[1], a.strides[1], a.pads[2], OW, inner),
    ),
    ctx.epilogue ? "out[i] = nnc_epilogue(acc, i);" : "out[i] = acc;",
  ];
}

export type { Conv2dAttrs };
