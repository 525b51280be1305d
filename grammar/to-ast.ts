/**
 * @file CST -> AST: a Chevrotain CST visitor that turns the parser's concrete syntax tree into the
 * plain, immutable AST of compiler/ast.ts, with the narrowest span on every node (a Call covers
 * callee to `)`, a Binary its operands plus `opSpan` on the operator). It tolerates the partial
 * trees that parser recovery leaves: a missing name becomes an `Ident` with the empty name, a
 * missing expression an empty-named `Ident` too, placed where the parser stopped; the syntax
 * diagnostics were already reported, so nothing downstream runs on such a module. It reports
 * the few errors the grammar is deliberately loose about (an expression that is not the last in
 * a body, a bad escape in a string).
 */
import type { CstNode, CstNodeLocation, IToken } from "chevrotain";
import type * as ast from "../compiler/ast.js";
import type { Diagnostic } from "../compiler/diagnostics.js";
import { diag } from "../compiler/messages.js";
import type { Span } from "../compiler/source.js";
import type * as cst from "./cst.js";
import { nnParser } from "./parser.js";

const BaseVisitor = nnParser().getBaseCstVisitorConstructor();

function first<T>(xs: readonly T[] | undefined): T | undefined {
  return xs?.[0];
}

function isReal(tok: IToken | undefined): tok is IToken {
  return tok !== undefined && !tok.isInsertedInRecovery && Number.isFinite(tok.startOffset);
}

/** Offset where a CST node starts, for ordering mixed children; NaN when it has no real token. */
function startOf(node: CstNode | IToken): number {
  if ("children" in node) return node.location?.startOffset ?? NaN;
  return isReal(node) ? node.startOffset : NaN;
}

function byStart<T extends CstNode | IToken>(items: readonly T[]): T[] {
  return items.filter((n) => Number.isFinite(startOf(n))).sort((a, b) => startOf(a) - startOf(b));
}

export class AstBuilder extends BaseVisitor {
  readonly diagnostics: Diagnostic[] = [];
  /** Expressions that are not the last in their body, with the body's span (see toAst). */
  readonly unused: { diagnostic: Diagnostic; body: Span }[] = [];

  constructor(readonly path: string) {
    super();
    this.validateVisitor();
  }

  // -------------------------------------------------------------------------------------------
  // Spans

  private tokSpan(tok: IToken): Span {
    return { file: this.path, start: tok.startOffset, end: (tok.endOffset ?? tok.startOffset) + 1 };
  }

  /** The span of a CST node, or `fallback` when recovery left it without a real token. */
  private locSpan(loc: CstNodeLocation | undefined, fallback: Span): Span {
    if (!loc || !Number.isFinite(loc.startOffset) || !Number.isFinite(loc.endOffset ?? NaN)) {
      return fallback;
    }
    return { file: this.path, start: loc.startOffset, end: loc.endOffset! + 1 };
  }

