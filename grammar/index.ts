/**
 * @file The front end's entry point: `parseModule(file)` lexes, parses (with recovery) and builds
 * the AST of one `.nn` file, and turns every lexer and parser error into a Diagnostic from the
 * catalog (compiler/messages/syntax.ts) with the narrowest span: the offending token, or, where
 * recovery inserted a missing token, an empty span just after the previous token. Messages say
 * what was expected and what was found in the user's words (`expected ')' to close the argument
 * list of conv2d, found '{'`), naming the construct from the parser's rule stack and the tokens
 * around the error. It never throws; with errors it still returns a partial Module. Comments come
 * back separately for the formatter.
 */
import { EOF, type IRecognitionException, type IToken, type TokenType } from "chevrotain";
import type { Module } from "../compiler/ast.js";
import type { Diagnostic } from "../compiler/diagnostics.js";
import { diag } from "../compiler/messages.js";
import type { SourceFile, Span } from "../compiler/source.js";
import { NestingTooDeep, nnParser } from "./parser.js";
import { toAst } from "./to-ast.js";
import * as t from "./tokens.js";

export interface Comment {
  readonly text: string; // including the leading '#'
  readonly span: Span;
}

export interface ParseResult {
  readonly module: Module;
  readonly diagnostics: Diagnostic[];
  readonly comments: Comment[];
}

/** Parses one `.nn` file. Never throws; diagnostics are sorted by position. */
export function parseModule(file: SourceFile): ParseResult {
  try {
    return parse(file);
  } catch (err) {
    const span = { file: file.path, start: 0, end: 0 };
    if (err instanceof NestingTooDeep) {
      const at = isReal(err.token)
        ? { ...span, start: err.token.startOffset, end: err.token.endOffset! + 1 }
        : span;
      return {
        module: { kind: "Module", path: file.path, items: [], span },
        diagnostics: [diag("NN1008", at)],
        comments: [],
      };
    }
    const detail = err instanceof Error ? err.message : String(err);
    return {
      module: { kind: "Module", path: file.path, items: [], span },
      diagnostics: [diag("NN1099", span, { detail })],
      comments: [],
    };
  }
}

const tokenByName = new Map<string, TokenType>(t.allTokens.map((tt) => [tt.name, tt]));
const keywordSet = new Set<TokenType>(t.keywords);

function parse(file: SourceFile): ParseResult {
  const path = file.path;
  const span = (start: number, end: number): Span => ({ file: path, start, end });
  const diagnostics: Diagnostic[] = [];

  // A binary file: one error at its first NUL, rather than one per stray byte.
  const nul = file.text.indexOf("\0");
  if (nul >= 0) {
    return {
      module: { kind: "Module", path, items: [], span: span(0, file.text.length) },
      diagnostics: [diag("NN1007", span(nul, nul + 1))],
      comments: [],
    };
  }

  const lexed = t.nnLexer.tokenize(file.text);
  for (const e of lexed.errors) {
    const chars = file.text.slice(e.offset, e.offset + e.length);
    const shown = `'${visible(chars)}'`;
    const code = /^\p{L}/u.test(chars) ? "NN1009" : chars.length === 1 ? "NN1003" : "NN1006";
    diagnostics.push(diag(code, span(e.offset, e.offset + e.length), { chars: shown }));
  }
  // Error tokens stand in for the valid token they meant to be, so the parser does not cascade.
  const tokens = lexed.tokens.map((tok) => {
    const s = span(tok.startOffset, tok.endOffset! + 1);
    if (tok.tokenType === t.BadNumber) {
      diagnostics.push(diag("NN1005", s, { text: tok.image }));
      return retype(tok, t.NumberLiteral);
    }
    if (tok.tokenType === t.UnterminatedString) {
      diagnostics.push(diag("NN1004", s));
      return retype(tok, t.StringLiteral);
    }
    return tok;
  });
  joinNonAsciiNames(file.text, tokens, lexed.errors);
  const comments: Comment[] = (lexed.groups["comments"] ?? []).map((c) => ({
    text: c.image,
    span: span(c.startOffset, c.endOffset! + 1),
  }));

  const parser = nnParser();
  parser.insertedErrors = new WeakSet();
  parser.input = tokens;
  const cst = parser.module();
  // An unterminated string swallows the rest of its line: errors there are its consequences.
  const swallowed = lexed.tokens
    .filter((tok) => tok.tokenType === t.UnterminatedString)
    .map((tok) => [tok.startOffset, tok.endOffset! + 1] as const);
  for (const e of parser.errors) {
    const d = parseErrorDiagnostic(file, tokens, e);
    if (swallowed.some(([a, b]) => d.span.start >= a && d.span.start <= b)) continue;
    diagnostics.push(d);
  }

  const errorsAt = diagnostics.map((d) => d.span.start);
  const built = toAst(cst, path, span(0, file.text.length), errorsAt);
  diagnostics.push(...built.diagnostics);
  return { module: built.module, diagnostics: dedupe(diagnostics), comments };
}

