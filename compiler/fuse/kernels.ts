/**
 * @file WGSL for kernel groups. Bindings name values by key (`n<id>`: a node's buffer, through
 * reshapes; `v:<name>`: a variable's buffer; `s<k>`: a group's scratch buffer), and the planner
 * maps keys to buffers. Four shapes of kernel:
 * - op: the primitive's own emitter (compiler/codegen/emitters.ts), given the group's other
 *   members as an epilogue (context.ts); when the emitter declines, the epilogue runs as a
 *   second, elementwise kernel;
 * - elementwise: four elements per invocation, as `vec4` lanes when every operand is either
 *   contiguous along the last axis or constant along it, else a loop of four scalars;
 *   scalars computed from sources are hoisted out of the element loop;
 * - reduce: one invocation per output element looping over the reduced elements (sums in
 *   blocks of 256), the exclusive producers recomputed per element, then the epilogue;
 *   with few outputs and many elements, two kernels: partial results into a scratch buffer,
 *   then their combination;
 * - serial: one workgroup computing every member in order into a scratch buffer, for small
 *   tensors (the loss and its gradient, metrics, small parameters' updates): its 64
 *   invocations share each member's elements, a barrier before a member that reads elements
 *   other invocations wrote; a sum of many elements into few outputs (the loss over the
 *   batch, a bias gradient) splits each output across lanes and adds their partial sums by a
 *   tree in workgroup memory.
 * A variable updated in place is bound once, read_write, and read through that binding.
 */
import type { DeviceLimitsLike } from "../../runtime/plan.js";
import type { EmitCtx, EmitInput, Emitter, Epilogue } from "../codegen/context.js";
import { emitters } from "../codegen/emitters.js";
import { splitReduce } from "../codegen/layout.js";
import {
  broadcastIndex,
  coords,
  grid,
  indent,
  isLiteralSafe,
  type KernelSource,
  literal,
  strides,
  linear,
  u32,
  workgroupSizeFor,
} from "../codegen/wgsl.js";
import { CompilerBug } from "../diagnostics.js";
import type { AnyNode } from "../ir/graph.js";
import type { DType, OpKind } from "../primitives.js";
import { type Lane, type PointwiseOp, pointwiseRules, typeName } from "./expr.js";
import type { Group } from "./groups.js";
import { type FuseGraph, isPointwise, numelOf } from "./view.js";

export interface FusedBinding {
  readonly binding: number;
  readonly key: string;
  readonly access: "read" | "read_write";
}

export interface FusedKernel {
  readonly name: string;
  readonly wgsl: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly dispatch: readonly [number, number, number];
  readonly bindings: readonly FusedBinding[];
  readonly node: number;
  readonly op: string;
  readonly overLimit?: string;
}

export interface GroupCode {
  readonly kernels: readonly FusedKernel[];
  /** Scratch buffers (key -> bytes) that live only during the group's kernels. */
  readonly scratch: ReadonlyMap<string, number>;
}

/** The buffer key of a node's value (variables by name, reshapes by their root). */
export function valueKey(v: FuseGraph, id: number): string {
  const r = v.root[id]!;
  const n = v.nodes[r]!;
  if (n.op === "param" || n.op === "state") return `v:${n.attrs.name}`;
  return `n${r}`;
}

interface Binding {
  readonly key: string;
  readonly name: string;
  access: "read" | "read_write";
  readonly type: string;
}

/** Bindings, helpers and hoisted scalars of one kernel being written. */
class KernelWriter {
  readonly bindings: Binding[] = [];
  readonly helpers = new Set<string>();
  readonly hoisted: string[] = [];
  private readonly hoistMemo = new Map<number, string>();

  constructor(
    readonly v: FuseGraph,
    readonly prefix = "b",
    readonly first = 0,
  ) {}

  bind(key: string, access: "read" | "read_write", type: string): string {
    let b = this.bindings.find((x) => x.key === key);
    if (!b) {
      b = { key, name: `${this.prefix}${this.bindings.length}`, access, type };
      this.bindings.push(b);
    } else if (access === "read_write") b.access = "read_write";
    return b.name;
  }

  typeOf(key: string): string | undefined {
    return this.bindings.find((x) => x.key === key)?.type;
  }

  decls(): string[] {
    return this.bindings.map(
      (b, k) =>
        `@group(0) @binding(${this.first + k}) var<storage, ${b.access === "read" ? "read" : "read_write"}> ${b.name}: array<${b.type}>;`,
    );
  }

  helper(code: string): void {
    this.helpers.add(code);
  }

