/**
 * @file Name resolution without elaboration: blocks, losses and optimizers are checked only
 * where they are called (shapes depend on the arguments), so this pass walks every body of the
 * user's files with its scopes (parameters, shape names, `let`, `param`, `state`, scan items and
 * carries, optimizer state) and reports names that resolve to nothing, with a suggestion. It
 * makes a typo in a block nobody calls yet an error too.
 */
import type * as ast from "../ast.js";
import { leftChain } from "../ast.js";
import type { Diagnostic } from "../diagnostics.js";
import { diag } from "../messages.js";
import { builtins } from "./builtins.js";
import type { LoadedFile, Program } from "./program.js";
import { didYouMean } from "./suggest.js";

class Names {
  private readonly names = new Set<string>();
  constructor(private readonly parent: Names | null) {}
  add(n: string): void {
    this.names.add(n);
  }
  has(n: string): boolean {
    return this.names.has(n) || (this.parent?.has(n) ?? false);
  }
  all(): string[] {
    return [...this.names, ...(this.parent?.all() ?? [])];
  }
  child(): Names {
    return new Names(this);
  }
}

export function resolveNames(program: Program): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const f of program.files) {
    if (f.stdlib) continue;
    for (const item of f.module.items) {
      if (item.kind === "Block" || item.kind === "Model") resolveBlock(program, f, item, out);
      else if (item.kind === "Optimizer") resolveOptimizer(program, f, item, out);
    }
  }
  return out;
}

/**
 * NN2016 at each name of `names` that an earlier one already took (parameters, carries, noise
 * inputs, steps), with a note at the first.
 */
export function definedTwice(names: readonly ast.Ident[]): Diagnostic[] {
  const first = new Map<string, ast.Ident>();
  const out: Diagnostic[] = [];
  for (const n of names) {
    const f = first.get(n.name);
    if (!f) first.set(n.name, n);
    else
      out.push(
        diag("NN2016", n.span, { name: n.name }, [
          { message: `'${n.name}' is first defined here`, span: f.span },
        ]),
      );
  }
  return out;
}

function globalNames(program: Program, file: LoadedFile): string[] {
  return [...(program.globals.get(file.abs)?.keys() ?? []), ...builtins.keys(), "training"];
}

function resolveBlock(
  program: Program,
  file: LoadedFile,
  d: ast.BlockDecl | ast.ModelDecl,
  out: Diagnostic[],
): void {
  const known = (n: string) =>
    program.globals.get(file.abs)?.has(n) || builtins.has(n) || n === "training";
  const scope = new Names(null);
  const ctx = { program, file, known, out };
  out.push(...definedTwice(d.params.map((p) => p.name)));
  for (const p of d.params) {
    if (p.type?.kind === "TensorType") bindShape(ctx, p.type, scope);
    if (p.default) expr(ctx, p.default, scope);
    scope.add(p.name.name);
  }
  if (d.result?.kind === "TensorType") {
    const s = scope.child();
    bindShape(ctx, d.result, s);
  }
  body(ctx, d.body, scope.child());
}

function resolveOptimizer(
  program: Program,
  file: LoadedFile,
  d: ast.OptimizerDecl,
  out: Diagnostic[],
): void {
  const known = (n: string) =>
    program.globals.get(file.abs)?.has(n) || builtins.has(n) || n === "training";
  const ctx = { program, file, known, out };
  const scope = new Names(null);
  out.push(...definedTwice([...d.params, ...d.state].map((p) => p.name)));
  for (const p of d.params) {
    if (p.default) expr(ctx, p.default, scope);
    scope.add(p.name.name);
  }
  for (const s of d.state) expr(ctx, s.init, scope);
  const inner = scope.child();
  for (const s of d.state) inner.add(s.name.name);
  for (const p of d.update.params) inner.add(p.name);
  body(ctx, d.update.body, inner);
}

interface Ctx {
  readonly program: Program;
  readonly file: LoadedFile;
  readonly known: (n: string) => boolean | undefined;
  readonly out: Diagnostic[];
}

/**
 * Shape names in a signature bind when new; other dimension expressions must resolve; the
 * element type, when written, is int or float.
 */
function bindShape(ctx: Ctx, t: ast.TensorTypeExpr, scope: Names): void {
  if (t.dtype && t.dtype.name !== "int" && t.dtype.name !== "float") {
    const hint = didYouMean(t.dtype.name, ["int", "float"]);
    ctx.out.push(diag("NN2040", t.dtype.span, { name: t.dtype.name, hint }));
  }
  for (const d of t.dims) {
    if (d.kind === "Ellipsis") continue;
    if (d.kind === "Ident") {
      if (!scope.has(d.name) && !ctx.known(d.name)) scope.add(d.name);
      continue;
    }
    expr(ctx, d, scope);
  }
}

function ident(ctx: Ctx, id: ast.Ident, scope: Names): void {
  if (scope.has(id.name) || ctx.known(id.name)) return;
  ctx.out.push(
    diag("NN2001", id.span, {
      name: id.name,
      hint: didYouMean(id.name, [...scope.all(), ...globalNames(ctx.program, ctx.file)]),
    }),
  );
}

function body(ctx: Ctx, b: ast.Body, scope: Names): void {
  for (const s of b.stmts) {
    switch (s.kind) {
      case "Let":
        expr(ctx, s.value, scope);
        scope.add(s.name.name);
        break;
      case "Param":
      case "State":
        for (const d of s.type.dims) {
          if (d.kind === "Ellipsis") continue;
          if (d.kind === "Ident" && !scope.has(d.name) && !ctx.known(d.name)) {
            const what = `${s.kind === "Param" ? "param" : "state"} ${s.name.name}`;
            ctx.out.push(diag("NN2015", d.span, { name: d.name, what }));
          } else expr(ctx, d, scope);
        }
        if (s.init) expr(ctx, s.init, scope);
        scope.add(s.name.name);
        break;
      case "Assign":
        expr(ctx, s.value, scope);
        ident(ctx, s.target, scope);
        break;
    }
  }
  if (b.result) expr(ctx, b.result, scope);
}

function expr(ctx: Ctx, e: ast.Expr, scope: Names): void {
  switch (e.kind) {
    case "Ident":
      ident(ctx, e, scope);
      return;
    case "Call":
      ident(ctx, e.callee, scope);
      for (const a of e.args) expr(ctx, a.value, scope);
      return;
    case "Pipe":
    case "Binary": {
      const { first, links } = leftChain(e);
      expr(ctx, first, scope);
      for (const l of links) expr(ctx, l.right, scope);
      return;
    }
    case "Unary":
      expr(ctx, e.operand, scope);
      return;
    case "Paren":
      expr(ctx, e.inner, scope);
      return;
    case "List":
      for (const i of e.items) expr(ctx, i, scope);
      return;
    case "Record":
      for (const f of e.fields) expr(ctx, f.value, scope);
      return;
    case "Search":
      expr(ctx, e.options, scope);
      return;
    case "If":
      expr(ctx, e.cond, scope);
      body(ctx, e.then, scope.child());
      if (e.else) body(ctx, e.else, scope.child());
      return;
    case "Scan": {
      expr(ctx, e.over, scope);
      for (const c of e.carries) expr(ctx, c.init, scope);
      ctx.out.push(...definedTwice(e.carries.map((c) => c.name)));
      const inner = scope.child();
      inner.add(e.item.name);
      for (const c of e.carries) inner.add(c.name.name);
      body(ctx, e.body, inner);
      return;
    }
    case "Number":
    case "String":
    case "Bool":
      return;
  }
}
