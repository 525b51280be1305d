/**
 * @file Golden tests of the checker: each `test/golden/check/<case>/input.nn` is a wrong
 * program; `expected.txt` holds the exact rendered diagnostics (code, message, span and notes).
 * NNC_ACCEPT=1 rewrites the expected files.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkFile, renderDiagnostic } from "../../compiler/index.js";
import { expectGolden, fromRoot, goldenCases, repoRoot } from "../util/golden.js";

const suite = "test/golden/check";

for (const name of goldenCases(suite)) {
  test(name, () => {
    const r = checkFile(fromRoot(suite, name, "input.nn"), { displayRoot: repoRoot });
    assert.ok(r.diagnostics.length > 0, "a golden case must have at least one diagnostic");
    const text = r.diagnostics.map((d) => renderDiagnostic(r.sources, d)).join("\n") + "\n";
    expectGolden(`${suite}/${name}/expected.txt`, text);
  });
}

test("there are at least 40 golden cases", () => {
  assert.ok(goldenCases(suite).length >= 40);
});

test.run();
