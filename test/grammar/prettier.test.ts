/**
 * @file The Prettier plugin: `prettier.format(text, { parser: "nn", plugins: [plugin] })`
 * gives exactly the canonical text of grammar/format.ts, files are inferred from `.nn`, and a
 * syntax error surfaces as a Prettier error with its location.
 */
import * as prettier from "prettier";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatModule } from "../../grammar/format.js";
import * as plugin from "../../grammar/prettier-plugin.js";
import { corpus } from "./corpus.js";

test("formats like formatModule", async () => {
  for (const text of Object.values(corpus)) {
    const out = await prettier.format(text, { parser: "nn", plugins: [plugin] });
    const expected = formatModule(text);
    assert.ok("text" in expected);
    assert.is(out, expected.text);
  }
});

test("infers the parser from the .nn extension", async () => {
  const out = await prettier.format("model M(x:[1]){x|>f|>g}", {
    filepath: "m.nn",
    plugins: [plugin],
  });
  assert.is(out, "model M(x: [1]) {\n  x\n    |> f\n    |> g\n}\n");
});

test("a syntax error is a Prettier error with a location", async () => {
  try {
    await prettier.format("model M(x: [1]) {\n  f(\n}\n", { parser: "nn", plugins: [plugin] });
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, SyntaxError);
    const loc = (err as { loc?: { start: { line: number } } }).loc;
    assert.is(loc?.start.line, 2); // just after 'f(', where ')' is missing
  }
});

test.run();
