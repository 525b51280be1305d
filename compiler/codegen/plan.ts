/**
 * @file The planner: Graph -> KernelPlan. The fusion pass (compiler/fuse/) groups the nodes an
 * output or update needs into kernels and writes their WGSL; the planner orders them, adds a
 * copy kernel for an update that reads another variable, and lays out memory: one buffer per
 * input and variable, one per constant a kernel reads (constants in elementwise code are
 * inlined), a dedicated `output` buffer for every value read back or used as an update (an
 * update computed where it may be written in place goes straight into its variable), and
 * `temp` buffers shared by values whose lifetimes do not overlap (compiler/fuse/memory.ts). A
 * reshape shares its input's buffer. Values over the device's buffer size, kernels over its
 * binding or grid limits and symbolic shapes are NN4xxx diagnostics at the node's span.
 * `describePlan` prints a plan's kernels and memory (`nnc build --emit plan`).
 */
import { type Diagnostic, location, type Note, type SourceMap } from "../diagnostics.js";
import { formatShape, isConcrete } from "../dims.js";
import type { AnyNode, Graph } from "../ir/graph.js";
import { diag } from "../messages.js";
import type {
  BufferRole,
  DeviceLimitsLike,
  KernelPlan,
  PlanBinding,
  PlanBuffer,
  PlanInput,
  PlanKernel,
  PlanOutput,
  PlanUpdate,
  PlanVariable,
} from "../../runtime/plan.js";
import { groupGraph } from "../fuse/groups.js";
import { type FusedKernel, groupKernels, valueKey } from "../fuse/kernels.js";
import { allocate, type Lifetime, peakLive } from "../fuse/memory.js";
import { fuseView } from "../fuse/view.js";
import type { EmitCtx } from "./context.js";
import { copyEmitter } from "./layout.js";
import { numel } from "./wgsl.js";

export interface PlanOptions {
  readonly limits: DeviceLimitsLike;
  /** Fuse nodes into kernels (default true); false runs every node by its own emitter. */
  readonly fuse?: boolean;
  /** To render kernel locations as `file:line:col` (else just the file). */
  readonly sources?: SourceMap;
}

export interface PlanResult {
  readonly plan: KernelPlan;
  readonly diagnostics: readonly Diagnostic[];
}

/** Raised by `planGraph` when the graph does not fit the device; carries the diagnostics. */
export class PlanError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map((d) => `${d.code}: ${d.message}`).join("\n"));
  }
}

/** Plans the graph; throws PlanError (with NN4xxx diagnostics) when it does not fit. */
export function planGraph(graph: Graph, opts: PlanOptions): KernelPlan {
  const r = planKernels(graph, opts);
  if (r.diagnostics.length > 0) throw new PlanError(r.diagnostics);
  return r.plan;
}

const emptyPlan: KernelPlan = {
  version: 1,
  buffers: [],
  variables: [],
  inputs: [],
  kernels: [],
  outputs: [],
  updates: [],
};

function bytes(shape: readonly number[]): number {
  return Math.max(4, numel(shape) * 4);
}