/**
 * A name with letters outside ASCII (`é`, `naïve`) is lexed as pieces around the letters the
 * lexer refused (NN1009 each); the pieces and the letters become one name token, so that the
 * parse goes on as the user meant rather than reporting the hole as a missing name.
 */
function joinNonAsciiNames(
  text: string,
  tokens: IToken[],
  errors: readonly { offset: number; length: number }[],
): void {
  const word = /^[\p{L}\p{N}_]+$/u;
  for (const e of errors) {
    if (!word.test(text.slice(e.offset, e.offset + e.length))) continue;
    let start = e.offset;
    let end = e.offset + e.length;
    let at = tokens.findIndex((tok) => tok.startOffset >= end);
    if (at < 0) at = tokens.length;
    let from = at;
    const prev = tokens[at - 1];
    if (prev && prev.endOffset! + 1 === start && word.test(prev.image)) {
      from = at - 1;
      start = prev.startOffset;
    }
    let to = at;
    const next = tokens[at];
    if (next && next.startOffset === end && word.test(next.image)) {
      to = at + 1;
      end = next.endOffset! + 1;
    }
    const base = tokens[from] ?? tokens[at - 1] ?? tokens[0];
    if (!base) continue;
    const joined = retype(
      { ...base, image: text.slice(start, end), startOffset: start, endOffset: end - 1 },
      t.Identifier,
    );
    tokens.splice(from, to - from, joined);
  }
}

