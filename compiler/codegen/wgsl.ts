/**
 * @file WGSL building blocks shared by the emitters: literals, strides and index arithmetic
 * (multi-index from a flat index, broadcasting), and `kernelSource`, which wraps a kernel body
 * in its buffer declarations and entry point and computes the dispatch grid. Every kernel runs
 * one invocation per item of a flat index space `i` in [0, total): the grid is 1-D, folded
 * into 2-D when it needs more than `maxComputeWorkgroupsPerDimension` workgroups, and the
 * body runs only when `i < total`. Sizes are baked in as constants: a plan is for one shape.
 */
import type { DType } from "../primitives.js";
import type { DeviceLimitsLike } from "../../runtime/plan.js";
import type { Epilogue } from "./context.js";

export type Shape = readonly number[];

/** What an emitter produces for one kernel; the planner turns `reads` into buffer bindings. */
export interface KernelSource {
  readonly wgsl: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly dispatch: readonly [number, number, number];
  /** Indices into the node's inputs bound at @binding(0..), in order; the output comes last. */
  readonly reads: readonly number[];
  /** Set when the grid does not fit the device (total workgroups over maxDim²). */
  readonly overLimit?: string;
  /** Set when the kernel applies the epilogue: epilogue inputs bind after the output. */
  readonly epilogue?: true;
}

export function wgslType(dtype: DType): string {
  return dtype === "f32" ? "f32" : "i32";
}

/** A WGSL literal of the given type. Non-finite f32 values have no literal (see isLiteralSafe). */
export function literal(value: number, dtype: DType): string {
  if (dtype === "i32") {
    const v = Math.trunc(value) | 0;
    if (v === -2147483648) return "i32(-2147483647 - 1)";
    return v < 0 ? `(${v}i)` : `${v}i`;
  }
  const f = Math.fround(value);
  if (!Number.isFinite(f)) throw new Error(`no WGSL literal for ${value}`);
  if (Object.is(f, -0)) return "(-0.0f)";
  let s = String(f);
  if (!/[.e]/.test(s)) s += ".0";
  return f < 0 ? `(${s}f)` : `${s}f`;
}

export function isLiteralSafe(value: number, dtype: DType): boolean {
  return dtype === "i32" || Number.isFinite(Math.fround(value));
}

export function u32(n: number): string {
  return `${n >>> 0}u`;
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function strides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= shape[k]!;
  }
  return s;
}

/**
 * WGSL lines declaring `${prefix}0..` as the coordinates of flat index `index` in `shape`
 * (row-major). Axes of size 1 get the constant 0u.
 */
export function coords(shape: Shape, index: string, prefix = "c"): string[] {
  const st = strides(shape);
  const lines: string[] = [];
  for (let k = 0; k < shape.length; k++) {
    const d = shape[k]!;
    let e: string;
    if (d === 1) e = "0u";
    else {
      e = st[k] === 1 ? index : `(${index} / ${u32(st[k]!)})`;
      if (k > 0) e = `${e} % ${u32(d)}`;
    }
    lines.push(`let ${prefix}${k} = ${e};`);
  }
  return lines;
}

/** Sum of terms `coord * stride`, skipping zero strides; "0u" when empty. */
export function linear(terms: readonly (readonly [string, number])[]): string {
  const parts = terms
    .filter(([, s]) => s !== 0)
    .map(([c, s]) => (s === 1 ? c : `${c} * ${u32(s)}`));
  return parts.length === 0 ? "0u" : parts.join(" + ");
}

/**
 * The flat index into an input of shape `inShape` broadcast (numpy-style, right-aligned) to
 * `outShape`, given coordinates `${prefix}k` of the output and its flat index `index`.
 */
export function broadcastIndex(
  inShape: Shape,
  outShape: Shape,
  index: string,
  prefix = "c",
): string {
  if (numel(inShape) === 1) return "0u";
  if (numel(inShape) === numel(outShape) && sameTail(inShape, outShape)) return index;
  const st = strides(inShape);
  const off = outShape.length - inShape.length;
  const terms: [string, number][] = [];
  for (let k = 0; k < inShape.length; k++) {
    if (inShape[k] !== 1) terms.push([`${prefix}${k + off}`, st[k]!]);
  }
  return linear(terms);
}

function sameTail(a: Shape, b: Shape): boolean {
  const n = Math.min(a.length, b.length);
  for (let k = 1; k <= n; k++) if (a[a.length - k] !== b[b.length - k]) return false;
  return true;
}

export interface BufferDecl {
  readonly name: string;
  /** WGSL element type: f32, i32, vec4<f32>. */
  readonly type: string;
}

export interface KernelSpec {
  /** Input buffers, in binding order. */
  readonly inputs: readonly BufferDecl[];
  /** Indices into the node's inputs, one per entry of `inputs`. */
  readonly reads: readonly number[];
  /** The output buffer, declared `out`. */
  readonly output: string;
  /** Number of invocations; the body sees `i: u32` in [0, total). */
  readonly total: number;
  readonly body: readonly string[];
  /** Helper functions placed before the entry point. */
  readonly helpers?: readonly string[];
  /** The EmitCtx's epilogue, when the body calls nnc_epilogue (see context.ts). */
  readonly epilogue?: Epilogue;
}

