/**
 * @file The canonical printer of `.nn` files (what `nnc fmt` and the Prettier plugin write).
 * It parses, refuses files with syntax errors, and prints the AST: two-space indentation, one
 * blank line between items, at most one blank line kept between statements, settings of a train
 * or step section aligned on `=`, a pipe chain with more than one `|>` (or too long for 100
 * columns) broken one `|>` per line under its head, calls, lists and records broken one item per
 * line when too long. Layout works on lines (`Ln`: text plus the source range it came from);
 * comments are placed while lines are emitted: a comment on its own line stays on its own line
 * before the next line printed from later source, a comment after code on the same line stays
 * after that code. The printer never changes the AST: `parse(format(x))` equals `parse(x)`
 * ignoring spans, and `format(format(x)) === format(x)`.
 */
import type * as ast from "../compiler/ast.js";
import type { Diagnostic } from "../compiler/diagnostics.js";
import { SourceFile } from "../compiler/source.js";
import { type Comment, parseModule } from "./index.js";

const WIDTH = 100;
const INDENT = "  ";

/** One output line: text at an indentation level, printed from source offsets [start, end). */
interface Ln {
  ind: number;
  text: string;
  start: number;
  end: number;
  /** Starts a statement or entry: a blank line from the source may be kept before it. */
  gap?: boolean;
  /** Begins with a closing bracket: comments before it belong one level deeper. */
  closer?: boolean;
}

export type FormatResult = { text: string } | { diagnostics: Diagnostic[] };

/** Formats a `.nn` file; files with syntax errors come back as their diagnostics. */
export function formatModule(text: string, path = "<input>"): FormatResult {
  const file = new SourceFile(path, text);
  const parsed = parseModule(file);
  if (parsed.diagnostics.length > 0) return { diagnostics: parsed.diagnostics };
  return { text: new Printer(text, parsed.comments).module(parsed.module) };
}

function single(ind: number, text: string, start: number, end: number): Ln[] {
  return [{ ind, text, start, end }];
}

/** Joins layouts: the last line of `a`, then `sep`, then the first line of `b`. */
function concat(a: Ln[], sep: string, b: Ln[]): Ln[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const last = a[a.length - 1]!;
  const first = b[0]!;
  const joined: Ln = { ...last, text: last.text + sep + first.text, end: first.end };
  return [...a.slice(0, -1), joined, ...b.slice(1)];
}

function prefix(p: string, lines: Ln[], start: number): Ln[] {
  const [first, ...rest] = lines;
  if (!first) return lines;
  return [{ ...first, text: p + first.text, start: Math.min(start, first.start) }, ...rest];
}

function suffix(lines: Ln[], s: string, end?: number): Ln[] {
  const last = lines[lines.length - 1];
  if (!last) return lines;
  return [...lines.slice(0, -1), { ...last, text: last.text + s, end: end ?? last.end }];
}

