/**
 * @file The planner: Graph -> KernelPlan. It drops nodes no output or update needs, asks each
 * node's emitter for its kernels, and assigns buffers: one per input and variable, one per
 * constant that a kernel reads (constants read by elementwise kernels are inlined), a dedicated
 * `output` buffer for every value read back or used as an update, and shared `temp` buffers for
 * the rest (a value's buffer returns to the pool after its last reader, never before its own
 * kernel ran, so no kernel reads and writes one buffer). A reshape shares its input's buffer.
 * Values over the device's buffer size, kernels over its binding or grid limits and symbolic
 * shapes are reported as NN4xxx diagnostics against the node's span.
 */
import { type Diagnostic, location, type SourceMap } from "../diagnostics.js";
import { isConcrete } from "../dims.js";
import { formatShape } from "../dims.js";
import type { AnyNode, Graph } from "../ir/graph.js";
import { diag } from "../messages.js";
import type { DType, OpKind } from "../primitives.js";
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
import type { EmitCtx, EmitInput, Emitter } from "./context.js";
import { emitters } from "./emitters.js";
import { copyEmitter } from "./layout.js";
import { type KernelSource, numel } from "./wgsl.js";

export interface PlanOptions {
  readonly limits: DeviceLimitsLike;
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

interface MutableBuffer {
  id: number;
  size: number;
  role: BufferRole;
  fill?: number;
  dtype?: DType;
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
  const nodes = graph.nodes;
  const diagnostics: Diagnostic[] = [];
  const where = (n: AnyNode) => (opts.sources ? location(opts.sources, n.span) : n.span.file);

  // Liveness: nodes an output or an update depends on.
  const live = new Array<boolean>(nodes.length).fill(false);
  for (const o of graph.outputs) live[o.node] = true;
  for (const u of graph.updates) live[u.node] = true;
  for (let id = nodes.length - 1; id >= 0; id--) {
    if (live[id]) for (const j of nodes[id]!.inputs) live[j] = true;
  }
  for (const n of nodes) {
    if ((live[n.id] || n.op === "input") && !isConcrete(n.shape)) {
      diagnostics.push(diag("NN4005", n.span, { op: n.op, shape: formatShape(n.shape) }));
    }
  }
  for (const v of graph.variables) {
    if (!isConcrete(v.shape)) {
      diagnostics.push(diag("NN4005", v.span, { op: v.kind, shape: formatShape(v.shape) }));
    }
  }
  if (diagnostics.length > 0) return { plan: emptyPlan, diagnostics };

  const root = new Array<number>(nodes.length);
  for (const n of nodes) root[n.id] = n.op === "reshape" ? root[n.inputs[0]!]! : n.id;
  const shapeOf = (id: number) => nodes[id]!.shape as readonly number[];

  // Emission.
  const emitted = new Map<number, readonly KernelSource[]>();
  const emitFor = (n: AnyNode, emitter: Emitter<OpKind>): readonly KernelSource[] => {
    const inputs: EmitInput[] = n.inputs.map((j) => {
      const r = nodes[root[j]!]!;
      const base = { shape: shapeOf(j), dtype: nodes[j]!.dtype };
      return r.op === "constant" ? { ...base, constant: r.attrs.value } : base;
    });
    const ctx: EmitCtx = {
      node: n,
      attrs: n.attrs,
      shape: shapeOf(n.id),
      dtype: n.dtype,
      inputs,
      limits,
    };
    const e = emitter(ctx);
    return e.kind === "kernels" ? e.kernels : [];
  };
  for (const n of nodes) {
    if (!live[n.id]) continue;
    const ks = emitFor(n, emitters[n.op] as Emitter<OpKind>);
    if (ks.length > 0) emitted.set(n.id, ks);
  }

