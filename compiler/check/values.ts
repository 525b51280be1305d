/**
 * @file The values the checker computes while it elaborates `.nn` code. Compile-time values
 * (ints, which may be symbolic dimensions, floats, bools, strings, lists, records) fold as they
 * are computed; tensors are node ids in the shared GraphBuilder, with a flag saying whether they
 * carry the implicit batch axis (axis 0). Functions (blocks, losses, models, optimizers and
 * built-ins) are values too, possibly partially applied: a call that leaves a required parameter
 * unset makes a partial function, and the missing argument is reported only if the value is
 * then used as something other than a function. `error` poisons a value after a diagnostic so
 * that one mistake does not cascade into many.
 */
import type { BlockDecl, ModelDecl, OptimizerDecl } from "../ast.js";
import { type Dim, type Shape, formatShape } from "../dims.js";
import type { InitSpec } from "../primitives.js";
import type { Span } from "../source.js";
import type { Builtin } from "./builtins.js";
import type { DataSpec } from "../../runtime/program.js";

/** Where a tensor came from: the last block call that produced it (for hints). */
export interface Origin {
  readonly callee: string;
  readonly span: Span;
  readonly text: string;
  /** Leading axes a `[..., n]` parameter matched (non-empty: the block acted on the last axis). */
  readonly leading: Shape;
}

export type Fn =
  | { readonly kind: "block"; readonly decl: BlockDecl | ModelDecl }
  | { readonly kind: "optimizer"; readonly decl: OptimizerDecl }
  | { readonly kind: "builtin"; readonly builtin: Builtin };

export interface ArgValue {
  readonly value: Value;
  readonly span: Span;
  readonly nameSpan?: Span;
}

export interface BoundArgs {
  readonly positional: readonly ArgValue[];
  readonly named: ReadonlyMap<string, ArgValue>;
}

export const noArgs: BoundArgs = { positional: [], named: new Map() };

/** A train block's data source: the program's DataSpec, as the runtime reads it. */
export type DataSource = DataSpec;

export type Value =
  | { readonly kind: "error" }
  | { readonly kind: "int"; readonly value: Dim }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "list"; readonly items: readonly Value[] }
  | { readonly kind: "record"; readonly fields: ReadonlyMap<string, Value> }
  | {
      readonly kind: "tensor";
      readonly node: number;
      readonly batched: boolean;
      readonly origin?: Origin;
    }
  | { readonly kind: "init"; readonly spec: InitSpec; readonly shape: Shape | null }
  | { readonly kind: "fn"; readonly fn: Fn; readonly args: BoundArgs; readonly span: Span }
  | { readonly kind: "data"; readonly source: DataSource }
  | {
      readonly kind: "augment";
      readonly name: string;
      readonly args: Readonly<Record<string, number>>;
    };

export type TensorValue = Extract<Value, { kind: "tensor" }>;
export type FnValue = Extract<Value, { kind: "fn" }>;

export const ERR: Value = { kind: "error" };

export function int(value: Dim): Value {
  return { kind: "int", value };
}
export function float(value: number): Value {
  return { kind: "float", value };
}
export function bool(value: boolean): Value {
  return { kind: "bool", value };
}
export function str(value: string): Value {
  return { kind: "string", value };
}

export function fnName(fn: Fn): string {
  switch (fn.kind) {
    case "block":
    case "optimizer":
      return fn.decl.name.name;
    case "builtin":
      return fn.builtin.name;
  }
}

/** What a function is, in words: "block dense", "model Mnist", "optimizer adam". */
export function fnKind(fn: Fn): string {
  switch (fn.kind) {
    case "block":
      return fn.decl.kind === "Model" ? "model" : fn.decl.role;
    case "optimizer":
      return "optimizer";
    case "builtin":
      return fn.builtin.role ?? "function";
  }
}

/** A short description of a value's kind for "expected X, found Y" messages. */
export function describe(v: Value, shapeOf?: (t: TensorValue) => Shape): string {
  switch (v.kind) {
    case "error":
      return "an error";
    case "int":
      return `the int ${v.value}`;
    case "float":
      return `the number ${v.value}`;
    case "bool":
      return `the bool ${v.value}`;
    case "string":
      return `the string "${v.value}"`;
    case "list":
      return "a list";
    case "record":
      return "a record";
    case "tensor":
      return shapeOf ? `a tensor ${formatShape(shapeOf(v))}` : "a tensor";
    case "init":
      return "an initializer";
    case "fn":
      return `${fnKind(v.fn)} ${fnName(v.fn)}`;
    case "data":
      return "a data source";
    case "augment":
      return `the augmentation ${v.name}`;
  }
}
