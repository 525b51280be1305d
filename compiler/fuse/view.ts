/**
 * @file The fusion pass's view of a Graph: node ids stay those of the graph (kernels and
 * messages keep pointing at the user's nodes), but inputs are rewritten. Structurally equal
 * nodes are merged (common subexpressions: the optimizer's per-parameter scalars, repeated
 * constants), and the ReLU mask `greater(z, 0)` reads `relu(z)` instead of `z` when that node
 * exists (the same truth value), so that `z` need not be stored next to `relu(z)`. Then
 * liveness, consumers, the values read after the kernels (outputs, updates), and the
 * "inline" nodes: scalars computed from sources alone, which every kernel that needs them
 * recomputes instead of reading a buffer.
 */
import type { AnyNode, Graph } from "../ir/graph.js";
import { isElementwise, type OpKind } from "../primitives.js";
import { numelOf } from "../../runtime/plan.js";

export interface FuseGraph {
  readonly graph: Graph;
  readonly nodes: readonly AnyNode[];
  /** Rewritten inputs of each node. */
  readonly inputs: readonly (readonly number[])[];
  /** The representative of each node after merging equal ones (itself when kept). */
  readonly rep: readonly number[];
  /** Nodes an output or update needs (representatives only). */
  readonly live: readonly boolean[];
  /** Live consumers of each node (through the rewritten inputs). */
  readonly consumers: readonly (readonly number[])[];
  /** The buffer a node's value lives in: itself, or for a reshape its input's root. */
  readonly root: readonly number[];
  /** Values read after the kernels ran: output nodes and update nodes (representatives). */
  readonly pinned: ReadonlySet<number>;
  /** Scalars computed from sources and constants only, recomputed where used. */
  readonly inline: readonly boolean[];
  readonly shape: (id: number) => readonly number[];
}

/** Elementwise in the broadcasting sense (including broadcast_to, a pure index map). */
export function isPointwise(op: OpKind): boolean {
  return isElementwise(op) || op === "broadcast_to";
}

export function isSource(op: OpKind): boolean {
  return op === "input" || op === "param" || op === "state" || op === "constant";
}

// The runtime's element count; fusion modules import it from here.
export { numelOf };

export function fuseView(graph: Graph, opts: { readonly rewrite: boolean }): FuseGraph {
  const nodes = graph.nodes;
  const n = nodes.length;
  const rep = new Array<number>(n);
  const inputs: number[][] = new Array(n);
  const seen = new Map<string, number>();
  for (const node of nodes) {
    const ins = node.inputs.map((j) => rep[j]!);
    inputs[node.id] = ins;
    rep[node.id] = node.id;
    if (!opts.rewrite) continue;
    if (node.op === "input" || node.op === "param" || node.op === "state") continue;
    if (node.op === "random_uniform" || node.op === "random_normal") continue;
    const key = `${node.op}|${JSON.stringify(node.attrs)}|${ins.join(",")}|${node.shape.join(",")}|${node.dtype}`;
    const prev = seen.get(key);
    if (prev !== undefined) rep[node.id] = prev;
    else seen.set(key, node.id);
  }
  if (opts.rewrite) {
    // greater(z, 0) -> greater(relu(z), 0) where relu(z) exists.
    const reluOf = new Map<number, number>();
    for (const node of nodes) {
      if (node.op === "relu" && rep[node.id] === node.id) reluOf.set(inputs[node.id]![0]!, node.id);
    }
    for (const node of nodes) {
      if (node.op !== "greater" || rep[node.id] !== node.id) continue;
      const [a, b] = inputs[node.id] as [number, number];
      const bn = nodes[b]!;
      const r = reluOf.get(a);
      if (r !== undefined && bn.op === "constant" && bn.attrs.value === 0 && node.dtype === "f32") {
        if (nodes[a]!.dtype === "f32" && sameShape(nodes[r]!.shape, nodes[a]!.shape)) {
          inputs[node.id] = [r, b];
        }
      }
    }
  }
  const pinned = new Set<number>();
  for (const o of graph.outputs) pinned.add(rep[o.node]!);
  for (const u of graph.updates) pinned.add(rep[u.node]!);
  const live = new Array<boolean>(n).fill(false);
  for (const p of pinned) live[p] = true;
  for (let id = n - 1; id >= 0; id--) {
    if (live[id]) for (const j of inputs[id]!) live[j] = true;
  }
  const consumers: number[][] = Array.from({ length: n }, () => []);
  for (let id = 0; id < n; id++) {
    if (!live[id]) continue;
    for (const j of new Set(inputs[id]!)) consumers[j]!.push(id);
  }
  const root = new Array<number>(n);
  for (const node of nodes) {
    root[node.id] = node.op === "reshape" ? root[inputs[node.id]![0]!]! : node.id;
  }
  const shape = (id: number) => nodes[id]!.shape as readonly number[];
  const inline = new Array<boolean>(n).fill(false);
  for (const node of nodes) {
    if (!live[node.id] || !isPointwise(node.op) || numelOf(shape(node.id)) !== 1) continue;
    inline[node.id] = inputs[node.id]!.every((j) => {
      const op = nodes[j]!.op;
      return inline[j] || op === "input" || op === "param" || op === "state" || op === "constant";
    });
  }
  return { graph, nodes, inputs, rep, live, consumers, root, pinned, inline, shape };
}

function sameShape(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}