/** `chars` with control characters written as escapes and an invalid UTF-8 byte named. */
function visible(chars: string): string {
  return chars.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, (c) =>
    c === "\ufffd"
      ? "\\ufffd (a byte that is not UTF-8)"
      : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

function retype(tok: IToken, type: TokenType): IToken {
  return { ...tok, tokenType: type, tokenTypeIdx: type.tokenTypeIdx! };
}

/** One diagnostic per place: the first reported wins; then sorted by position. */
function dedupe(ds: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<number>();
  const out: Diagnostic[] = [];
  for (const d of ds) {
    if (seen.has(d.span.start)) continue;
    seen.add(d.span.start);
    out.push(d);
  }
  return out.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
}

// ---------------------------------------------------------------------------------------------
// Parse errors in words

function isReal(tok: IToken | undefined): tok is IToken {
  return (
    tok !== undefined &&
    !tok.isInsertedInRecovery &&
    tok.tokenType !== EOF &&
    Number.isFinite(tok.startOffset)
  );
}

/** How a found token reads in a message. */
function describeFound(tok: IToken): string {
  if (!isReal(tok)) return "the end of the file";
  const type = tok.tokenType;
  if (type === t.Identifier) return `name '${tok.image}'`;
  if (keywordSet.has(type)) return `keyword '${tok.image}'`;
  if (type === t.NumberLiteral) return `number ${tok.image}`;
  if (type === t.StringLiteral) return `string ${tok.image}`;
  return `'${tok.image}'`;
}

const itemStart = "'model', 'block', 'loss', 'optimizer', 'train' or 'import'";

/** What an alternative in each rule expects, for "no viable alternative" errors. */
const ruleExpects: Record<string, string> = {
  module: itemStart,
  item: itemStart,
  blockDecl: "'block' or 'loss'",
  optimizerDecl: "'state' or 'update'",
  trainDecl: "a setting (name = value), 'noise' or 'step'",
  trainEntry: "a setting (name = value), 'noise' or 'step'",
  stepDecl: "a setting (name = value)",
  type: "a type (a shape such as [28, 28, 1], or int, float, bool, string)",
  tensorType: "a dimension",
  dim: "a dimension (a number, a name or '...')",
  body: "a statement or an expression",
  pipe: "a block or function name after '|>'",
  ifExpr: "'if' or '{' after 'else'",
  unary: "an expression",
  power: "an expression",
  atom: "an expression",
  expr: "an expression",
};

/** Closing tokens and what they close, per rule on top of the stack. */
const closers = new Map<TokenType, TokenType>([
  [t.RParen, t.LParen],
  [t.RBracket, t.LBracket],
  [t.RBrace, t.LBrace],
]);

const declKeywords = new Set<TokenType>([t.Model, t.Block, t.Loss, t.Optimizer, t.Train, t.Step]);

function tokenIndex(tokens: readonly IToken[], tok: IToken): number {
  if (!isReal(tok)) return tokens.length;
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid]!.startOffset < tok.startOffset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the unmatched `open` before position `from` (skipping balanced groups), or -1. */
function findOpener(tokens: readonly IToken[], from: number, open: TokenType): number {
  const depth = new Map<TokenType, number>();
  for (let i = from - 1; i >= 0; i--) {
    const type = tokens[i]!.tokenType;
    const opener = closers.get(type);
    if (opener) {
      depth.set(opener, (depth.get(opener) ?? 0) + 1);
      continue;
    }
    if (type === t.LParen || type === t.LBracket || type === t.LBrace) {
      const d = depth.get(type) ?? 0;
      if (d > 0) depth.set(type, d - 1);
      else if (type === open) return i;
    }
  }
  return -1;
}

/** `model Mnist`, `optimizer adam`: the declaration that the token at `i` belongs to. */
function enclosingDecl(tokens: readonly IToken[], i: number): string | null {
  let depth = 0;
  for (let j = i - 1; j >= 0; j--) {
    const type = tokens[j]!.tokenType;
    if (closers.has(type)) depth++;
    else if (type === t.LParen || type === t.LBracket || type === t.LBrace) {
      if (depth === 0) return null;
      depth--;
    } else if (depth === 0 && declKeywords.has(type)) {
      const name = tokens[j + 1];
      return name?.tokenType === t.Identifier
        ? `${tokens[j]!.image} ${name.image}`
        : tokens[j]!.image;
    }
  }
  return null;
}

function at(file: SourceFile, tok: IToken): string {
  const p = file.position(tok.startOffset);
  return `${p.line}:${p.column}`;
}

/** "the argument list of conv2d", "the body of model Mnist", ...; null when unknown. */
function closeContext(
  file: SourceFile,
  tokens: readonly IToken[],
  found: IToken,
  closer: TokenType,
  rule: string,
  parentRule: string | undefined,
): string | null {
  const open = closers.get(closer)!;
  const i = findOpener(tokens, tokenIndex(tokens, found), open);
  if (i < 0) return null;
  const opener = tokens[i]!;
  const before = tokens[i - 1];
  switch (rule) {
    case "call":
      return before?.tokenType === t.Identifier ? `the argument list of ${before.image}` : null;
    case "modelDecl":
    case "blockDecl":
    case "optimizerDecl":
    case "trainDecl":
    case "stepDecl": {
      const decl = enclosingDecl(tokens, i);
      if (!decl) return null;
      return closer === t.RParen ? `the parameter list of ${decl}` : decl;
    }
    case "updateRule":
      return "the parameters of update";
    case "paren":
      return `the '(' at ${at(file, opener)}`;
    case "list":
      return `the list opened at ${at(file, opener)}`;
    case "tensorType":
      return `the shape opened at ${at(file, opener)}`;
    case "record":
      return `the record opened at ${at(file, opener)}`;
    case "body": {
      if (parentRule === "updateRule") return "the body of update";
      if (parentRule === "ifExpr") return `the body of the 'if' opened at ${at(file, opener)}`;
      if (parentRule === "scanExpr") return `the body of the 'scan' opened at ${at(file, opener)}`;
      const decl = enclosingDecl(tokens, i);
      return decl ? `the body of ${decl}` : `the body opened at ${at(file, opener)}`;
    }
    default:
      return null;
  }
}

function parseErrorDiagnostic(
  file: SourceFile,
  tokens: readonly IToken[],
  e: IRecognitionException,
): Diagnostic {
  const found = e.token;
  const prev = (e as { previousToken?: IToken }).previousToken;
  const stack = e.context?.ruleStack ?? [];
  const rule = stack[stack.length - 1] ?? "module";
  const parentRule = stack[stack.length - 2];
  const inserted = nnParser().insertedErrors.has(e);
  const afterPrev = isReal(prev) ? prev.endOffset! + 1 : 0;
  const span: Span =
    inserted || !isReal(found)
      ? { file: file.path, start: afterPrev, end: afterPrev }
      : { file: file.path, start: found.startOffset, end: found.endOffset! + 1 };
  const foundText = describeFound(found);
  const after = isReal(prev) ? ` after '${prev.image}'` : "";

  if (e.name === "MismatchedTokenException") {
    const expectedType = tokenByName.get(e.message);
    if (e.message === EOF.name || !expectedType) {
      return diag("NN1001", span, { expected: ruleExpects["module"]!, found: foundText });
    }
    if (closers.has(expectedType)) {
      const context = closeContext(file, tokens, found, expectedType, rule, parentRule);
      if (context) {
        return diag("NN1002", span, {
          expected: expectedType.LABEL ?? expectedType.name,
          context,
          found: foundText,
        });
      }
    }
    let expected = expectedType.LABEL ?? expectedType.name;
    if (expectedType === t.Identifier || expectedType === t.Name) expected += after;
    return diag("NN1001", span, { expected, found: foundText });
  }
  let expected = ruleExpects[rule] ?? "something else";
  if (expected === "an expression") expected += after;
  return diag("NN1001", span, { expected, found: foundText });
}