function isFlat(lines: Ln[]): boolean {
  return lines.length === 1;
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

class Printer {
  private readonly out: string[] = [];
  /** Output lines that end in a trailing comment: line index -> length of the code before it. */
  private readonly trailers = new Map<number, number>();
  private ci = 0;
  private lastEnd = 0;

  constructor(
    private readonly text: string,
    private readonly comments: readonly Comment[],
  ) {}

  // -------------------------------------------------------------------------------------------
  // Emission and comments

  private hasBlank(from: number, to: number): boolean {
    return to > from && /\n[ \t\r]*\n/.test(this.text.slice(from, to));
  }

  /**
   * Whether `emit` keeps a blank line before a line from `start` to `lineEnd` printed after code
   * that ended at `from`: one in the source before it, or before a comment printed ahead of it
   * (a comment inside the line's code is).
   */
  private blankBefore(from: number, start: number, lineEnd: number): boolean {
    let to = start;
    for (const c of this.comments) {
      if (c.span.start >= from && c.span.start < lineEnd) to = Math.max(to, c.span.start);
    }
    return this.hasBlank(from, to);
  }

  private canBlank(): boolean {
    const prev = this.out[this.out.length - 1];
    return prev !== undefined && prev !== "" && !/[{(\[]$/.test(prev);
  }

  private push(ind: number, text: string, end: number): void {
    this.out.push(INDENT.repeat(ind) + text);
    this.lastEnd = Math.max(this.lastEnd, end);
  }

  /** Own-line comments that start before `upTo`, at indentation `ind`. */
  private flush(ind: number, upTo: number, gap: boolean): void {
    while (this.ci < this.comments.length && this.comments[this.ci]!.span.start < upTo) {
      const c = this.comments[this.ci++]!;
      if (gap && this.canBlank() && this.hasBlank(this.lastEnd, c.span.start)) this.out.push("");
      this.push(ind, c.text.trimEnd(), c.span.end);
    }
  }

  /** A comment after `end` on the same source line, with only separators between. */
  private trailing(end: number): void {
    const c = this.comments[this.ci];
    if (!c || c.span.start < end) return;
    if (!/^[ \t,;]*$/.test(this.text.slice(end, c.span.start))) return;
    this.ci++;
    const i = this.out.length - 1;
    this.trailers.set(i, this.out[i]!.length);
    this.out[i] += `  ${c.text.trimEnd()}`;
    this.lastEnd = Math.max(this.lastEnd, c.span.end);
  }

  private emit(lines: readonly Ln[]): void {
    for (const ln of lines) {
      if (ln.closer) {
        // Printed before the closing bracket, they are inside its block when parsed again.
        this.flush(ln.ind + 1, ln.end, false);
      } else {
        this.flush(ln.ind, ln.end, ln.gap === true);
        if (ln.gap && this.canBlank() && this.hasBlank(this.lastEnd, ln.start)) this.out.push("");
      }
      this.push(ln.ind, ln.text, ln.end);
      this.trailing(ln.end);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Items

  module(m: ast.Module): string {
    for (const item of m.items) {
      if (this.out.length > 0) this.out.push("");
      const lines = this.item(item);
      lines[0]!.gap = false;
      // Comments before the item: keep a blank line between them and the item if there was one.
      this.flushItemComments(item.span.start);
      this.emit(lines);
    }
    this.flush(0, Infinity, true);
    this.alignTrailers();
    while (this.out[this.out.length - 1] === "") this.out.pop();
    return this.out.length === 0 ? "" : this.out.join("\n") + "\n";
  }

  /** Trailing comments on consecutive lines of one indentation start in one column. */
  private alignTrailers(): void {
    const lines = [...this.trailers.keys()].sort((a, b) => a - b);
    let run: number[] = [];
    const close = () => {
      const col = Math.max(...run.map((i) => this.trailers.get(i)!));
      for (const i of run) {
        const code = this.trailers.get(i)!;
        const line = this.out[i]!;
        this.out[i] = line.slice(0, code) + " ".repeat(col - code) + line.slice(code);
      }
      run = [];
    };
    const indentOf = (i: number) => /^ */.exec(this.out[i]!)![0].length;
    for (const i of lines) {
      const prev = run[run.length - 1];
      if (prev !== undefined && (prev !== i - 1 || indentOf(prev) !== indentOf(i))) close();
      run.push(i);
    }
    if (run.length > 0) close();
  }

  private flushItemComments(upTo: number): void {
    let first = true;
    while (this.ci < this.comments.length && this.comments[this.ci]!.span.start < upTo) {
      const c = this.comments[this.ci++]!;
      if (!first && this.hasBlank(this.lastEnd, c.span.start)) this.out.push("");
      first = false;
      this.push(0, c.text.trimEnd(), c.span.end);
    }
    if (!first && this.hasBlank(this.lastEnd, upTo)) this.out.push("");
  }

  private item(item: ast.Item): Ln[] {
    switch (item.kind) {
      case "Import":
        return single(0, `import ${quote(item.path.value)}`, item.span.start, item.span.end);
      case "Model":
        return this.decl("model", item.name, item.params, item.result, item.body, item.span);
      case "Block":
        return this.decl(item.role, item.name, item.params, item.result, item.body, item.span);
      case "Optimizer":
        return this.optimizer(item);
      case "Train":
        return this.train(item);
    }
  }

  private paramList(params: readonly ast.ParamSig[], ind: number, head: string): string | Ln[] {
    const flat = params.map((p) => this.flatText(this.paramSig(p, ind)));
    const joined = flat.join(", ");
    if (flat.every((f) => f !== null) && head.length + joined.length + 4 <= WIDTH - ind * 2) {
      return joined;
    }
    return params
      .map((p) =>
        suffix(
          this.paramSig(p, ind + 1).map((l) => ({ ...l, gap: true })),
          ",",
        ),
      )
      .flat();
  }

  private paramSig(p: ast.ParamSig, ind: number): Ln[] {
    let lines = single(ind, p.name.name, p.span.start, p.name.span.end);
    if (p.type) lines = concat(lines, ": ", this.type(p.type, ind));
    if (p.default) lines = concat(lines, " = ", this.expr(p.default, ind, false));
    return lines;
  }

  private flatText(lines: Ln[]): string | null {
    return isFlat(lines) ? lines[0]!.text : null;
  }

  /** `model Name(params) -> type { body }`, breaking the parameters one per line if too long. */
  private decl(
    kw: string,
    name: ast.Ident,
    params: readonly ast.ParamSig[],
    result: ast.TypeExpr | null,
    body: ast.Body,
    span: ast.Node["span"],
  ): Ln[] {
    const head = `${kw} ${name.name}(`;
    const res = result ? this.flatText(this.type(result, 0)) : null;
    const tail = result ? `) -> ${res} {` : ") {";
    return this.withParams(head, params, tail, span.start, body.span.start + 1, (open) =>
      this.bodyBlock(body, 0, open),
    );
  }

  private withParams(
    head: string,
    params: readonly ast.ParamSig[],
    tail: string,
    start: number,
    openEnd: number,
    rest: (openLine: Ln[]) => Ln[],
  ): Ln[] {
    const ps = this.paramList(params, 0, head + tail);
    if (typeof ps === "string") {
      return rest(single(0, head + ps + tail, start, openEnd));
    }
    const open: Ln[] = [
      // Ends at its `(`: comments after it stay inside the list.
      { ind: 0, text: head, start, end: this.nextChar("(", start) + 1 },
      ...ps,
      { ind: 0, text: tail, start: openEnd - 1, end: openEnd, closer: true },
    ];
    return rest(open);
  }

  /** An opening line ending in `{`, the body's lines one level deeper, and `}`. */
  private bodyBlock(body: ast.Body, ind: number, open: Ln[]): Ln[] {
    const inner = this.bodyLines(body, ind + 1);
    if (inner.length === 0 && !this.commentsIn(body.span.start, body.span.end)) {
      return suffix(open, "}", body.span.end);
    }
    return [
      ...open,
      ...inner,
      { ind, text: "}", start: body.span.end - 1, end: body.span.end, closer: true },
    ];
  }

  private commentsIn(start: number, end: number): boolean {
    return this.comments.some((c) => c.span.start > start && c.span.start < end);
  }

  /** Statements and result of a body, one per line (with `;` where a line would continue). */
  private bodyLines(body: ast.Body, ind: number): Ln[] {
    const parts: Ln[][] = body.stmts.map((s) => this.stmt(s, ind));
    if (body.result) parts.push(this.expr(body.result, ind, true));
    const out: Ln[] = [];
    parts.forEach((lines, i) => {
      const next = parts[i + 1]?.[0]?.text;
      // A line starting with '-', '(' or a dtype word would continue the previous statement.
      const guard = next !== undefined && /^(?:[-(]|(?:int|float)\b)/.test(next);
      const ls = guard ? suffix(lines, ";") : lines;
      ls[0] = { ...ls[0]!, gap: true };
      out.push(...ls);
    });
    return out;
  }

  private stmt(s: ast.Stmt, ind: number): Ln[] {
    switch (s.kind) {
      case "Let":
        return prefix(`let ${s.name.name} = `, this.expr(s.value, ind, true), s.span.start);
      case "Assign":
        return prefix(`${s.target.name} = `, this.expr(s.value, ind, true), s.span.start);
      case "Param":
      case "State": {
        const kw = s.kind === "Param" ? "param" : "state";
        let lines = prefix(`${kw} ${s.name.name}: `, this.type(s.type, ind), s.span.start);
        if (s.init) lines = concat(lines, " = ", this.expr(s.init, ind, true));
        return lines;
      }
    }
  }

  private optimizer(o: ast.OptimizerDecl): Ln[] {
    const head = `optimizer ${o.name.name}(`;
    const rp = this.nextChar(")", o.params[o.params.length - 1]?.span.end ?? o.name.span.end);
    const brace = this.nextChar("{", rp + 1);
    return this.withParams(head, o.params, ") {", o.span.start, brace + 1, (open) => {
      const lines: Ln[] = [...open];
      // One `state` line per `state` keyword in the source.
      let group: ast.StateInit[] = [];
      const flushGroup = () => {
        if (group.length === 0) return;
        let ln = single(1, "state ", group[0]!.span.start, group[0]!.span.start);
        group.forEach((s, i) => {
          const init = prefix(`${s.name.name} = `, this.expr(s.init, 1, false), s.span.start);
          ln = concat(ln, i === 0 ? "" : ", ", init);
        });
        ln[0] = { ...ln[0]!, gap: true };
        lines.push(...ln);
        group = [];
      };
      o.state.forEach((s, i) => {
        const prev = o.state[i - 1];
        if (prev && /\bstate\b/.test(this.codeBetween(prev.span.end, s.span.start))) flushGroup();
        group.push(s);
      });
      flushGroup();
      const u = o.update;
      const uhead = `update(${u.params.map((p) => p.name).join(", ")}) {`;
      const uopen = single(1, uhead, u.span.start, u.body.span.start + 1);
      uopen[0]!.gap = true;
      lines.push(...this.bodyBlock(u.body, 1, uopen));
      lines.push({ ind: 0, text: "}", start: o.span.end - 1, end: o.span.end, closer: true });
      return lines;
    });
  }

  /** Offset of the next `ch` at or after `from`, outside comments (the text's length if none). */
  private nextChar(ch: string, from: number): number {
    for (let i = from; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === ch) return i;
      if (c === "#") {
        const nl = this.text.indexOf("\n", i);
        if (nl < 0) break;
        i = nl;
      }
    }
    return this.text.length;
  }

  /** Source text between two offsets with comments removed. */
  private codeBetween(from: number, to: number): string {
    let s = this.text.slice(from, to);
    for (const c of this.comments) {
      if (c.span.start >= from && c.span.end <= to) {
        s = s.replace(c.text, "");
      }
    }
    return s;
  }

  private train(tr: ast.TrainDecl): Ln[] {
    const head = `train ${tr.name.name}${tr.model ? `: ${tr.model.name}` : ""} {`;
    const entries = tr.entries;
    const brace = this.nextChar("{", (tr.model ?? tr.name).span.end);
    const open = single(0, head, tr.span.start, brace + 1);
    if (entries.length === 0) return suffix(open, "}", tr.span.end);
    return [
      ...open,
      ...this.entries(entries, 1),
      { ind: 0, text: "}", start: tr.span.end - 1, end: tr.span.end, closer: true },
    ];
  }

  /** Train or step entries; runs of settings not separated by a blank line align their `=`. */
  private entries(entries: readonly ast.TrainEntry[], ind: number): Ln[] {
    const widths = new Map<ast.TrainEntry, number>();
    let run: ast.Setting[] = [];
    const close = () => {
      const w = Math.max(...run.map((s) => s.key.name.length));
      for (const s of run) widths.set(s, w);
      run = [];
    };
    entries.forEach((e, i) => {
      const prev = entries[i - 1];
      const split =
        prev && this.blankBefore(prev.span.end, e.span.start, this.entry(e, ind, 0)[0]!.end);
      if (e.kind !== "Setting" || split) close();
      if (e.kind === "Setting") run.push(e);
    });
    close();
    return entries.flatMap((e) => {
      const lines = this.entry(e, ind, widths.get(e) ?? 0);
      lines[0] = { ...lines[0]!, gap: true };
      return lines;
    });
  }

  private entry(e: ast.TrainEntry, ind: number, keyWidth: number): Ln[] {
    switch (e.kind) {
      case "Setting":
        return prefix(
          `${e.key.name.padEnd(keyWidth)} = `,
          this.expr(e.value, ind, true),
          e.span.start,
        );
      case "Noise": {
        const lines = prefix(`noise ${e.name.name}: `, this.type(e.type, ind), e.span.start);
        return concat(lines, " = ", this.expr(e.init, ind, true));
      }
      case "Step": {
        const brace = this.nextChar("{", e.name.span.end);
        const open = single(ind, `step ${e.name.name} {`, e.span.start, brace + 1);
        if (e.entries.length === 0) return suffix(open, "}", e.span.end);
        return [
          ...open,
          ...this.entries(e.entries, ind + 1),
          { ind, text: "}", start: e.span.end - 1, end: e.span.end, closer: true },
        ];
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Types and expressions

  private type(tp: ast.TypeExpr, ind: number): Ln[] {
    if (tp.kind === "ScalarType") return single(ind, tp.name.name, tp.span.start, tp.span.end);
    const dims = tp.dims.map((d) =>
      d.kind === "Ellipsis" ? "..." : (this.flatText(this.expr(d, ind, false)) ?? "?"),
    );
    const text = `[${dims.join(", ")}]${tp.dtype ? ` ${tp.dtype.name}` : ""}`;
    return single(ind, text, tp.span.start, tp.span.end);
  }

  /** Lines of an expression; `top` for a statement's value (where pipe chains break). */
  private expr(e: ast.Expr, ind: number, top: boolean): Ln[] {
    const s = e.span;
    switch (e.kind) {
      case "Number":
        return single(ind, e.text, s.start, s.end);
      case "String":
        return single(ind, quote(e.value), s.start, s.end);
      case "Bool":
        return single(ind, String(e.value), s.start, s.end);
      case "Ident":
        return single(ind, e.name, s.start, s.end);
      case "Paren":
        return suffix(prefix("(", this.expr(e.inner, ind, false), s.start), ")", s.end);
      case "Unary": {
        const op = e.op === "not" ? "not " : "-";
        return prefix(op, this.expr(e.operand, ind, false), s.start);
      }
      case "Binary": {
        // A left-deep chain (a + b + c + ...) term by term: thousands of terms must not
        // exhaust the stack, as they do not in the checker.
        const links: ast.Binary[] = [];
        let first: ast.Expr = e;
        for (; first.kind === "Binary"; first = first.left) links.push(first);
        let lines = this.expr(first, ind, false);
        for (const l of links.reverse()) {
          lines = concat(lines, ` ${l.op} `, this.expr(l.right, ind, false));
        }
        return lines;
      }
      case "Pipe":
        return this.pipe(e, ind, top);
      case "Call":
        return this.items(
          `${e.callee.name}(`,
          this.nextChar("(", e.callee.span.end) + 1,
          e.args.map((a) =>
            a.name
              ? prefix(`${a.name.name}: `, this.expr(a.value, ind + 1, false), a.span.start)
              : this.expr(a.value, ind + 1, false),
          ),
          ")",
          ind,
          s,
        );
      case "List":
        return this.items(
          "[",
          s.start + 1,
          e.items.map((x) => this.expr(x, ind + 1, false)),
          "]",
          ind,
          s,
        );
      case "Record":
        return this.items(
          "{",
          s.start + 1,
          e.fields.map((f) =>
            prefix(`${f.name.name}: `, this.expr(f.value, ind + 1, false), f.span.start),
          ),
          "}",
          ind,
          s,
          true,
        );
      case "Search":
        return prefix("search ", this.expr(e.options, ind, false), s.start);
      case "If":
        return this.ifExpr(e, ind);
      case "Scan":
        return this.scan(e, ind);
    }
  }

  /**
   * `open item, item close` on one line when every item is one line and it fits; otherwise one
   * item per line (each with a trailing comma) one level deeper.
   */
  private items(
    open: string,
    openEnd: number,
    items: Ln[][],
    close: string,
    ind: number,
    span: ast.Node["span"],
    spaced = false,
  ): Ln[] {
    const flat = items.map((i) => (isFlat(i) ? i[0]!.text : null));
    if (flat.every((f) => f !== null)) {
      const inner = flat.join(", ");
      const text =
        spaced && inner.length > 0 ? `${open} ${inner} ${close}` : `${open}${inner}${close}`;
      if (ind * 2 + text.length <= WIDTH) return single(ind, text, span.start, span.end);
    }
    return [
      { ind, text: open, start: span.start, end: openEnd },
      ...items.flatMap((i) => {
        const ls = suffix(
          i.map((l) => ({ ...l, ind: l.ind })),
          ",",
        );
        ls[0] = { ...ls[0]!, ind: ind + 1, gap: true };
        return ls;
      }),
      { ind, text: close, start: span.end - 1, end: span.end, closer: true },
    ];
  }

  private pipe(e: ast.Pipe, ind: number, top: boolean): Ln[] {
    const steps: ast.Pipe[] = [];
    let head: ast.Expr = e;
    while (head.kind === "Pipe") {
      steps.unshift(head);
      head = head.left;
    }
    const headLines = this.expr(head, ind, false);
    const stepLines = steps.map((p) => this.expr(p.right, ind + 1, false));
    const flatSteps = stepLines.map((l) => (isFlat(l) ? l[0]!.text : null));
    if (isFlat(headLines) && flatSteps.every((f) => f !== null)) {
      const text = [headLines[0]!.text, ...flatSteps].join(" |> ");
      if (!top || (steps.length === 1 && ind * 2 + text.length + 12 <= WIDTH)) {
        return single(ind, text, e.span.start, e.span.end);
      }
    }
    let lines = headLines;
    steps.forEach((p, i) => {
      const opStart = this.text.lastIndexOf("|>", p.right.span.start);
      const step = prefix("|> ", stepLines[i]!, opStart >= 0 ? opStart : p.right.span.start);
      step[0] = { ...step[0]!, ind: ind + 1, gap: true };
      lines = [...lines, ...step];
    });
    return lines;
  }

  private isSimpleBody(b: ast.Body): boolean {
    return b.stmts.length === 0 && b.result !== null && !this.commentsIn(b.span.start, b.span.end);
  }

  private ifExpr(e: ast.If, ind: number): Ln[] {
    const cond = this.expr(e.cond, ind, false);
    const elseIf = this.elseIf(e);
    // Flat: `if c { a } else { b }` when every branch is a lone one-line expression.
    if (isFlat(cond) && this.isSimpleBody(e.then) && (!e.else || this.isSimpleBody(e.else))) {
      const thenText = this.flatText(this.expr(e.then.result!, ind, false));
      const elseText = elseIf
        ? this.flatText(this.ifExpr(elseIf, ind))
        : e.else
          ? this.flatText(this.expr(e.else.result!, ind, false))
          : "";
      if (thenText !== null && elseText !== null) {
        let text = `if ${cond[0]!.text} { ${thenText} }`;
        if (e.else) text += elseIf ? ` else ${elseText}` : ` else { ${elseText} }`;
        if (ind * 2 + text.length + 20 <= WIDTH) return single(ind, text, e.span.start, e.span.end);
      }
    }
    const open = suffix(prefix("if ", cond, e.span.start), " {", e.then.span.start + 1);
    let lines = this.bodyBlock(e.then, ind, open);
    if (e.else) {
      if (elseIf) {
        lines = concat(lines, " else ", this.ifExpr(elseIf, ind));
      } else {
        const last = lines[lines.length - 1]!;
        lines = [
          ...lines.slice(0, -1),
          ...this.bodyBlock(e.else, ind, [
            { ...last, text: `${last.text} else {`, end: e.else.span.start + 1 },
          ]),
        ];
      }
    }
    return lines;
  }

  /** The `if` of an `else if`: an else body that is exactly one `if` expression. */
  private elseIf(e: ast.If): ast.If | null {
    const b = e.else;
    if (!b || b.stmts.length > 0 || b.result?.kind !== "If") return null;
    return b.result.span.start === b.span.start && b.result.span.end === b.span.end
      ? b.result
      : null;
  }

  private scan(e: ast.Scan, ind: number): Ln[] {
    let head = prefix(`scan ${e.item.name} in `, this.expr(e.over, ind, false), e.span.start);
    e.carries.forEach((c, i) => {
      const init = prefix(`${c.name.name} = `, this.expr(c.init, ind, false), c.span.start);
      head = concat(head, i === 0 ? " carry " : ", ", init);
    });
    return this.bodyBlock(e.body, ind, suffix(head, " {", e.body.span.start + 1));
  }
}