  /** A scalar computed from sources alone, hoisted to the kernel's start. */
  scalar(id: number): string {
    const memo = this.hoistMemo.get(id);
    if (memo) return memo;
    const v = this.v;
    const node = v.nodes[id]!;
    const args = v.inputs[id]!.map((j) => this.scalarArg(j));
    const expr = rule(node, args, v, { vec: false }, (h) => this.helper(h));
    const name = `s${id}`;
    this.hoisted.push(`let ${name}: ${typeName(node.dtype, { vec: false })} = ${expr};`);
    this.hoistMemo.set(id, name);
    return name;
  }

  private scalarArg(j: number): string {
    const v = this.v;
    const n = v.nodes[j]!;
    if (n.op === "constant" && isLiteralSafe(n.attrs.value, n.dtype)) {
      return literal(n.attrs.value, n.dtype);
    }
    if (v.inline[v.root[j]!]) return this.scalar(v.root[j]!);
    const key = valueKey(v, j);
    const name = this.bind(key, "read", this.typeOf(key) ?? scalarType(n.dtype));
    return this.typeOf(key)!.startsWith("vec4") ? `${name}[0][0]` : `${name}[0]`;
  }
}

function scalarType(dtype: DType): string {
  return dtype === "f32" ? "f32" : "i32";
}

function rule(
  node: AnyNode,
  args: readonly string[],
  v: FuseGraph,
  lane: Lane,
  helper: (h: string) => void,
): string {
  const r = pointwiseRules[node.op as PointwiseOp] as
    ((e: Parameters<(typeof pointwiseRules)["add"]>[0], attrs: unknown) => string) | undefined;
  // A non-pointwise node here means a kernel group the writers cannot emit (groups.ts).
  if (!r) throw new CompilerBug(`fused kernel computes ${node.op} (node ${node.id}) pointwise`);
  return r(
    {
      args,
      types: v.inputs[node.id]!.map((j) => v.nodes[j]!.dtype),
      dtype: node.dtype,
      lane,
      helper,
    },
    node.attrs,
  );
}

/** Where pointwise values are evaluated: a domain and the flat index into it. */
interface Point {
  readonly domain: readonly number[];
  readonly index: string;
  readonly prefix: string;
  readonly lane: Lane;
  /** Nodes computed here. */
  readonly members: ReadonlySet<number>;
  /** Values already known as expressions (a primitive's result, a reduction). */
  readonly given: ReadonlyMap<number, string>;
  /** Per key: is the binding declared as vec4 (vec lanes only)? */
  readonly vecKeys?: ReadonlySet<string>;
}

/** Emits `let` lines computing `targets` at one point; returns each node's expression. */
function pointwise(
  w: KernelWriter,
  p: Point,
  targets: readonly number[],
  lines: string[],
): Map<number, string> {
  const v = w.v;
  const memo = new Map<number, string>(p.given);
  let needsCoords = false;
  const body: string[] = [];
  const load = (j: number): string => {
    const n = v.nodes[j]!;
    if (n.op === "constant" && isLiteralSafe(n.attrs.value, n.dtype)) {
      const l = literal(n.attrs.value, n.dtype);
      return p.lane.vec ? `${typeName(n.dtype, p.lane)}(${l})` : l;
    }
    if (v.inline[v.root[j]!] && !p.members.has(j)) {
      const s = w.scalar(v.root[j]!);
      return p.lane.vec ? `${typeName(n.dtype, p.lane)}(${s})` : s;
    }
    const key = valueKey(v, j);
    const shape = v.shape(j);
    const idx =
      numelOf(shape) === numelOf(p.domain)
        ? p.index
        : broadcastIndex(shape, p.domain, p.index, p.prefix);
    if (new RegExp(`\\b${p.prefix}\\d`).test(idx)) needsCoords = true;
    if (!p.lane.vec) {
      const name = w.bind(key, "read", scalarType(n.dtype));
      return `${name}[${idx}]`;
    }
    const last = p.domain[p.domain.length - 1]!;
    const contiguous =
      numelOf(shape) === numelOf(p.domain) ||
      (numelOf(shape) > 1 && shape[shape.length - 1] === last);
    const isVec = p.vecKeys?.has(key) ?? false;
    const name = w.bind(key, "read", isVec ? "vec4<f32>" : "f32");
    if (!contiguous) return `vec4<f32>(${name}[${idx}])`;
    if (isVec) return `${name}[(${idx}) / 4u]`;
    const k = `k${j}`;
    body.push(`let ${k} = ${idx};`);
    return `vec4<f32>(${name}[${k}], ${name}[${k} + 1u], ${name}[${k} + 2u], ${name}[${k} + 3u])`;
  };
  // Depth first, inputs in order, with a stack of its own: a fused chain of elementwise ops can
  // be thousands of nodes deep (`x + x + ... + x`).
  const value = (target: number): string => {
    const stack = [target];
    while (stack.length > 0) {
      const id = stack[stack.length - 1]!;
      if (memo.has(id)) {
        stack.pop();
        continue;
      }
      if (!p.members.has(id)) {
        memo.set(id, load(id));
        stack.pop();
        continue;
      }
      const pending = v.inputs[id]!.filter((j) => !memo.has(j));
      if (pending.length > 0) {
        stack.push(...pending.reverse());
        continue;
      }
      const args = v.inputs[id]!.map((j) => memo.get(j)!);
      const e = rule(v.nodes[id]!, args, v, p.lane, (h) => w.helper(h));
      const name = `v${id}`;
      body.push(`let ${name} = ${e};`);
      memo.set(id, name);
      stack.pop();
    }
    return memo.get(target)!;
  };
  for (const t of targets) value(t);
  if (needsCoords) lines.push(...coords(p.domain, p.index, p.prefix));
  lines.push(...body);
  return memo;
}

