/**
 * @file Kernel tuning through the commands: a tiny `nnc train` run measures the model's
 * shapes on its device and writes the cache where NNC_TUNE_CACHE says (stdout stays one JSON
 * line), NNC_TUNE=0 trains without writing one, and `nnc build`'s device-free path compiles
 * the cached winner of the adapter its device choice last gave.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileFile } from "../../compiler/compile.js";
import { buildTuning } from "../../compiler/cli/tuning.js";
import { convKey, deviceChoice, useTuning, writeTuneCache } from "../../compiler/codegen/tune.js";
import { defaultLimits } from "../../runtime/plan.js";
import { fromRoot } from "../util/golden.js";

const nnc = fromRoot("dist/bin/nnc.js");
const dir = mkdtempSync(join(tmpdir(), "nnc-tune-cli-"));
const mnistConv = `conv2d ${convKey([64, 28, 28, 1], 3, 3, 32, [1, 1], [0, 0, 0, 0])}`;

function train(env: Record<string, string>, out: string) {
  const r = spawnSync(
    process.execPath,
    [nnc, "train", "examples/mnist.nn", "--limit", "64", "--epochs", "1", "--out", out, "--json"],
    { cwd: fromRoot(), encoding: "utf8", timeout: 300_000, env: { ...process.env, ...env } },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("nnc train --limit measures the model's shapes and writes NNC_TUNE_CACHE", () => {
  const cache = join(dir, "a", "tune.json");
  const r = train({ NNC_TUNE_CACHE: cache }, join(dir, "out-a"));
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.is(lines.length, 1, r.stdout); // --json: the summary only
  const summary = JSON.parse(lines[0]!) as { device: string };
  assert.match(r.stderr, /nnc: tuned \d+ kernel shapes? in [\d.]+ s/);
  const table = JSON.parse(readFileSync(cache, "utf8"));
  const mine = table[summary.device];
  // The step's first shape is always measured, whatever the time budget.
  assert.ok(mine && mnistConv in mine, JSON.stringify(Object.keys(mine ?? {})));
  assert.type(mine[mnistConv].ms, "number");
  assert.is(table["@devices"][deviceChoice(undefined)], summary.device);
});

test("NNC_TUNE=0 trains with the heuristics and writes no cache", () => {
  const cache = join(dir, "b", "tune.json");
  const r = train({ NNC_TUNE_CACHE: cache, NNC_TUNE: "0" }, join(dir, "out-b"));
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stderr, /tuned/);
  assert.not.ok(existsSync(cache));
});

test("bad training data fails before the kernel search, not seconds after it", () => {
  const cache = join(dir, "d", "tune.json");
  const file = join(dir, "rows.nn");
  writeFileSync(join(dir, "rows.csv"), "a,b,label\n1,2,0\n3,x,1\n");
  writeFileSync(
    file,
    `model M(x: [2]) -> [2] { x |> dense(2) }
train M {
  data = csv("rows.csv", label: "label")
  loss = softmax_cross_entropy
  optimizer = adam(lr: 0.01)
  batch = 1
  epochs = 1
}
`,
  );
  const r = spawnSync(process.execPath, [nnc, "train", file, "--out", join(dir, "out-d")], {
    cwd: fromRoot(),
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, NNC_TUNE_CACHE: cache },
  });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /rows\.csv:3:3: error NN5204: 'x' in column 'b' is not a number/);
  assert.not.match(r.stderr, /tuned/);
  assert.not.ok(existsSync(cache));
});

test("nnc build without --tune compiles the winner cached for its device choice", async () => {
  const cache = join(dir, "c", "tune.json");
  const saved = process.env.NNC_TUNE_CACHE;
  process.env.NNC_TUNE_CACHE = cache;
  const conv = () => {
    const r = compileFile(fromRoot("examples/mnist.nn"), { limits: defaultLimits });
    return r.program!.step.kernels.find((k) => k.op === "conv2d")!.wgsl;
  };
  try {
    const base = conv();
    writeTuneCache(
      {
        "some adapter": { [mnistConv]: { px: 2, ch: 4, wg: 64 } },
        "another adapter": {},
        "@devices": { [deviceChoice(undefined)]: "some adapter" },
      },
      cache,
    );
    await buildTuning(false, undefined, () => {
      throw new Error("no compile without --tune");
    });
    const tuned = conv();
    assert.is.not(tuned, base);
    // Recorded for another choice only: two adapters, so neither's winners apply.
    writeTuneCache({ "some adapter": { [mnistConv]: { px: 2, ch: 4, wg: 64 } }, b: {} }, cache);
    await buildTuning(false, "swiftshader", () => []);
    assert.is(conv(), base);
  } finally {
    if (saved === undefined) delete process.env.NNC_TUNE_CACHE;
    else process.env.NNC_TUNE_CACHE = saved;
    useTuning(undefined);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
