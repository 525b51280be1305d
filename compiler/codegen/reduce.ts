/**
 * @file Reductions: reduce_sum, reduce_max and argmax. Each output is a loop over its reduced
 * elements, in one of two shapes. Few outputs with many elements each (a bias gradient summing
 * 64x26x26 values per channel, a whole-loss sum) take one workgroup per output: its
 * invocations sum interleaved slices, then one invocation combines their partial results from
 * workgroup memory. Otherwise one invocation computes each output. In both, when the last axis
 * is kept and a multiple of 4, four neighbouring outputs are computed together with `vec4`
 * loads. Sums add in blocks of 256 for accuracy; max and argmax keep the first maximum.
 */
import { type EmitCtx, type Emitted, kernels } from "./context.js";
import { groupKernel, itemsKernel, itemsWorkgroup } from "./tune.js";
import { splitReduce } from "./layout.js";
import { clampWorkgroup, literal, numel, u32, wgslType } from "./wgsl.js";
import type { DType } from "../primitives.js";
import type { DeviceLimitsLike } from "../../runtime/plan.js";

/** How one reduction reads its input, with `w` outputs (1 or 4) per invocation or workgroup. */
interface ReduceLayout {
  /** WGSL lines defining `base` (element index of reduced element 0) from output index `o`. */
  readonly baseLines: string[];
  /** Element offset of reduced element `r` from `base`. */
  readonly offset: (r: string) => string;
  /** Elements reduced per output. */
  readonly count: number;
  /** Outputs (or output quads when `w` is 4). */
  readonly items: number;
  /** 4 when four consecutive outputs are contiguous in the input (vec4 loads), else 1. */
  readonly w: 1 | 4;
}

function layout(
  inShape: readonly number[],
  axes: readonly number[],
  allowVec = true,
): ReduceLayout {
  const keptShape = inShape.filter((_, k) => !axes.includes(k));
  const last = inShape.length - 1;
  const w: 1 | 4 =
    allowVec && axes.length > 0 && !axes.includes(last) && inShape[last]! % 4 === 0 ? 4 : 1;
  // Outputs are quads of consecutive kept elements when w is 4: `o` counts quads.
  const { baseLines, offset, count } = splitReduce(inShape, axes, w === 4 ? "(o * 4u)" : "o");
  return { baseLines, offset, count, items: numel(keptShape) / w, w };
}

/** Minimum elements per output for the workgroup-per-output shape. */
const groupMinCount = 512;
/** Maximum outputs (or quads) for the workgroup-per-output shape. */
const groupMaxItems = 2048;
const groupSize = 64;
const block = 256;

const useGroups = (l: ReduceLayout) => l.count >= groupMinCount && l.items <= groupMaxItems;

function vt(dtype: DType, w: number): string {
  return w === 4 ? `vec4<${wgslType(dtype)}>` : wgslType(dtype);
}

/** `x[...]` of reduced element `r`: a scalar, or a quad of consecutive outputs. */
function load(l: ReduceLayout, r: string): string {
  return l.w === 4 ? `x[(base + ${l.offset(r)}) / 4u]` : `x[base + ${l.offset(r)}]`;
}

type Combine = "sum" | "max";

/** Lines reducing elements `from`, `from + step`, ... below `count` into `acc`. */
function loop(l: ReduceLayout, how: Combine, t: string, from: string, step: number): string[] {
  const zero = `${t}(0)`;
  const inc = step === 1 ? "r++" : `r += ${u32(step)}`;
  if (how === "max") {
    return [
      `var acc = ${load(l, `min(${from}, ${u32(l.count - 1)})`)};`,
      `for (var r = ${from}; r < ${u32(l.count)}; ${inc}) {`,
      `  acc = max(acc, ${load(l, "r")});`,
      "}",
    ];
  }
  if (l.count / step <= block) {
    return [
      `var acc = ${zero};`,
      `for (var r = ${from}; r < ${u32(l.count)}; ${inc}) {`,
      `  acc += ${load(l, "r")};`,
      "}",
    ];
  }
  const span = block * step;
  return [
    `var acc = ${zero};`,
    `for (var r0 = ${from}; r0 < ${u32(l.count)}; r0 += ${u32(span)}) {`,
    `  var part = ${zero};`,
    `  let r1 = min(r0 + ${u32(span)}, ${u32(l.count)});`,
    `  for (var r = r0; r < r1; ${inc}) {`,
    `    part += ${load(l, "r")};`,
    "  }",
    "  acc += part;",
    "}",
  ];
}

function store(l: ReduceLayout, value: string): string {
  return `out[o] = ${value};`;
}

