/**
 * @file `npm run size` (scripts/size.ts): its JSON report is self-consistent and the gzipped
 * total matches an independent gzip of the minified standalone bundle `nnc build` writes for
 * MNIST; the human line states the numbers and whether the 30 KB target is met, and it is.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { nnc, root, run, scratch } from "./util.js";

const script = join(root, "dist/scripts/size.js");

interface Report {
  file: string;
  model: string;
  source: number;
  minified: number;
  gzipped: number;
  runtimeGzipped: number;
  modelGzipped: number;
  target: number;
}

test("the size report is consistent, matches the built bundle and meets 30 KB", async () => {
  // Heuristic kernels (NNC_TUNE=0), not this checkout's cached winners: a search may cache
  // bigger matmul blocks (up to 16x16), whose longer WGSL the 30 KB budget is not about.
  const env = { NNC_TUNE: "0" };
  const json = await run(process.execPath, [script, "--json"], { env });
  assert.is(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as Report;
  assert.is(r.model, "Mnist");
  assert.is(r.target, 30_000);
  assert.is(r.runtimeGzipped + r.modelGzipped, r.gzipped);
  assert.ok(r.source > 0 && r.gzipped < r.minified / 3, JSON.stringify(r));
  assert.ok(r.gzipped < r.target, `${r.gzipped} bytes gzipped`);

  // Independently: the minified standalone module that nnc build writes, gzipped here. It has a
  // header comment the size script leaves out, so it is a little larger.
  const space = scratch("embed-size");
  try {
    const b = await nnc(
      ["build", "examples/mnist.nn", "--standalone", "--minify", "-o", space.dir],
      { env },
    );
    assert.is(b.code, 0, b.stderr);
    const bundle = readFileSync(join(space.dir, "Mnist.js"));
    const gz = gzipSync(bundle, { level: 9 }).length;
    assert.ok(gz >= r.gzipped && gz < r.gzipped + 600, `bundle ${gz} vs report ${r.gzipped}`);
  } finally {
    space.cleanup();
  }

  const human = await run(process.execPath, [script], { env });
  assert.is(human.code, 0, human.stderr);
  assert.match(human.stdout, `${r.gzipped} bytes`);
  assert.match(human.stdout, /minified \+ gzipped/);
  assert.match(human.stdout, /Target: under 30000 bytes .*: met\.$/m);
});

test.run();
