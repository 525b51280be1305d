/**
 * @file Data-movement and reduction kernels: transpose, broadcast_to, slice, pad, concat (split
 * into several kernels when it has more inputs than the device binds storage buffers), the
 * reductions (sum in blocks of 256 for accuracy; max and argmax keep the first maximum), gather
 * and scatter_add (as a gather over the indices: WebGPU has no float atomics).
 */
import { type EmitCtx, type Emitted, kernels } from "./context.js";
import {
  type BufferDecl,
  broadcastIndex,
  coords,
  indent,
  kernelSource,
  linear,
  literal,
  numel,
  strides,
  u32,
  wgslType,
} from "./wgsl.js";

/** A kernel reading input 0 at `index(coordinates)` for every output element. */
function gatherLike(ctx: EmitCtx, lines: string[], value: string): Emitted {
  const inp = ctx.inputs[0]!;
  return kernels(
    kernelSource(
      {
        inputs: [{ name: "x", type: wgslType(inp.dtype) }],
        reads: [0],
        output: wgslType(ctx.dtype),
        total: numel(ctx.shape),
        body: [...coords(ctx.shape, "i"), ...lines, `out[i] = ${value};`],
      },
      ctx.limits,
    ),
  );
}

export function transposeEmitter(ctx: EmitCtx<"transpose">): Emitted {
  const inStrides = strides(ctx.inputs[0]!.shape);
  const idx = linear(ctx.attrs.perm.map((p, k) => [`c${k}`, inStrides[p]!] as const));
  return gatherLike(ctx, [], `x[${idx}]`);
}

export function broadcastToEmitter(ctx: EmitCtx<"broadcast_to">): Emitted {
  const inp = ctx.inputs[0]!;
  return gatherLike(ctx, [], `x[${broadcastIndex(inp.shape, ctx.shape, "i")}]`);
}

export function sliceEmitter(ctx: EmitCtx<"slice">): Emitted {
  const inStrides = strides(ctx.inputs[0]!.shape);
  const terms = ctx.attrs.starts.map(
    (s, k) => [s === 0 ? `c${k}` : `(c${k} + ${u32(s)})`, inStrides[k]!] as const,
  );
  return gatherLike(ctx, [], `x[${linear(terms)}]`);
}

export function padEmitter(ctx: EmitCtx<"pad">): Emitted {
  const inShape = ctx.inputs[0]!.shape;
  const inStrides = strides(inShape);
  const conds: string[] = [];
  const terms: [string, number][] = [];
  inShape.forEach((d, k) => {
    const lo = ctx.attrs.lo[k]!;
    const hi = ctx.attrs.hi[k]!;
    if (lo > 0) conds.push(`c${k} >= ${u32(lo)}`);
    if (lo > 0 || hi > 0) conds.push(`c${k} < ${u32(lo + d)}`);
    terms.push([lo === 0 ? `c${k}` : `(c${k} - ${u32(lo)})`, inStrides[k]!]);
  });
  if (conds.length === 0) return gatherLike(ctx, [], `x[${linear(terms)}]`);
  const zero = literal(0, ctx.dtype);
  const lines = [
    `var v = ${zero};`,
    `if (${conds.join(" && ")}) {`,
    `  v = x[${linear(terms)}];`,
    "}",
  ];
  return gatherLike(ctx, lines, "v");
}

