/**
 * @file The grammar passes Chevrotain's own definition checks, which the CLI skips at startup
 * for speed (grammar/parser.ts, grammar/tokens.ts): the parser's grammar validations
 * (ambiguous alternatives, left recursion, unresolved rules) and the lexer's pattern checks
 * (unreachable tokens, bad patterns). Both throw on a definition error.
 */
import { Lexer, type TokenType } from "chevrotain";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { NnParser } from "../../grammar/parser.js";
import { allTokens } from "../../grammar/tokens.js";

test("the parser's grammar passes Chevrotain's validations", () => {
  const parser = new NnParser({ validate: true });
  assert.ok(parser.getGAstProductions().module);
});

test("the lexer's token definitions pass Chevrotain's checks", () => {
  const lexer = new Lexer(allTokens as TokenType[], {
    positionTracking: "full",
    ensureOptimizations: false,
  });
  assert.equal(lexer.lexerDefinitionErrors, []);
  assert.is(lexer.tokenize("model M(x: [2]) -> [2] { x }").errors.length, 0);
});

test.run();
