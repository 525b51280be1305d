/**
 * @file Golden syntax errors: each case under test/golden/syntax/<case>/ holds `input.nn` and
 * `expected.txt`, every diagnostic parseModule reports, rendered as `nnc check` shows them.
 * `NNC_ACCEPT=1` rewrites the expected files (read them before committing).
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { renderDiagnostic, SourceMap } from "../../compiler/diagnostics.js";
import { SourceFile } from "../../compiler/source.js";
import { parseModule } from "../../grammar/index.js";
import { expectGolden, fromRoot, goldenCases } from "../util/golden.js";

const suite = "test/golden/syntax";
const cases = goldenCases(suite);

test("there are golden syntax cases", () => {
  assert.ok(cases.length >= 15, `only ${cases.length} cases`);
});

for (const name of cases) {
  test(`syntax: ${name}`, () => {
    const path = `${suite}/${name}/input.nn`;
    const file = new SourceFile(path, readFileSync(fromRoot(path), "utf8"));
    const { diagnostics } = parseModule(file);
    assert.ok(diagnostics.length > 0, "a syntax case must report an error");
    const sources = new SourceMap();
    sources.add(file);
    const text = diagnostics.map((d) => renderDiagnostic(sources, d)).join("\n") + "\n";
    expectGolden(`${suite}/${name}/expected.txt`, text);
  });
}

test.run();
