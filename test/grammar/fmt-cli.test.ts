/**
 * @file `nnc fmt` end to end: spawns `node dist/bin/nnc.js fmt` on temporary files and checks
 * exit codes, what is written, and what is printed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fromRoot } from "../util/golden.js";

const nnc = fromRoot("dist/bin/nnc.js");
function run(...args: string[]) {
  const r = spawnSync(process.execPath, [nnc, "fmt", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const messy = "model M(x:[1]){x|>f|>g}\n";
const clean = "model M(x: [1]) {\n  x\n    |> f\n    |> g\n}\n";

test("--check lists files that would change, exits 1, writes nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-fmt-"));
  const a = join(dir, "a.nn");
  const b = join(dir, "b.nn");
  writeFileSync(a, messy);
  writeFileSync(b, clean);
  const r = run("--check", a, b);
  assert.is(r.code, 1);
  assert.ok(r.err.includes(a), r.err);
  assert.not.ok(r.err.includes(b + "\n"), r.err);
  assert.is(readFileSync(a, "utf8"), messy);
  assert.is(run("--check", b).code, 0);
});

test("rewrites files in place; then --check passes", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-fmt-"));
  const a = join(dir, "a.nn");
  writeFileSync(a, messy);
  assert.is(run(a).code, 0);
  assert.is(readFileSync(a, "utf8"), clean);
  assert.is(run("--check", a).code, 0);
});

test("syntax errors are rendered, the file is untouched, exit 1", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-fmt-"));
  const a = join(dir, "bad.nn");
  writeFileSync(a, "model M(x: [1]) {\n  f(1\n}\n");
  const r = run(a);
  assert.is(r.code, 1);
  assert.match(r.err, /bad\.nn:2:6: error NN1002: expected '\)' to close the argument list of f/);
  assert.match(r.err, /\n {2}2 \| {3}f\(1\n/);
  assert.is(readFileSync(a, "utf8"), "model M(x: [1]) {\n  f(1\n}\n");
});

test("usage errors exit 2 with one line; --help exits 0", () => {
  const bad = run("--frobnicate", "x.nn");
  assert.is(bad.code, 2);
  assert.is(bad.err.trim().split("\n").length, 1);
  const missing = run(join(tmpdir(), "does-not-exist.nn"));
  assert.is(missing.code, 2);
  assert.match(missing.err, /no such file/);
  const help = run("--help");
  assert.is(help.code, 0);
  assert.match(help.out, /--check/);
});

test.run();
