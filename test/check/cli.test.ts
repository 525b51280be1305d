/**
 * @file End-to-end tests of `nnc check` and `nnc summary` (spawning dist/bin/nnc.js): exit
 * codes, the rendered diagnostic format, `--format json`, a missing file among several, and the
 * MNIST summary's totals.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fromRoot, repoRoot } from "../util/golden.js";

/** Runs a command module in this process, capturing its output (fast, for the many small cases). */
async function inProcess(command: "check" | "summary", ...args: string[]) {
  const mod =
    command === "check"
      ? await import("../../compiler/cli/check.js")
      : await import("../../compiler/cli/summary.js");
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const cwd = process.cwd();
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  process.chdir(repoRoot);
  try {
    const code = await mod.run(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.chdir(cwd);
  }
}

function nnc(...args: string[]) {
  const r = spawnSync(process.execPath, [fromRoot("dist/bin/nnc.js"), ...args], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("nnc check examples/*.nn is clean", () => {
  const files = readdirSync(fromRoot("examples"))
    .filter((f) => f.endsWith(".nn"))
    .map((f) => `examples/${f}`);
  const r = nnc("check", ...files);
  assert.is(r.stderr, "");
  assert.is(r.code, 0);
});

test("nnc check renders file:line:col, the code, the line and a caret underline", () => {
  const r = nnc("check", "test/golden/check/shape-missing-flatten/input.nn");
  assert.is(r.code, 1);
  const lines = r.stderr.split("\n");
  assert.is(
    lines[0],
    "test/golden/check/shape-missing-flatten/input.nn:1:36: error NN2013: model Mnist declares its output as [10], but its body produces [13, 13, 10]",
  );
  assert.is(lines[1], "  1 | model Mnist(image: [28, 28, 1]) -> [10] {");
  assert.is(lines[2], "    |                                    ^^^^");
  assert.match(lines[3]!, /did you forget `\|> flatten` before it\?/);
  assert.ok(!/\bat .*\.js:\d+/.test(r.stderr), "no stack trace");
});

test("nnc check --format json prints diagnostics as JSON on stdout", async () => {
  const r = await inProcess(
    "check",
    "--format",
    "json",
    "test/golden/check/name-misspelt-layer/input.nn",
  );
  assert.is(r.code, 1);
  const json = JSON.parse(r.stdout) as {
    code: string;
    line: number;
    column: number;
    message: string;
  }[];
  assert.is(json.length, 1);
  assert.is(json[0]!.code, "NN2001");
  assert.is(json[0]!.line, 2);
  assert.is(json[0]!.column, 12);
  assert.match(json[0]!.message, /did you mean 'conv2d'/);
});

test("usage errors and missing files exit 2", async () => {
  assert.is((await inProcess("check")).code, 2);
  assert.is((await inProcess("check", "no/such/file.nn")).code, 2);
  assert.is((await inProcess("check", "--format", "xml", "examples/mnist.nn")).code, 2);
  assert.is((await inProcess("summary")).code, 2);
  assert.is((await inProcess("summary", "no/such/file.nn")).code, 2);
  assert.is((await inProcess("summary", "--format", "xml")).code, 2);
});

test("a missing file among several: the others' diagnostics are still reported, exit 2", async () => {
  const bad = "test/golden/check/name-misspelt-layer/input.nn";
  const r = await inProcess("check", bad, "no/such/file.nn", "examples/mnist.nn");
  assert.is(r.code, 2);
  const lines = r.stderr.trimEnd().split("\n");
  assert.match(lines[0]!, `${bad}:2:12: error NN2001: unknown name`);
  assert.is(lines[3], "nnc check: no/such/file.nn: no such file");
  assert.is(lines[4], "1 error");
  assert.is(lines.length, 5);
  // With --format json the diagnostics are still on stdout.
  const j = await inProcess("check", "--format", "json", "no/such/file.nn", bad);
  assert.is(j.code, 2);
  assert.is(j.stderr, "nnc check: no/such/file.nn: no such file\n");
  assert.equal(
    (JSON.parse(j.stdout) as { code: string }[]).map((d) => d.code),
    ["NN2001"],
  );
});

test("a folder, a binary file and a 100,000-character line get one clear message each", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-input-"));
  try {
    // A folder given as the file: exit 2 naming it, for every command that reads one.
    for (const command of ["check", "summary"] as const) {
      const r = await inProcess(command, dir);
      assert.is(r.code, 2);
      assert.is(r.stderr, `nnc ${command}: ${dir}: is a folder, not a file\n`);
    }
    const train = nnc("train", dir);
    assert.is(train.code, 2);
    assert.is(train.stderr, `nnc train: ${dir}: is a folder, not a file\n`);

    // A binary file: one NN1007 at its first NUL byte, and no control character on stderr.
    const binary = join(dir, "model.nn");
    writeFileSync(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x1b, 0x5b]));
    const b = await inProcess("check", binary);
    assert.is(b.code, 1);
    const lines = b.stderr.trimEnd().split("\n");
    assert.is(lines.length, 4);
    assert.is(lines[3], "1 error");
    assert.is(
      lines[0],
      `${binary}:1:7: error NN1007: not a text file: it holds a NUL byte here (a .nn file is UTF-8 text)`,
    );
    assert.is(lines[1], "  1 | \ufffdELF\ufffd\ufffd\ufffd\ufffd[");
    assert.is(lines[2], "    |       ^");

    // A stray control character is named by its escape; a long line is cut around the error.
    const long = join(dir, "long.nn");
    writeFileSync(long, `${"#".repeat(5000)}\nmodel M(x: [2]) -> [2] { x \u0007 }\n`);
    const c = await inProcess("check", long);
    assert.match(c.stderr, /error NN1003: unexpected character '\\x07'/);
    const wide = join(dir, "wide.nn");
    writeFileSync(wide, `model M(x: [2]) -> [2] { x }${" ".repeat(100_000)}$\n`);
    const w = await inProcess("check", wide);
    const [head, text, caret] = w.stderr.split("\n");
    assert.match(head!, /:1:100029: error NN1003: unexpected character '\$'/);
    assert.ok(text!.length < 120, `excerpt of ${text!.length} characters`);
    assert.ok(text!.startsWith("  1 | ...") && text!.endsWith("$"));
    assert.is(caret!.length, text!.length, "the caret is under the '$'");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("nnc summary examples/mnist.nn: Keras-style table, 54,410 parameters", () => {
  const r = nnc("summary", "examples/mnist.nn");
  assert.is(r.code, 0);
  assert.match(r.stdout, /conv2d \(conv2d\)\s+\(None, 26, 26, 32\)\s+320/);
  assert.match(r.stdout, /dense \(dense\)\s+\(None, 10\)\s+54,090/);
  assert.match(r.stdout, /Total params: 54,410\n/);
  assert.match(r.stdout, /Trainable params: 54,410\n/);
  assert.match(r.stdout, /Non-trainable params: 0\n/);
});

test("nnc summary --model picks a model; an unknown one is an error with a suggestion", async () => {
  const r = await inProcess("summary", "examples/gan.nn", "--model", "Discriminator");
  assert.is(r.code, 0);
  assert.match(r.stdout, /Model: "Discriminator"/);
  assert.match(r.stdout, /Total params: 201,217/);
  const bad = await inProcess("summary", "examples/gan.nn", "--model", "Discriminater");
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /did you mean 'Discriminator'/);
});

test("nnc summary of a file with errors reports them and exits 1", async () => {
  const r = await inProcess("summary", "test/golden/check/shape-broadcast/input.nn");
  assert.is(r.code, 1);
  assert.match(r.stderr, /error NN2010/);
});

test.run();