  private join(a: Span, b: Span): Span {
    return { file: this.path, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
  }

  private emptyAt(offset: number): Span {
    return { file: this.path, start: offset, end: offset };
  }

  private ident(tok: IToken | undefined, fallback: Span): ast.Ident {
    if (isReal(tok)) return { kind: "Ident", name: tok.image, span: this.tokSpan(tok) };
    return { kind: "Ident", name: "", span: this.emptyAt(fallback.end) };
  }

  /** The name a `let`, `param` or `state` declares; a keyword there is an error. */
  private declName(tok: IToken | undefined, fallback: Span): ast.Ident {
    const id = this.ident(tok, fallback);
    if (isReal(tok) && tok.tokenType.name !== "Identifier") {
      this.diagnostics.push(diag("NN1022", id.span, { word: tok.image }));
    }
    return id;
  }

  /** Placeholder for an expression recovery dropped. */
  private missing(fallback: Span): ast.Ident {
    return { kind: "Ident", name: "", span: this.emptyAt(fallback.end) };
  }

  private node<T>(n: CstNode | undefined, fallback: Span): T {
    return this.visit(n as CstNode, fallback) as T;
  }

  private exprOr(n: cst.ExprCstNode | undefined, fallback: Span): ast.Expr {
    return n ? this.node<ast.Expr>(n, fallback) : this.missing(fallback);
  }

  // -------------------------------------------------------------------------------------------
  // Module and items

  module(ctx: cst.ModuleCstChildren, fallback: Span): ast.Module {
    const items = (ctx.item ?? []).map((i) => this.node<ast.Item | null>(i, fallback));
    return {
      kind: "Module",
      path: this.path,
      items: items.filter((i): i is ast.Item => i !== null),
      span: fallback,
    };
  }

  item(ctx: cst.ItemCstChildren, fallback: Span): ast.Item | null {
    const n =
      first(ctx.importDecl) ??
      first(ctx.modelDecl) ??
      first(ctx.blockDecl) ??
      first(ctx.optimizerDecl) ??
      first(ctx.trainDecl);
    return n ? this.node<ast.Item>(n, fallback) : null;
  }

  importDecl(ctx: cst.ImportDeclCstChildren, fallback: Span): ast.Import {
    const kwTok = first(ctx.Import);
    const kw = isReal(kwTok) ? this.tokSpan(kwTok) : fallback;
    const str = first(ctx.StringLiteral);
    const path: ast.StringLit = isReal(str)
      ? this.stringLit(str)
      : { kind: "String", value: "", span: this.emptyAt(kw.end) };
    return { kind: "Import", path, span: this.join(kw, path.span) };
  }

  private header(
    kwTok: IToken | undefined,
    nameTok: IToken | undefined,
    paramList: cst.ParamListCstNode | undefined,
    fallback: Span,
  ): { kw: Span; name: ast.Ident; params: ast.ParamSig[] } {
    const kw = isReal(kwTok) ? this.tokSpan(kwTok) : fallback;
    const name = this.ident(nameTok, kw);
    const params = paramList ? this.node<ast.ParamSig[]>(paramList, name.span) : [];
    return { kw, name, params };
  }

  private bodyOr(n: cst.BodyCstNode | undefined, fallback: Span): ast.Body {
    if (n) return this.node<ast.Body>(n, fallback);
    return { kind: "Body", stmts: [], result: null, span: this.emptyAt(fallback.end) };
  }

  modelDecl(ctx: cst.ModelDeclCstChildren, fallback: Span): ast.ModelDecl {
    const h = this.header(first(ctx.Model), first(ctx.Identifier), first(ctx.paramList), fallback);
    const result = ctx.type ? this.node<ast.TypeExpr>(ctx.type[0], h.name.span) : null;
    const body = this.bodyOr(first(ctx.body), result?.span ?? h.name.span);
    return {
      kind: "Model",
      name: h.name,
      params: h.params,
      result,
      body,
      span: this.join(h.kw, body.span),
    };
  }

  blockDecl(ctx: cst.BlockDeclCstChildren, fallback: Span): ast.BlockDecl {
    const kwTok = first(ctx.Block) ?? first(ctx.Loss);
    const h = this.header(kwTok, first(ctx.Identifier), first(ctx.paramList), fallback);
    const result = ctx.type ? this.node<ast.TypeExpr>(ctx.type[0], h.name.span) : null;
    const body = this.bodyOr(first(ctx.body), result?.span ?? h.name.span);
    return {
      kind: "Block",
      role: ctx.Loss ? "loss" : "block",
      name: h.name,
      params: h.params,
      result,
      body,
      span: this.join(h.kw, body.span),
    };
  }

  optimizerDecl(ctx: cst.OptimizerDeclCstChildren, fallback: Span): ast.OptimizerDecl {
    const h = this.header(
      first(ctx.Optimizer),
      first(ctx.Identifier),
      first(ctx.paramList),
      fallback,
    );
    const state = (ctx.stateLine ?? []).flatMap((s) => this.node<ast.StateInit[]>(s, h.name.span));
    const upd = first(ctx.updateRule);
    const close = first(ctx.RBrace);
    const update: ast.UpdateRule = upd
      ? this.node<ast.UpdateRule>(upd, h.name.span)
      : {
          kind: "UpdateRule",
          params: [],
          body: this.bodyOr(undefined, h.name.span),
          span: this.emptyAt(h.name.span.end),
        };
    const end = isReal(close) ? this.tokSpan(close) : update.span;
    return {
      kind: "Optimizer",
      name: h.name,
      params: h.params,
      state,
      update,
      span: this.join(h.kw, end),
    };
  }

  stateLine(ctx: cst.StateLineCstChildren, fallback: Span): ast.StateInit[] {
    return (ctx.stateInit ?? []).map((s) => this.node<ast.StateInit>(s, fallback));
  }

  stateInit(ctx: cst.StateInitCstChildren, fallback: Span): ast.StateInit {
    const name = this.ident(first(ctx.Identifier), fallback);
    const init = this.exprOr(first(ctx.expr), name.span);
    return { kind: "StateInit", name, init, span: this.join(name.span, init.span) };
  }

  updateRule(ctx: cst.UpdateRuleCstChildren, fallback: Span): ast.UpdateRule {
    const kwTok = first(ctx.Update);
    const kw = isReal(kwTok) ? this.tokSpan(kwTok) : fallback;
    const params = (ctx.Identifier ?? []).filter(isReal).map((t) => this.ident(t, kw));
    const body = this.bodyOr(first(ctx.body), params[params.length - 1]?.span ?? kw);
    return { kind: "UpdateRule", params, body, span: this.join(kw, body.span) };
  }

  trainDecl(ctx: cst.TrainDeclCstChildren, fallback: Span): ast.TrainDecl {
    const kwTok = first(ctx.Train);
    const kw = isReal(kwTok) ? this.tokSpan(kwTok) : fallback;
    const colon = first(ctx.Colon);
    const ids = (ctx.Identifier ?? []).filter(isReal);
    const colonAt = isReal(colon) ? colon.startOffset : Infinity;
    const name = this.ident(
      ids.find((t) => t.startOffset < colonAt),
      kw,
    );
    const modelTok = ids.find((t) => t.startOffset > colonAt);
    const model = colon
      ? this.ident(modelTok, isReal(colon) ? this.tokSpan(colon) : name.span)
      : null;
    const entries = (ctx.trainEntry ?? []).map((e) =>
      this.node<ast.TrainEntry>(e, model?.span ?? name.span),
    );
    const close = first(ctx.RBrace);
    const last = entries[entries.length - 1]?.span ?? model?.span ?? name.span;
    const end = isReal(close) ? this.tokSpan(close) : last;
    return { kind: "Train", name, model, entries, span: this.join(kw, end) };
  }

  trainEntry(ctx: cst.TrainEntryCstChildren, fallback: Span): ast.TrainEntry {
    const n = first(ctx.noiseDecl) ?? first(ctx.stepDecl) ?? first(ctx.setting);
    return this.node<ast.TrainEntry>(n, fallback);
  }

  noiseDecl(ctx: cst.NoiseDeclCstChildren, fallback: Span): ast.NoiseDecl {
    const kwTok = first(ctx.Noise);
    const kw = isReal(kwTok) ? this.tokSpan(kwTok) : fallback;
    const name = this.ident(first(ctx.Identifier), kw);
    const type = this.tensorTypeOr(first(ctx.tensorType), name.span);
    const init = this.exprOr(first(ctx.expr), type.span);
    return { kind: "Noise", name, type, init, span: this.join(kw, init.span) };
  }

  stepDecl(ctx: cst.StepDeclCstChildren, fallback: Span): ast.StepDecl {
    const kwTok = first(ctx.Step);
    const kw = isReal(kwTok) ? this.tokSpan(kwTok) : fallback;
    const name = this.ident(first(ctx.Identifier), kw);
    const entries = (ctx.setting ?? []).map((s) => this.node<ast.Setting>(s, name.span));
    const close = first(ctx.RBrace);
    const end = isReal(close)
      ? this.tokSpan(close)
      : (entries[entries.length - 1]?.span ?? name.span);
    return { kind: "Step", name, entries, span: this.join(kw, end) };
  }

  setting(ctx: cst.SettingCstChildren, fallback: Span): ast.Setting {
    const key = this.ident(first(ctx.Name), fallback);
    const value = this.exprOr(first(ctx.expr), key.span);
    return { kind: "Setting", key, value, span: this.join(key.span, value.span) };
  }

  // -------------------------------------------------------------------------------------------
  // Signatures and types

  paramList(ctx: cst.ParamListCstChildren, fallback: Span): ast.ParamSig[] {
    return (ctx.paramSig ?? []).map((p) => this.node<ast.ParamSig>(p, fallback));
  }

  paramSig(ctx: cst.ParamSigCstChildren, fallback: Span): ast.ParamSig {
    const name = this.ident(first(ctx.Identifier), fallback);
    const type = ctx.Colon ? this.typeOr(first(ctx.type), name.span) : null;
    const dflt = ctx.Equals ? this.exprOr(first(ctx.expr), type?.span ?? name.span) : null;
    const end = dflt?.span ?? type?.span ?? name.span;
    return { kind: "ParamSig", name, type, default: dflt, span: this.join(name.span, end) };
  }

  private typeOr(n: cst.TypeCstNode | undefined, fallback: Span): ast.TypeExpr {
    if (n) return this.node<ast.TypeExpr>(n, fallback);
    return {
      kind: "ScalarType",
      name: this.ident(undefined, fallback),
      span: this.emptyAt(fallback.end),
    };
  }

  type(ctx: cst.TypeCstChildren, fallback: Span): ast.TypeExpr {
    const tt = first(ctx.tensorType);
    if (tt) return this.node<ast.TensorTypeExpr>(tt, fallback);
    const name = this.ident(first(ctx.Identifier), fallback);
    return { kind: "ScalarType", name, span: name.span };
  }

  private tensorTypeOr(n: cst.TensorTypeCstNode | undefined, fallback: Span): ast.TensorTypeExpr {
    if (n) return this.node<ast.TensorTypeExpr>(n, fallback);
    return { kind: "TensorType", dims: [], dtype: null, span: this.emptyAt(fallback.end) };
  }

  tensorType(ctx: cst.TensorTypeCstChildren, fallback: Span): ast.TensorTypeExpr {
    const open = first(ctx.LBracket);
    const start = isReal(open) ? this.tokSpan(open) : fallback;
    const dims = (ctx.dim ?? []).map((d) => this.node<ast.DimExpr>(d, start));
    const close = first(ctx.RBracket);
    const dtypeTok = first(ctx.Identifier);
    const dtype = isReal(dtypeTok) ? this.ident(dtypeTok, start) : null;
    let end = isReal(close) ? this.tokSpan(close) : (dims[dims.length - 1]?.span ?? start);
    if (dtype) end = dtype.span;
    return { kind: "TensorType", dims, dtype, span: this.join(start, end) };
  }

  dim(ctx: cst.DimCstChildren, fallback: Span): ast.DimExpr {
    const e = first(ctx.Ellipsis);
    if (isReal(e)) return { kind: "Ellipsis", span: this.tokSpan(e) };
    return this.exprOr(first(ctx.expr), fallback);
  }

  // -------------------------------------------------------------------------------------------
  // Bodies and statements

  body(ctx: cst.BodyCstChildren, fallback: Span): ast.Body {
    const open = first(ctx.LBrace);
    const start = isReal(open) ? this.tokSpan(open) : this.emptyAt(fallback.end);
    const parts = byStart<CstNode>([
      ...(ctx.letStmt ?? []),
      ...(ctx.paramStmt ?? []),
      ...(ctx.stateStmt ?? []),
      ...(ctx.assignStmt ?? []),
      ...(ctx.expr ?? []),
    ]);
    const stmts: ast.Stmt[] = [];
    let result: ast.Expr | null = null;
    let prev = start;
    const unused: Diagnostic[] = [];
    parts.forEach((p, i) => {
      if (p.name === "expr") {
        const e = this.node<ast.Expr>(p, prev);
        if (i === parts.length - 1) result = e;
        else unused.push(diag("NN1020", e.span));
        prev = e.span;
      } else {
        const s = this.node<ast.Stmt>(p, prev);
        stmts.push(s);
        prev = s.span;
      }
    });
    const close = first(ctx.RBrace);
    const end = isReal(close) ? this.tokSpan(close) : prev;
    const span = this.join(start, end);
    for (const diagnostic of unused) this.unused.push({ diagnostic, body: span });
    return { kind: "Body", stmts, result, span };
  }

  letStmt(ctx: cst.LetStmtCstChildren, fallback: Span): ast.Let {
    const kw = isReal(first(ctx.Let)) ? this.tokSpan(ctx.Let[0]!) : fallback;
    const name = this.declName(first(ctx.Name), kw);
    const value = this.exprOr(first(ctx.expr), name.span);
    return { kind: "Let", name, value, span: this.join(kw, value.span) };
  }

  paramStmt(ctx: cst.ParamStmtCstChildren, fallback: Span): ast.ParamDecl {
    const kw = isReal(first(ctx.Param)) ? this.tokSpan(ctx.Param[0]!) : fallback;
    const name = this.declName(first(ctx.Name), kw);
    const type = this.tensorTypeOr(first(ctx.tensorType), name.span);
    const init = ctx.Equals ? this.exprOr(first(ctx.expr), type.span) : null;
    return { kind: "Param", name, type, init, span: this.join(kw, init?.span ?? type.span) };
  }

  stateStmt(ctx: cst.StateStmtCstChildren, fallback: Span): ast.StateDecl {
    const kw = isReal(first(ctx.State)) ? this.tokSpan(ctx.State[0]!) : fallback;
    const name = this.declName(first(ctx.Name), kw);
    const type = this.tensorTypeOr(first(ctx.tensorType), name.span);
    const init = ctx.Equals ? this.exprOr(first(ctx.expr), type.span) : null;
    return { kind: "State", name, type, init, span: this.join(kw, init?.span ?? type.span) };
  }

  assignStmt(ctx: cst.AssignStmtCstChildren, fallback: Span): ast.Assign {
    const target = this.ident(first(ctx.Identifier), fallback);
    const value = this.exprOr(first(ctx.expr), target.span);
    return { kind: "Assign", target, value, span: this.join(target.span, value.span) };
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  expr(ctx: cst.ExprCstChildren, fallback: Span): ast.Expr {
    const p = first(ctx.pipe);
    return p ? this.node<ast.Expr>(p, fallback) : this.missing(fallback);
  }

  pipe(ctx: cst.PipeCstChildren, fallback: Span): ast.Expr {
    const head = first(ctx.compare);
    let left: ast.Expr = head ? this.node<ast.Expr>(head, fallback) : this.missing(fallback);
    const targets = byStart<CstNode | IToken>([...(ctx.call ?? []), ...(ctx.Identifier ?? [])]);
    const ops = (ctx.PipeOp ?? []).filter(isReal);
    for (let i = 0; i < ops.length; i++) {
      const opSpan = this.tokSpan(ops[i]!);
      const target = targets[i];
      let right: ast.Ident | ast.Call;
      if (target === undefined) right = this.missing(opSpan);
      else if ("children" in target) right = this.node<ast.Call>(target, opSpan);
      else right = this.ident(target, opSpan);
      left = { kind: "Pipe", left, right, span: this.join(left.span, right.span) };
    }
    return left;
  }

  private binaryChain(
    operands: readonly CstNode[] | undefined,
    opToks: readonly IToken[] | undefined,
    fallback: Span,
  ): ast.Expr {
    const xs = operands ?? [];
    let left: ast.Expr = xs[0] ? this.node<ast.Expr>(xs[0], fallback) : this.missing(fallback);
    const ops = (opToks ?? []).filter(isReal);
    for (let i = 0; i < ops.length; i++) {
      const tok = ops[i]!;
      const opSpan = this.tokSpan(tok);
      const r = xs[i + 1];
      const right: ast.Expr = r ? this.node<ast.Expr>(r, opSpan) : this.missing(opSpan);
      left = {
        kind: "Binary",
        op: tok.image as ast.BinaryOp,
        opSpan,
        left,
        right,
        span: this.join(left.span, right.span),
      };
    }
    return left;
  }

  compare(ctx: cst.CompareCstChildren, fallback: Span): ast.Expr {
    return this.binaryChain(ctx.additive, ctx.CompareOp, fallback);
  }

  additive(ctx: cst.AdditiveCstChildren, fallback: Span): ast.Expr {
    return this.binaryChain(ctx.multiplicative, ctx.AddOp, fallback);
  }

  multiplicative(ctx: cst.MultiplicativeCstChildren, fallback: Span): ast.Expr {
    return this.binaryChain(ctx.unary, ctx.MulOp, fallback);
  }

  unary(ctx: cst.UnaryCstChildren, fallback: Span): ast.Expr {
    const opTok = first(ctx.Minus) ?? first(ctx.Not);
    if (opTok) {
      const opSpan = isReal(opTok) ? this.tokSpan(opTok) : fallback;
      const inner = first(ctx.unary);
      const operand: ast.Expr = inner ? this.node<ast.Expr>(inner, opSpan) : this.missing(opSpan);
      return {
        kind: "Unary",
        op: ctx.Not ? "not" : "-",
        operand,
        span: this.join(opSpan, operand.span),
      };
    }
    const p = first(ctx.power);
    return p ? this.node<ast.Expr>(p, fallback) : this.missing(fallback);
  }

  power(ctx: cst.PowerCstChildren, fallback: Span): ast.Expr {
    const a = first(ctx.atom);
    const left: ast.Expr = a ? this.node<ast.Expr>(a, fallback) : this.missing(fallback);
    const caret = first(ctx.Caret);
    if (!isReal(caret)) return left;
    const opSpan = this.tokSpan(caret);
    const r = first(ctx.unary);
    const right: ast.Expr = r ? this.node<ast.Expr>(r, opSpan) : this.missing(opSpan);
    return { kind: "Binary", op: "^", opSpan, left, right, span: this.join(left.span, right.span) };
  }

  atom(ctx: cst.AtomCstChildren, fallback: Span): ast.Expr {
    const num = first(ctx.NumberLiteral);
    if (isReal(num)) return this.numberLit(num);
    const str = first(ctx.StringLiteral);
    if (isReal(str)) return this.stringLit(str);
    const bool = first(ctx.True) ?? first(ctx.False);
    if (isReal(bool))
      return { kind: "Bool", value: bool.image === "true", span: this.tokSpan(bool) };
    const id = first(ctx.Identifier);
    if (isReal(id)) return this.ident(id, fallback);
    const n =
      first(ctx.call) ??
      first(ctx.paren) ??
      first(ctx.list) ??
      first(ctx.record) ??
      first(ctx.searchExpr) ??
      first(ctx.ifExpr) ??
      first(ctx.scanExpr);
    return n ? this.node<ast.Expr>(n, fallback) : this.missing(fallback);
  }

  private numberLit(tok: IToken): ast.NumberLit {
    const text = tok.image;
    const unit = text.endsWith("deg") ? "deg" : null;
    const digits = unit ? text.slice(0, -unit.length) : text;
    return {
      kind: "Number",
      value: Number(digits),
      text,
      isInt: /^\d+$/.test(digits),
      unit,
      span: this.tokSpan(tok),
    };
  }

  private stringLit(tok: IToken): ast.StringLit {
    const span = this.tokSpan(tok);
    // An unterminated string (reported by the front end) reaches here without its closing quote.
    const terminated = /^"(?:[^"\\\n\r]|\\[^\n\r])*"$/.test(tok.image);
    const raw = tok.image.slice(1, terminated ? -1 : undefined);
    let value = "";
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (c !== "\\") {
        value += c;
        continue;
      }
      const next = raw[i + 1] ?? "";
      if (next === '"' || next === "\\") value += next;
      else {
        const at = span.start + 1 + i;
        this.diagnostics.push(
          diag("NN1021", { file: this.path, start: at, end: at + 2 }, { escape: `\\${next}` }),
        );
        value += next;
      }
      i++;
    }
    return { kind: "String", value, span };
  }

  call(ctx: cst.CallCstChildren, fallback: Span): ast.Call {
    const callee = this.ident(first(ctx.Identifier), fallback);
    const args = (ctx.arg ?? []).map((a) => this.node<ast.Arg>(a, callee.span));
    const close = first(ctx.RParen);
    const open = first(ctx.LParen);
    const last = args[args.length - 1]?.span ?? (isReal(open) ? this.tokSpan(open) : callee.span);
    const end = isReal(close) ? this.tokSpan(close) : last;
    return { kind: "Call", callee, args, span: this.join(callee.span, end) };
  }

  arg(ctx: cst.ArgCstChildren, fallback: Span): ast.Arg {
    const nameTok = first(ctx.Name);
    const name = isReal(nameTok) ? this.ident(nameTok, fallback) : null;
    const value = this.exprOr(first(ctx.expr), name?.span ?? fallback);
    return { kind: "Arg", name, value, span: name ? this.join(name.span, value.span) : value.span };
  }

  paren(ctx: cst.ParenCstChildren, fallback: Span): ast.Paren {
    const open = first(ctx.LParen);
    const start = isReal(open) ? this.tokSpan(open) : fallback;
    const inner = this.exprOr(first(ctx.expr), start);
    const close = first(ctx.RParen);
    const end = isReal(close) ? this.tokSpan(close) : inner.span;
    return { kind: "Paren", inner, span: this.join(start, end) };
  }

  list(ctx: cst.ListCstChildren, fallback: Span): ast.ListExpr {
    const open = first(ctx.LBracket);
    const start = isReal(open) ? this.tokSpan(open) : fallback;
    const items = (ctx.expr ?? []).map((e) => this.node<ast.Expr>(e, start));
    const close = first(ctx.RBracket);
    const end = isReal(close) ? this.tokSpan(close) : (items[items.length - 1]?.span ?? start);
    return { kind: "List", items, span: this.join(start, end) };
  }

  record(ctx: cst.RecordCstChildren, fallback: Span): ast.RecordExpr {
    const open = first(ctx.LBrace);
    const start = isReal(open) ? this.tokSpan(open) : fallback;
    const fields = (ctx.field ?? []).map((f) => this.node<ast.RecordField>(f, start));
    const close = first(ctx.RBrace);
    const end = isReal(close) ? this.tokSpan(close) : (fields[fields.length - 1]?.span ?? start);
    return { kind: "Record", fields, span: this.join(start, end) };
  }

  field(ctx: cst.FieldCstChildren, fallback: Span): ast.RecordField {
    const name = this.ident(first(ctx.Name), fallback);
    // The keyword `loss` as a field's value is the name `loss` (early_stop's metric); where no
    // name fits, the checker reports it as it would any other name.
    const loss = first(ctx.Loss);
    const value = isReal(loss)
      ? this.ident(loss, name.span)
      : this.exprOr(first(ctx.expr), name.span);
    return { kind: "RecordField", name, value, span: this.join(name.span, value.span) };
  }

  searchExpr(ctx: cst.SearchExprCstChildren, fallback: Span): ast.Search {
    const kw = isReal(first(ctx.Search)) ? this.tokSpan(ctx.Search[0]!) : fallback;
    const l = first(ctx.list);
    const options: ast.ListExpr = l
      ? this.node<ast.ListExpr>(l, kw)
      : { kind: "List", items: [], span: this.emptyAt(kw.end) };
    return { kind: "Search", options, span: this.join(kw, options.span) };
  }

  ifExpr(ctx: cst.IfExprCstChildren, fallback: Span): ast.If {
    const kw = isReal(first(ctx.If)) ? this.tokSpan(ctx.If[0]!) : fallback;
    const cond = this.exprOr(first(ctx.expr), kw);
    const then = this.bodyOr(first(ctx.body), cond.span);
    let otherwise: ast.Body | null = null;
    const elseIf = first(ctx.ifExpr);
    const elseBody = ctx.body?.[1];
    if (elseIf) {
      // `else if ...` is an else body holding only that `if`, with the `if`'s span.
      const inner = this.node<ast.If>(elseIf, then.span);
      otherwise = { kind: "Body", stmts: [], result: inner, span: inner.span };
    } else if (elseBody) {
      otherwise = this.node<ast.Body>(elseBody, then.span);
    } else if (ctx.Else) {
      otherwise = this.bodyOr(undefined, then.span);
    }
    const end = otherwise?.span ?? then.span;
    return { kind: "If", cond, then, else: otherwise, span: this.join(kw, end) };
  }

  scanExpr(ctx: cst.ScanExprCstChildren, fallback: Span): ast.Scan {
    const kw = isReal(first(ctx.Scan)) ? this.tokSpan(ctx.Scan[0]!) : fallback;
    const item = this.ident(first(ctx.Identifier), kw);
    const over = this.exprOr(first(ctx.expr), item.span);
    const carries = (ctx.stateInit ?? []).map((s) => this.node<ast.StateInit>(s, over.span));
    const body = this.bodyOr(first(ctx.body), carries[carries.length - 1]?.span ?? over.span);
    return { kind: "Scan", item, over, carries, body, span: this.join(kw, body.span) };
  }
}

/**
 * Builds the AST of a module from its CST; `span` covers the whole file. `errorsAt` are the
 * offsets of the syntax errors already reported: an unused expression in a body that holds one
 * is most likely a fragment of that error, so it is not reported again.
 */
export function toAst(
  root: CstNode,
  path: string,
  span: Span,
  errorsAt: readonly number[] = [],
): { module: ast.Module; diagnostics: Diagnostic[] } {
  const b = new AstBuilder(path);
  const module = b.visit(root, span) as ast.Module;
  const unused = b.unused
    .filter((u) => !errorsAt.some((o) => o >= u.body.start && o <= u.body.end))
    .map((u) => u.diagnostic);
  return { module, diagnostics: [...b.diagnostics, ...unused] };
}
