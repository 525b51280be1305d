/** Syntax messages (NN1xxx), owned by grammar/. Lexer errors 10xx, parser 10xx, AST builder 102x. */
export const syntaxMessages = {
  NN1001: "expected {expected}, found {found}",
  NN1002: "expected {expected} to close {context}, found {found}",
  NN1003: "unexpected character {chars}",
  NN1004: "unterminated string: expected '\"' before the end of the line",
  NN1005: "invalid number '{text}'",
  NN1006: "unexpected characters {chars}",
  NN1007: "not a text file: it holds a NUL byte here (a .nn file is UTF-8 text)",
  NN1008:
    "nested too deeply: brackets, calls, operators or `if`s go deeper here than nnc can compile; give inner parts names with `let`",
  NN1009: "unexpected {chars}: names are ASCII letters, digits and _",
  NN1020:
    "only the last expression in a body gives its value; this one would be ignored (use 'let')",
  NN1021: "unknown escape '{escape}' in a string; only \\\" and \\\\ are allowed",
  NN1022: "'{word}' is a keyword and cannot be used as a name",
  NN1099: "internal error in the parser: {detail}",
} as const;
