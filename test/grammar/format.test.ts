/**
 * @file The canonical printer: exact output for a few constructs, and over the corpus plus every
 * `.nn` under examples/ and stdlib/ (globbed now): idempotence, `parse(format(x))` equal to
 * `parse(x)` ignoring spans, every comment kept, no line left with trailing spaces; and
 * idempotence with a comment inserted after each token of some of the corpus.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SourceFile } from "../../compiler/source.js";
import { formatModule } from "../../grammar/format.js";
import { parseModule } from "../../grammar/index.js";
import { nnLexer } from "../../grammar/tokens.js";
import { corpus, nnFiles, withoutSpans } from "./corpus.js";

function fmt(text: string): string {
  const r = formatModule(text, "t.nn");
  if (!("text" in r)) throw new Error(r.diagnostics.map((d) => d.message).join("; "));
  return r.text;
}

test("pipe chains with more than one |> break one step per line under their head", () => {
  assert.is(
    fmt("model M(x:[1])->[2]{x|>f|>g(1,k:2)}"),
    "model M(x: [1]) -> [2] {\n  x\n    |> f\n    |> g(1, k: 2)\n}\n",
  );
  assert.is(
    fmt("block b(x: [1]) { let y = x |> f\n y }"),
    "block b(x: [1]) {\n  let y = x |> f\n  y\n}\n",
  );
});

test("chains of thousands of terms format without exhausting the stack", () => {
  const sum = `model M(x: [4]) -> [4] {\n  ${Array(20000).fill("x").join(" + ")}\n}\n`;
  assert.is(fmt(sum), sum);
  const pipes = `model M(x: [4]) -> [4] {\n  x\n${"    |> relu\n".repeat(20000)}}\n`;
  assert.is(fmt(pipes), pipes);
});

test("items are separated by one blank line; statements keep at most one", () => {
  assert.is(
    fmt('import "a.nn"\n\n\n\nblock b(x: [1]) {\n  let a = 1\n\n\n  a\n}\nloss l(p: [1]) { p }'),
    'import "a.nn"\n\nblock b(x: [1]) {\n  let a = 1\n\n  a\n}\n\nloss l(p: [1]) {\n  p\n}\n',
  );
});

test("train settings align their '=' within a run; comments stay in place", () => {
  assert.is(
    fmt(
      "train T: M { # header\n  batch = 64 # b\n  optimizer = adam(lr: 1e-3)\n\n  # own line\n  seed = 1 }",
    ),
    [
      "train T: M {  # header",
      "  batch     = 64  # b",
      "  optimizer = adam(lr: 1e-3)",
      "",
      "  # own line",
      "  seed = 1",
      "}",
      "",
    ].join("\n"),
  );
});

test("a record field whose value is the keyword `loss` prints as written", () => {
  assert.is(
    fmt("train T: M { loss = mse\n early_stop = {metric:loss,patience:2} }"),
    "train T: M {\n  loss       = mse\n  early_stop = { metric: loss, patience: 2 }\n}\n",
  );
});

test("long parameter lists and calls break one item per line with a trailing comma", () => {
  const long = `block b(${Array.from({ length: 12 }, (_, i) => `parameter_${i} = ${i}`).join(", ")}) { 1 }`;
  const out = fmt(long);
  assert.ok(out.startsWith("block b(\n  parameter_0 = 0,\n  parameter_1 = 1,\n"), out);
  assert.ok(out.includes("\n  parameter_11 = 11,\n) {\n  1\n}\n"), out);
});

test("a statement that would continue the previous one keeps a ';'", () => {
  const out = fmt("block b(x: [1]) { let a = x; -a }");
  assert.is(out, "block b(x: [1]) {\n  let a = x;\n  -a\n}\n");
});

test("files with syntax errors are refused with their diagnostics", () => {
  const r = formatModule("model M( {", "bad.nn");
  assert.ok("diagnostics" in r && r.diagnostics.length > 0);
});

test("a comment between `}` and `else` goes inside the block it follows, on the first format", () => {
  const once = fmt(
    "model M(x: [4]) -> [4] {\n  let c = if true { # open\n    x\n  } # after if\n  else { x }\n  c\n}\n",
  );
  assert.is(
    once,
    [
      "model M(x: [4]) -> [4] {",
      "  let c = if true {  # open",
      "    x",
      "    # after if",
      "  } else {",
      "    x",
      "  }",
      "  c",
      "}",
      "",
    ].join("\n"),
  );
  assert.is(fmt(once), once);
});

test("a comment after any token of the corpus is kept, and a second format changes nothing", () => {
  // Trailing and own-line comments, and ones with blank lines around them, inside if/else,
  // blocks, parameter and argument lists, and between a setting's key and its value.
  for (const name of ["sequences", "placement", "mnist", "gan"]) {
    const text = corpus[name]!;
    for (const t of nnLexer.tokenize(text).tokens) {
      for (const comment of [" # c\n", "\n\n# c\n\n"]) {
        const at = t.endOffset! + 1;
        const src = text.slice(0, at) + comment + text.slice(at);
        if (parseModule(new SourceFile("t.nn", src)).diagnostics.length > 0) continue;
        const once = fmt(src);
        const where = `${name}, ${JSON.stringify(comment)} after ${t.image} at ${at}`;
        assert.is(fmt(once), once, `not idempotent: ${where}`);
        const kept = parseModule(new SourceFile("t.nn", once)).comments.length;
        assert.is(kept, parseModule(new SourceFile("t.nn", src)).comments.length, where);
      }
    }
  }
});

const files = nnFiles();

test("the corpus includes examples/ and stdlib/ when present", () => {
  assert.ok(Object.keys(files).length >= 7);
});

for (const [name, text] of Object.entries(files)) {
  test(`format round trip: ${name}`, () => {
    const before = parseModule(new SourceFile(name, text));
    assert.equal(before.diagnostics, [], `${name} must parse`);
    const once = fmt(text);
    assert.is(fmt(once), once, "format is idempotent");
    const after = parseModule(new SourceFile(name, once));
    assert.equal(after.diagnostics, []);
    assert.is(withoutSpans(after.module), withoutSpans(before.module), "same AST");
    assert.equal(
      after.comments.map((c) => c.text.trimEnd()),
      before.comments.map((c) => c.text.trimEnd()),
      "every comment kept, in order",
    );
    assert.not.match(once, /[ \t]+\n/, "no trailing whitespace");
  });
}

test.run();
