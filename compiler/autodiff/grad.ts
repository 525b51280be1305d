/**
 * @file Reverse-mode automatic differentiation on the graph IR. `addGradients` appends the
 * backward graph of `loss` to the same GraphBuilder: it marks the nodes that depend on some
 * `wrt` node through differentiable primitives, seeds the loss with ones (the gradient of the sum
 * of a non-scalar loss), walks the forward nodes from the loss down, sums fan-out cotangents, and
 * asks each node's VJP rule (vjp.ts) only for the inputs that lead to a wanted gradient. Inputs,
 * labels, constants and everything behind argmax, comparisons, floor, sign, random numbers or a
 * cast to i32 get no gradient nodes at all; a `wrt` node the loss does not depend on gets a
 * zeros constant.
 */
import { formatShape, shapeEq } from "../dims.js";
import { CompilerBug } from "../diagnostics.js";
import type { GraphBuilder } from "../ir/builder.js";
import type { AnyNode, Node } from "../ir/graph.js";
import type { OpKind } from "../primitives.js";
import { GradientError, type VjpRule, type VjpThunk, vjpRules } from "./vjp.js";

export { GradientError, vjpRules };

/**
 * Appends d(sum of loss)/d(w) for each w in `wrt` to `b`; returns the gradient node ids, shaped
 * like `wrt`. Throws GradientError for a gradient the compiler cannot build.
 */
export function addGradients(b: GraphBuilder, loss: number, wrt: readonly number[]): number[] {
  const lossNode = b.node(loss);
  if (lossNode.dtype !== "f32") {
    throw new CompilerBug(`addGradients: the loss %${loss} is ${lossNode.dtype}, not f32`);
  }
  const wanted = new Set(wrt);
  const forward = b.nodes.slice(0, loss + 1);

  // needed[i]: node i is a wanted node or depends on one through differentiable primitives.
  // Rules build nothing until a thunk is called, so asking for the thunks here is free.
  const needed = new Uint8Array(forward.length);
  for (const n of forward) {
    if (wanted.has(n.id)) needed[n.id] = 1;
    else if (n.dtype === "f32" && n.inputs.some((i) => needed[i])) {
      const thunks = thunksOf(b, n, -1);
      if (n.inputs.some((i, k) => needed[i] && thunks[k])) needed[n.id] = 1;
    }
  }

  const parts = new Map<number, number[]>();
  const grads = new Map<number, number>();
  if (needed[loss]) parts.set(loss, [b.constant(1, lossNode.span, lossNode.shape)]);

  for (let id = loss; id >= 0; id--) {
    const cotangents = parts.get(id);
    if (!cotangents) continue;
    parts.delete(id);
    const node = forward[id]!;
    let g = cotangents[0]!;
    for (const other of cotangents.slice(1)) g = b.add("add", [g, other], {}, node.span);
    if (wanted.has(id)) grads.set(id, g);

    const wants = node.inputs.map((i) => needed[i] === 1 && forward[i]!.dtype === "f32");
    if (!wants.some((w) => w)) continue;
    const thunks = thunksOf(b, node, g);
    node.inputs.forEach((input, k) => {
      const thunk = thunks[k];
      if (!wants[k] || !thunk) return;
      const gi = thunk();
      const want = forward[input]!.shape;
      if (!shapeEq(b.shape(gi), want)) {
        throw new CompilerBug(
          `VJP of ${node.op} (%${id}) gave a cotangent ${formatShape(b.shape(gi))} for input %${input} of shape ${formatShape(want)}`,
        );
      }
      const list = parts.get(input);
      if (list) list.push(gi);
      else parts.set(input, [gi]);
    });
  }

  return wrt.map((w) => {
    const g = grads.get(w);
    if (g !== undefined) return g;
    const n = b.node(w);
    return b.constant(0, n.span, n.shape, n.dtype);
  });
}

/** The VJP thunks of a node for cotangent `g` (none for sources and non-differentiable ops). */
function thunksOf(b: GraphBuilder, node: AnyNode, g: number): readonly (VjpThunk | null)[] {
  const rule = vjpRules[node.op] as VjpRule<OpKind> | null;
  return rule ? rule({ b, node: node as Node<OpKind>, g }) : [];
}
