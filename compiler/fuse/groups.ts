/**
 * @file Kernel groups: which nodes of a graph run together in one kernel. Greedy, in graph
 * order, and every merge keeps the groups a DAG (no path may leave a group and come back):
 * 1. epilogues: elementwise consumers of a matmul, conv or pool (bias add, activation,
 *    residual add, the ReLU mask on a gradient) join the producer's kernel;
 * 2. serial regions: connected nodes on small tensors (the loss, its gradient, metrics, the
 *    updates of small parameters) run as one kernel of one workgroup;
 * 3. elementwise groups: chains and trees of elementwise nodes of one shape, several outputs
 *    allowed (an optimizer update writes m, v and p), and reductions with their exclusive
 *    elementwise producers (a prologue) and same-shape consumers (an epilogue); one
 *    reduction per group (the reduce writer loops over one input): `sum(a) + sum(b)` is two.
 * Elementwise producers used only inside a group are recomputed there, never stored; scalars
 * computed from sources alone (an optimizer's bias corrections) are recomputed by every
 * kernel that needs them. Then updates are written in place when safe (the group reads the
 * variable only at the index it writes, and every other reader runs before it), and the
 * groups are ordered. No group binds more storage buffers than the device allows.
 */
import type { DeviceLimitsLike } from "../../runtime/plan.js";
import { isLiteralSafe } from "../codegen/wgsl.js";
import { CompilerBug } from "../diagnostics.js";
import { type FuseGraph, isPointwise, isSource, numelOf } from "./view.js";

export type GroupKind = "op" | "elementwise" | "reduce" | "serial";

export interface Group {
  readonly id: number;
  readonly kind: GroupKind;
  /** op: the primitive; reduce: the reduction. */
  readonly node: number;
  /** Every node the group computes, in graph order. */
  readonly members: readonly number[];
  /** reduce: members computed per reduced element (before the reduction). */
  readonly prologue: readonly number[];
  /** Members whose values are stored (read by other groups or after the kernels). */
  readonly outputs: readonly number[];
  /** Outputs written into a variable's buffer (output node -> variable name). */
  readonly inPlace: ReadonlyMap<number, string>;
  /** The index space of pointwise members (elementwise: the outputs' shape). */
  readonly domain: readonly number[];
  /**
   * elementwise: groups of other shapes run side by side in this group's kernel, each over
   * its own range of invocations (optimizer updates of several parameters); the group's
   * members, outputs and in-place writes are theirs together.
   */
  readonly parts?: readonly Group[];
}

export interface Grouping {
  /** In execution order. */
  readonly groups: readonly Group[];
  readonly view: FuseGraph;
}

export interface GroupOptions {
  readonly limits: DeviceLimitsLike;
  /** false: one group per node, each through its primitive's emitter (no fusion). */
  readonly fuse: boolean;
}

/** Primitives whose emitters may take an epilogue (an emitter may still decline). */
const epilogueOps = new Set<string>([
  "matmul",
  "conv2d",
  "conv2d_grad_input",
  "conv2d_grad_filter",
  "maxpool2d",
  "maxpool2d_grad",
  "avgpool2d",
  "avgpool2d_grad",
]);

const serialOps = new Set<string>(["reduce_sum", "reduce_max", "argmax", "transpose"]);
const reduceOps = new Set<string>(["reduce_sum", "reduce_max", "argmax"]);

/** Largest tensor (elements) a serial kernel handles, and its total work. */
export const SERIAL_MAX = 4096;
const SERIAL_WORK = 1 << 16;

interface MGroup {
  id: number;
  kind: GroupKind;
  node: number;
  members: Set<number>;
  pro: Set<number>;
  dead: boolean;
}

