/**
 * @file The bundled CLI (dist/bundle/, made by scripts/bundle.ts) behaves exactly as the files
 * tsc wrote: the same build output and summary line, the same diagnostics and exit code for a
 * file with an error; and a bundle counts as fresh only while every file it was made from is
 * unchanged. The test bundles into a scratch folder of its own first (scripts/bundle.ts --out).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { freshManifest, sha1 } from "../../bin/bundled.js";
import { mnistFile, nncBin, root, run, scratch, type RunResult } from "../embed/util.js";

const bundler = join(root, "dist/scripts/bundle.js");
// A bundle of its own, made now, so a stale dist/bundle/ (or another tsc run) cannot matter.
const own = scratch("bundle-cli");
const bundleDir = join(own.dir, "bundle");

test.before(() => {
  const r = spawnSync(process.execPath, [bundler, "--out", bundleDir], { encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  assert.ok(freshManifest(bundleDir)?.commands.includes("build"));
});

test.after(() => own.cleanup());

/** `nnc ARGS` through the test's bundle (NNC_BUNDLE=DIR, required) or without (NNC_BUNDLE=0). */
function nnc(bundled: boolean, args: readonly string[]): Promise<RunResult> {
  return run(process.execPath, [nncBin, ...args], {
    env: { NNC_BUNDLE: bundled ? bundleDir : "0" },
  });
}

/** Output with the elapsed time and the scratch folder's name taken out. */
function normal(text: string, dir: string): string {
  return text.replace(/ in \d+ ms/g, " in N ms").replaceAll(dir, "DIR");
}

test("a build through the bundle writes the same module and says the same", async () => {
  const s = scratch("bundle-build");
  try {
    const [a, b] = [join(s.dir, "bundled"), join(s.dir, "plain")];
    const bundled = await nnc(true, ["build", mnistFile, "-o", a]);
    const plain = await nnc(false, ["build", mnistFile, "-o", b]);
    assert.is(bundled.code, 0, bundled.stderr);
    assert.is(plain.code, 0, plain.stderr);
    assert.match(bundled.stdout, /^nnc build: \d+ kernels compiled on .* wrote .*Mnist\.ts/);
    assert.is(
      normal(bundled.stdout, "bundled").replace(/\.nnc-cache\/[^/]+\//, ""),
      normal(plain.stdout, "plain").replace(/\.nnc-cache\/[^/]+\//, ""),
    );
    assert.is(bundled.stderr, plain.stderr);
    assert.equal(readdirSync(a), ["Mnist.ts"]);
    assert.equal(readdirSync(b), ["Mnist.ts"]);
    const ts = readFileSync(join(a, "Mnist.ts"), "utf8");
    assert.ok(ts.includes("export class Mnist"));
    assert.is(ts, readFileSync(join(b, "Mnist.ts"), "utf8"));
  } finally {
    s.cleanup();
  }
});

test("a file with an error gets the same diagnostics and exit code through the bundle", async () => {
  const s = scratch("bundle-error");
  try {
    const bad = join(s.dir, "bad.nn");
    const text = readFileSync(mnistFile, "utf8").replace(/\bconv2d\(/, "conv2dd(");
    assert.is.not(text, readFileSync(mnistFile, "utf8"));
    writeFileSync(bad, text);
    const bundled = await nnc(true, ["build", bad, "-o", join(s.dir, "out")]);
    const plain = await nnc(false, ["build", bad, "-o", join(s.dir, "out")]);
    assert.is(bundled.code, 1, bundled.stdout + bundled.stderr);
    assert.is(plain.code, 1, plain.stdout + plain.stderr);
    assert.match(bundled.stderr, /bad\.nn:\d+:\d+: error NN\d{4}: /);
    assert.is(bundled.stderr, plain.stderr);
    assert.is(bundled.stdout, "");
    assert.is(plain.stdout, "");
  } finally {
    s.cleanup();
  }
});

test("a bundle is fresh while its inputs keep their content, even with a new mtime", () => {
  const s = scratch("bundle-manifest");
  try {
    const input = join(s.dir, "input.js");
    writeFileSync(input, "export const a = 1;\n");
    const st = statSync(input);
    const entry = { path: "input.js", size: st.size, mtimeMs: st.mtimeMs, sha1: "" };
    const manifest = (sha: string) =>
      writeFileSync(
        join(s.dir, "manifest.json"),
        JSON.stringify({ commands: ["build"], files: [{ ...entry, sha1: sha }] }),
      );
    manifest(sha1(readFileSync(input)));
    assert.ok(freshManifest(s.dir, s.dir));
    // Rewritten with the same text (as every tsc run does): still fresh.
    utimesSync(input, new Date(), new Date(st.mtimeMs + 5000));
    assert.ok(freshManifest(s.dir, s.dir));
    // Same size, other text: stale.
    writeFileSync(input, "export const b = 1;\n");
    assert.is(freshManifest(s.dir, s.dir), undefined);
    // A missing input, or no manifest at all: stale.
    manifest("0".repeat(40));
    writeFileSync(
      join(s.dir, "manifest.json"),
      JSON.stringify({ commands: [], files: [{ ...entry, path: "gone.js" }] }),
    );
    assert.is(freshManifest(s.dir, s.dir), undefined);
    assert.is(freshManifest(join(s.dir, "nowhere"), s.dir), undefined);
  } finally {
    s.cleanup();
  }
});

test.run();
