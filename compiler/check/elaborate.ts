/**
 * @file The elaborator: an interpreter of `.nn` expressions that checks and builds at once.
 * Compile-time values fold; tensor operations become nodes in a shared GraphBuilder, whose
 * shape rules (compiler/primitives.ts) are the single source of shape truth. Blocks are inlined
 * at each call: arguments are bound to parameters (positional or keyword, defaults evaluated in
 * the callee's scope), tensor parameters are matched against their declared per-sample shapes
 * (binding dimension names), and the body is evaluated. Checking a model runs this with a
 * symbolic batch; lowering runs exactly the same code with concrete sizes, so the two cannot
 * disagree. Calls of blocks that declare `param`s are layer instances, named Keras-style within
 * the current model. Errors become diagnostics (an error inside a stdlib block is reported at
 * the user's call site with a note pointing into the block) and poison the value.
 */
import type * as ast from "../ast.js";
import { leftChain } from "../ast.js";
import {
  type Dim,
  type Shape,
  dimEq,
  dimMul,
  formatShape,
  numel,
  shapeEq,
  substitute,
} from "../dims.js";
import type { Diagnostic, Note } from "../diagnostics.js";
import { GraphBuilder, ShapeError } from "../ir/builder.js";
import type { Variable } from "../ir/graph.js";
import { type MessageCode, diag } from "../messages.js";
import {
  type BinaryOp as PrimBinary,
  type DType,
  type InitSpec,
  type OpAttrs,
  type OpKind,
  broadcastShapes,
} from "../primitives.js";
import { type Span, joinSpans } from "../source.js";
import { type Builtin, builtins } from "./builtins.js";
import type { Decl, LoadedFile, Program } from "./program.js";
import { didYouMean } from "./suggest.js";
import {
  type ArgValue,
  type BoundArgs,
  ERR,
  type Fn,
  type FnValue,
  type Origin,
  type TensorValue,
  type Value,
  bool,
  describe,
  float,
  fnName,
  int,
  noArgs,
  str,
} from "./values.js";

/** The symbol for the implicit batch axis while checking. */
export const BATCH = "batch";

export interface ElabOptions {
  /** The batch size: BATCH while checking, a number when lowering. */
  readonly batch: Dim;
  /** Values for symbolic dimensions (`T`), when lowering. */
  readonly bindings?: ReadonlyMap<string, number>;
  /** Whether `training` is true (dropout active, batchnorm statistics updated). */
  readonly training: boolean;
  /** Seed mixed into the streams of random nodes. */
  readonly seed?: number;
  /** Prefix for layer names of a model (`Generator/`), for graphs holding several models. */
  readonly modelPrefix?: (model: string) => string;
}

export interface LayerRow {
  readonly name: string;
  readonly kind: string;
  readonly shape: Shape | null; // per-sample output shape
  readonly params: Dim; // trainable elements created by the call
  readonly nonTrainable: Dim; // state elements
  readonly span: Span;
}

type BindingKind = "let" | "arg" | "dim" | "param" | "state" | "carry" | "optstate" | "item";

interface Binding {
  value: Value;
  readonly kind: BindingKind;
  readonly varName?: string;
  /** For a block's parameter: the span of the argument given at the call. */
  argSpan?: Span;
}

export class Scope {
  readonly vars = new Map<string, Binding>();
  constructor(
    readonly parent: Scope | null,
    readonly file: LoadedFile,
  ) {}
  find(name: string): Binding | undefined {
    for (let s: Scope | null = this; s; s = s.parent) {
      const b = s.vars.get(name);
      if (b) return b;
    }
    return undefined;
  }
  set(name: string, value: Value, kind: BindingKind, varName?: string): void {
    this.vars.set(name, varName === undefined ? { value, kind } : { value, kind, varName });
  }
  names(): string[] {
    const out: string[] = [];
    for (let s: Scope | null = this; s; s = s.parent) out.push(...s.vars.keys());
    return out;
  }
}

interface Frame {
  readonly name: string;
  readonly decl: Decl | null;
  readonly callSpan: Span;
  readonly file: LoadedFile | null;
}

interface LayerScope {
  readonly prefix: string; // for variable names: "" or "Generator/" or "lstm/"
  readonly counters: Map<string, number>;
  readonly rows: LayerRow[] | null; // top-level rows of a model
  readonly frameDepth: number; // frames.length at which calls are top-level
  readonly layer: string | null; // the layer whose params are declared here
}

/**
 * How many block and model calls may be inside one another: each is inlined by recursion, and
 * far deeper chains would overflow the JavaScript stack.
 */
const maxCallDepth = 100;

const binaryNames: Record<string, { prim: PrimBinary; verb: string }> = {
  "+": { prim: "add", verb: "add" },
  "-": { prim: "sub", verb: "subtract" },
  "*": { prim: "mul", verb: "multiply" },
  "/": { prim: "div", verb: "divide" },
  "^": { prim: "pow", verb: "raise" },
  "<": { prim: "less", verb: "compare" },
  ">": { prim: "greater", verb: "compare" },
  "<=": { prim: "less_equal", verb: "compare" },
  ">=": { prim: "greater_equal", verb: "compare" },
  "==": { prim: "equal", verb: "compare" },
  "!=": { prim: "not_equal", verb: "compare" },
};

export class Elab {
  readonly b = new GraphBuilder();
  readonly diagnostics: Diagnostic[] = [];
  readonly frames: Frame[] = [];
  readonly layers: LayerScope[] = [];
  /** State variables assigned during elaboration (name -> new value node). */
  readonly stateUpdates = new Map<string, number>();
  readonly batch: Dim;
  readonly bindings: ReadonlyMap<string, number>;
  readonly training: boolean;
  readonly seed: number;
  readonly modelPrefix: (model: string) => string;
  private randomStreams = 0;
  private stepNode: number | undefined;
  private seen = new Set<string>();
  /** Search choices: which option each `search` node takes. */
  searchChoice: (node: ast.Search) => number = () => 0;

  constructor(
    readonly program: Program,
    options: ElabOptions,
  ) {
    this.batch = options.batch;
    this.bindings = options.bindings ?? new Map();
    this.training = options.training;
    this.seed = options.seed ?? 0;
    this.modelPrefix = options.modelPrefix ?? (() => "");
  }

  // -------------------------------------------------------------------------------------------
  // Diagnostics

  private isStd(file: string): boolean {
    return file.startsWith("stdlib/");
  }

