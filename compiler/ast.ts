/**
 * @file The AST of a `.nn` module: plain, immutable, tagged objects with a span on every node.
 * The parser (grammar/to-ast.ts) builds it; the checker reads it and writes its results into side
 * tables, never onto the nodes. The grammar these types mirror is in docs/language.md.
 */
import type { Span } from "./source.js";

export interface Node {
  readonly span: Span;
}

export interface Ident extends Node {
  readonly kind: "Ident";
  readonly name: string;
}

// ---------------------------------------------------------------------------------------------
// Module and items

export interface Module extends Node {
  readonly kind: "Module";
  readonly path: string;
  readonly items: readonly Item[];
}

export type Item = Import | ModelDecl | BlockDecl | OptimizerDecl | TrainDecl;

/** `import "relative/path.nn"` */
export interface Import extends Node {
  readonly kind: "Import";
  readonly path: StringLit;
}

/** `model Name(input: [28, 28, 1], ...) -> [10] { body }` */
export interface ModelDecl extends Node {
  readonly kind: "Model";
  readonly name: Ident;
  readonly params: readonly ParamSig[];
  readonly result: TypeExpr | null;
  readonly body: Body;
}

/**
 * `block name(x: [..., n], units: int, activation = identity) -> [..., units] { body }`
 * and `loss name(pred: [n], target: [n]) { body }`: a loss is a block whose role is declared.
 */
export interface BlockDecl extends Node {
  readonly kind: "Block";
  readonly role: "block" | "loss";
  readonly name: Ident;
  readonly params: readonly ParamSig[];
  readonly result: TypeExpr | null;
  readonly body: Body;
}

/**
 * ```
 * optimizer adam(lr = 0.001, beta1 = 0.9) {
 *   state m = zeros, v = zeros
 *   update(p, g, t) { m = beta1 * m + (1 - beta1) * g; ...; p - lr * m }
 * }
 * ```
 */
export interface OptimizerDecl extends Node {
  readonly kind: "Optimizer";
  readonly name: Ident;
  readonly params: readonly ParamSig[];
  readonly state: readonly StateInit[];
  readonly update: UpdateRule;
}

/** `m = zeros` inside an optimizer's `state` line. */
export interface StateInit extends Node {
  readonly kind: "StateInit";
  readonly name: Ident;
  readonly init: Expr;
}

export interface UpdateRule extends Node {
  readonly kind: "UpdateRule";
  readonly params: readonly Ident[]; // (p, g, t)
  readonly body: Body;
}

/** `train Name [: Model] { entries }` */
export interface TrainDecl extends Node {
  readonly kind: "Train";
  readonly name: Ident;
  readonly model: Ident | null;
  readonly entries: readonly TrainEntry[];
}

export type TrainEntry = Setting | NoiseDecl | StepDecl;

/** `key = expr`, e.g. `batch = 64`, `optimizer = adam(lr: 1e-3)`. */
export interface Setting extends Node {
  readonly kind: "Setting";
  readonly key: Ident;
  readonly value: Expr;
}

/** `noise z: [64] = normal` */
export interface NoiseDecl extends Node {
  readonly kind: "Noise";
  readonly name: Ident;
  readonly type: TensorTypeExpr;
  readonly init: Expr;
}

/** `step name { settings }` (a GAN has two). */
export interface StepDecl extends Node {
  readonly kind: "Step";
  readonly name: Ident;
  readonly entries: readonly Setting[];
}

// ---------------------------------------------------------------------------------------------
// Signatures and types

/** A parameter of a model, block, loss or optimizer: `name [: type] [= default]`. */
export interface ParamSig extends Node {
  readonly kind: "ParamSig";
  readonly name: Ident;
  readonly type: TypeExpr | null;
  readonly default: Expr | null;
}

export type TypeExpr = TensorTypeExpr | ScalarTypeExpr;

/** `[28, 28, 1]`, `[..., n]`, `[T] int`, `[n, 4 * units]`. The dtype defaults to f32. */
export interface TensorTypeExpr extends Node {
  readonly kind: "TensorType";
  readonly dims: readonly DimExpr[];
  readonly dtype: Ident | null; // `int` or `float` when written
}

export type DimExpr = Ellipsis | Expr;

export interface Ellipsis extends Node {
  readonly kind: "Ellipsis";
}

/** `int`, `float`, `bool`, `string`: the type of a non-tensor parameter. */
export interface ScalarTypeExpr extends Node {
  readonly kind: "ScalarType";
  readonly name: Ident;
}

// ---------------------------------------------------------------------------------------------
// Bodies and statements

/** Statements, then the expression whose value the body produces. */
export interface Body extends Node {
  readonly kind: "Body";
  readonly stmts: readonly Stmt[];
  readonly result: Expr | null; // null only where recovery dropped it, or an update with no result
}

export type Stmt = Let | ParamDecl | StateDecl | Assign;

