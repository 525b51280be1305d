/**
 * @file End-to-end tests of `nnc check` and `nnc summary` (spawning dist/bin/nnc.js): exit
 * codes, the rendered diagnostic format, `--format json`, and the MNIST summary's totals.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
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