export function concatEmitter(ctx: EmitCtx<"concat">): Emitted {
  const axis = ctx.attrs.axis;
  const out = ctx.shape;
  const outStrides = strides(out);
  const perKernel = Math.max(1, ctx.limits.maxStorageBuffersPerShaderStage - 1);
  // Inputs with a non-empty slab, with their offset along the axis.
  const parts: { input: number; start: number; size: number }[] = [];
  let offset = 0;
  ctx.inputs.forEach((inp, j) => {
    const size = inp.shape[axis]!;
    if (numel(inp.shape) > 0) parts.push({ input: j, start: offset, size });
    offset += size;
  });
  const ks = [];
  for (let p = 0; p < parts.length; p += perKernel) {
    const group = parts.slice(p, p + perKernel);
    const lo = group[0]!.start;
    const hi = group[group.length - 1]!.start + group[group.length - 1]!.size;
    const region = out.map((d, k) => (k === axis ? hi - lo : d));
    const decls: BufferDecl[] = group.map((g, k) => ({
      name: `in${k}`,
      type: wgslType(ctx.inputs[g.input]!.dtype),
    }));
    const outIdx = linear(
      region.map((_, k) => [
        k === axis && lo > 0 ? `(c${k} + ${u32(lo)})` : `c${k}`,
        outStrides[k]!,
      ]),
    );
    const body = [...coords(region, "i")];
    const ca = `c${axis}`;
    group.forEach((g, k) => {
      const inStrides = strides(ctx.inputs[g.input]!.shape);
      const rel = g.start - lo;
      const terms = region.map(
        (_, a) =>
          [a === axis && rel > 0 ? `(${ca} - ${u32(rel)})` : `c${a}`, inStrides[a]!] as const,
      );
      const store = [`out[${outIdx}] = in${k}[${linear(terms)}];`];
      if (group.length === 1) body.push(...store);
      else if (k === group.length - 1) body.push("} else {", ...indent(store), "}");
      else
        body.push(
          `${k === 0 ? "if" : "} else if"} (${ca} < ${u32(rel + g.size)}) {`,
          ...indent(store),
        );
    });
    ks.push(
      kernelSource(
        {
          inputs: decls,
          reads: group.map((g) => g.input),
          output: wgslType(ctx.dtype),
          total: numel(region),
          body,
        },
        ctx.limits,
      ),
    );
  }
  return kernels(...ks);
}

// ---------------------------------------------------------------------------------------------
// Reductions

export interface ReduceSplit {
  /** WGSL lines defining `base` from the output index (`i` unless given). */
  readonly baseLines: string[];
  /** Offset of reduced element `r` relative to `base`. */
  readonly offset: (r: string) => string;
  readonly count: number;
}

export function splitReduce(
  inShape: readonly number[],
  axes: readonly number[],
  index = "i",
): ReduceSplit {
  const st = strides(inShape);
  const kept = inShape.map((_, k) => k).filter((k) => !axes.includes(k));
  const keptShape = kept.map((k) => inShape[k]!);
  const baseLines = [
    ...coords(keptShape, index, "k"),
    `let base = ${linear(kept.map((a, j) => [`k${j}`, st[a]!] as const))};`,
  ];
  const redShape = axes.map((a) => inShape[a]!);
  const count = numel(redShape);
  const consecutive = axes.every((a, j) => j === 0 || a === axes[j - 1]! + 1);
  const offset = (r: string): string => {
    if (axes.length === 0) return "0u";
    if (consecutive) {
      const s = st[axes[axes.length - 1]!]!;
      return s === 1 ? r : `${r} * ${u32(s)}`;
    }
    const rs = strides(redShape);
    return axes
      .map((a, j) => {
        let e = rs[j] === 1 ? r : `(${r} / ${u32(rs[j]!)})`;
        if (j > 0) e = `(${e} % ${u32(redShape[j]!)})`;
        return st[a] === 1 ? e : `${e} * ${u32(st[a]!)}`;
      })
      .join(" + ");
  };
  return { baseLines, offset, count };
}

const block = 256;

export function reduceSumEmitter(ctx: EmitCtx<"reduce_sum">): Emitted {
  const inp = ctx.inputs[0]!;
  const s = splitReduce(inp.shape, ctx.attrs.axes);
  const t = wgslType(ctx.dtype);
  const zero = literal(0, ctx.dtype);
  const loop =
    s.count <= block
      ? [
          `var acc = ${zero};`,
          `for (var r = 0u; r < ${u32(s.count)}; r++) {`,
          `  acc += x[base + ${s.offset("r")}];`,
          "}",
        ]
      : [
          `var acc = ${zero};`,
          `for (var r0 = 0u; r0 < ${u32(s.count)}; r0 += ${u32(block)}) {`,
          `  var part = ${zero};`,
          `  let r1 = min(r0 + ${u32(block)}, ${u32(s.count)});`,
          "  for (var r = r0; r < r1; r++) {",
          `    part += x[base + ${s.offset("r")}];`,
          "  }",
          "  acc += part;",
          "}",
        ];
  return kernels(
    kernelSource(
      {
        inputs: [{ name: "x", type: t }],
        reads: [0],
        output: t,
        total: numel(ctx.shape),
        body: [...s.baseLines, ...loop, "out[i] = acc;"],
      },
      ctx.limits,
    ),
  );
}

