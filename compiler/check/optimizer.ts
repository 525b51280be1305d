/**
 * @file Applying an optimizer declaration to parameters: its settings are bound once (a setting
 * given a schedule, such as `lr: cosine(from: 1e-3)`, is evaluated at the step `t`), then for
 * each parameter the `state` variables are declared (named `<optimizer>.<state>/<param>`,
 * shaped like the parameter) and the `update(p, g, t)` body is elaborated with the parameter,
 * its gradient and the step. The result is the parameter's new value and each state's new
 * value. Checking runs it with the parameter standing in for its gradient.
 */
import type * as ast from "../ast.js";
import { formatShape, shapeEq } from "../dims.js";
import type { Variable } from "../ir/graph.js";
import type { Span } from "../source.js";
import { type Elab, Scope } from "./elaborate.js";
import { type ArgValue, type FnValue, type Value, describe, int } from "./values.js";

export interface ParamRef {
  readonly name: string;
  readonly node: number;
  readonly variable: Variable;
}

export interface OptimizerResult {
  /** Variable name -> node with its value after the step (parameters and optimizer state). */
  readonly updates: ReadonlyMap<string, number>;
}

/**
 * The name of the schedule in `v` that needs the run's total number of steps and is not given
 * one: `v` itself (cosine), or a schedule passed to it (warmup's `then`, which warmup calls
 * with its own `total`); null when none does.
 */
function needsTotal(e: Elab, v: FnValue): string | null {
  const params = e.paramList(v.fn).map((x) => x.name);
  const given = new Set([...v.args.named.keys(), ...params.slice(0, v.args.positional.length)]);
  if (given.has("total")) return null;
  if (params.includes("total")) {
    const own = v.fn.kind === "block" && v.fn.decl.params.find((q) => q.name.name === "total");
    if (!own || !own.default) {
      return v.fn.kind === "block" || v.fn.kind === "optimizer"
        ? v.fn.decl.name.name
        : v.fn.builtin.name;
    }
  }
  for (const a of [...v.args.positional, ...v.args.named.values()]) {
    const inner = a.value.kind === "fn" ? needsTotal(e, a.value) : null;
    if (inner !== null) return inner;
  }
  return null;
}

/** The settings of an optimizer call, with schedules evaluated at step `t`. */
function settings(
  e: Elab,
  opt: FnValue,
  decl: ast.OptimizerDecl,
  t: number,
  total: number | null,
  span: Span,
  scope: Scope,
): boolean {
  const bound = new Map<string, ArgValue>();
  opt.args.positional.forEach((a, i) => {
    const p = decl.params[i];
    if (p) bound.set(p.name.name, a);
  });
  for (const [k, v] of opt.args.named) bound.set(k, v);
  let ok = true;
  for (const p of decl.params) {
    const a = bound.get(p.name.name);
    let v: Value = a ? a.value : p.default ? e.eval(p.default, scope) : { kind: "error" };
    const at = a ? a.span : p.span;
    if (v.kind === "fn") {
      // A schedule: call it at step t (and total, when it wants one).
      const params = e.paramList(v.fn).map((x) => x.name);
      const named = new Map<string, ArgValue>();
      if (params.includes("t"))
        named.set("t", { value: { kind: "tensor", node: t, batched: false }, span: at });
      const given = new Set([...v.args.named.keys(), ...params.slice(0, v.args.positional.length)]);
      if (total === null) {
        const d = needsTotal(e, v);
        if (d !== null) {
          e.report("NN3013", at, { name: d });
          ok = false;
          continue;
        }
      } else if (params.includes("total") && !given.has("total")) {
        named.set("total", { value: int(total), span: at });
      }
      v = e.call(v, { positional: [], named }, at);
      if (v.kind === "fn") {
        e.reportMissing(v);
        v = { kind: "error" };
      }
    }
    if (v.kind === "error") ok = false;
    else if (v.kind === "list" || v.kind === "record" || v.kind === "data" || v.kind === "init") {
      e.report("NN2009", at, {
        callee: decl.name.name,
        param: p.name.name,
        expected: "a number",
        found: describe(v),
      });
      ok = false;
    }
    scope.set(p.name.name, v, "arg");
  }
  return ok;
}

/**
 * Elaborates `opt`'s update rule for each parameter. `grads[i]` is the gradient of params[i];
 * `t` is the scalar f32 step node.
 */
export function applyOptimizer(
  e: Elab,
  opt: FnValue,
  params: readonly ParamRef[],
  grads: readonly number[],
  t: number,
  total: number | null,
  span: Span,
): OptimizerResult | null {
  if (opt.fn.kind !== "optimizer") return null;
  const decl = opt.fn.decl;
  const file = e.program.fileOf.get(decl)!;
  const updates = new Map<string, number>();
  const base = new Scope(null, file);
  e.frames.push({ name: decl.name.name, decl, callSpan: span, file });
  try {
    if (!settings(e, opt, decl, t, total, span, base)) return null;
    const [pName, gName, tName] = decl.update.params.map((p) => p.name);
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      const scope = new Scope(base, file);
      const states: { name: string; varName: string }[] = [];
      for (const s of decl.state) {
        const varName = `${decl.name.name}.${s.name.name}/${p.name}`;
        const init = e.initSpec(
          s.init,
          p.variable.shape,
          base,
          `${decl.name.name}'s state ${s.name.name} (shaped like the parameter ${p.name})`,
        );
        if (!init) return null;
        const v: Variable = {
          name: varName,
          kind: "state",
          shape: p.variable.shape,
          dtype: p.variable.dtype,
          init,
          layer: p.variable.layer,
          span: s.span,
        };
        const node = e.b.variable(v);
        scope.set(s.name.name, { kind: "tensor", node, batched: false }, "optstate", varName);
        states.push({ name: s.name.name, varName });
      }
      if (pName) scope.set(pName, { kind: "tensor", node: p.node, batched: false }, "arg");
      if (gName) scope.set(gName, { kind: "tensor", node: grads[i]!, batched: false }, "arg");
      if (tName) scope.set(tName, { kind: "tensor", node: t, batched: false }, "arg");
      const r = e.evalBody(decl.update.body, scope, `optimizer ${decl.name.name}`);
      const nt = e.toTensor(
        r,
        decl.update.body.result?.span ?? decl.update.span,
        `${decl.name.name}'s update`,
      );
      if (!nt) return null;
      // The new value of the parameter: a value of another shape (a sum) is an error, not a
      // broadcast that would set every weight to it.
      if (!shapeEq(e.b.shape(nt.node), p.variable.shape)) {
        e.report("NN2007", decl.update.body.result?.span ?? decl.update.span, {
          what: `${decl.name.name}'s update`,
          expected: `a value shaped like the parameter ${p.name}: ${formatShape(p.variable.shape)}`,
          found: formatShape(e.b.shape(nt.node)),
        });
        return null;
      }
      updates.set(p.name, nt.node);
      for (const s of states) {
        const b = scope.vars.get(s.name)!;
        if (b.value.kind === "tensor") updates.set(s.varName, b.value.node);
      }
    }
  } finally {
    e.frames.pop();
  }
  return { updates };
}