export function workgroupSizeFor(limits: DeviceLimitsLike): number {
  return clampWorkgroup(64, limits);
}

/** A grid of `groups` workgroups: 1-D, or folded into 2-D past the per-dimension limit. */
export function grid(
  groups: number,
  limits: DeviceLimitsLike,
): { dispatch: [number, number, number]; overLimit?: string } {
  const maxD = limits.maxComputeWorkgroupsPerDimension;
  if (groups <= maxD) return { dispatch: [Math.max(groups, 0), 1, 1] };
  const gy = Math.ceil(groups / maxD);
  const gx = Math.ceil(groups / gy);
  if (gy > maxD) {
    return {
      dispatch: [gx, gy, 1],
      overLimit: `needs ${groups} workgroups, more than the device's ${maxD}x${maxD}`,
    };
  }
  return { dispatch: [gx, gy, 1] };
}

/** What `wrapKernel` wraps: the bindings, module-scope code and body of a kernel. */
export interface WrapSpec {
  /** Input buffers, in binding order. */
  readonly inputs: readonly BufferDecl[];
  /** Indices into the node's inputs, one per entry of `inputs`. */
  readonly reads: readonly number[];
  /** Element type of the output buffer, declared `out`. */
  readonly output: string;
  /** Invocations per workgroup (clamped to the device's limits). */
  readonly wg: number;
  /** Module-scope declarations (`var<workgroup>` arrays). */
  readonly shared?: readonly string[];
  /** Helper functions placed before the entry point. */
  readonly helpers?: readonly string[];
  readonly body: readonly string[];
  /** The EmitCtx's epilogue, when the body calls nnc_epilogue (see context.ts). */
  readonly epilogue?: Epilogue;
}

export function clampWorkgroup(wg: number, limits: DeviceLimitsLike): number {
  return Math.max(
    1,
    Math.min(wg, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX),
  );
}

/**
 * A kernel of `groups` workgroups of `wg` invocations: the bindings (inputs read-only, then
 * `out`, then the epilogue's), module-scope code, and an entry point whose body starts with
 * `head(flat)`, `flat` being the workgroup's index (folded into 2-D past the device's limit).
 */
export function wrapKernel(
  spec: WrapSpec,
  wg: number,
  groups: number,
  limits: DeviceLimitsLike,
  head: (flat: string) => string[],
): KernelSource {
  const g = grid(groups, limits);
  const gx = g.dispatch[0];
  const flat = g.dispatch[1] > 1 ? `wid.y * ${u32(gx)} + wid.x` : "wid.x";
  const decls = spec.inputs.map(
    (b, k) => `@group(0) @binding(${k}) var<storage, read> ${b.name}: array<${b.type}>;`,
  );
  decls.push(
    `@group(0) @binding(${spec.inputs.length}) var<storage, read_write> out: array<${spec.output}>;`,
  );
  const ep = spec.epilogue;
  if (ep && ep.firstBinding !== spec.inputs.length + 1) {
    throw new Error(
      `internal: epilogue bindings start at ${ep.firstBinding}, kernel binds ${spec.inputs.length} inputs`,
    );
  }
  const lines = [
    ...decls,
    ...(spec.shared ?? []),
    "",
    ...[...(spec.helpers ?? []), ...(ep ? [ep.code] : [])].flatMap((h) => [h, ""]),
    `@compute @workgroup_size(${wg})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
    ...head(flat).map((l) => `  ${l}`),
    ...spec.body.map((l) => (l === "" ? "" : `  ${l}`)),
    "}",
    "",
  ];
  return {
    wgsl: lines.join("\n"),
    workgroupSize: [wg, 1, 1],
    dispatch: g.dispatch,
    reads: spec.reads,
    ...(g.overLimit ? { overLimit: g.overLimit } : {}),
    ...(ep ? { epilogue: true as const } : {}),
  };
}

/** The head of a kernel of one invocation per item: `i` in [0, total), the rest return. */
export function itemsHead(total: number, wg: number): (flat: string) => string[] {
  return (flat) => [
    `let i = ${flat === "wid.x" ? flat : `(${flat})`} * ${u32(wg)} + lid;`,
    `if (i >= ${u32(total)}) {`,
    "  return;",
    "}",
  ];
}

/** One invocation per item, in workgroups of the device's default size. */
export function kernelSource(spec: KernelSpec, limits: DeviceLimitsLike): KernelSource {
  const wg = workgroupSizeFor(limits);
  return wrapKernel(
    { ...spec, wg },
    wg,
    Math.ceil(spec.total / wg),
    limits,
    itemsHead(spec.total, wg),
  );
}

/** Indents nested WGSL lines by two spaces. */
export function indent(lines: readonly string[], depth = 1): string[] {
  const pad = "  ".repeat(depth);
  return lines.map((l) => (l === "" ? "" : pad + l));
}
