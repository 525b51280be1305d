/**
 * @file Image kernels (NHWC, filters HWIO) as direct loops, one invocation per output element:
 * conv2d and its two gradients, max and average pooling and their gradients. Gradients are
 * gathers (each input pixel sums the windows that cover it): WebGPU has no float atomics.
 * Window positions are computed in i32 so padding can make them negative.
 */
import type { Conv2dAttrs, Pool2dAttrs } from "../primitives.js";
import { type EmitCtx, type Emitted, kernels } from "./context.js";
import { type BufferDecl, coords, indent, kernelSource, numel, u32 } from "./wgsl.js";

function f32Kernel(ctx: EmitCtx, inputs: BufferDecl[], body: string[]): Emitted {
  return kernels(
    kernelSource(
      {
        inputs,
        reads: inputs.map((_, k) => k),
        output: "f32",
        total: numel(ctx.shape),
        body,
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

export function conv2dEmitter(ctx: EmitCtx<"conv2d">): Emitted {
  const [, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [KH, KW, , F] = ctx.inputs[1]!.shape as [number, number, number, number];
  const [, OH, OW] = ctx.shape as [number, number, number, number];
  const { strides: s, pads: p } = ctx.attrs;
  const body = [
    ...coords([ctx.shape[0]!, OH, OW, F], "i", "c"),
    "var acc = 0.0f;",
    `for (var kh = 0; kh < ${KH}; kh++) {`,
    `  let ih = i32(c1) * ${s[0]} + kh - ${p[0]};`,
    `  if (ih < 0 || ih >= ${H}) {`,
    "    continue;",
    "  }",
    `  for (var kw = 0; kw < ${KW}; kw++) {`,
    `    let iw = i32(c2) * ${s[1]} + kw - ${p[2]};`,
    `    if (iw < 0 || iw >= ${W}) {`,
    "      continue;",
    "    }",
    `    let xb = ((c0 * ${u32(H)} + u32(ih)) * ${u32(W)} + u32(iw)) * ${u32(C)};`,
    `    let wb = (u32(kh) * ${u32(KW)} + u32(kw)) * ${u32(C * F)} + c3;`,
    `    for (var c = 0u; c < ${u32(C)}; c++) {`,
    `      acc += x[xb + c] * w[wb + c * ${u32(F)}];`,
    "    }",
    "  }",
    "}",
    "out[i] = acc;",
  ];
  void OH;
  void OW;
  return f32Kernel(ctx, [f32buf("x"), f32buf("w")], body);
}

export function conv2dGradInputEmitter(ctx: EmitCtx<"conv2d_grad_input">): Emitted {
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

export function conv2dGradFilterEmitter(ctx: EmitCtx<"conv2d_grad_filter">): Emitted {
  const [N, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const [, OH, OW, F] = ctx.inputs[1]!.shape as [number, number, number, number];
  const [KH, KW] = ctx.shape as [number, number, number, number];
  const { strides: s, pads: p } = ctx.attrs;
  const body = [
    ...coords([KH, KW, C, F], "i", "c"),
    "var acc = 0.0f;",
    `for (var n = 0u; n < ${u32(N)}; n++) {`,
    "  var part = 0.0f;",
    `  for (var oh = 0; oh < ${OH}; oh++) {`,
    `    let ih = oh * ${s[0]} + i32(c0) - ${p[0]};`,
    `    if (ih < 0 || ih >= ${H}) {`,
    "      continue;",
    "    }",
    `    for (var ow = 0; ow < ${OW}; ow++) {`,
    `      let iw = ow * ${s[1]} + i32(c1) - ${p[2]};`,
    `      if (iw < 0 || iw >= ${W}) {`,
    "        continue;",
    "      }",
    `      let xv = x[((n * ${u32(H)} + u32(ih)) * ${u32(W)} + u32(iw)) * ${u32(C)} + c2];`,
    `      part += xv * dy[((n * ${u32(OH)} + u32(oh)) * ${u32(OW)} + u32(ow)) * ${u32(F)} + c3];`,
    "    }",
    "  }",
    "  acc += part;",
    "}",
    "out[i] = acc;",
  ];
  return f32Kernel(ctx, [f32buf("x"), f32buf("dy")], body);
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

export function maxpoolEmitter(ctx: EmitCtx<"maxpool2d">): Emitted {
  const [, H, W, C] = ctx.inputs[0]!.shape as [number, number, number, number];
  const body = [
    ...coords(ctx.shape, "i", "c"),
    ...windowBounds(ctx.attrs, H, W, "i32(c1)", "i32(c2)"),
    "var m = 0.0f;",
    "var first = true;",
    "for (var h = h0; h < h1; h++) {",
    "  for (var w = w0; w < w1; w++) {",
    `    let v = x[((c0 * ${u32(H)} + u32(h)) * ${u32(W)} + u32(w)) * ${u32(C)} + c3];`,
    "    if (first || v > m) {",
    "      m = v;",
    "      first = false;",
    "    }",
    "  }",
    "}",
    "out[i] = m;",
  ];
  return f32Kernel(ctx, [f32buf("x")], body);
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

export function maxpoolGradEmitter(ctx: EmitCtx<"maxpool2d_grad">): Emitted {
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
  const body = [
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
    "out[i] = acc;",
  ];
  return f32Kernel(ctx, [f32buf("x"), f32buf("dy")], body);
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
  const body = [
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
    "out[i] = acc;",
  ];
  return f32Kernel(ctx, [f32buf("dy")], body);
}

export type { Conv2dAttrs };