  // Buffers.
  const buffers: MutableBuffer[] = [];
  const newBuffer = (size: number, role: BufferRole, extra: Partial<MutableBuffer> = {}) => {
    const b: MutableBuffer = { id: buffers.length, size, role, ...extra };
    buffers.push(b);
    return b;
  };
  const bufferOf = new Map<number, MutableBuffer>(); // root node id -> buffer
  const variableBuffer = new Map<string, MutableBuffer>();
  for (const v of graph.variables) {
    variableBuffer.set(
      v.name,
      newBuffer(bytes(v.shape as number[]), "variable", { dtype: v.dtype }),
    );
  }
  const inputs: PlanInput[] = [];
  for (const n of nodes) {
    if (n.op === "param" || n.op === "state") {
      let b = variableBuffer.get(n.attrs.name);
      if (!b) {
        b = newBuffer(bytes(shapeOf(n.id)), "variable", { dtype: n.dtype });
        variableBuffer.set(n.attrs.name, b);
      }
      bufferOf.set(n.id, b);
    } else if (n.op === "input") {
      const b = newBuffer(bytes(shapeOf(n.id)), "input", { dtype: n.dtype });
      bufferOf.set(n.id, b);
      inputs.push({ name: n.attrs.name, shape: shapeOf(n.id), dtype: n.dtype, buffer: b.id });
    }
  }
  const constantBuffer = (id: number): MutableBuffer => {
    let b = bufferOf.get(id);
    if (!b) {
      const n = nodes[id] as AnyNode & { op: "constant" };
      b = newBuffer(bytes(shapeOf(id)), "constant", { fill: n.attrs.value, dtype: n.dtype });
      bufferOf.set(id, b);
    }
    return b;
  };

  // Updates that read another source's buffer get a copy kernel, so that the copies after a
  // step cannot see each other's results.
  const copies = new Map<number, readonly KernelSource[]>(); // update index -> copy kernel
  const pinned = new Set<number>();
  for (const o of graph.outputs) pinned.add(root[o.node]!);
  graph.updates.forEach((u, k) => {
    const r = nodes[root[u.node]!]!;
    if (!emitted.has(r.id)) {
      const isSelf = (r.op === "param" || r.op === "state") && r.attrs.name === u.target;
      if (!isSelf) {
        const n = nodes[u.node]!;
        const ctx: EmitCtx = {
          node: n,
          attrs: n.attrs,
          shape: shapeOf(n.id),
          dtype: n.dtype,
          inputs: [{ shape: shapeOf(n.id), dtype: n.dtype }],
          limits,
        };
        const e = copyEmitter(ctx);
        if (e.kind === "kernels") copies.set(k, e.kernels);
      }
    } else pinned.add(r.id);
  });

  const lastUse = new Map<number, number>();
  for (const [id, ks] of emitted) {
    for (const k of ks) {
      for (const j of k.reads) lastUse.set(root[nodes[id]!.inputs[j]!]!, id);
    }
  }
  const pool: MutableBuffer[] = [];
  const takeTemp = (size: number): MutableBuffer => {
    let best = -1;
    for (let k = 0; k < pool.length; k++) {
      const b = pool[k]!;
      if (b.size >= size && (best < 0 || b.size < pool[best]!.size)) best = k;
    }
    if (best < 0 && pool.length > 0) {
      best = 0;
      for (let k = 1; k < pool.length; k++) if (pool[k]!.size > pool[best]!.size) best = k;
      pool[best]!.size = size;
    }
    if (best >= 0) return pool.splice(best, 1)[0]!;
    return newBuffer(size, "temp");
  };

