/**
 * @file Modules pay only for the augmentation code their run uses: a run with `augment` gets
 * `import "nnc/runtime/augment"` (bundled into its standalone build), one without gets neither
 * the import nor the code, and a bundle that augments without that code says what to import.
 * The standalone bundle of an augmenting run trains exactly as its module does in Node.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bundleStandalone } from "../../compiler/emit/bundle.js";
import { emitModule } from "../../compiler/emit/module.js";
import { compileFile } from "../../compiler/compile.js";
import { acquireDevice, type NncDevice } from "../../runtime/device.js";
import { defaultLimits } from "../../runtime/plan.js";
import { importTypeScript, mnistProgram, mnistTrain, scratch } from "./util.js";

interface Model {
  fit(
    d: { inputs: Uint8Array; labels: ArrayLike<number> },
    o?: { epochs?: number },
  ): Promise<unknown>;
  saveWeights(): Promise<Uint8Array>;
  dispose(): void;
}
interface ModelClass {
  create(opts?: { device?: GPUDevice; seed?: number }): Promise<Model>;
}

const space = scratch("embed-augment");
let dev: NncDevice;
let source = "";

const augmenting = `model Shifty(image: [28, 28, 1]) -> [10] {
  image |> flatten |> dense(10)
}

train Shifty {
  data      = mnist(split: "train")
  loss      = softmax_cross_entropy
  optimizer = adam(lr: 0.01)
  batch     = 32
  epochs    = 1
  augment   = [random_shift(2), random_rotate(10deg)]
}
`;

test.before(async () => {
  dev = await acquireDevice();
  const file = join(space.dir, "shifty.nn");
  writeFileSync(file, augmenting);
  const r = compileFile(file, { limits: defaultLimits });
  assert.equal(r.diagnostics, []);
  source = emitModule(r.program!);
});

test.after(() => {
  dev.destroy();
  space.cleanup();
});

test("only a module whose run augments imports and bundles the augmentation code", async () => {
  assert.match(source, /^import "nnc\/runtime\/augment";$/m);
  const plain = emitModule(mnistProgram());
  assert.not.match(plain, "nnc/runtime/augment");
  // The WGSL of the augmenting gather (its hash) stands in the bundle that needs it only.
  assert.match(await bundleStandalone(source), "fn hash32(");
  assert.not.match(await bundleStandalone(plain), "fn hash32(");
});

test("the standalone bundle of an augmenting run trains as its module does", async () => {
  const { images, labels } = await mnistTrain(96);
  const weights: Uint8Array[] = [];
  for (const [name, code] of [
    ["Shifty", source],
    ["ShiftyStandalone", await bundleStandalone(source)],
  ] as const) {
    const { Shifty } = await importTypeScript<{ Shifty: ModelClass }>(space.dir, name, code);
    const m = await Shifty.create({ device: dev.device, seed: 4 });
    await m.fit({ inputs: images, labels }, { epochs: 1 });
    weights.push(await m.saveWeights());
    m.dispose();
  }
  assert.equal(weights[1], weights[0]);
});

test("a bundle that augments without the augmentation code says what to import", async () => {
  const without = source.replace('import "nnc/runtime/augment";\n', "");
  const { Shifty } = await importTypeScript<{ Shifty: ModelClass }>(
    space.dir,
    "ShiftyWithout",
    await bundleStandalone(without),
  );
  const m = await Shifty.create({ device: dev.device });
  const { images, labels } = await mnistTrain(64);
  const e = await m.fit({ inputs: images, labels }).catch((err: unknown) => err);
  assert.match(
    (e as Error).message,
    'this run augments its images, but the augmentation code is not loaded: import "nnc/runtime/augment" once',
  );
  m.dispose();
});

test.run();