interface Wrapped {
  readonly wgsl: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly dispatch: readonly [number, number, number];
  readonly overLimit?: string;
}

/** The entry point around `body`, run for invocations `t` in [0, invocations). */
function wrap(
  w: KernelWriter,
  invocations: number,
  body: readonly string[],
  limits: DeviceLimitsLike,
  extraDecls: readonly string[] = [],
  single = 0,
): Wrapped {
  // single > 0: one workgroup of that many invocations, the body indexing by `lid` itself.
  const serial = single > 0;
  const wg = serial ? single : workgroupSizeFor(limits);
  const g = grid(serial ? 1 : Math.ceil(invocations / wg), limits);
  const gx = g.dispatch[0];
  const flat =
    g.dispatch[1] > 1
      ? `(wid.y * ${u32(gx)} + wid.x) * ${u32(wg)} + lid`
      : `wid.x * ${u32(wg)} + lid`;
  const lines = [
    ...w.decls(),
    ...extraDecls,
    "",
    ...[...w.helpers].flatMap((h) => [h, ""]),
    `@compute @workgroup_size(${wg})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
    ...(serial
      ? []
      : [`  let t = ${flat};`, `  if (t >= ${u32(invocations)}) {`, "    return;", "  }"]),
    ...indent(w.hoisted),
    ...indent([...body]),
    "}",
    "",
  ];
  return {
    wgsl: lines.join("\n"),
    workgroupSize: [wg, 1, 1],
    dispatch: g.dispatch,
    ...(g.overLimit ? { overLimit: g.overLimit } : {}),
  };
}

function kernel(
  w: KernelWriter,
  wrapped: Wrapped,
  name: string,
  node: number,
  op: string,
  extra: readonly FusedBinding[] = [],
): FusedKernel {
  return {
    name,
    ...wrapped,
    bindings: [
      ...w.bindings.map((b, k) => ({ binding: w.first + k, key: b.key, access: b.access })),
      ...extra,
    ],
    node,
    op,
  };
}

export interface KernelOptions {
  readonly limits: DeviceLimitsLike;
}

/** The key a group stores output `m` under: the variable it updates in place, or its own. */
function outKey(v: FuseGraph, g: Group, m: number): string {
  const target = g.inPlace.get(m);
  return target !== undefined ? `v:${target}` : `n${m}`;
}

function nameOf(v: FuseGraph, g: Group): string {
  const ops = [...new Set(g.members.map((m) => v.nodes[m]!.op))];
  const label = ops.length <= 3 ? ops.join("_") : `${ops.slice(0, 3).join("_")}_etc`;
  return `${g.kind === "op" ? "" : `${g.kind}_`}${label}_${g.node}`;
}

// ---------------------------------------------------------------------------------------------
// Elementwise

/**
 * The body of elementwise group `g` in writer `w`: lines in which invocation `t` (the name
 * `tv`) computes four elements, and how many invocations cover the group.
 */
function elementwiseBody(
  v: FuseGraph,
  g: Group,
  w: KernelWriter,
  tv: string,
): { lines: string[]; invocations: number } {
  const members = new Set(g.members);
  const D = g.domain;
  const total = numelOf(D);
  const leaves = new Set<number>();
  for (const m of g.members) {
    for (const j of v.inputs[m]!) {
      if (members.has(j) || v.inline[v.root[j]!]) continue;
      const n = v.nodes[j]!;
      if (n.op === "constant" && isLiteralSafe(n.attrs.value, n.dtype)) continue;
      leaves.add(j);
    }
  }
  const full = (s: readonly number[]) => s.length === D.length && s.every((d, k) => d === D[k]);
  const flat = [...leaves].every((j) => full(v.shape(j)) || numelOf(v.shape(j)) === 1);
  const domain = flat ? [total] : D;
  const last = domain[domain.length - 1] ?? 1;
  const allF32 =
    g.members.every((m) => v.nodes[m]!.dtype === "f32") &&
    [...leaves].every((j) => v.nodes[j]!.dtype === "f32") &&
    g.members.every((m) =>
      v.inputs[m]!.every((j) => !v.inline[v.root[j]!] || v.nodes[j]!.dtype === "f32"),
    );
  const vec = allF32 && last % 4 === 0 && total > 0;
  const lines: string[] = [];
  if (vec) {
    // Keys declared vec4: all reads contiguous along the last axis.
    const vecKeys = new Set<string>();
    const scalarKeys = new Set<string>();
    for (const j of leaves) {
      const s = v.shape(j);
      const key = valueKey(v, j);
      if (numelOf(s) === total || (numelOf(s) > 1 && s[s.length - 1] === last)) vecKeys.add(key);
      else scalarKeys.add(key);
    }
    for (const k of scalarKeys) vecKeys.delete(k);
    for (const m of g.outputs) vecKeys.add(outKey(v, g, m));
    lines.push(`let i = ${tv} * 4u;`);
    const vals = pointwise(
      w,
      { domain, index: "i", prefix: "c", lane: { vec: true }, members, given: new Map(), vecKeys },
      g.outputs,
      lines,
    );
    for (const m of g.outputs) {
      const name = w.bind(outKey(v, g, m), "read_write", "vec4<f32>");
      lines.push(`${name}[${tv}] = ${vals.get(m)};`);
    }
    return { lines, invocations: total / 4 };
  }
  const inner: string[] = [`let i = ${tv} * 4u + e;`, `if (i >= ${u32(total)}) {`, "  break;", "}"];
  const vals = pointwise(
    w,
    { domain, index: "i", prefix: "c", lane: { vec: false }, members, given: new Map() },
    g.outputs,
    inner,
  );
  for (const m of g.outputs) {
    const name = w.bind(outKey(v, g, m), "read_write", scalarType(v.nodes[m]!.dtype));
    inner.push(`${name}[i] = ${vals.get(m)};`);
  }
  lines.push("for (var e = 0u; e < 4u; e++) {", ...indent(inner), "}");
  return { lines, invocations: Math.ceil(total / 4) };
}

/**
 * An elementwise group's kernel; a group with `parts` runs each part over its own range of
 * invocations (`t` below the first part's count runs the first part, and so on).
 */
function elementwiseKernel(v: FuseGraph, g: Group, opts: KernelOptions): FusedKernel {
  const w = new KernelWriter(v);
  if (!g.parts) {
    const { lines, invocations } = elementwiseBody(v, g, w, "t");
    return kernel(w, wrap(w, invocations, lines, opts.limits), nameOf(v, g), g.node, "elementwise");
  }
  const lines: string[] = [];
  let offset = 0;
  g.parts.forEach((p, k) => {
    const body = elementwiseBody(v, p, w, `t${k}`);
    const end = offset + body.invocations;
    const last = k === g.parts!.length - 1;
    const head = last ? "} else {" : `${k === 0 ? "" : "} else "}if (t < ${u32(end)}) {`;
    lines.push(
      head,
      ...indent([`let t${k} = t${offset === 0 ? "" : ` - ${u32(offset)}`};`, ...body.lines]),
    );
    offset = end;
  });
  lines.push("}");
  return kernel(w, wrap(w, offset, lines, opts.limits), nameOf(v, g), g.node, "elementwise");
}

// ---------------------------------------------------------------------------------------------
// A primitive through its emitter, with an epilogue

function emitPrimitive(
  v: FuseGraph,
  id: number,
  limits: DeviceLimitsLike,
  epilogue?: Epilogue,
): readonly KernelSource[] {
  const n = v.nodes[id]!;
  const inputs: EmitInput[] = v.inputs[id]!.map((j) => {
    const r = v.nodes[v.root[j]!]!;
    const base = { shape: v.shape(j), dtype: v.nodes[j]!.dtype };
    return r.op === "constant" ? { ...base, constant: r.attrs.value } : base;
  });
  const ctx: EmitCtx = {
    node: n,
    attrs: n.attrs,
    shape: v.shape(id),
    dtype: n.dtype,
    inputs,
    limits,
    ...(epilogue ? { epilogue } : {}),
  };
  const e = (emitters[n.op] as Emitter<OpKind>)(ctx);
  return e.kind === "kernels" ? e.kernels : [];
}

function epilogueFor(v: FuseGraph, g: Group, out: number): { ep: Epilogue; keys: string[] } {
  const first = v.nodes[g.node]!.inputs.length + 1;
  const w = new KernelWriter(v, "ep", first);
  const members = new Set(g.members.filter((m) => m !== g.node));
  const lines: string[] = [];
  const vals = pointwise(
    w,
    {
      domain: v.shape(g.node),
      index: "i",
      prefix: "c",
      lane: { vec: false },
      members,
      given: new Map([[g.node, "v"]]),
    },
    [out],
    lines,
  );
  const code = [
    ...w.decls(),
    "",
    ...[...w.helpers].flatMap((h) => [h, ""]),
    "fn nnc_epilogue(v: f32, i: u32) -> f32 {",
    ...indent(w.hoisted),
    ...indent(lines),
    `  return ${vals.get(out)};`,
    "}",
    "",
    "fn nnc_epilogue4(v: vec4<f32>, i: u32) -> vec4<f32> {",
    "  return vec4<f32>(",
    "    nnc_epilogue(v.x, i),",
    "    nnc_epilogue(v.y, i + 1u),",
    "    nnc_epilogue(v.z, i + 2u),",
    "    nnc_epilogue(v.w, i + 3u),",
    "  );",
    "}",
  ].join("\n");
  const inputs: EmitInput[] = w.bindings.map((b) => ({
    shape: [],
    dtype: b.type === "i32" ? "i32" : "f32",
  }));
  return { ep: { code, inputs, firstBinding: first }, keys: w.bindings.map((b) => b.key) };
}

function opKernels(v: FuseGraph, g: Group, opts: KernelOptions): FusedKernel[] {
  const id = g.node;
  const node = v.nodes[id]!;
  const hasEpilogue = g.members.length > 1;
  const out = hasEpilogue ? g.outputs[0]! : id;
  const toKernels = (ks: readonly KernelSource[], key: string, epKeys: readonly string[]) =>
    ks.map((k, idx): FusedKernel => {
      const bindings: FusedBinding[] = k.reads.map((j, b) => ({
        binding: b,
        key: valueKey(v, v.inputs[id]![j]!),
        access: "read",
      }));
      bindings.push({ binding: k.reads.length, key, access: "read_write" });
      if (k.epilogue) {
        epKeys.forEach((ek, e) =>
          bindings.push({ binding: k.reads.length + 1 + e, key: ek, access: "read" }),
        );
      }
      return {
        name: ks.length > 1 ? `${node.op}_${id}_${idx}` : `${node.op}_${id}`,
        wgsl: k.wgsl,
        workgroupSize: k.workgroupSize,
        dispatch: k.dispatch,
        bindings,
        node: id,
        op: node.op,
        ...(k.overLimit ? { overLimit: k.overLimit } : {}),
      };
    });
  if (!hasEpilogue) return toKernels(emitPrimitive(v, id, opts.limits), outKey(v, g, id), []);
  const { ep, keys } = epilogueFor(v, g, out);
  const withEp = emitPrimitive(v, id, opts.limits, ep);
  if (withEp.some((k) => k.epilogue)) return toKernels(withEp, outKey(v, g, out), keys);
  // The emitter declined: the primitive stores its result, an elementwise kernel the rest.
  const plain = toKernels(emitPrimitive(v, id, opts.limits), `n${id}`, []);
  const rest: Group = {
    ...g,
    kind: "elementwise",
    members: g.members.filter((m) => m !== id),
    prologue: [],
    domain: v.shape(out),
    node: out,
  };
  return [...plain, elementwiseKernel(v, rest, opts)];
}

// ---------------------------------------------------------------------------------------------
// Reductions

const block = 256;

function reduceKernels(v: FuseGraph, g: Group, opts: KernelOptions): GroupCode {
  const r = g.node;
  const node = v.nodes[r]!;
  const op = node.op as "reduce_sum" | "reduce_max" | "argmax";
  const x = v.inputs[r]![0]!;
  const xShape = v.shape(x);
  const axes =
    op === "argmax"
      ? [(node.attrs as { axis: number }).axis]
      : (node.attrs as { axes: readonly number[] }).axes;
  const split = splitReduce(xShape, axes);
  const count = split.count;
  const nOut = numelOf(v.shape(r));
  const pro = new Set(g.prologue);
  const epi = new Set(g.members.filter((m) => m !== r && !pro.has(m)));
  const tIn = v.nodes[x]!.dtype;
  const ty = scalarType(tIn);
  const zero = literal(0, tIn);

  /** Lines of the loop body computing `val` at reduced element `rv`. */
  const elementAt = (w: KernelWriter, rv: string): { lines: string[]; val: string } => {
    const lines = [`let xi = base + ${split.offset(rv)};`];
    const vals = pointwise(
      w,
      {
        domain: xShape,
        index: "xi",
        prefix: "q",
        lane: { vec: false },
        members: pro,
        given: new Map(),
      },
      [x],
      lines,
    );
    return { lines, val: vals.get(x)! };
  };
  const loop = (w: KernelWriter, from: string, to: string): string[] => {
    const { lines, val } = elementAt(w, "r");
    if (op === "reduce_sum") {
      return [
        `var acc = ${zero};`,
        `for (var r0 = ${from}; r0 < ${to}; r0 += ${u32(block)}) {`,
        `  var part = ${zero};`,
        `  let r1 = min(r0 + ${u32(block)}, ${to});`,
        "  for (var r = r0; r < r1; r++) {",
        ...indent(lines, 2),
        `    part += ${val};`,
        "  }",
        "  acc += part;",
        "}",
      ];
    }
    if (op === "reduce_max") {
      return [
        `var acc = ${literal(tIn === "f32" ? -3.4028234663852886e38 : -2147483648, tIn)};`,
        `for (var r = ${from}; r < ${to}; r++) {`,
        ...indent(lines),
        `  if (r == ${from}) {`,
        `    acc = ${val};`,
        "  } else {",
        `    acc = max(acc, ${val});`,
        "  }",
        "}",
      ];
    }
    return [
      `var m = ${literal(0, tIn)};`,
      "var best = 0u;",
      `for (var r = ${from}; r < ${to}; r++) {`,
      ...indent(lines),
      `  if (r == ${from} || ${val} > m) {`,
      `    m = ${val};`,
      "    best = r;",
      "  }",
      "}",
      "let acc = i32(best);",
    ];
  };
  /** Epilogue and stores at output index `i`, the reduction's value in `acc`. */
  const finish = (w: KernelWriter, lines: string[]) => {
    const vals = pointwise(
      w,
      {
        domain: v.shape(r),
        index: "i",
        prefix: "c",
        lane: { vec: false },
        members: epi,
        given: new Map([[r, "acc"]]),
      },
      g.outputs,
      lines,
    );
    for (const m of g.outputs) {
      const name = w.bind(outKey(v, g, m), "read_write", scalarType(v.nodes[m]!.dtype));
      lines.push(`${name}[i] = ${vals.get(m)};`);
    }
  };
  const name = nameOf(v, g);
  const twoStage = op !== "argmax" && count >= 4096 && nOut <= 1024;
  if (!twoStage) {
    const w = new KernelWriter(v);
    const lines = ["let i = t;", ...split.baseLines, ...loop(w, "0u", u32(count))];
    finish(w, lines);
    return {
      kernels: [kernel(w, wrap(w, nOut, lines, opts.limits), name, r, op)],
      scratch: new Map(),
    };
  }
  const want = Math.max(2, Math.min(Math.ceil(count / 512), Math.floor(8192 / nOut)));
  const chunk = Math.ceil(count / want);
  const parts = Math.ceil(count / chunk); // every chunk non-empty
  const scratchKey = `s${g.id}`;
  const w1 = new KernelWriter(v);
  // A sum of f32 over leading axes, keeping a multiple of 4 contiguous values (a bias
  // gradient over batch and pixels), loads and adds four outputs' values at a time: llvmpipe
  // runs invocations as SIMD lanes, and a lane's vec4 load is one access where four lanes'
  // scalar loads are four. The partial sums keep the scalar layout [part][output].
  const leading = axes.every((a, k) => a === k);
  const vec4 = op === "reduce_sum" && tIn === "f32" && pro.size === 0 && leading && nOut % 4 === 0;
  const q = vec4 ? nOut / 4 : nOut;
  const lines1 = [`let i = t % ${u32(q)};`, `let p = t / ${u32(q)};`];
  if (vec4) {
    const xv = w1.bind(valueKey(v, x), "read", "vec4<f32>");
    lines1.push(
      `let lo = p * ${u32(chunk)};`,
      `let hi = min(lo + ${u32(chunk)}, ${u32(count)});`,
      "var acc = vec4<f32>(0.0f);",
      `for (var r0 = lo; r0 < hi; r0 += ${u32(block)}) {`,
      "  var part = vec4<f32>(0.0f);",
      `  let r1 = min(r0 + ${u32(block)}, hi);`,
      "  for (var r = r0; r < r1; r++) {",
      `    part += ${xv}[i + r * ${u32(q)}];`,
      "  }",
      "  acc += part;",
      "}",
    );
  } else {
    lines1.push(
      ...split.baseLines,
      `let lo = p * ${u32(chunk)};`,
      `let hi = min(lo + ${u32(chunk)}, ${u32(count)});`,
      ...loop(w1, "lo", "hi"),
    );
  }
  const partial = w1.bind(scratchKey, "read_write", vec4 ? "vec4<f32>" : ty);
  lines1.push(`${partial}[t] = acc;`);
  const k1 = kernel(w1, wrap(w1, q * parts, lines1, opts.limits), `${name}_partial`, r, op);
  const w2 = new KernelWriter(v);
  const sp = w2.bind(scratchKey, "read", ty);
  const lines2 = [
    "let i = t;",
    `var acc = ${sp}[i];`,
    `for (var p = 1u; p < ${u32(parts)}; p++) {`,
    op === "reduce_sum"
      ? `  acc += ${sp}[p * ${u32(nOut)} + i];`
      : `  acc = max(acc, ${sp}[p * ${u32(nOut)} + i]);`,
    "}",
  ];
  finish(w2, lines2);
  const k2 = kernel(w2, wrap(w2, nOut, lines2, opts.limits), name, r, op);
  return { kernels: [k1, k2], scratch: new Map([[scratchKey, parts * nOut * 4]]) };
}

// ---------------------------------------------------------------------------------------------
// Serial

/** Invocations of a serial kernel's one workgroup. */
const serialGroup = 64;
/** Reduced elements per output from which a serial kernel's sum is split across lanes. */
const serialSplitMin = 64;

function serialKernel(v: FuseGraph, g: Group, opts: KernelOptions): GroupCode {
  const members = new Set(g.members);
  const w = new KernelWriter(v);
  const lines: string[] = [];
  // A power of two, so that the split sums' lane groups tile the workgroup.
  let wg = 1;
  const maxWg = Math.min(
    serialGroup,
    opts.limits.maxComputeInvocationsPerWorkgroup,
    opts.limits.maxComputeWorkgroupSizeX,
  );
  while (wg * 2 <= maxWg) wg *= 2;
  // Members live in a scratch storage buffer (function-local arrays are slow on llvmpipe).
  const offset = new Map<number, number>();
  let words = 0;
  for (const m of g.members) {
    offset.set(m, words);
    words += Math.max(1, numelOf(v.shape(m)));
  }
  const scratchKey = `s${g.id}`;
  const sc = w.bind(scratchKey, "read_write", "f32");
  const at = (m: number, idx: string) => {
    const o = offset.get(m)!;
    return o === 0 ? `${sc}[${idx}]` : `${sc}[${u32(o)} + ${idx}]`;
  };
  const get = (m: number, idx: string) =>
    v.nodes[m]!.dtype === "f32" ? at(m, idx) : `bitcast<i32>(${at(m, idx)})`;
  const set = (m: number, value: string) =>
    `${at(m, "i")} = ${v.nodes[m]!.dtype === "f32" ? value : `bitcast<f32>(${value})`};`;
  // The workgroup's invocations share each member's loop: element i is computed by
  // invocation i % wg (`for (var i = lid; ...; i += wg)`), so a member reading another at its
  // own index i reads what its invocation wrote. Any other read of a member written since the
  // last barrier (a broadcast, a reduction, a transpose) waits at a barrier first.
  // `dirty`: members written since the last barrier -> written at i by invocation i % wg.
  const dirty = new Map<number, boolean>();
  let needBarrier = false;
  let N = 0;
  /** The value of input `j` at flat index `idx` of its own shape. */
  const read = (j: number, idx: string): string => {
    const n = v.nodes[j]!;
    if (n.op === "constant" && isLiteralSafe(n.attrs.value, n.dtype)) {
      return literal(n.attrs.value, n.dtype);
    }
    const r = v.root[j]!;
    if (v.inline[r] && !members.has(r)) return w.scalar(r);
    if (members.has(r)) {
      const owned = dirty.get(r);
      if (owned !== undefined && !(owned && (idx === "i" || (idx === "0u" && N === 1)))) {
        needBarrier = true;
      }
      return get(r, idx);
    }
    return `${w.bind(valueKey(v, j), "read", scalarType(n.dtype))}[${idx}]`;
  };
  const barrier = () => {
    lines.push("storageBarrier();");
    dirty.clear();
  };
  /** Elements [0, n) shared out among the invocations. */
  const loopOver = (n: number, body: readonly string[]) => [
    wg === 1
      ? `for (var i = 0u; i < ${u32(n)}; i++) {`
      : `for (var i = lid; i < ${u32(n)}; i += ${u32(wg)}) {`,
    ...indent([...body]),
    "}",
  ];
  let shared = false;
  const late: string[] = [];
  for (const m of g.members) {
    const node = v.nodes[m]!;
    const shape = v.shape(m);
    N = numelOf(shape);
    const ty = scalarType(node.dtype);
    const body: string[] = [];
    needBarrier = false;
    /** Whether invocation i % wg wrote element i (false: a split sum's lane 0 did). */
    let owned = true;
    const store = g.outputs.includes(m) && !g.inPlace.has(m);
    const outName = g.outputs.includes(m) ? w.bind(outKey(v, g, m), "read_write", ty) : "";
    if (isPointwise(node.op)) {
      const args = v.inputs[m]!.map((j) => {
        const idx = broadcastIndex(v.shape(j), shape, "i", "c");
        return read(j, idx);
      });
      const e = rule(node, args, v, { vec: false }, (h) => w.helper(h));
      const needs = args.some((a) => /\bc\d/.test(a));
      body.push(...(needs ? coords(shape, "i", "c") : []), set(m, e));
    } else if (node.op === "transpose") {
      const j = v.inputs[m]![0]!;
      const inStrides = strides(v.shape(j));
      const perm = (node.attrs as { perm: readonly number[] }).perm;
      const idx = linear(perm.map((p, k) => [`c${k}`, inStrides[p]!] as const));
      body.push(...coords(shape, "i", "c"), set(m, read(j, idx)));
    } else {
      const j = v.inputs[m]![0]!;
      const axes =
        node.op === "argmax"
          ? [(node.attrs as { axis: number }).axis]
          : (node.attrs as { axes: readonly number[] }).axes;
      const split = splitReduce(v.shape(j), axes);
      const val = read(j, `base + ${split.offset("r")}`);
      const tIn = v.nodes[j]!.dtype;
      // A sum of many elements into few outputs: `lanes` invocations per output each sum a
      // strided slice, then a tree over workgroup memory combines their partial sums.
      let lanes = 1;
      while (lanes * 2 * N <= wg && lanes < split.count) lanes *= 2;
      if (node.op === "reduce_sum" && tIn === "f32" && split.count >= serialSplitMin && lanes > 1) {
        if (needBarrier) barrier();
        shared = true;
        owned = false;
        const lane = `lid % ${u32(lanes)}`;
        lines.push(
          "{",
          ...indent([
            N === 1 ? "let i = 0u;" : `let i = min(lid / ${u32(lanes)}, ${u32(N - 1)});`,
            `let lane = ${lane};`,
            ...split.baseLines,
            "var acc = 0.0f;",
            `for (var r = lane; r < ${u32(split.count)}; r += ${u32(lanes)}) {`,
            `  acc += ${val};`,
            "}",
            "nnc_part[lid] = acc;",
            "workgroupBarrier();",
            ...Array.from({ length: Math.log2(lanes) }, (_, k) => lanes >> (k + 1)).flatMap(
              (step) => [
                `if (lane < ${u32(step)}) {`,
                `  nnc_part[lid] += nnc_part[lid + ${u32(step)}];`,
                "}",
                "workgroupBarrier();",
              ],
            ),
            N * lanes === wg ? "if (lane == 0u) {" : `if (lane == 0u && lid < ${u32(N * lanes)}) {`,
            `  ${set(m, "nnc_part[lid]")}`,
            ...(store ? [`  ${outName}[i] = ${get(m, "i")};`] : []),
            "}",
          ]),
          "}",
        );
        dirty.set(m, owned);
        if (g.inPlace.has(m)) late.push(...loopOver(N, [`${outName}[i] = ${get(m, "i")};`]));
        continue;
      }
      body.push(...split.baseLines);
      if (node.op === "reduce_sum") {
        body.push(
          `var acc = ${literal(0, tIn)};`,
          `for (var r = 0u; r < ${u32(split.count)}; r++) {`,
          `  acc += ${val};`,
          "}",
          set(m, "acc"),
        );
      } else if (node.op === "reduce_max") {
        body.push(
          `var acc = ${literal(tIn === "f32" ? -3.4028234663852886e38 : -2147483648, tIn)};`,
          `for (var r = 0u; r < ${u32(split.count)}; r++) {`,
          `  let x = ${val};`,
          "  if (r == 0u) {",
          "    acc = x;",
          "  } else {",
          "    acc = max(acc, x);",
          "  }",
          "}",
          set(m, "acc"),
        );
      } else {
        body.push(
          `var m = ${literal(0, tIn)};`,
          "var best = 0u;",
          `for (var r = 0u; r < ${u32(split.count)}; r++) {`,
          `  let x = ${val};`,
          "  if (r == 0u || x > m) {",
          "    m = x;",
          "    best = r;",
          "  }",
          "}",
          set(m, "i32(best)"),
        );
      }
    }
    if (store) body.push(`${outName}[i] = ${get(m, "i")};`);
    if (g.inPlace.has(m)) late.push(...loopOver(N, [`${outName}[i] = ${get(m, "i")};`]));
    if (needBarrier) barrier();
    lines.push(...loopOver(N, body));
    dirty.set(m, owned);
  }
  // Variables updated in place are written last, after every invocation has read them.
  if (late.length > 0) {
    if (wg > 1) barrier();
    lines.push(...late);
  }
  return {
    kernels: [
      kernel(
        w,
        wrap(
          w,
          1,
          lines,
          opts.limits,
          shared ? [`var<workgroup> nnc_part: array<f32, ${wg}>;`] : [],
          wg,
        ),
        nameOf(v, g),
        g.node,
        "serial",
      ),
    ],
    scratch: new Map([[scratchKey, words * 4]]),
  };
}

/** The kernels of one group. */
export function groupKernels(v: FuseGraph, g: Group, opts: KernelOptions): GroupCode {
  switch (g.kind) {
    case "op":
      return { kernels: opKernels(v, g, opts), scratch: new Map() };
    case "elementwise":
      return { kernels: [elementwiseKernel(v, g, opts)], scratch: new Map() };
    case "reduce":
      return reduceKernels(v, g, opts);
    case "serial":
      return serialKernel(v, g, opts);
  }
}
