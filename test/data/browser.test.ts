import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { NncError, renderNncError, runtimeMessages } from "../../runtime/errors.js";
import { fileError, fileMessages } from "../../runtime/file-errors.js";

const runtime = resolve(dirname(fileURLToPath(import.meta.url)), "../../runtime");

/** Every module `entry` imports, transitively (compiled JavaScript, static imports). */
function closure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(
      /(?:import|export)\s[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
    )) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else seen.add(spec);
    }
  };
  visit(entry);
  return seen;
}

test("the byte-level modules import nothing from Node or the compiler", () => {
  for (const entry of ["data/index.js", "checkpoint.js", "png.js", "progress.js", "errors.js"]) {
    for (const dep of closure(join(runtime, entry))) {
      assert.ok(
        !dep.startsWith("node:") && !/^(fs|path|zlib|os|module)$/.test(dep),
        `${entry} imports ${dep}`,
      );
      if (dep.startsWith("/")) {
        const rel = relative(runtime, dep);
        assert.ok(!rel.startsWith(".."), `${entry} imports ${rel}, outside runtime/`);
        assert.ok(!/node\.js$|-node\.js$/.test(rel), `${entry} imports ${rel}`);
      }
    }
  }
});

test("NncError: message, render form and catalog templates", () => {
  const e = fileError("NN5203", { found: 3, expected: 2 }, { file: "t.csv", line: 4, column: 7 });
  assert.ok(e instanceof Error && e instanceof NncError);
  assert.is(e.code, "NN5203");
  assert.is(e.file, "t.csv");
  assert.is(e.detail, "row has 3 fields but the header has 2");
  assert.is(e.message, "t.csv:4:7: row has 3 fields but the header has 2");
  assert.is(renderNncError(e), "t.csv:4:7: error NN5203: row has 3 fields but the header has 2");
  const bare = new NncError("NN5001", "cannot read the file: gone");
  assert.is(renderNncError(bare), "error NN5001: cannot read the file: gone");
  const codes = [...Object.keys(runtimeMessages), ...Object.keys(fileMessages)];
  for (const code of codes) assert.match(code, /^NN5\d{3}$/);
  assert.is(new Set(codes).size, codes.length, "a code in both catalogs");
});

test.run();
