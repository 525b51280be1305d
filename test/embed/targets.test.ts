/**
 * @file Labels that are not one-hot classes in a built module: a regression run (a CSV file
 * without `classes`) takes target values and learns a linear function; a model with one output
 * value (bce_logits) takes class indices 0 or 1 as its targets; wrong targets say what was
 * expected.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { emitModule } from "../../compiler/emit/module.js";
import { compileFile } from "../../compiler/compile.js";
import { acquireDevice, type NncDevice } from "../../runtime/device.js";
import { NncError } from "../../runtime/errors.js";
import { defaultLimits } from "../../runtime/plan.js";
import { importTypeScript, scratch } from "./util.js";

interface Model {
  trainStep(b: { inputs: Float32Array; labels: ArrayLike<number> }): Promise<{ loss: number }>;
  fit(
    d: { inputs: Float32Array; labels: ArrayLike<number> },
    o?: { epochs?: number; onEpoch?: (r: { accuracy: number }) => void },
  ): Promise<{ loss: number; accuracy: number }[]>;
  evaluate(d: { inputs: Float32Array; labels: ArrayLike<number> }): Promise<{
    loss: number;
    accuracy: number;
  }>;
  dispose(): void;
}
interface ModelClass {
  create(opts?: { device?: GPUDevice; seed?: number }): Promise<Model>;
  readonly batchSize: number;
}

const space = scratch("embed-targets");
let dev: NncDevice;

/** The class a `.nn` source compiles to, loaded in-process. */
async function build(name: string, source: string): Promise<ModelClass> {
  const file = join(space.dir, `${name}.nn`);
  writeFileSync(file, source);
  const r = compileFile(file, { limits: defaultLimits });
  assert.equal(r.diagnostics, []);
  const ts = emitModule(r.program!);
  docs.set(name, ts.replace(/\n\s*\* /g, " "));
  const mod = await importTypeScript<Record<string, ModelClass>>(space.dir, name, ts);
  return mod[r.program!.model]!;
}

/** The emitted source of each module built, its doc comments' lines joined. */
const docs = new Map<string, string>();

test.before(async () => {
  dev = await acquireDevice();
});

test.after(() => {
  dev.destroy();
  space.cleanup();
});

test("a regression run takes target values and learns them", async () => {
  const Line = await build(
    "line",
    `model Line(x: [2]) -> [1] { x |> dense(1) }
train Line {
  data      = csv(path: "line.csv", label: "y")
  loss      = mse
  optimizer = adam(lr: 0.05)
  batch     = 16
  epochs    = 1
}
`,
  );
  const n = 256;
  const inputs = new Float32Array(n * 2);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = ((i * 37) % 100) / 50 - 1;
    const b = ((i * 61) % 100) / 50 - 1;
    inputs.set([a, b], i * 2);
    labels.push(2 * a - b + 0.5);
  }
  const m = await Line.create({ device: dev.device, seed: 1 });
  const before = (await m.evaluate({ inputs, labels })).loss;
  const seen: number[] = [];
  const epochs = await m.fit(
    { inputs, labels },
    { epochs: 8, onEpoch: (r) => void seen.push(r.accuracy) },
  );
  const after = await m.evaluate({ inputs, labels });
  assert.ok(after.loss < before / 20, `loss ${before} -> ${after.loss}`);
  // A regression run has no accuracy: NaN, as nnc train reports none (not 0).
  assert.match(docs.get("line")!, "`labels`: one target value (a regression run) per sample.");
  assert.ok(
    [after.accuracy, epochs[0]!.accuracy, seen[0]!].every(Number.isNaN),
    JSON.stringify([after.accuracy, epochs[0]!.accuracy, seen[0]!]),
  );
  const e = await m
    .trainStep({ inputs: inputs.subarray(0, 32), labels: [...labels.slice(0, 15), Number.NaN] })
    .catch((err: unknown) => err);
  assert.instance(e, NncError);
  assert.is((e as Error).message, "Line.trainStep(): label 15 is NaN, not a finite number");
  m.dispose();
});

test("one output value takes class indices 0 or 1 as its targets", async () => {
  const Odd = await build(
    "odd",
    `model Odd(x: [1]) -> [1] { x |> dense(1) }
train Odd {
  data      = csv(path: "odd.csv", label: "y", classes: 2)
  loss      = bce_logits
  optimizer = adam(lr: 0.1)
  batch     = 16
  epochs    = 1
}
`,
  );
  assert.match(docs.get("odd")!, "`labels`: one class index (0 to 1) per sample.");
  const inputs = Float32Array.from({ length: 64 }, (_, i) => i / 32 - 1);
  const labels = Array.from(inputs, (v) => (v > 0 ? 1 : 0));
  const m = await Odd.create({ device: dev.device, seed: 1 });
  const before = (await m.evaluate({ inputs, labels })).loss;
  await m.fit({ inputs, labels }, { epochs: 10 });
  assert.ok((await m.evaluate({ inputs, labels })).loss < before);
  const e = await m
    .trainStep({ inputs: inputs.subarray(0, 16), labels: new Array(16).fill(2) })
    .catch((err: unknown) => err);
  assert.is((e as Error).message, "Odd.trainStep(): label 0 is 2; labels are class indices 0 to 1");
  m.dispose();
});

test.run();