/** The phase function: a plan plus diagnostics (empty when everything fits the device). */
export function planKernels(graph: Graph, opts: PlanOptions): PlanResult {
  const { limits } = opts;
  const fuse = opts.fuse ?? true;
  const nodes = graph.nodes;
  const diagnostics: Diagnostic[] = [];
  const where = (n: AnyNode) => (opts.sources ? location(opts.sources, n.span) : n.span.file);

  const view = fuseView(graph, { rewrite: fuse });
  for (const n of nodes) {
    if ((view.live[n.id] || n.op === "input") && !isConcrete(n.shape)) {
      diagnostics.push(diag("NN4005", n.span, { op: n.op, shape: formatShape(n.shape) }));
    }
  }
  for (const v of graph.variables) {
    if (!isConcrete(v.shape)) {
      diagnostics.push(diag("NN4005", v.span, { op: v.kind, shape: formatShape(v.shape) }));
    }
  }
  if (diagnostics.length > 0) return { plan: emptyPlan, diagnostics };
  // One diagnostic for the first value over the limit (a batch too large makes most values
  // too large, from the input on); a note counts the others and names the largest.
  const maxBytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const over = nodes.filter(
    (n) => view.live[n.id] && n.op !== "reshape" && numel(n.shape as number[]) * 4 > maxBytes,
  );
  const [first, ...others] = over;
  if (first) {
    const bytes = (n: AnyNode) => numel(n.shape as number[]) * 4;
    const notes: Note[] = [];
    if (others.length > 0) {
      const largest = others.reduce((a, n) => (bytes(n) > bytes(a) ? n : a));
      notes.push({
        message: `${others.length} more value${others.length > 1 ? "s are" : " is"} over the limit too, the largest of them (${largest.op}, ${bytes(largest)} bytes) here`,
        span: largest.span,
      });
    }
    // A stdlib layer's parameter is reported at the user's call that made the layer.
    const site =
      first.op === "param" || first.op === "state"
        ? graph.variables.find((v) => v.name === first.attrs.name)?.site
        : undefined;
    if (site) notes.unshift({ message: `the ${first.op} is declared here`, span: first.span });
    diagnostics.push(
      diag(
        "NN4002",
        site ?? first.span,
        { op: first.op, size: bytes(first), limit: maxBytes },
        notes,
      ),
    );
  }

  // Kernels, in order.
  const { groups } = groupGraph(view, { limits, fuse });
  const fused: FusedKernel[] = [];
  const scratch = new Map<string, number>();
  const alias = new Map<string, string>(); // a node's key -> the variable it was written into
  for (const g of groups) {
    const code = groupKernels(view, g, { limits });
    fused.push(...code.kernels);
    for (const [k, b] of code.scratch) scratch.set(k, b);
    for (const [m, target] of g.inPlace) alias.set(`n${m}`, `v:${target}`);
  }
  const keyOf = (id: number) => {
    const k = valueKey(view, view.rep[id]!);
    return alias.get(k) ?? k;
  };

  // Updates whose value is another source's buffer get a copy kernel, so that the copies after
  // a step cannot see each other's results.
  const copyKeys = new Map<number, string>(); // update index -> key of the copy
  graph.updates.forEach((u, k) => {
    const r = view.rep[u.node]!;
    const rn = nodes[view.root[r]!]!;
    const isSource =
      rn.op === "input" || rn.op === "param" || rn.op === "state" || rn.op === "constant";
    if (!isSource) return;
    if ((rn.op === "param" || rn.op === "state") && rn.attrs.name === u.target) return;
    const n = nodes[u.node]!;
    const ctx: EmitCtx = {
      node: n,
      attrs: n.attrs,
      shape: n.shape as number[],
      dtype: n.dtype,
      inputs: [{ shape: n.shape as number[], dtype: n.dtype }],
      limits,
    };
    const e = copyEmitter(ctx);
    if (e.kind !== "kernels") return;
    const key = `u${k}`;
    copyKeys.set(k, key);
    for (const c of e.kernels) {
      fused.push({
        name: `copy_${n.id}`,
        wgsl: c.wgsl,
        workgroupSize: c.workgroupSize,
        dispatch: c.dispatch,
        bindings: [
          { binding: 0, key: keyOf(r), access: "read" },
          { binding: 1, key, access: "read_write" },
        ],
        node: n.id,
        op: "copy",
        ...(c.overLimit ? { overLimit: c.overLimit } : {}),
      });
    }
  });

  // Buffers: variables and inputs first, then the rest in order of first use.
  const buffers: PlanBuffer[] = [];
  const bufferOf = new Map<string, number>();
  const add = (key: string, size: number, role: BufferRole, extra: Partial<PlanBuffer> = {}) => {
    const b: PlanBuffer = { id: buffers.length, size, role, ...extra };
    buffers.push(b);
    bufferOf.set(key, b.id);
    return b.id;
  };
  const variables: PlanVariable[] = graph.variables.map((v) => ({
    name: v.name,
    kind: v.kind,
    shape: v.shape as number[],
    dtype: v.dtype,
    init: v.init,
    layer: v.layer,
    buffer: add(`v:${v.name}`, bytes(v.shape as number[]), "variable", { dtype: v.dtype }),
  }));
  const inputs: PlanInput[] = [];
  for (const n of nodes) {
    if (n.op === "param" || n.op === "state") {
      if (!bufferOf.has(`v:${n.attrs.name}`)) {
        add(`v:${n.attrs.name}`, bytes(n.shape as number[]), "variable", { dtype: n.dtype });
      }
    } else if (n.op === "input") {
      const id = add(`n${n.id}`, bytes(n.shape as number[]), "input", { dtype: n.dtype });
      inputs.push({ name: n.attrs.name, shape: n.shape as number[], dtype: n.dtype, buffer: id });
    }
  }
  const pinnedKeys = new Set<string>();
  for (const o of graph.outputs) pinnedKeys.add(keyOf(o.node));
  for (const u of graph.updates) pinnedKeys.add(keyOf(u.node));
  for (const k of copyKeys.values()) pinnedKeys.add(k);
  const sizeOf = (key: string): number => {
    if (key.startsWith("s")) return scratch.get(key)!;
    if (key.startsWith("u")) {
      const u = graph.updates[Number(key.slice(1))]!;
      return bytes(nodes[u.node]!.shape as number[]);
    }
    return bytes(nodes[Number(key.slice(1))]!.shape as number[]);
  };
  const ensure = (key: string): void => {
    if (bufferOf.has(key)) return;
    if (key.startsWith("n")) {
      const n = nodes[Number(key.slice(1))]!;
      if (n.op === "constant") {
        add(key, sizeOf(key), "constant", { fill: n.attrs.value, dtype: n.dtype });
        return;
      }
    }
    if (pinnedKeys.has(key)) {
      const dtype = key.startsWith("n") ? nodes[Number(key.slice(1))]!.dtype : undefined;
      const u = key.startsWith("u") ? graph.updates[Number(key.slice(1))] : undefined;
      const dt = dtype ?? (u ? nodes[u.node]!.dtype : undefined);
      add(key, sizeOf(key), "output", dt ? { dtype: dt } : {});
    }
  };
  const kernelKeys = fused.map((k) => k.bindings.map((b) => alias.get(b.key) ?? b.key));
  for (const keys of kernelKeys) for (const key of keys) ensure(key);
  for (const o of graph.outputs) ensure(keyOf(o.node));

  // Temporaries: lifetimes in kernel order, then the interval allocation.
  const spans = new Map<string, { first: number; last: number }>();
  kernelKeys.forEach((keys, t) => {
    for (const key of keys) {
      if (bufferOf.has(key)) continue;
      const s = spans.get(key);
      if (s) s.last = t;
      else spans.set(key, { first: t, last: t });
    }
  });
  const lifetimes: Lifetime[] = [...spans].map(([key, s]) => ({ key, bytes: sizeOf(key), ...s }));
  const alloc = allocate(lifetimes);
  const slotBuffer = alloc.slots.map((size) => {
    const b: PlanBuffer = { id: buffers.length, size, role: "temp" };
    buffers.push(b);
    return b.id;
  });
  for (const [key, slot] of alloc.slotOf) bufferOf.set(key, slotBuffer[slot]!);

  const kernels: PlanKernel[] = fused.map((k, t) => {
    const n = nodes[k.node]!;
    const bindings: PlanBinding[] = k.bindings.map((b, j) => ({
      binding: b.binding,
      buffer: bufferOf.get(kernelKeys[t]![j]!)!,
      access: b.access,
    }));
    if (bindings.length > limits.maxStorageBuffersPerShaderStage) {
      diagnostics.push(
        diag("NN4003", n.span, {
          op: n.op,
          count: bindings.length,
          limit: limits.maxStorageBuffersPerShaderStage,
        }),
      );
    }
    if (k.overLimit) diagnostics.push(diag("NN4004", n.span, { op: n.op, detail: k.overLimit }));
    return {
      name: k.name,
      wgsl: k.wgsl,
      entryPoint: "main",
      workgroupSize: k.workgroupSize,
      dispatch: k.dispatch,
      bindings,
      node: k.node,
      op: k.op,
      location: where(n),
    };
  });

  const updates: PlanUpdate[] = [];
  graph.updates.forEach((u, k) => {
    const key = copyKeys.get(k) ?? keyOf(u.node);
    const b = bufferOf.get(key);
    if (b === undefined) throw new Error(`internal: no buffer for update of ${u.target}`);
    if (b === bufferOf.get(`v:${u.target}`)) return;
    updates.push({ variable: u.target, buffer: b });
  });
  const outputs: PlanOutput[] = graph.outputs.map((o) => {
    const b = bufferOf.get(keyOf(o.node));
    if (b === undefined) throw new Error(`internal: no buffer for output ${o.name}`);
    return {
      name: o.name,
      buffer: b,
      shape: nodes[o.node]!.shape as number[],
      dtype: nodes[o.node]!.dtype,
    };
  });

  const totalBytes = buffers.reduce((a, b) => a + b.size, 0);
  const persistentBytes = buffers.filter((b) => b.role !== "temp").reduce((a, b) => a + b.size, 0);
  return {
    plan: {
      version: 1,
      buffers,
      variables,
      inputs,
      kernels,
      outputs,
      updates,
      memory: {
        totalBytes,
        persistentBytes,
        lowerBoundBytes: persistentBytes + peakLive(lifetimes),
      },
    },
    diagnostics,
  };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
}

