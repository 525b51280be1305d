/**
 * @file The tokens of the `.nn` language, in one ordered list (`allTokens`) that the lexer tries
 * in order: whitespace and comments first, keywords before `Identifier` (each keyword has
 * `longer_alt: Identifier`, so `models` is a name), longer punctuation before its prefixes
 * (`->` before `-`, `<=` before `<`). Comments go to the `comments` group so the formatter can keep
 * them. `Name` is a category holding `Identifier` and every keyword: the parser accepts it where a
 * keyword can only mean a name (setting keys such as `loss = ...`, keyword arguments, record
 * fields). `BadNumber` and `UnterminatedString` are error tokens the parser never consumes; the
 * front end turns them into diagnostics. Each token's `LABEL` is how messages name it.
 */
import { createToken, Lexer, type CustomPatternMatcherFunc, type TokenType } from "chevrotain";

/** Category: an identifier, or a keyword where only a name can stand. */
export const Name = createToken({ name: "Name", pattern: Lexer.NA, label: "a name" });
/** Categories for binary operators of one precedence level. */
export const CompareOp = createToken({
  name: "CompareOp",
  pattern: Lexer.NA,
  label: "a comparison",
});
export const AddOp = createToken({ name: "AddOp", pattern: Lexer.NA, label: "'+' or '-'" });
export const MulOp = createToken({ name: "MulOp", pattern: Lexer.NA, label: "'*', '/' or '@'" });

export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\uFEFF]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
export const Comment = createToken({ name: "Comment", pattern: /#[^\n\r]*/, group: "comments" });

export const Identifier = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  categories: [Name],
  label: "a name",
});

function keyword(word: string): TokenType {
  return createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories: [Name],
    label: `'${word}'`,
  });
}

export const Import = keyword("import");
export const Model = keyword("model");
export const Block = keyword("block");
export const Loss = keyword("loss");
export const Optimizer = keyword("optimizer");
export const Train = keyword("train");
export const Param = keyword("param");
export const State = keyword("state");
export const Let = keyword("let");
export const Update = keyword("update");
export const Step = keyword("step");
export const Noise = keyword("noise");
export const Search = keyword("search");
export const If = keyword("if");
export const Else = keyword("else");
export const Scan = keyword("scan");
export const In = keyword("in");
export const Carry = keyword("carry");
export const True = keyword("true");
export const False = keyword("false");
export const Not = keyword("not");

export const keywords: readonly TokenType[] = [
  Import,
  Model,
  Block,
  Loss,
  Optimizer,
  Train,
  Param,
  State,
  Let,
  Update,
  Step,
  Noise,
  Search,
  If,
  Else,
  Scan,
  In,
  Carry,
  True,
  False,
  Not,
];

const numberRe = /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:deg)?/y;
const wordTailRe = /[A-Za-z0-9_.]+/y;

/** Length of a well-formed number at `offset`, and of the word characters glued to it. */
function scanNumber(text: string, offset: number): { num: number; tail: number } | null {
  numberRe.lastIndex = offset;
  const m = numberRe.exec(text);
  if (!m) return null;
  wordTailRe.lastIndex = offset + m[0].length;
  const t = wordTailRe.exec(text);
  return { num: m[0].length, tail: t ? t[0].length : 0 };
}

const matchNumber: CustomPatternMatcherFunc = (text, offset) => {
  const s = scanNumber(text, offset);
  if (!s || s.tail > 0) return null;
  const m: RegExpExecArray = [text.slice(offset, offset + s.num)] as unknown as RegExpExecArray;
  return m;
};

const matchBadNumber: CustomPatternMatcherFunc = (text, offset) => {
  const s = scanNumber(text, offset);
  if (!s || s.tail === 0) return null;
  return [text.slice(offset, offset + s.num + s.tail)] as unknown as RegExpExecArray;
};

const digits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/** `3`, `0.5`, `1e-3`, `2.5E+4`, `10deg`; not followed by letters, digits, `_` or `.`. */
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: { exec: matchNumber },
  start_chars_hint: digits,
  line_breaks: false,
  label: "a number",
});
/** A number glued to letters (`3x`, `1e`, `1.5.2`): reported as an invalid number. */
export const BadNumber = createToken({
  name: "BadNumber",
  pattern: { exec: matchBadNumber },
  start_chars_hint: digits,
  line_breaks: false,
  label: "an invalid number",
});

export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*"/,
  label: "a string",
});
/** A string with no closing quote on its line. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*\\?/,
  label: "an unterminated string",
});

function punct(name: string, image: string, categories: TokenType[] = []): TokenType {
  const escaped = image.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  return createToken({ name, pattern: new RegExp(escaped), label: `'${image}'`, categories });
}

export const Ellipsis = punct("Ellipsis", "...");
export const Arrow = punct("Arrow", "->");
export const PipeOp = punct("PipeOp", "|>");
export const LessEq = punct("LessEq", "<=", [CompareOp]);
export const GreaterEq = punct("GreaterEq", ">=", [CompareOp]);
export const EqEq = punct("EqEq", "==", [CompareOp]);
export const NotEq = punct("NotEq", "!=", [CompareOp]);
export const Less = punct("Less", "<", [CompareOp]);
export const Greater = punct("Greater", ">", [CompareOp]);
export const Equals = punct("Equals", "=");
export const LParen = punct("LParen", "(");
export const RParen = punct("RParen", ")");
export const LBracket = punct("LBracket", "[");
export const RBracket = punct("RBracket", "]");
export const LBrace = punct("LBrace", "{");
export const RBrace = punct("RBrace", "}");
export const Comma = punct("Comma", ",");
export const Colon = punct("Colon", ":");
export const Semicolon = punct("Semicolon", ";");
export const Plus = punct("Plus", "+", [AddOp]);
export const Minus = punct("Minus", "-", [AddOp]);
export const Star = punct("Star", "*", [MulOp]);
export const Slash = punct("Slash", "/", [MulOp]);
export const At = punct("At", "@", [MulOp]);
export const Caret = punct("Caret", "^");

/** Every token, in the order the lexer tries them. */
export const allTokens: readonly TokenType[] = [
  WhiteSpace,
  Comment,
  Name,
  CompareOp,
  AddOp,
  MulOp,
  ...keywords,
  Identifier,
  NumberLiteral,
  BadNumber,
  StringLiteral,
  UnterminatedString,
  Ellipsis,
  Arrow,
  PipeOp,
  LessEq,
  GreaterEq,
  EqEq,
  NotEq,
  Less,
  Greater,
  Equals,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Semicolon,
  Plus,
  Minus,
  Star,
  Slash,
  At,
  Caret,
];

/**
 * The lexer; `positionTracking: "full"` gives every token its line and column. Chevrotain's
 * checks of the token definitions are skipped at every start (test/grammar/validate.test.ts
 * runs them).
 */
export const nnLexer = new Lexer(allTokens as TokenType[], {
  positionTracking: "full",
  ensureOptimizations: false,
  skipValidations: true,
});