export function groupGraph(v: FuseGraph, opts: GroupOptions): Grouping {
  const { nodes, inputs, consumers, live, pinned, inline } = v;
  const n = nodes.length;
  const limit = opts.limits.maxStorageBuffersPerShaderStage;
  const groups: MGroup[] = [];
  const groupOf = new Int32Array(n).fill(-1);
  const isView = (id: number) => nodes[id]!.op === "reshape";
  const newGroup = (kind: GroupKind, node: number, members: number[]): MGroup => {
    const g: MGroup = {
      id: groups.length,
      kind,
      node,
      members: new Set(members),
      pro: new Set(),
      dead: false,
    };
    groups.push(g);
    for (const m of members) groupOf[m] = g.id;
    return g;
  };

  for (const node of nodes) {
    const id = node.id;
    if (!live[id] || isSource(node.op) || isView(id)) continue;
    if (opts.fuse && inline[id]) continue;
    if (!opts.fuse) newGroup("op", id, [id]);
    else if (isPointwise(node.op)) newGroup("elementwise", id, [id]);
    else if (reduceOps.has(node.op)) newGroup("reduce", id, [id]);
    else newGroup("op", id, [id]);
  }

  /** Grouped nodes feeding `id` directly (through views; not inline nodes or sources). */
  const producers = (id: number): number[] => {
    const out: number[] = [];
    const visit = (j: number) => {
      if (isView(j)) visit(inputs[j]![0]!);
      else if (groupOf[j]! >= 0) out.push(j);
    };
    for (const j of inputs[id]!) visit(j);
    return out;
  };

  /**
   * Would merging groups a and b create a path that leaves them through another group and
   * comes back? A path that reaches another group goes on from every member of it (the group
   * runs as one kernel: what any member needs runs before all of it), so entering a group at
   * one member and leaving it from another counts. (Views and inline scalars belong to no
   * group and are passed through.)
   */
  const canMerge = (a: MGroup, b: MGroup): boolean => {
    let maxId = 0;
    for (const m of a.members) maxId = Math.max(maxId, m);
    for (const m of b.members) maxId = Math.max(maxId, m);
    const inAB = (x: number) => groupOf[x] === a.id || groupOf[x] === b.id;
    const stack: [number, boolean][] = [];
    const seen = [new Set<number>(), new Set<number>()];
    const entered = new Set<number>();
    for (const g of [a, b]) {
      for (const m of g.members) {
        for (const c of consumers[m]!) if (!inAB(c) && c < maxId) stack.push([c, false]);
      }
    }
    while (stack.length > 0) {
      const [x, escaped] = stack.pop()!;
      const s = seen[escaped ? 1 : 0]!;
      if (s.has(x)) continue;
      s.add(x);
      if (inAB(x)) {
        if (escaped) return false;
        continue;
      }
      const g = groupOf[x]!;
      if (g < 0) {
        for (const c of consumers[x]!) if (c <= maxId) stack.push([c, escaped]);
      } else if (!entered.has(g)) {
        entered.add(g);
        for (const m of groups[g]!.members) {
          for (const c of consumers[m]!) if (c <= maxId) stack.push([c, true]);
        }
      }
    }
    return true;
  };

  /** Buffers a group with these members binds (leaf roots plus stored outputs), estimated. */
  const bindingCount = (members: ReadonlySet<number>, kind: GroupKind, node: number): number => {
    const leaves = new Set<number>();
    const addLeaf = (j: number) => {
      const nd = nodes[j]!;
      if (inline[v.root[j]!] && opts.fuse) {
        for (const k of inputs[v.root[j]!]!) addLeaf(k);
        return;
      }
      if (nd.op === "constant" && isLiteralSafe(nd.attrs.value, nd.dtype)) return;
      leaves.add(v.root[j]!);
    };
    for (const m of members) {
      for (const j of inputs[m]!) {
        if (members.has(j)) continue;
        if (isView(j) && members.has(v.root[j]!)) continue;
        if (kind === "op" && m === node)
          leaves.add(-1 - leaves.size); // bound even if constant
        else addLeaf(j);
      }
    }
    let outs = 0;
    for (const m of members) if (isOutput(m, members)) outs++;
    return leaves.size + outs + (kind === "reduce" || kind === "serial" ? 1 : 0);
  };
  const external = (c: number, members: ReadonlySet<number>): boolean =>
    isView(c) ? pinned.has(c) || consumers[c]!.some((d) => external(d, members)) : !members.has(c);
  const isOutput = (m: number, members: ReadonlySet<number>): boolean =>
    pinned.has(m) || consumers[m]!.some((c) => external(c, members));

  const merge = (into: MGroup, from: MGroup, asPrologue = false): void => {
    for (const m of from.members) {
      into.members.add(m);
      groupOf[m] = into.id;
      if (asPrologue || from.pro.has(m)) into.pro.add(m);
    }
    from.dead = true;
    from.members.clear();
  };
  const union = (a: MGroup, b: MGroup) => new Set([...a.members, ...b.members]);
  const fits = (a: MGroup, b: MGroup, kind: GroupKind, node: number) =>
    bindingCount(union(a, b), kind, node) <= limit;

  /** Pulls in elementwise producer groups consumed only inside `g` (recomputed there). */
  const absorb = (g: MGroup): void => {
    for (let changed = true; changed;) {
      changed = false;
      for (const m of [...g.members]) {
        if (g.kind === "op" && m === g.node) continue;
        for (const p of inputs[m]!) {
          const h = groups[groupOf[p]!];
          if (!h || h === g || h.kind !== "elementwise" || h.dead) continue;
          const exclusive = [...h.members].every(
            (x) =>
              !pinned.has(x) && consumers[x]!.every((c) => h.members.has(c) || g.members.has(c)),
          );
          if (!exclusive || !canMerge(g, h) || !fits(g, h, g.kind, g.node)) continue;
          merge(g, h, g.kind === "reduce" && g.pro.has(m));
          changed = true;
        }
      }
    }
  };

  if (opts.fuse) {
    const sameShape = (a: number, b: number) => {
      const sa = v.shape(a);
      const sb = v.shape(b);
      return sa.length === sb.length && sa.every((d, k) => d === sb[k]);
    };

    const updateNodes = new Set(v.graph.updates.map((u) => v.rep[u.node]!));
    // 1. Epilogues of matmul, conv and pool kernels.
    for (const g of [...groups]) {
      if (g.kind !== "op" || !epilogueOps.has(nodes[g.node]!.op) || nodes[g.node]!.dtype !== "f32")
        continue;
      let cur = g.node;
      for (;;) {
        if (pinned.has(cur) || consumers[cur]!.length !== 1) break;
        const c = consumers[cur]![0]!;
        const h = groups[groupOf[c]!];
        if (!h || h.kind !== "elementwise" || h.members.size !== 1) break;
        if (nodes[c]!.dtype !== "f32" || !sameShape(c, g.node)) break;
        // An update stays out, to be written in place with its siblings (an epilogue cannot:
        // it would read the variable through a second binding).
        if (updateNodes.has(c)) break;
        if (!canMerge(g, h) || !fits(g, h, "op", g.node)) break;
        merge(g, h);
        absorb(g);
        cur = c;
      }
    }

    // 2. Serial regions of small tensors.
    const small = (id: number): boolean => {
      const nd = nodes[id]!;
      const g = groups[groupOf[id]!];
      if (!g || g.members.size !== 1) return false;
      if (!(isPointwise(nd.op) || serialOps.has(nd.op))) return false;
      if (numelOf(v.shape(id)) > SERIAL_MAX) return false;
      return inputs[id]!.every((j) => numelOf(v.shape(j)) <= SERIAL_MAX);
    };
    const work = (g: MGroup): number => {
      let w = 0;
      for (const m of g.members) {
        w += Math.max(numelOf(v.shape(m)), ...inputs[m]!.map((j) => numelOf(v.shape(j))));
      }
      return w;
    };
    const serialMerge = (a: MGroup, b: MGroup): boolean => {
      if (work(a) + work(b) > SERIAL_WORK) return false;
      if (!canMerge(a, b) || !fits(a, b, "serial", -1)) return false;
      merge(a, b);
      return true;
    };
    for (const node of nodes) {
      const id = node.id;
      if (groupOf[id]! < 0 || !small(id)) continue;
      const g = groups[groupOf[id]!]!;
      g.kind = "serial";
      for (const p of producers(id)) {
        const h = groups[groupOf[p]!]!;
        if (h === groups[groupOf[id]!] || h.kind !== "serial" || h.dead) continue;
        serialMerge(h, groups[groupOf[id]!]!);
      }
    }
    // Independent serial regions share one kernel when they can.
    const serials = groups.filter((g) => g.kind === "serial" && !g.dead);
    for (let a = 0; a < serials.length; a++) {
      const ga = serials[a]!;
      if (ga.dead) continue;
      for (let b = a + 1; b < serials.length; b++) {
        const gb = serials[b]!;
        if (!gb.dead) serialMerge(ga, gb);
      }
    }
    // A lone node, or a region without reductions, runs better in parallel.
    for (const g of [...groups]) {
      if (g.kind !== "serial" || g.dead) continue;
      const ms = [...g.members];
      if (ms.length === 1) {
        const op = nodes[ms[0]!]!.op;
        g.kind = isPointwise(op) ? "elementwise" : reduceOps.has(op) ? "reduce" : "op";
      } else if (ms.every((m) => isPointwise(nodes[m]!.op))) {
        g.dead = true;
        g.members.clear();
        for (const m of ms.sort((a, b) => a - b)) newGroup("elementwise", m, [m]);
      }
    }

    // 3. Elementwise groups, and reductions with their prologues and epilogues.
    for (const node of nodes) {
      const id = node.id;
      const g = groups[groupOf[id]!];
      if (!g || g.dead) continue;
      if (g.kind === "elementwise" && g.members.size === 1) {
        for (const p of inputs[id]!) {
          const h = groups[groupOf[p]!];
          // An earlier input may have drawn `id` into a reduction's epilogue: `cur` is then
          // that reduce group, not the lone elementwise node the loop started with.
          const cur = groups[groupOf[id]!]!;
          if (!h || h === cur || h.dead) continue;
          if (h.kind === "elementwise" && sameShape(p, id) && sameShape(h.node, id)) {
            if (cur.kind === "reduce") {
              // The producer joins the reduction's epilogue (same shape as its output); the
              // other way round would put the reduction into an elementwise group.
              if (canMerge(cur, h) && fits(cur, h, "reduce", cur.node)) {
                merge(cur, h);
                absorb(cur);
              }
            } else if (canMerge(h, cur) && fits(h, cur, "elementwise", -1)) {
              merge(h, cur);
              absorb(h);
            }
          } else if (h.kind === "reduce" && sameShape(h.node, id) && !h.pro.has(p)) {
            // One reduction per group: `add(sum(a), sum(b))` joins the first sum's epilogue
            // and the second sum stays its own kernel (the reduce writer loops over one input).
            if (cur.kind === "reduce") continue;
            if (canMerge(h, cur) && fits(h, cur, "reduce", h.node)) {
              merge(h, cur);
              absorb(h);
            }
          }
        }
      } else if (g.kind === "reduce" && g.node === id) {
        const x = inputs[id]![0]!;
        const h = groups[groupOf[x]!];
        if (h && h.kind === "elementwise" && !h.dead && sameShape(h.node, x)) {
          const exclusive = [...h.members].every(
            (m) => !pinned.has(m) && consumers[m]!.every((c) => h.members.has(c) || c === id),
          );
          if (exclusive && canMerge(g, h) && fits(g, h, "reduce", id)) {
            merge(g, h, true);
            absorb(g);
          }
        }
      }
    }
  }

  /** Must an inline scalar (or a view of one) be stored? When read back or by a primitive. */
  const needsBuffer = (id: number): boolean =>
    pinned.has(id) ||
    consumers[id]!.some((c) => {
      if (isView(c)) return needsBuffer(c);
      if (inline[c]) return false;
      const g = groups[groupOf[c]!];
      return !g || (g.kind === "op" && g.node === c);
    });

  // Inline scalars that some kernel must read from a buffer get their own group.
  if (opts.fuse) {
    for (const node of nodes) {
      const id = node.id;
      if (!live[id] || !inline[id]) continue;
      if (needsBuffer(id)) newGroup("elementwise", id, [id]);
    }
  }

  const alive = groups.filter((g) => !g.dead);
  const memberSet = (g: MGroup) => g.members;
  const outputsOf = (g: MGroup) =>
    [...g.members].sort((a, b) => a - b).filter((m) => isOutput(m, memberSet(g)));

  // Group-level edges (producer group -> consumer group).
  const edges = new Map<number, Set<number>>();
  const addEdge = (a: number, b: number) => {
    if (a === b) return;
    let s = edges.get(a);
    if (!s) edges.set(a, (s = new Set()));
    s.add(b);
  };
  const depsOf = (id: number): number[] => {
    const out: number[] = [];
    const visit = (j: number) => {
      if (groupOf[j]! >= 0 && !groups[groupOf[j]!]!.dead) out.push(groupOf[j]!);
      else if (isView(j) || inline[j]) for (const k of inputs[j]!) visit(k);
    };
    for (const j of inputs[id]!) visit(j);
    return out;
  };
  for (const g of alive) for (const m of g.members) for (const d of depsOf(m)) addEdge(d, g.id);
  const reaches = (from: number, to: number): boolean => {
    const stack = [from];
    const seen = new Set<number>();
    while (stack.length > 0) {
      const x = stack.pop()!;
      if (x === to) return true;
      if (seen.has(x)) continue;
      seen.add(x);
      for (const y of edges.get(x) ?? []) stack.push(y);
    }
    return false;
  };

  // 4. In-place updates.
  const inPlace = new Map<number, Map<number, string>>();
  if (opts.fuse) {
    const sourceOf = new Map<string, number>();
    for (const node of nodes) {
      if ((node.op === "param" || node.op === "state") && v.rep[node.id] === node.id) {
        sourceOf.set(node.attrs.name, node.id);
      }
    }
    const targets = new Map<number, number>(); // update node -> how many targets
    for (const u of v.graph.updates) {
      const r = v.rep[u.node]!;
      targets.set(r, (targets.get(r) ?? 0) + 1);
    }
    for (const u of v.graph.updates) {
      const r = v.rep[u.node]!;
      const g = groups[groupOf[r]!];
      if (!g || g.dead || targets.get(r) !== 1) continue;
      const variable = v.graph.variables.find((x) => x.name === u.target);
      if (!variable || variable.dtype !== nodes[r]!.dtype) continue;
      if (numelOf(variable.shape as number[]) !== numelOf(v.shape(r))) continue;
      const s = sourceOf.get(u.target);
      // Readers of the variable's old value: (node, its group).
      const readers: number[] = [];
      let ok = true;
      if (s !== undefined && live[s]) {
        if (pinned.has(s)) continue;
        const visit = (c: number) => {
          if (isView(c)) {
            if (pinned.has(c)) ok = false;
            for (const d of consumers[c]!) visit(d);
          } else if (inline[c] && groupOf[c]! < 0) {
            for (const d of consumers[c]!) visit(d);
          } else readers.push(c);
        };
        for (const c of consumers[s]!) visit(c);
      }
      for (const c of readers) {
        const h = groups[groupOf[c]!];
        if (!h) {
          ok = false;
          break;
        }
        if (h !== g) {
          if (reaches(g.id, h.id)) ok = false;
          continue;
        }
        // Inside the writing group: only same-index pointwise reads.
        if (g.kind === "op" || g.kind === "reduce" ? g.node === c || g.pro.has(c) : false) {
          ok = false;
        }
        if (g.kind !== "serial" && !sameDims(v.shape(s!), g)) ok = false;
        if (inputs[c]!.some((j) => j !== s && v.root[j] === s)) ok = false; // via a reshape
      }
      if (g.kind === "op" && readers.some((c) => groupOf[c] === g.id)) ok = false;
      if (!ok) continue;
      for (const c of readers) if (groupOf[c] !== g.id) addEdge(groupOf[c]!, g.id);
      let m = inPlace.get(g.id);
      if (!m) inPlace.set(g.id, (m = new Map()));
      m.set(r, u.target);
    }
  }
  /**
   * Fails loudly on a group the kernel writers cannot emit (compiler/fuse/kernels.ts): an
   * elementwise group holds only pointwise nodes, a reduce or op group one non-pointwise node,
   * its own. A greedy merge that breaks this is a fusion bug, not a slower plan.
   */
  function checkShape(g: MGroup): void {
    if (g.kind === "serial") return;
    for (const m of g.members) {
      if (isPointwise(nodes[m]!.op) || (g.kind !== "elementwise" && m === g.node)) continue;
      throw new CompilerBug(
        `${g.kind} kernel group of node ${g.node} (${nodes[g.node]!.op}) also holds node ${m} (${nodes[m]!.op})`,
      );
    }
  }
  function sameDims(shape: readonly number[], g: MGroup): boolean {
    const d = v.shape(g.node);
    return shape.length === d.length && shape.every((x, k) => x === d[k]);
  }

  // 5. Order: topological, earliest graph position first.
  const indeg = new Map<number, number>();
  for (const g of alive) indeg.set(g.id, 0);
  for (const [, s] of edges) for (const b of s) indeg.set(b, (indeg.get(b) ?? 0) + 1);
  const minId = (g: MGroup) => Math.min(...g.members);
  const ready = alive.filter((g) => indeg.get(g.id) === 0);
  const order: MGroup[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => minId(a) - minId(b));
    const g = ready.shift()!;
    order.push(g);
    for (const b of edges.get(g.id) ?? []) {
      const d = indeg.get(b)! - 1;
      indeg.set(b, d);
      if (d === 0) ready.push(groups[b]!);
    }
  }
  if (order.length !== alive.length) throw new CompilerBug("kernel groups form a cycle");
  for (const g of order) checkShape(g);

  const toGroup = (g: MGroup, k: number): Group => {
    const members = [...g.members].sort((a, b) => a - b);
    const domainNode = g.kind === "elementwise" ? (outputsOf(g)[0] ?? g.node) : g.node;
    return {
      id: k,
      kind: g.kind,
      node: g.node,
      members,
      prologue: members.filter((m) => g.pro.has(m)),
      outputs: outputsOf(g),
      inPlace: inPlace.get(g.id) ?? new Map(),
      domain: v.shape(domainNode),
    };
  };

  // 6. Optimizer updates side by side: elementwise groups that only write variables in place
  // share one kernel, as many as the storage-buffer limit allows. A batch runs where its last
  // group did; an earlier group may wait until then when no group in between depends on it.
  const batches: MGroup[][] = [];
  if (opts.fuse) {
    const keysOf = (g: MGroup): Set<string> => {
      const keys = new Set<string>();
      const keyOf = (j: number): string => {
        const r = v.root[j]!;
        const n = nodes[r]!;
        return n.op === "param" || n.op === "state" ? `v:${n.attrs.name}` : `n${r}`;
      };
      const visit = (j: number): void => {
        if (g.members.has(j)) return;
        const r = v.root[j]!;
        if (inline[r] || isView(j)) {
          if (inline[r]) for (const k of inputs[r]!) visit(k);
          else visit(inputs[j]![0]!);
          return;
        }
        const nd = nodes[j]!;
        if (nd.op === "constant" && isLiteralSafe(nd.attrs.value, nd.dtype)) return;
        keys.add(keyOf(j));
      };
      for (const m of g.members) for (const j of inputs[m]!) visit(j);
      const writes = inPlace.get(g.id)!;
      for (const m of outputsOf(g)) keys.add(`v:${writes.get(m)!}`);
      return keys;
    };
    const updatesOnly = (g: MGroup): boolean => {
      const outs = outputsOf(g);
      const writes = inPlace.get(g.id);
      return g.kind === "elementwise" && outs.length > 0 && outs.every((m) => writes?.has(m));
    };
    const numelOfKey = (key: string): number => {
      if (!key.startsWith("v:")) return numelOf(v.shape(Number(key.slice(1))));
      const variable = v.graph.variables.find((x) => `v:${x.name}` === key);
      return variable ? numelOf(variable.shape as number[]) : 0;
    };
    let batch: { at: number; group: MGroup; keys: Set<string> }[] = [];
    const flush = () => {
      if (batch.length > 1) batches.push(batch.map((b) => b.group));
      batch = [];
    };
    order.forEach((g, at) => {
      if (!updatesOnly(g)) return;
      const keys = keysOf(g);
      const union = new Set([...keys, ...batch.flatMap((b) => [...b.keys])]);
      // An earlier group may run this late only if no group between needs it first.
      const movable = batch.every((b) =>
        order.slice(b.at + 1, at).every((q) => !edges.get(b.group.id)?.has(q.id)),
      );
      // Buffers two parts share must be scalars (the step counter): a part reads a tensor as
      // vec4 or as f32, and one binding has one type.
      const shared = batch.some((b) => [...keys].some((k) => b.keys.has(k) && numelOfKey(k) !== 1));
      if (batch.length > 0 && (union.size > limit || !movable || shared)) flush();
      batch.push({ at, group: g, keys });
    });
    flush();
  }
  const delayed = new Set(batches.flatMap((b) => b.slice(0, -1)));
  const lastOf = new Map(batches.map((b) => [b[b.length - 1]!, b]));
  const result: Group[] = [];
  for (const g of order) {
    if (delayed.has(g)) continue;
    const batch = lastOf.get(g);
    if (!batch) {
      result.push(toGroup(g, result.length));
      continue;
    }
    const parts = batch.map((p, k) => toGroup(p, k));
    const last = parts[parts.length - 1]!;
    result.push({
      ...last,
      id: result.length,
      members: parts.flatMap((p) => p.members).sort((a, b) => a - b),
      outputs: parts.flatMap((p) => p.outputs),
      inPlace: new Map(parts.flatMap((p) => [...p.inPlace])),
      parts,
    });
  }
  return { groups: result, view: v };
}