/** A readable account of a plan: kernels in order with their grids and buffers, then memory. */
export function describePlan(plan: KernelPlan): string {
  const lines: string[] = [];
  const dispatches = plan.kernels.filter((k) => k.dispatch.every((d) => d > 0)).length;
  lines.push(`kernels: ${plan.kernels.length} (${dispatches} dispatches per step)`);
  plan.kernels.forEach((k, i) => {
    const bs = k.bindings.map((b) => `${b.access === "read" ? "" : "w:"}#${b.buffer}`).join(" ");
    lines.push(
      `  ${String(i).padStart(3)} ${k.name.padEnd(36)} [${k.dispatch.join(", ")}]x${k.workgroupSize[0]}  ${bs}  ${k.location}`,
    );
  });
  const names = new Map<number, string[]>();
  const note = (b: number, s: string) => names.set(b, [...(names.get(b) ?? []), s]);
  for (const v of plan.variables) note(v.buffer, v.name);
  for (const i of plan.inputs) note(i.buffer, `input ${i.name}`);
  for (const o of plan.outputs) note(o.buffer, `output ${o.name}`);
  for (const u of plan.updates) note(u.buffer, `update ${u.variable}`);
  lines.push(`buffers: ${plan.buffers.length}`);
  for (const b of plan.buffers) {
    const what = names.get(b.id)?.join(", ") ?? (b.fill !== undefined ? `fill ${b.fill}` : "");
    lines.push(
      `  #${String(b.id).padEnd(4)} ${b.role.padEnd(8)} ${formatBytes(b.size).padStart(11)}  ${what}`,
    );
  }
  const byRole = new Map<string, number>();
  for (const b of plan.buffers) byRole.set(b.role, (byRole.get(b.role) ?? 0) + b.size);
  lines.push(`memory: ${[...byRole].map(([r, n]) => `${r} ${formatBytes(n)}`).join(", ")}`);
  const m = plan.memory;
  if (m) {
    lines.push(
      `peak ${formatBytes(m.totalBytes)}, lower bound ${formatBytes(m.lowerBoundBytes)} (persistent ${formatBytes(m.persistentBytes)}), ratio ${(m.totalBytes / Math.max(1, m.lowerBoundBytes)).toFixed(2)}`,
    );
  }
  return lines.join("\n") + "\n";
}