function reduceKernel(ctx: EmitCtx, axes: readonly number[], how: Combine): Emitted {
  const inp = ctx.inputs[0]!;
  const l = layout(inp.shape, axes);
  const t = vt(ctx.dtype, l.w);
  const inputs = [{ name: "x", type: t }];
  if (l.count === 0) {
    const v =
      how === "sum"
        ? literal(0, ctx.dtype)
        : literal(ctx.dtype === "f32" ? -3.4028234663852886e38 : -2147483648, ctx.dtype);
    return kernels(
      itemsKernel(
        {
          inputs: [],
          reads: [],
          output: wgslType(ctx.dtype),
          total: numel(ctx.shape),
          wg: 64,
          body: [`out[i] = ${v};`],
        },
        ctx.limits,
      ),
    );
  }
  if (!useGroups(l)) {
    return kernels(
      itemsKernel(
        {
          inputs,
          reads: [0],
          output: t,
          total: l.items,
          wg: itemsWorkgroup(l.items),
          body: ["let o = i;", ...l.baseLines, ...loop(l, how, t, "0u", 1), store(l, "acc")],
        },
        ctx.limits,
      ),
    );
  }
  const wg = clampWorkgroup(groupSize, ctx.limits);
  const body = [
    "let o = g;",
    ...l.baseLines,
    ...loop(l, how, t, "lid", wg),
    "parts[lid] = acc;",
    "workgroupBarrier();",
    "if (lid == 0u) {",
    "  var total = parts[0];",
    `  for (var k = 1u; k < ${u32(wg)}; k++) {`,
    how === "sum" ? "    total += parts[k];" : "    total = max(total, parts[k]);",
    "  }",
    `  ${store(l, "total")}`,
    "}",
  ];
  return kernels(
    groupKernel(
      {
        inputs,
        reads: [0],
        output: t,
        groups: l.items,
        wg,
        shared: [`var<workgroup> parts: array<${t}, ${wg}>;`],
        body,
      },
      ctx.limits,
    ),
  );
}

export function reduceSumEmitter(ctx: EmitCtx<"reduce_sum">): Emitted {
  return reduceKernel(ctx, ctx.attrs.axes, "sum");
}

export function reduceMaxEmitter(ctx: EmitCtx<"reduce_max">): Emitted {
  return reduceKernel(ctx, ctx.attrs.axes, "max");
}

export function argmaxEmitter(ctx: EmitCtx<"argmax">): Emitted {
  const inp = ctx.inputs[0]!;
  const l = layout(inp.shape, [ctx.attrs.axis], false);
  const x = { name: "x", type: wgslType(inp.dtype) };
  // Serially: element 0 is taken, a later one when it is greater (a NaN at 0 stays).
  const serial = [
    "var best = 0u;",
    `var m = ${load(l, "0u")};`,
    `for (var r = 1u; r < ${u32(l.count)}; r++) {`,
    `  let v = ${load(l, "r")};`,
    "  if (v > m) {",
    "    m = v;",
    "    best = r;",
    "  }",
    "}",
  ];
  if (!useGroups(l)) {
    return kernels(
      itemsKernel(
        {
          inputs: [x],
          reads: [0],
          output: "i32",
          total: l.items,
          wg: itemsWorkgroup(l.items),
          body: ["let o = i;", ...l.baseLines, ...serial, "out[o] = i32(best);"],
        },
        ctx.limits,
      ),
    );
  }
  const wg = Math.min(clampWorkgroup(groupSize, ctx.limits), l.count);
  const body = [
    "let o = g;",
    ...l.baseLines,
    // Each invocation: the first maximum of its slice, NaN skipped unless it is element 0.
    "var best = 0xffffffffu;",
    `var m = ${load(l, "0u")};`,
    `for (var r = lid; r < ${u32(l.count)}; r += ${u32(wg)}) {`,
    `  let v = ${load(l, "r")};`,
    "  if (select(v > m, r == 0u || v == v, best == 0xffffffffu)) {",
    "    m = v;",
    "    best = r;",
    "  }",
    "}",
    "vals[lid] = m;",
    "idxs[lid] = best;",
    "workgroupBarrier();",
    "if (lid == 0u) {",
    "  var bm = vals[0];",
    "  var bi = idxs[0];",
    `  for (var k = 1u; k < ${u32(wg)}; k++) {`,
    "    let v = vals[k];",
    "    let j = idxs[k];",
    "    if (j != 0xffffffffu && (bi == 0xffffffffu || v > bm || (v == bm && j < bi))) {",
    "      bm = v;",
    "      bi = j;",
    "    }",
    "  }",
    "  out[o] = i32(bi);",
    "}",
  ];
  return kernels(
    groupKernel(
      {
        inputs: [x],
        reads: [0],
        output: "i32",
        groups: l.items,
        wg,
        shared: [
          `var<workgroup> vals: array<${x.type}, ${wg}>;`,
          `var<workgroup> idxs: array<u32, ${wg}>;`,
        ],
        body,
      },
      ctx.limits,
    ),
  );
}

export type { DeviceLimitsLike };