  const kernels: PlanKernel[] = [];
  const bindingsFor = (n: AnyNode, k: KernelSource, out: MutableBuffer): PlanBinding[] => {
    const bs: PlanBinding[] = k.reads.map((j, b) => {
      const r = root[n.inputs[j]!]!;
      const buf = bufferOf.get(r) ?? (nodes[r]!.op === "constant" ? constantBuffer(r) : undefined);
      if (!buf) throw new Error(`internal: no buffer for node ${r} read by node ${n.id}`);
      return { binding: b, buffer: buf.id, access: "read" };
    });
    bs.push({ binding: k.reads.length, buffer: out.id, access: "read_write" });
    return bs;
  };
  const pushKernels = (n: AnyNode, ks: readonly KernelSource[], out: MutableBuffer) => {
    ks.forEach((k, idx) => {
      const bindings = bindingsFor(n, k, out);
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
      kernels.push({
        name: ks.length > 1 ? `${n.op}_${n.id}_${idx}` : `${n.op}_${n.id}`,
        wgsl: k.wgsl,
        entryPoint: "main",
        workgroupSize: k.workgroupSize,
        dispatch: k.dispatch,
        bindings,
        node: n.id,
        op: n.op,
        location: where(n),
      });
    });
  };

  const maxBytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const n of nodes) {
    if (live[n.id] && numel(shapeOf(n.id)) * 4 > maxBytes && n.op !== "reshape") {
      diagnostics.push(
        diag("NN4002", n.span, { op: n.op, size: numel(shapeOf(n.id)) * 4, limit: maxBytes }),
      );
    }
    const ks = emitted.get(n.id);
    if (!ks) continue;
    const size = bytes(shapeOf(n.id));
    const out = pinned.has(n.id) ? newBuffer(size, "output", { dtype: n.dtype }) : takeTemp(size);
    bufferOf.set(n.id, out);
    pushKernels(n, ks, out);
    const released = new Set<number>();
    for (const k of ks) {
      for (const j of k.reads) {
        const r = root[n.inputs[j]!]!;
        const b = bufferOf.get(r);
        if (lastUse.get(r) === n.id && b && b.role === "temp" && !released.has(b.id)) {
          released.add(b.id);
          pool.push(b);
        }
      }
    }
  }

  const updates: PlanUpdate[] = [];
  graph.updates.forEach((u, k) => {
    const copy = copies.get(k);
    const n = nodes[u.node]!;
    if (copy) {
      const out = newBuffer(bytes(shapeOf(n.id)), "output", { dtype: n.dtype });
      const r = root[u.node]!;
      const src = bufferOf.get(r) ?? constantBuffer(r);
      for (const c of copy) {
        kernels.push({
          name: `copy_${n.id}`,
          wgsl: c.wgsl,
          entryPoint: "main",
          workgroupSize: c.workgroupSize,
          dispatch: c.dispatch,
          bindings: [
            { binding: 0, buffer: src.id, access: "read" },
            { binding: 1, buffer: out.id, access: "read_write" },
          ],
          node: n.id,
          op: "copy",
          location: where(n),
        });
      }
      updates.push({ variable: u.target, buffer: out.id });
      return;
    }
    const b = bufferOf.get(root[u.node]!);
    if (!b) throw new Error(`internal: no buffer for update of ${u.target}`);
    if (b.role === "variable" && b === variableBuffer.get(u.target)) return;
    updates.push({ variable: u.target, buffer: b.id });
  });

  const outputs: PlanOutput[] = graph.outputs.map((o) => {
    const r = root[o.node]!;
    const b = bufferOf.get(r) ?? (nodes[r]!.op === "constant" ? constantBuffer(r) : undefined);
    if (!b) throw new Error(`internal: no buffer for output ${o.name}`);
    return { name: o.name, buffer: b.id, shape: shapeOf(o.node), dtype: nodes[o.node]!.dtype };
  });

  const variables: PlanVariable[] = graph.variables.map((v) => ({
    name: v.name,
    kind: v.kind,
    shape: v.shape as number[],
    dtype: v.dtype,
    init: v.init,
    layer: v.layer,
    buffer: variableBuffer.get(v.name)!.id,
  }));

  const planBuffers: PlanBuffer[] = buffers.map((b) => ({ ...b }));
  return {
    plan: {
      version: 1,
      buffers: planBuffers,
      variables,
      inputs,
      kernels,
      outputs,
      updates,
    },
    diagnostics,
  };
}