  /** For a span in the stdlib: the innermost frame whose call is in the user's code. */
  private userFrame(span: Span): Frame | undefined {
    if (!this.isStd(span.file)) return undefined;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (!this.isStd(f.callSpan.file)) return f;
    }
    return undefined;
  }

  report(
    code: MessageCode,
    span: Span,
    args: Record<string, string | number> = {},
    notes: Note[] = [],
  ): Value {
    let d = diag(code, span, args, notes);
    const user = this.userFrame(span);
    if (user) {
      // Report at the innermost call site in user code, with a note pointing into the block.
      d = {
        ...d,
        span: user.callSpan,
        notes: [{ message: `the error is inside ${user.name}, here`, span }, ...d.notes],
      };
    } else if (!this.isStd(span.file)) {
      const f = this.frames[this.frames.length - 1];
      if (
        f &&
        f.decl &&
        f.decl.kind === "Block" &&
        f.callSpan.file !== "<builtin>" &&
        span.file === f.decl.span.file &&
        span.start >= f.decl.span.start &&
        span.end <= f.decl.span.end
      ) {
        d = {
          ...d,
          notes: [...d.notes, { message: `in this call of ${f.name}`, span: f.callSpan }],
        };
      }
    }
    const key = `${d.code}@${d.span.file}:${d.span.start}:${d.span.end}:${d.message}`;
    if (!this.seen.has(key)) {
      this.seen.add(key);
      this.diagnostics.push(d);
    }
    return ERR;
  }

  text(span: Span): string {
    const f = this.program.sources.get(span.file);
    return f ? f.text.slice(span.start, span.end) : "";
  }

  // -------------------------------------------------------------------------------------------
  // Shapes and tensors

  /** The per-sample shape of a tensor (without the batch axis). */
  sampleShape(t: TensorValue): Shape {
    const s = this.b.shape(t.node);
    return t.batched ? s.slice(1) : s;
  }

  dtype(t: TensorValue): DType {
    return this.b.type(t.node).dtype;
  }

  /** A dimension with the bindings applied. */
  dim(d: Dim): Dim {
    return typeof d === "number" ? d : substitute(d, this.bindings);
  }

  /** Adds a primitive; a shape-rule failure becomes NN2012 at `span`. */
  prim<K extends OpKind>(
    op: K,
    inputs: readonly number[],
    attrs: OpAttrs[K],
    span: Span,
  ): number | null {
    try {
      return this.b.add(op, inputs, attrs, span);
    } catch (e) {
      if (e instanceof ShapeError) {
        this.report("NN2012", span, { op, detail: e.detail });
        return null;
      }
      throw e;
    }
  }

  tensor(node: number | null, batched: boolean): Value {
    return node === null ? ERR : { kind: "tensor", node, batched };
  }

  constant(value: number, span: Span, shape: Shape = [], dtype: DType = "f32"): TensorValue {
    return { kind: "tensor", node: this.b.constant(value, span, shape, dtype), batched: false };
  }

  /** The scalar step counter (an input named `step`), made on first use. */
  step(span: Span): number {
    if (this.stepNode === undefined) {
      this.stepNode = this.b.source("input", "step", { shape: [], dtype: "f32" }, span);
    }
    return this.stepNode;
  }

  setStep(node: number): void {
    this.stepNode = node;
  }

  nextStream(): number {
    return (this.seed * 7919 + this.randomStreams++) >>> 0;
  }

  /** A random tensor of the given full shape. */
  random(kind: "uniform" | "normal", shape: Shape, batched: boolean, span: Span): Value {
    const op = kind === "uniform" ? "random_uniform" : "random_normal";
    try {
      const id = this.b.add(op, [this.step(span)], { stream: this.nextStream() }, span, {
        shape,
        dtype: "f32",
      });
      return { kind: "tensor", node: id, batched };
    } catch (e) {
      if (e instanceof ShapeError) return this.report("NN2012", span, { op, detail: e.detail });
      throw e;
    }
  }

  /** Makes a tensor of an initializer that knows its shape (`zeros([units])`, noise). */
  materialize(spec: InitSpec, shape: Shape, batched: boolean, span: Span): Value {
    switch (spec.dist) {
      case "constant":
        return this.tensor(this.b.constant(spec.value, span, shape), batched);
      case "uniform": {
        const u = this.random("uniform", shape, batched, span);
        return this.affine(u, spec.hi - spec.lo, spec.lo, span);
      }
      case "normal":
      case "truncated_normal": {
        const n = this.random("normal", shape, batched, span);
        return this.affine(n, spec.std, spec.mean, span);
      }
    }
  }

  private affine(v: Value, scale: number, offset: number, span: Span): Value {
    if (v.kind !== "tensor") return v;
    let node = v.node;
    if (scale !== 1) node = this.b.add("mul", [node, this.b.constant(scale, span)], {}, span);
    if (offset !== 0) node = this.b.add("add", [node, this.b.constant(offset, span)], {}, span);
    return { kind: "tensor", node, batched: v.batched };
  }

  /** Converts a value to a tensor, or reports what was found instead. */
  toTensor(v: Value, span: Span, what = "this operation"): TensorValue | null {
    switch (v.kind) {
      case "tensor":
        return v;
      case "int":
        if (typeof v.value !== "number") {
          this.report("NN2033", span, {
            what: `the symbolic dimension ${v.value}`,
            why: "only a number can be used as a tensor",
          });
          return null;
        }
        return this.constant(v.value, span);
      case "float":
        return this.constant(v.value, span);
      case "init":
        if (v.shape) {
          const t = this.materialize(v.spec, v.shape, false, span);
          return t.kind === "tensor" ? t : null;
        }
        break;
      case "error":
        return null;
      case "fn":
        if (this.reportMissing(v)) return null;
        break;
      default:
        break;
    }
    this.report("NN2007", span, { what, expected: "a tensor", found: describe(v) });
    return null;
  }

  /** Reports the first missing argument of a partial call; true when it did. */
  reportMissing(v: FnValue): boolean {
    if (v.fn.kind === "optimizer") return false;
    const params = this.paramList(v.fn);
    const given = this.bindNames(params, v.args);
    const missing = params.find((p) => !p.optional && !given.has(p.name));
    if (!missing) return false;
    this.report("NN2003", v.span, { param: missing.name, callee: fnName(v.fn) });
    return true;
  }

  private bindNames(params: readonly { name: string }[], args: BoundArgs): Set<string> {
    const s = new Set<string>();
    args.positional.forEach((_, i) => {
      if (params[i]) s.add(params[i]!.name);
    });
    for (const k of args.named.keys()) s.add(k);
    return s;
  }

  // -------------------------------------------------------------------------------------------
  // Names

  lookup(name: string, scope: Scope): Value | undefined {
    const b = scope.find(name);
    if (b) return b.value;
    const g = this.program.globals.get(scope.file.abs)?.get(name);
    if (g) return this.declValue(g, g.name.span);
    if (name === "training") return bool(this.training);
    const bi = builtins.get(name);
    if (bi) {
      if (bi.value) return bi.value;
      return { kind: "fn", fn: { kind: "builtin", builtin: bi }, args: noArgs, span: bi.span };
    }
    return undefined;
  }

  declValue(d: Decl, span: Span): FnValue {
    if (d.kind === "Optimizer")
      return { kind: "fn", fn: { kind: "optimizer", decl: d }, args: noArgs, span };
    return { kind: "fn", fn: { kind: "block", decl: d }, args: noArgs, span };
  }

  visibleNames(scope: Scope): string[] {
    return [
      ...scope.names(),
      ...(this.program.globals.get(scope.file.abs)?.keys() ?? []),
      ...builtins.keys(),
      "training",
    ];
  }

  unknown(id: ast.Ident, scope: Scope): Value {
    return this.report("NN2001", id.span, {
      name: id.name,
      hint: didYouMean(id.name, this.visibleNames(scope)),
    });
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  eval(e: ast.Expr, scope: Scope): Value {
    switch (e.kind) {
      case "Number":
        return e.isInt && e.unit === null ? int(e.value) : float(e.value);
      case "String":
        return str(e.value);
      case "Bool":
        return bool(e.value);
      case "Ident": {
        const v = this.lookup(e.name, scope);
        if (v && v.kind === "fn" && v.args === noArgs) return { ...v, span: e.span };
        return v ?? this.unknown(e, scope);
      }
      case "Paren":
        return this.eval(e.inner, scope);
      case "Call":
        return this.evalCall(e.callee, e.args, null, e.span, scope);
      case "Pipe":
      case "Binary":
        return this.evalChain(e, scope);
      case "Unary": {
        const v = this.eval(e.operand, scope);
        if (v.kind === "error") return ERR;
        if (e.op === "not") {
          if (v.kind === "bool") return bool(!v.value);
          return this.report("NN2007", e.operand.span, {
            what: "not",
            expected: "a bool",
            found: describe(v),
          });
        }
        if (v.kind === "int") {
          return typeof v.value === "number"
            ? int(-v.value)
            : this.report("NN2033", e.span, {
                what: "negating a symbolic dimension",
                why: "it has no value yet",
              });
        }
        if (v.kind === "float") return float(-v.value);
        const t = this.toTensor(v, e.operand.span, "'-'");
        return t ? this.tensor(this.prim("neg", [t.node], {}, e.span), t.batched) : ERR;
      }
      case "List":
        return { kind: "list", items: e.items.map((i) => this.eval(i, scope)) };
      case "Record": {
        const fields = new Map<string, Value>();
        for (const f of e.fields) {
          if (fields.has(f.name.name)) this.report("NN2005", f.name.span, { name: f.name.name });
          fields.set(f.name.name, this.eval(f.value, scope));
        }
        return { kind: "record", fields };
      }
      case "Search": {
        const opts = e.options.items;
        if (opts.length === 0) {
          return this.report("NN2033", e.span, {
            what: "an empty search",
            why: "give at least one option",
          });
        }
        const i = Math.min(this.searchChoice(e), opts.length - 1);
        return this.eval(opts[i]!, scope);
      }
      case "If": {
        const c = this.eval(e.cond, scope);
        if (c.kind === "error") return ERR;
        if (c.kind !== "bool") {
          const found = c.kind === "tensor" ? "a tensor" : describe(c);
          return this.report("NN2018", e.cond.span, { found });
        }
        if (c.value) return this.evalBody(e.then, new Scope(scope, scope.file));
        if (e.else) return this.evalBody(e.else, new Scope(scope, scope.file));
        return this.report("NN2033", e.span, {
          what: "an `if` without `else`",
          why: "its condition is false here, so it has no value; add an `else` branch",
        });
      }
      case "Scan":
        return this.evalScan(e, scope);
    }
  }

  evalBody(body: ast.Body, scope: Scope, owner = "this block"): Value {
    for (const s of body.stmts) this.evalStmt(s, scope);
    if (!body.result) return this.report("NN2029", body.span, { name: owner });
    return this.eval(body.result, scope);
  }

  evalStmt(s: ast.Stmt, scope: Scope): void {
    switch (s.kind) {
      case "Let":
        scope.set(s.name.name, this.eval(s.value, scope), "let");
        return;
      case "Param":
      case "State":
        this.declareVariable(s, scope);
        return;
      case "Assign": {
        const b = scope.find(s.target.name);
        const v = this.eval(s.value, scope);
        if (!b) {
          this.unknown(s.target, scope);
          return;
        }
        if (b.kind !== "state" && b.kind !== "carry" && b.kind !== "optstate") {
          this.report("NN2017", s.target.span, { name: s.target.name });
          return;
        }
        if (v.kind === "error") {
          b.value = ERR;
          return;
        }
        const t = this.toTensor(v, s.value.span, `assignment to ${s.target.name}`);
        if (!t) {
          b.value = ERR;
          return;
        }
        const old = b.value;
        if (old.kind === "tensor" && b.kind === "carry") {
          const before = this.b.shape(old.node);
          if (formatShape(before) !== formatShape(this.b.shape(t.node))) {
            this.report("NN2024", s.value.span, {
              what: "scan carry",
              name: s.target.name,
              before: formatShape(this.sampleShape(old)),
              after: formatShape(this.sampleShape(t)),
            });
            b.value = ERR;
            return;
          }
        }
        if (old.kind === "tensor" && b.kind !== "carry") {
          if (t.batched && !old.batched) {
            // State holds one value for the whole batch; a per-sample value must be reduced.
            this.report("NN2041", s.value.span, {
              name: s.target.name,
              shape: formatShape(this.sampleShape(t)),
            });
            return;
          }
          const before = this.b.shape(old.node);
          let node = t.node;
          const after = this.b.shape(node);
          if (!dimEq(numel(before), numel(after)) || before.length !== after.length) {
            if (
              broadcastShapes(after, before) &&
              formatShape(broadcastShapes(after, before)!) === formatShape(before)
            ) {
              node = this.b.add("broadcast_to", [node], { shape: before }, s.span);
            } else {
              this.report("NN2024", s.value.span, {
                what: b.kind === "state" ? "state" : "optimizer state",
                name: s.target.name,
                before: formatShape(this.sampleShape(old)),
                after: formatShape(this.sampleShape(t)),
              });
              return;
            }
          }
          b.value = { kind: "tensor", node, batched: old.batched };
          if (b.varName) this.stateUpdates.set(b.varName, node);
          return;
        }
        b.value = t;
        return;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Operators

  /** Broadcasts two tensors for a binary primitive, adding the batch axis where needed. */
  binaryPrim(
    op: PrimBinary,
    verb: string,
    a: TensorValue,
    b: TensorValue,
    span: Span,
    leftSpan: Span,
    rightSpan: Span,
  ): Value {
    const sa = this.sampleShape(a);
    const sb = this.sampleShape(b);
    if (!broadcastShapes(sa, sb)) {
      return this.report("NN2010", span, {
        op: verb,
        left: formatShape(sa),
        right: formatShape(sb),
      });
    }
    const da = this.dtype(a);
    const db = this.dtype(b);
    if (da !== db) {
      return this.report("NN2022", joinSpans(leftSpan, rightSpan), {
        op: verb,
        left: da === "i32" ? "int" : "float",
        right: db === "i32" ? "int" : "float",
      });
    }
    let na = a.node;
    let nb = b.node;
    // Per-sample shapes broadcast as numpy's do: a batched operand of lower per-sample rank than
    // the other gets leading 1-axes after its batch axis, so that the batch axes stay in front
    // and line up (`x + sum(x)`: [batch, 4] + [batch, 1]).
    if (a.batched && sb.length > sa.length) na = this.expandBatched(a, sb.length, span);
    if (b.batched && sa.length > sb.length) nb = this.expandBatched(b, sa.length, span);
    return this.tensor(this.prim(op, [na, nb], {}, span), a.batched || b.batched);
  }

  private expandBatched(t: TensorValue, rank: number, span: Span): number {
    const s = this.sampleShape(t);
    const shape = [this.b.shape(t.node)[0]!, ...Array(rank - s.length).fill(1), ...s];
    return this.b.add("reshape", [t.node], { shape }, span);
  }

  /** A chain of binary operators and pipes, left to right (ast.leftChain: no recursion per term). */
  evalChain(e: ast.Binary | ast.Pipe, scope: Scope): Value {
    const { first, links } = leftChain(e);
    let v = this.eval(first, scope);
    for (const l of links) {
      if (l.kind === "Pipe") {
        const piped: ArgValue = { value: v, span: l.right.span };
        v =
          l.right.kind === "Ident"
            ? this.evalCall(l.right, [], piped, l.right.span, scope)
            : this.evalCall(l.right.callee, l.right.args, piped, l.right.span, scope);
        continue;
      }
      const r = this.eval(l.right, scope);
      v =
        v.kind === "error" || r.kind === "error"
          ? ERR
          : this.binary(l.op, v, r, l.opSpan, l.left.span, l.right.span);
    }
    return v;
  }

  binary(
    op: ast.BinaryOp,
    l: Value,
    r: Value,
    opSpan: Span,
    leftSpan: Span,
    rightSpan: Span,
  ): Value {
    const span = joinSpans(leftSpan, rightSpan);
    // Compile-time arithmetic.
    const folded = this.fold(op, l, r, opSpan);
    if (folded) return folded;
    if (op === "@") {
      const a = this.toTensor(l, leftSpan, "'@'");
      const b = this.toTensor(r, rightSpan, "'@'");
      if (!a || !b) return ERR;
      return this.matmul(a, b, span);
    }
    if ((l.kind === "bool" || r.kind === "bool") && (op === "==" || op === "!=")) {
      if (l.kind === "bool" && r.kind === "bool")
        return bool(op === "==" ? l.value === r.value : l.value !== r.value);
    }
    if (l.kind === "string" && r.kind === "string" && (op === "==" || op === "!=")) {
      return bool(op === "==" ? l.value === r.value : l.value !== r.value);
    }
    const info = binaryNames[op]!;
    const a = this.toTensor(l, leftSpan, `'${op}'`);
    const b = this.toTensor(r, rightSpan, `'${op}'`);
    if (!a || !b) return ERR;
    return this.binaryPrim(info.prim, info.verb, a, b, span, leftSpan, rightSpan);
  }

  private fold(op: ast.BinaryOp, l: Value, r: Value, span: Span): Value | null {
    const num = (v: Value): Dim | null =>
      v.kind === "int" ? v.value : v.kind === "float" ? v.value : null;
    const a = num(l);
    const b = num(r);
    if (a === null || b === null) return null;
    const ints = l.kind === "int" && r.kind === "int";
    if (typeof a !== "number" || typeof b !== "number") {
      if (!ints) return null;
      // Symbolic dimensions: products and exact quotients stay symbolic.
      if (op === "*") return int(dimMul(a, b));
      if (op === "+" || op === "-") return int(`(${a}${op}${b})`);
      if (op === "==") return bool(dimEq(a, b));
      if (op === "!=") return bool(!dimEq(a, b));
      return this.report("NN2033", span, {
        what: `'${op}' on the symbolic dimension ${typeof a === "number" ? b : a}`,
        why: "its value is not known until the program runs",
      });
    }
    const arith = (x: number): Value => (ints && Number.isInteger(x) ? int(x) : float(x));
    switch (op) {
      case "+":
        return arith(a + b);
      case "-":
        return arith(a - b);
      case "*":
        return arith(a * b);
      case "/":
        if (b === 0) return this.report("NN2026", span);
        return float(a / b);
      case "^":
        return ints && b >= 0 ? int(a ** b) : float(a ** b);
      case "<":
        return bool(a < b);
      case ">":
        return bool(a > b);
      case "<=":
        return bool(a <= b);
      case ">=":
        return bool(a >= b);
      case "==":
        return bool(a === b);
      case "!=":
        return bool(a !== b);
      case "@":
        return null;
    }
  }

  matmul(a: TensorValue, b: TensorValue, span: Span): Value {
    const sa = this.sampleShape(a);
    const sb = this.sampleShape(b);
    const fa = this.b.shape(a.node);
    const fb = this.b.shape(b.node);
    if (
      fa.length < 2 ||
      fb.length < 2 ||
      (a.batched && b.batched && (sa.length < 2 || sb.length < 2))
    ) {
      return this.report("NN2012", span, {
        op: "@",
        detail: `needs matrices, found ${formatShape(sa)} @ ${formatShape(sb)}`,
      });
    }
    const ka = fa[fa.length - 1]!;
    const kb = fb[fb.length - 2]!;
    if (!dimEq(ka, kb)) {
      return this.report("NN2011", span, {
        left: formatShape(sa),
        right: formatShape(sb),
        a: ka,
        b: kb,
      });
    }
    return this.tensor(
      this.prim("matmul", [a.node, b.node], { transA: false, transB: false }, span),
      a.batched || b.batched,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Calls

  paramList(fn: Fn): readonly { name: string; optional: boolean }[] {
    switch (fn.kind) {
      case "block":
        return fn.decl.params.map((p) => ({ name: p.name.name, optional: p.default !== null }));
      case "optimizer":
        return fn.decl.params.map((p) => ({ name: p.name.name, optional: true }));
      case "builtin":
        return fn.builtin.params;
    }
  }

  evalCall(
    callee: ast.Ident,
    args: readonly ast.Arg[],
    piped: ArgValue | null,
    span: Span,
    scope: Scope,
  ): Value {
    const f = this.lookup(callee.name, scope);
    const positional: ArgValue[] = piped ? [piped] : [];
    const named = new Map<string, ArgValue>();
    let bad = false;
    for (const a of args) {
      const value = this.eval(a.value, scope);
      if (a.name) {
        if (named.has(a.name.name)) {
          this.report("NN2005", a.name.span, { name: a.name.name });
          bad = true;
        }
        named.set(a.name.name, { value, span: a.value.span, nameSpan: a.name.span });
      } else positional.push({ value, span: a.value.span });
    }
    if (!f) return this.unknown(callee, scope);
    if (f.kind === "error") return ERR;
    if (f.kind !== "fn") {
      const b = scope.find(callee.name);
      const frame = this.frames[this.frames.length - 1];
      if (b?.kind === "arg" && b.argSpan && frame) {
        return this.report("NN2009", b.argSpan, {
          callee: frame.name,
          param: callee.name,
          expected: "a function (a block such as relu)",
          found: f.kind === "tensor" ? "a tensor" : describe(f),
        });
      }
      return this.report("NN2002", callee.span, { name: callee.name, what: describe(f) });
    }
    if (bad) return ERR;
    return this.call(f, { positional, named }, span);
  }

  /** Applies a function value to more arguments; runs it when every required one is given. */
  call(f: FnValue, more: BoundArgs, span: Span): Value {
    const params = this.paramList(f.fn);
    const name = fnName(f.fn);
    const positional = [...f.args.positional];
    const named = new Map(f.args.named);
    if (f.args.named.size === 0) positional.push(...more.positional);
    else {
      // Arguments of a later call fill the parameters a partial application left unset.
      const free = params.slice(positional.length).filter((p) => !named.has(p.name));
      more.positional.forEach((a, i) => {
        const p = free[i];
        if (p) named.set(p.name, a);
        else positional.push(a);
      });
    }
    if (positional.length > params.length) {
      const extra = positional[params.length]!;
      return this.report("NN2006", extra.span, {
        callee: name,
        max: params.length,
        count: positional.length,
      });
    }
    for (const [k, v] of more.named) {
      const i = params.findIndex((p) => p.name === k);
      if (i < 0) {
        return this.report("NN2004", v.nameSpan ?? v.span, {
          callee: name,
          name: k,
          hint: didYouMean(
            k,
            params.map((p) => p.name),
          ),
        });
      }
      if (named.has(k) || i < positional.length) {
        return this.report("NN2005", v.nameSpan ?? v.span, { name: k });
      }
      named.set(k, v);
    }
    const args: BoundArgs = { positional, named };
    const bound = new Map<string, ArgValue>();
    positional.forEach((a, i) => bound.set(params[i]!.name, a));
    for (const [k, v] of named) bound.set(k, v);
    const complete = params.every((p) => p.optional || bound.has(p.name));
    if (!complete || f.fn.kind === "optimizer") return { kind: "fn", fn: f.fn, args, span };
    for (const a of bound.values()) if (a.value.kind === "error") return ERR;
    switch (f.fn.kind) {
      case "builtin":
        return this.callBuiltin(f.fn.builtin, bound, span);
      case "block":
        return this.callBlock(f.fn.decl, bound, span);
    }
  }

  private topLevel(): LayerScope | null {
    const l = this.layers[this.layers.length - 1];
    return l && l.rows && this.frames.length === l.frameDepth ? l : null;
  }

  /** The next free Keras-style name for `base` (`dense`, `dense_1`, ...), unique in the scope. */
  private allocName(scope: LayerScope, base: string): string {
    let n = scope.counters.get(base) ?? 0;
    let name = n === 0 ? base : `${base}_${n}`;
    while (scope.counters.has(`=${name}`)) name = `${base}_${++n}`;
    scope.counters.set(base, n + 1);
    scope.counters.set(`=${name}`, 1);
    return name;
  }

  private countVars(from: number): { params: Dim; state: Dim } {
    let params: Dim = 0;
    let state: Dim = 0;
    for (const v of this.b.variables.slice(from)) {
      const n = numel(v.shape);
      if (v.kind === "param") params = addDims(params, n);
      else state = addDims(state, n);
    }
    return { params, state };
  }

  private callBuiltin(bi: Builtin, bound: Map<string, ArgValue>, span: Span): Value {
    const top = this.topLevel();
    const rowName = top && bi.layerLike ? this.allocName(top, bi.name) : null;
    const v = bi.apply(this, bound, span);
    if (top && rowName && v.kind === "tensor") {
      top.rows!.push({
        name: rowName,
        kind: bi.name,
        shape: this.sampleShape(v),
        params: 0,
        nonTrainable: 0,
        span,
      });
    }
    return v;
  }

  callBlock(
    decl: Exclude<Decl, ast.OptimizerDecl>,
    bound: ReadonlyMap<string, ArgValue>,
    span: Span,
    rows: LayerRow[] | null = null,
  ): Value {
    const name = decl.name.name;
    if (this.frames.some((f) => f.decl === decl)) return this.report("NN2025", span, { name });
    if (this.frames.length >= maxCallDepth) {
      return this.report("NN2038", span, { name, max: maxCallDepth });
    }
    const file = this.program.fileOf.get(decl)!;
    const top = this.topLevel();
    const outer = this.layers[this.layers.length - 1];
    const isModel = decl.kind === "Model";
    const isLayer = !isModel && declaresVariables(decl.body);
    const rowName = top ? this.allocName(top, name) : null;
    const layerName = isLayer ? (rowName ?? (outer ? this.allocName(outer, name) : name)) : null;
    const varsBefore = this.b.variables.length;

    this.frames.push({ name, decl, callSpan: span, file });
    let pushedLayer = false;
    if (isModel) {
      const prefix = outer ? `${outer.prefix}${rowName ?? name}/` : this.modelPrefix(name);
      this.layers.push({
        prefix,
        counters: new Map(),
        rows,
        frameDepth: this.frames.length,
        layer: null,
      });
      pushedLayer = true;
    } else if (layerName !== null) {
      const prefix = outer ? outer.prefix : "";
      this.layers.push({
        prefix: `${prefix}${layerName}/`,
        counters: new Map(),
        rows: null,
        frameDepth: -1,
        layer: `${prefix}${layerName}`,
      });
      pushedLayer = true;
    }
    let result: Value = ERR;
    let leading: Shape = [];
    try {
      const scope = new Scope(null, file);
      let ok = true;
      for (const p of decl.params) {
        const a = bound.get(p.name.name);
        const raw = a ? a.value : p.default ? this.eval(p.default, scope) : ERR;
        const v = this.bindParam(decl, p, raw, a ? a.span : span, scope);
        if (v.value.kind === "error") ok = false;
        if (v.leading && leading.length === 0) leading = v.leading;
        scope.set(p.name.name, v.value, "arg");
        if (a) scope.vars.get(p.name.name)!.argSpan = a.span;
      }
      if (ok) {
        result = this.evalBody(decl.body, scope, `${isModel ? "model" : decl.role} ${name}`);
        if (decl.result && result.kind !== "error") result = this.checkResult(decl, result, scope);
      }
    } finally {
      if (pushedLayer) this.layers.pop();
      this.frames.pop();
    }
    if (result.kind === "tensor" && !isModel) {
      const origin: Origin = { callee: name, span, text: this.text(span), leading };
      result = { ...result, origin };
    }
    if (top && rowName && result.kind === "tensor") {
      const c = this.countVars(varsBefore);
      top.rows!.push({
        name: rowName,
        kind: isModel ? `model ${name}` : name,
        shape: this.sampleShape(result),
        params: c.params,
        nonTrainable: c.state,
        span,
      });
    }
    return result;
  }

  /** Binds one parameter: checks a declared type and binds shape names into `scope`. */
  bindParam(
    decl: Decl,
    p: ast.ParamSig,
    v: Value,
    span: Span,
    scope: Scope,
  ): { value: Value; leading?: Shape } {
    if (v.kind === "error" || !p.type) return { value: v };
    const callee = decl.name.name;
    if (p.type.kind === "ScalarType") {
      const t = p.type.name.name;
      const ok =
        (t === "int" && v.kind === "int") ||
        (t === "float" && (v.kind === "float" || v.kind === "int")) ||
        (t === "bool" && v.kind === "bool") ||
        (t === "string" && v.kind === "string");
      if (!["int", "float", "bool", "string"].includes(t)) {
        return {
          value: this.report("NN2014", p.type.span, {
            name: t,
            hint: didYouMean(t, ["int", "float", "bool", "string"]),
          }),
        };
      }
      if (!ok) {
        if (v.kind === "fn" && this.reportMissing(v)) return { value: ERR };
        const found =
          v.kind === "tensor" ? `a tensor ${formatShape(this.sampleShape(v))}` : describe(v);
        return {
          value: this.report("NN2009", span, {
            callee,
            param: p.name.name,
            expected: `${t === "int" ? "an" : "a"} ${t}`,
            found,
          }),
        };
      }
      if (t === "float" && v.kind === "int" && typeof v.value === "number")
        return { value: float(v.value) };
      return { value: v };
    }
    // Tensor type.
    if (v.kind === "int" || v.kind === "float") {
      // A number stands for a tensor filled with it.
      return { value: this.constant(Number(v.value), span) };
    }
    const t = this.toTensor(v, span, `${callee}'s ${p.name.name}`);
    if (!t) return { value: ERR };
    const m = this.matchShape(p.type, this.sampleShape(t), scope);
    if (!m.ok) {
      const found = formatShape(this.sampleShape(t));
      const notes: Note[] = [];
      if (m.detail) notes.push({ message: m.detail });
      this.report(
        "NN2008",
        span,
        { callee, param: p.name.name, expected: this.typeText(p.type, scope), found },
        notes,
      );
      return { value: ERR };
    }
    const want: DType = p.type.dtype?.name === "int" ? "i32" : "f32";
    if (this.dtype(t) !== want) {
      this.report("NN2009", span, {
        callee,
        param: p.name.name,
        expected: want === "i32" ? "an int tensor" : "a float tensor",
        found: this.dtype(t) === "i32" ? "an int tensor" : "a float tensor",
      });
      return { value: ERR };
    }
    return { value: t, leading: m.leading };
  }

  /** The text of a type with bound names replaced by their values: `[..., 5408]`. */
  typeText(t: ast.TensorTypeExpr, scope: Scope | null): string {
    const dims = t.dims.map((d) => {
      if (d.kind === "Ellipsis") return "...";
      if (d.kind === "Ident" && scope) {
        const b = scope.find(d.name);
        if (b && b.value.kind === "int") return String(b.value.value);
      }
      return this.text(d.span);
    });
    return `[${dims.join(", ")}]${t.dtype ? ` ${t.dtype.name}` : ""}`;
  }

  /** Matches a per-sample shape against a declared tensor type, binding new names in scope. */
  matchShape(
    t: ast.TensorTypeExpr,
    actual: Shape,
    scope: Scope,
  ): { ok: boolean; leading?: Shape; detail?: string } {
    const ell = t.dims.findIndex((d) => d.kind === "Ellipsis");
    const fixed = t.dims.length - (ell >= 0 ? 1 : 0);
    if (ell < 0 ? actual.length !== fixed : actual.length < fixed) {
      return {
        ok: false,
        detail: `expected ${ell < 0 ? "" : "at least "}${fixed} ${fixed === 1 ? "axis" : "axes"}, found ${actual.length}`,
      };
    }
    const extra = actual.length - fixed;
    const leading = ell >= 0 ? actual.slice(ell, ell + extra) : [];
    const pending: [string, Dim][] = [];
    let j = 0;
    for (const d of t.dims) {
      if (d.kind === "Ellipsis") {
        j += extra;
        continue;
      }
      const got = actual[j++]!;
      if (d.kind === "Ident" && !scope.find(d.name) && !pending.some(([n]) => n === d.name)) {
        pending.push([d.name, got]);
        continue;
      }
      let want: Value | undefined;
      if (d.kind === "Ident") {
        const p = pending.find(([n]) => n === d.name);
        want = p ? int(p[1]) : scope.find(d.name)!.value;
      } else want = this.eval(d, scope);
      if (want.kind === "error") return { ok: false };
      if (want.kind !== "int")
        return {
          ok: false,
          detail: `the dimension ${this.text(d.span)} is ${describe(want)}, not an int`,
        };
      if (!dimEq(this.dim(want.value), this.dim(got))) {
        return {
          ok: false,
          detail:
            d.kind === "Ident"
              ? `${d.name} is ${want.value} here, but this axis is ${got}`
              : undefined,
        } as { ok: boolean; detail?: string };
      }
    }
    for (const [n, d] of pending) scope.set(n, int(d), "dim");
    return { ok: true, leading };
  }

  private checkResult(decl: Exclude<Decl, ast.OptimizerDecl>, v: Value, scope: Scope): Value {
    const rt = decl.result!;
    const kind = decl.kind === "Model" ? "model" : decl.role;
    if (rt.kind === "ScalarType") return v;
    const t = this.toTensor(
      v,
      decl.body.result?.span ?? decl.body.span,
      `${kind} ${decl.name.name}'s result`,
    );
    if (!t) return ERR;
    const shape = this.sampleShape(t);
    const m = this.matchShape(rt, shape, new Scope(scope, scope.file));
    if (!m.ok) {
      const notes: Note[] = [];
      const o = t.origin;
      if (o && o.leading.length > 0 && rt.dims.length < shape.length) {
        notes.push({
          message: `${o.text} acts on the last axis only; did you forget \`|> flatten\` before it?`,
          span: o.span,
        });
      }
      this.report(
        "NN2013",
        rt.span,
        {
          kind,
          name: decl.name.name,
          expected: this.typeText(rt, scope),
          found: formatShape(shape),
        },
        notes,
      );
      return ERR;
    }
    return t;
  }

  // -------------------------------------------------------------------------------------------
  // Variables

  /** The current layer: the innermost layer block, or the model itself. */
  private currentLayer(): string {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      if (l.layer) return l.layer;
    }
    const frame = this.frames[this.frames.length - 1];
    const top = this.layers[this.layers.length - 1];
    return `${top?.prefix ?? ""}${frame?.name ?? "model"}`;
  }

  /**
   * A declared shape's dimensions; `what` names the declaration in messages, `noun` (default
   * `what`) in the one for a dimension below 1, so that a layer's parameters share it. With
   * `symbols` (a model input's type), a name not in scope is declared there as a symbolic
   * dimension instead of being an error.
   */
  evalShape(
    t: ast.TensorTypeExpr,
    scope: Scope,
    what: string,
    noun = what,
    symbols = false,
  ): Shape | null {
    const shape: Dim[] = [];
    for (const d of t.dims) {
      if (d.kind === "Ellipsis") {
        this.report("NN2032", d.span);
        return null;
      }
      if (d.kind === "Ident" && !this.lookup(d.name, scope)) {
        if (symbols) {
          scope.set(d.name, int(d.name), "dim");
          shape.push(this.dim(d.name));
          continue;
        }
        this.report("NN2015", d.span, { name: d.name, what });
        return null;
      }
      const v = this.eval(d, scope);
      if (v.kind === "error") return null;
      if (v.kind !== "int") {
        this.report("NN2007", d.span, {
          what: "a dimension",
          expected: "an int",
          found: describe(v),
        });
        return null;
      }
      if (typeof v.value === "number" && v.value < 1) {
        this.report("NN2036", d.span, { what: noun, value: v.value });
        return null;
      }
      shape.push(this.dim(v.value));
    }
    return shape;
  }

  private declareVariable(s: ast.ParamDecl | ast.StateDecl, scope: Scope): void {
    const kind = s.kind === "Param" ? "param" : "state";
    const noun = kind === "param" ? "a parameter" : "a state variable";
    const shape = this.evalShape(s.type, scope, `${kind} ${s.name.name}`, noun);
    if (!shape) {
      scope.set(s.name.name, ERR, kind);
      return;
    }
    const dtype: DType = s.type.dtype?.name === "int" ? "i32" : "f32";
    const init = s.init
      ? this.initSpec(s.init, shape, scope, `${kind} ${s.name.name}`)
      : { dist: "constant" as const, value: 0 };
    if (!init) {
      scope.set(s.name.name, ERR, kind);
      return;
    }
    const layer = this.currentLayer();
    const name = `${layer}.${s.name.name}`;
    const site = this.userFrame(s.span)?.callSpan;
    const v: Variable = {
      name,
      kind,
      shape,
      dtype,
      init,
      layer,
      span: s.span,
      ...(site ? { site } : {}),
    };
    const earlier = this.b.variables.find((x) => x.name === name);
    if (earlier && formatShape(earlier.shape) !== formatShape(shape)) {
      this.report("NN2034", s.type.span, {
        name,
        shape: formatShape(shape),
        earlier: formatShape(earlier.shape),
      });
      scope.set(s.name.name, ERR, kind);
      return;
    }
    const node = this.b.variable(v);
    scope.set(s.name.name, { kind: "tensor", node, batched: false }, kind, name);
  }

  /**
   * Evaluates an initializer expression for a variable of `shape`; `what` names the variable in
   * the message for an initializer given another shape (`ones([3])`).
   */
  initSpec(e: ast.Expr, shape: Shape, scope: Scope, what: string): InitSpec | null {
    let v = this.eval(e, scope);
    if (v.kind === "fn" && v.fn.kind !== "optimizer") {
      const params = this.paramList(v.fn);
      const given = this.bindNames(params, v.args);
      const symbol = shape.find((d) => typeof d === "string");
      if (symbol !== undefined && params.some((p) => p.name === "shape")) {
        this.report("NN2035", e.span, { shape: formatShape(shape), dim: symbol });
        return null;
      }
      const more = new Map<string, ArgValue>();
      if (params.some((p) => p.name === "shape") && !given.has("shape")) {
        more.set("shape", {
          value: { kind: "list", items: shape.map((d) => int(d)) },
          span: e.span,
        });
      }
      v = this.call(v, { positional: [], named: more }, e.span);
    }
    switch (v.kind) {
      case "error":
        return null;
      case "int":
      case "float":
        if (typeof v.value === "number") return { dist: "constant", value: v.value };
        break;
      case "init":
        if (v.shape && !shapeEq(v.shape, shape)) {
          this.report("NN2007", e.span, {
            what,
            expected: `an initializer of shape ${formatShape(shape)}`,
            found: `one of shape ${formatShape(v.shape)}`,
          });
          return null;
        }
        return v.spec;
      case "fn":
        if (this.reportMissing(v)) return null;
        break;
      default:
        break;
    }
    this.report("NN2021", e.span, { found: describe(v) });
    return null;
  }

  // -------------------------------------------------------------------------------------------
  // Scan

  private evalScan(e: ast.Scan, scope: Scope): Value {
    const ov = this.eval(e.over, scope);
    const over = this.toTensor(ov, e.over.span, "scan");
    if (!over) return ERR;
    const ps = this.sampleShape(over);
    if (ps.length === 0) {
      return this.report("NN2007", e.over.span, {
        what: "scan",
        expected: "a sequence [T, ...]",
        found: "a scalar",
      });
    }
    const axis = over.batched ? 1 : 0;
    const full = this.b.shape(over.node);
    const len = this.dim(ps[0]!);
    const inner = new Scope(scope, scope.file);
    const carryShapes = new Map<string, Shape>();
    for (const c of e.carries) {
      const v = this.eval(c.init, scope);
      let t = this.toTensor(v, c.init.span, `carry ${c.name.name}`);
      if (!t) return ERR;
      if (over.batched && !t.batched) {
        const shape = [full[0]!, ...this.b.shape(t.node)];
        t = {
          kind: "tensor",
          node: this.b.add("broadcast_to", [t.node], { shape }, c.span),
          batched: true,
        };
      }
      carryShapes.set(c.name.name, this.b.shape(t.node));
      inner.set(c.name.name, t, "carry");
    }
    // Lowering unrolls every step; checking (symbolic batch) elaborates one representative step.
    const steps = typeof len === "number" && typeof this.batch === "number" ? len : 1;
    const top = this.layers[this.layers.length - 1];
    const counters = top ? new Map(top.counters) : null;
    const results: number[] = [];
    let resultBatched = false;
    for (let i = 0; i < steps; i++) {
      if (top && counters) {
        top.counters.clear();
        for (const [k, n] of counters) top.counters.set(k, n);
      }
      const starts = full.map((_, k) => (k === axis ? i : 0));
      const sizes = full.map((d, k) => (k === axis ? 1 : d));
      const sl = this.b.add("slice", [over.node], { starts, sizes }, e.over.span);
      const item = this.b.add(
        "reshape",
        [sl],
        { shape: full.filter((_, k) => k !== axis) },
        e.over.span,
      );
      const body = new Scope(inner, scope.file);
      body.set(e.item.name, { kind: "tensor", node: item, batched: over.batched }, "item");
      const r = this.evalBody(e.body, body, "scan");
      for (const [name, before] of carryShapes) {
        const b = inner.vars.get(name)!;
        if (b.value.kind !== "tensor") return ERR;
        const after = this.b.shape(b.value.node);
        if (formatShape(after) !== formatShape(before)) {
          const strip = (s: Shape) => (over.batched ? s.slice(1) : s);
          return this.report("NN2024", e.span, {
            what: "scan carry",
            name,
            before: formatShape(strip(before)),
            after: formatShape(strip(after)),
          });
        }
      }
      const t = this.toTensor(r, e.body.result?.span ?? e.body.span, "scan's result");
      if (!t) return ERR;
      resultBatched = t.batched;
      results.push(t.node);
    }
    // Stack the per-step results on the sequence axis.
    const rs = this.b.shape(results[0]!);
    const raxis = resultBatched ? 1 : 0;
    const one = [...rs.slice(0, raxis), 1, ...rs.slice(raxis)];
    const pieces = results.map((n) => this.b.add("reshape", [n], { shape: one }, e.span));
    let out: number;
    if (typeof len === "number" && pieces.length === len) {
      out =
        pieces.length === 1 ? pieces[0]! : this.b.add("concat", pieces, { axis: raxis }, e.span);
    } else {
      const shape = [...rs.slice(0, raxis), len, ...rs.slice(raxis)];
      out = this.b.add("broadcast_to", [pieces[0]!], { shape }, e.span);
    }
    return { kind: "tensor", node: out, batched: resultBatched };
  }
}

function addDims(a: Dim, b: Dim): Dim {
  return typeof a === "number" && typeof b === "number" ? a + b : `${a}+${b}`;
}

/** Whether a body declares `param` or `state` (directly or in nested if/scan bodies). */
export function declaresVariables(body: ast.Body): boolean {
  const inExpr = (e: ast.Expr | null): boolean => {
    if (!e) return false;
    switch (e.kind) {
      case "If":
        return declaresVariables(e.then) || (e.else !== null && declaresVariables(e.else));
      case "Scan":
        return declaresVariables(e.body);
      case "Paren":
        return inExpr(e.inner);
      case "Binary":
      case "Pipe": {
        const { first, links } = leftChain(e);
        return (
          inExpr(first) ||
          links.some((l) =>
            l.kind === "Binary"
              ? inExpr(l.right)
              : l.right.kind === "Call" && l.right.args.some((a) => inExpr(a.value)),
          )
        );
      }
      case "Unary":
        return inExpr(e.operand);
      case "Call":
        return e.args.some((a) => inExpr(a.value));
      default:
        return false;
    }
  };
  return (
    body.stmts.some(
      (s) =>
        s.kind === "Param" ||
        s.kind === "State" ||
        ((s.kind === "Let" || s.kind === "Assign") && inExpr(s.value)),
    ) || inExpr(body.result)
  );
}
