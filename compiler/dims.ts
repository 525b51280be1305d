/**
 * @file Dimension arithmetic. A dimension is a number, or a symbol (`"T"`, `"batch"`), or a
 * product of symbols and a number written canonically (`"64*T"`). Symbolic dimensions let the
 * checker verify shapes for every batch size and sequence length at once; instantiated graphs
 * that run on a device have numbers only.
 */

export type Dim = number | string;
export type Shape = readonly Dim[];

interface Product {
  coef: number;
  syms: string[]; // sorted
}

function toProduct(d: Dim): Product {
  if (typeof d === "number") return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const f of d.split("*")) {
    if (/^\d+$/.test(f)) coef *= Number(f);
    else syms.push(f);
  }
  return { coef, syms: syms.sort() };
}

function fromProduct(p: Product): Dim {
  if (p.syms.length === 0) return p.coef;
  if (p.coef === 0) return 0;
  return p.coef === 1 ? p.syms.join("*") : `${p.coef}*${p.syms.join("*")}`;
}

export function dimMul(a: Dim, b: Dim): Dim {
  const pa = toProduct(a);
  const pb = toProduct(b);
  return fromProduct({ coef: pa.coef * pb.coef, syms: [...pa.syms, ...pb.syms].sort() });
}

/** a / b when it divides exactly (symbols cancel), else undefined. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const pa = toProduct(a);
  const pb = toProduct(b);
  if (pb.coef === 0 || pa.coef % pb.coef !== 0) return undefined;
  const syms = [...pa.syms];
  for (const s of pb.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  return fromProduct({ coef: pa.coef / pb.coef, syms });
}

export function dimEq(a: Dim, b: Dim): boolean {
  return fromProduct(toProduct(a)) === fromProduct(toProduct(b));
}

export function isConcrete(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

export function numel(shape: Shape): Dim {
  return shape.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** The symbols a dimension is a product of (none for a number). */
export function symbolsOf(d: Dim): string[] {
  return toProduct(d).syms;
}

/** Replaces symbols by numbers where `bindings` has them. */
export function substitute(d: Dim, bindings: ReadonlyMap<string, number>): Dim {
  const p = toProduct(d);
  let coef = p.coef;
  const syms: string[] = [];
  for (const s of p.syms) {
    const v = bindings.get(s);
    if (v === undefined) syms.push(s);
    else coef *= v;
  }
  return fromProduct({ coef, syms });
}