export function reduceMaxEmitter(ctx: EmitCtx<"reduce_max">): Emitted {
  const inp = ctx.inputs[0]!;
  const s = splitReduce(inp.shape, ctx.attrs.axes);
  const t = wgslType(ctx.dtype);
  const body =
    s.count === 0
      ? [
          `out[i] = ${literal(ctx.dtype === "f32" ? -3.4028234663852886e38 : -2147483648, ctx.dtype)};`,
        ]
      : [
          ...s.baseLines,
          "var m = x[base];",
          `for (var r = 1u; r < ${u32(s.count)}; r++) {`,
          `  m = max(m, x[base + ${s.offset("r")}]);`,
          "}",
          "out[i] = m;",
        ];
  return kernels(
    kernelSource(
      { inputs: [{ name: "x", type: t }], reads: [0], output: t, total: numel(ctx.shape), body },
      ctx.limits,
    ),
  );
}

export function argmaxEmitter(ctx: EmitCtx<"argmax">): Emitted {
  const inp = ctx.inputs[0]!;
  const s = splitReduce(inp.shape, [ctx.attrs.axis]);
  const body = [
    ...s.baseLines,
    "var m = x[base];",
    "var best = 0u;",
    `for (var r = 1u; r < ${u32(s.count)}; r++) {`,
    `  let v = x[base + ${s.offset("r")}];`,
    "  if (v > m) {",
    "    m = v;",
    "    best = r;",
    "  }",
    "}",
    "out[i] = i32(best);",
  ];
  return kernels(
    kernelSource(
      {
        inputs: [{ name: "x", type: wgslType(inp.dtype) }],
        reads: [0],
        output: "i32",
        total: numel(ctx.shape),
        body,
      },
      ctx.limits,
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Tables

export function gatherEmitter(ctx: EmitCtx<"gather">): Emitted {
  const table = ctx.inputs[0]!;
  const rows = table.shape[0]!;
  const inner = numel(table.shape.slice(1));
  const zero = literal(0, ctx.dtype);
  const body = [
    inner === 1 ? "let j = i;" : `let j = i / ${u32(inner)};`,
    inner === 1 ? "let d = 0u;" : `let d = i % ${u32(inner)};`,
    "let row = idx[j];",
    `let ok = row >= 0i && row < ${rows}i;`,
    `let v = table[u32(clamp(row, 0i, ${Math.max(rows - 1, 0)}i)) * ${u32(inner)} + d];`,
    `out[i] = select(${zero}, v, ok);`,
  ];
  return kernels(
    kernelSource(
      {
        inputs: [
          { name: "table", type: wgslType(table.dtype) },
          { name: "idx", type: "i32" },
        ],
        reads: [0, 1],
        output: wgslType(ctx.dtype),
        total: numel(ctx.shape),
        body,
      },
      ctx.limits,
    ),
  );
}

export function scatterAddEmitter(ctx: EmitCtx<"scatter_add">): Emitted {
  const [upd, idx] = ctx.inputs as [(typeof ctx.inputs)[0], (typeof ctx.inputs)[0]];
  const count = numel(idx.shape);
  const inner = numel(upd.shape.slice(idx.shape.length));
  const zero = literal(0, ctx.dtype);
  const body = [
    `let r = i32(i / ${u32(inner)});`,
    `let d = i % ${u32(inner)};`,
    `var acc = ${zero};`,
    `for (var j = 0u; j < ${u32(count)}; j++) {`,
    "  if (idx[j] == r) {",
    `    acc += upd[j * ${u32(inner)} + d];`,
    "  }",
    "}",
    "out[i] = acc;",
  ];
  return kernels(
    kernelSource(
      {
        inputs: [
          { name: "upd", type: wgslType(upd.dtype) },
          { name: "idx", type: "i32" },
        ],
        reads: [0, 1],
        output: wgslType(ctx.dtype),
        total: numel(ctx.shape),
        body,
      },
      ctx.limits,
    ),
  );
}

/** A plain copy of input 0 (used by the planner when an update reads another variable). */
export function copyEmitter(ctx: EmitCtx): Emitted {
  return gatherLike({ ...ctx, shape: [numel(ctx.shape)] }, [], "x[i]");
}
