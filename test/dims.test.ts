import { test } from "uvu";
import * as assert from "uvu/assert";
import { dimDiv, dimEq, dimMul, numel, substitute } from "../compiler/dims.js";
import { SourceFile } from "../compiler/source.js";

test("symbolic products are canonical", () => {
  assert.is(dimMul("T", 64), "64*T");
  assert.is(dimMul(64, "T"), "64*T");
  assert.ok(dimEq(dimMul("a", "b"), dimMul("b", "a")));
  assert.is(dimMul(3, 4), 12);
  assert.is(numel([2, "T", 3]), "6*T");
});

test("division cancels symbols or refuses", () => {
  assert.is(dimDiv("64*T", "T"), 64);
  assert.is(dimDiv("64*T", 8), "8*T");
  assert.is(dimDiv(10, 3), undefined);
  assert.is(dimDiv("T", "B"), undefined);
});

test("substitute binds symbols", () => {
  assert.is(substitute("64*T", new Map([["T", 10]])), 640);
});

test("line and column lookup", () => {
  const f = new SourceFile("x.nn", "ab\ncd\r\nef");
  assert.equal(f.position(0), { line: 1, column: 1 });
  assert.equal(f.position(4), { line: 2, column: 2 });
  assert.equal(f.position(7), { line: 3, column: 1 });
  assert.is(f.lineText(2), "cd");
});

test("a lone carriage return ends a line, as the lexer reads it", () => {
  const f = new SourceFile("x.nn", "ab\rcd\r\ref\r\ngh");
  assert.equal(f.position(3), { line: 2, column: 1 });
  assert.equal(f.position(6), { line: 3, column: 1 });
  assert.equal(f.position(7), { line: 4, column: 1 });
  assert.equal(f.position(11), { line: 5, column: 1 });
  assert.equal(
    [1, 2, 3, 4, 5].map((l) => f.lineText(l)),
    ["ab", "cd", "", "ef", "gh"],
  );
});

test.run();
