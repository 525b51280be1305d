/**
 * @file The saved stdlib trees (compiler/check/stdlib-ast.ts): the save `npm run build` wrote
 * is exactly what parsing the stdlib gives now; an edited file, a changed parser fingerprint, a
 * missing file or a file that does not parse cleanly means no saved trees at all; and checking
 * a program with saved trees gives the same result as parsing.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseModule } from "../../grammar/index.js";
import { checkFile } from "../../compiler/index.js";
import { loadProgram, stdlibDir } from "../../compiler/check/program.js";
import { readStdlibAst, stdlibAstPath, writeStdlibAst } from "../../compiler/check/stdlib-ast.js";
import { SourceFile } from "../../compiler/source.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-stdlib-ast-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const texts = readdirSync(stdlibDir)
  .filter((n) => n.endsWith(".nn"))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(stdlibDir, name), "utf8") }));

function parsed(name: string, text: string) {
  return { name, text, ...parseModule(new SourceFile(`stdlib/${name}`, text)) };
}

test("the saved trees are exactly the stdlib parsed now", () => {
  const trees = readStdlibAst(texts);
  assert.ok(trees, `${stdlibAstPath} matches (npm run build writes it)`);
  assert.is(trees.length, texts.length);
  for (const [i, { name, text }] of texts.entries()) {
    assert.equal(trees[i], parsed(name, text).module, name);
  }
});

test("an edited file, another parser or a missing or broken file gives no trees", () => {
  const path = join(dir, "ast.json");
  assert.is(
    writeStdlibAst(
      texts.map((t) => parsed(t.name, t.text)),
      path,
    ),
    texts.length,
  );
  assert.ok(readStdlibAst(texts, path));
  const edited = texts.map((t, i) => (i === 0 ? { ...t, text: `${t.text}\n` } : t));
  assert.is(readStdlibAst(edited, path), undefined, "edited text");
  assert.is(readStdlibAst([...texts, { name: "new.nn", text: "" }], path), undefined, "new file");
  const data = JSON.parse(readFileSync(path, "utf8")) as { parser: string };
  writeFileSync(path, JSON.stringify({ ...data, parser: "0".repeat(40) }));
  assert.is(readStdlibAst(texts, path), undefined, "another parser");
  writeFileSync(path, "{ not json");
  assert.is(readStdlibAst(texts, path), undefined, "unreadable");
  const broken = [...texts, { name: "broken.nn", text: "block ( {" }];
  assert.is(
    writeStdlibAst(
      broken.map((t) => parsed(t.name, t.text)),
      path,
    ),
    texts.length,
  );
  assert.is(readStdlibAst(broken, path), undefined, "a file with syntax errors is never saved");
});

test("checking with the saved trees gives what parsing gives", () => {
  const file = join(stdlibDir, "..", "examples", "mnist.nn");
  const saved = checkFile(file);
  assert.ok(saved.program);
  const loaded = loadProgram(file, { parse: parseModule });
  const fromTrees = loadProgram(file, { parse: parseModule, stdlibAst: true });
  assert.equal(
    fromTrees.program!.files.map((f) => f.module),
    loaded.program!.files.map((f) => f.module),
  );
});

test.run();