/** `let y = expr` */
export interface Let extends Node {
  readonly kind: "Let";
  readonly name: Ident;
  readonly value: Expr;
}

/** `param w: [n, units] = glorot_uniform` */
export interface ParamDecl extends Node {
  readonly kind: "Param";
  readonly name: Ident;
  readonly type: TensorTypeExpr;
  readonly init: Expr | null;
}

/** `state mean: [c] = zeros`: non-trained state of a block (batchnorm's running statistics). */
export interface StateDecl extends Node {
  readonly kind: "State";
  readonly name: Ident;
  readonly type: TensorTypeExpr;
  readonly init: Expr | null;
}

/** `m = beta1 * m + (1 - beta1) * g`: updates optimizer state, block state or a scan carry. */
export interface Assign extends Node {
  readonly kind: "Assign";
  readonly target: Ident;
  readonly value: Expr;
}

// ---------------------------------------------------------------------------------------------
// Expressions

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | Ident
  | Call
  | Pipe
  | Binary
  | Unary
  | ListExpr
  | RecordExpr
  | Search
  | If
  | Scan
  | Paren;

/** `3`, `1e-3`, `0.5`, `10deg` (unit kept as written; the checker converts). */
export interface NumberLit extends Node {
  readonly kind: "Number";
  readonly value: number;
  readonly text: string;
  readonly isInt: boolean; // written without '.' or exponent
  readonly unit: string | null;
}

export interface StringLit extends Node {
  readonly kind: "String";
  readonly value: string;
}

export interface BoolLit extends Node {
  readonly kind: "Bool";
  readonly value: boolean;
}

/** `f(a, b, name: c)`; the callee is a name (a block, model, primitive or parameter). */
export interface Call extends Node {
  readonly kind: "Call";
  readonly callee: Ident;
  readonly args: readonly Arg[];
}

export interface Arg extends Node {
  readonly kind: "Arg";
  readonly name: Ident | null; // keyword argument when set
  readonly value: Expr;
}

/** `x |> f` or `x |> f(a)`: means `f(x)` / `f(x, a)`. */
export interface Pipe extends Node {
  readonly kind: "Pipe";
  readonly left: Expr;
  readonly right: Ident | Call;
}

export type BinaryOp = "+" | "-" | "*" | "/" | "^" | "@" | "<" | ">" | "<=" | ">=" | "==" | "!=";

export interface Binary extends Node {
  readonly kind: "Binary";
  readonly op: BinaryOp;
  readonly opSpan: Span;
  readonly left: Expr;
  readonly right: Expr;
}

/**
 * A left-nested chain of binary operators and pipes (`a + b - c`, `x |> f |> g(2)`): its first
 * operand and its links, innermost first. Walkers go down a chain of thousands of terms with a
 * loop over the links rather than a recursion per term.
 */
export function leftChain(e: Binary | Pipe): { first: Expr; links: (Binary | Pipe)[] } {
  const links: (Binary | Pipe)[] = [];
  let first: Expr = e;
  while (first.kind === "Binary" || first.kind === "Pipe") {
    links.push(first);
    first = first.left;
  }
  return { first, links: links.reverse() };
}

export interface Unary extends Node {
  readonly kind: "Unary";
  readonly op: "-" | "not";
  readonly operand: Expr;
}

/** `[a, b, c]`: a list (metrics, freeze, augment) or a shape value (`reshape([28, 28, 1])`). */
export interface ListExpr extends Node {
  readonly kind: "List";
  readonly items: readonly Expr[];
}

/** `{ metric: val_accuracy, patience: 3 }` */
export interface RecordExpr extends Node {
  readonly kind: "Record";
  readonly fields: readonly RecordField[];
}

export interface RecordField extends Node {
  readonly kind: "RecordField";
  readonly name: Ident;
  readonly value: Expr;
}

/** `search [32, 64, 128]`: a hyper-parameter grid axis. */
export interface Search extends Node {
  readonly kind: "Search";
  readonly options: ListExpr;
}

/** `if cond { body } else { body }`; the condition must be known at compile time (or `training`). */
export interface If extends Node {
  readonly kind: "If";
  readonly cond: Expr;
  readonly then: Body;
  readonly else: Body | null;
}

/**
 * `scan xt in x carry h = zeros([units]), c = zeros([units]) { ...; h = ...; h }`:
 * iterates over the first per-sample axis of `x`; assignments update carries; the body's result
 * at each step is stacked into the scan's value (`[T, ...]`).
 */
export interface Scan extends Node {
  readonly kind: "Scan";
  readonly item: Ident;
  readonly over: Expr;
  readonly carries: readonly StateInit[];
  readonly body: Body;
}

/** `( expr )`, kept so the formatter and spans stay faithful. */
export interface Paren extends Node {
  readonly kind: "Paren";
  readonly inner: Expr;
}
