/**
 * @file The seed's training program, as written, in TensorFlow.js's Keras layers: the accuracy
 * reference for `nnc train examples/mnist.nn`. The seed's Keras model (Conv2D(32, 3x3, relu),
 * MaxPooling2D(2), Flatten, Dense(10, softmax)) with Keras's own defaults (glorot_uniform
 * kernels, zero biases), Adam(1e-3) with Keras's epsilon 1e-7, categorical cross-entropy on the
 * softmax output, batch 64 over a fresh shuffle each epoch (`trainOnBatch`, as `model.fit` with
 * `shuffle: true` does; `fit` itself cannot hold the 188 MB training tensor in one storage
 * binding of the llvmpipe device), pixels in [0, 1]. After each epoch it prints one JSON line
 * with the training loss and the accuracy on the 10,000 test images.
 *
 * Unlike the bench rows, nothing here is shared with nnc (initial weights, batches): it shows
 * what the seed's own program reaches, not a like-for-like step comparison.
 *
 *   node dist/bench/keras-seed.js [--epochs N] [--backend webgpu|cpu]
 *
 * On the 2-core llvmpipe machine the webgpu backend takes about 15 minutes per epoch.
 */
import { parseArgs } from "node:util";
import { installNavigatorGpu } from "./gpu.js";
import { IMAGE_SIZE, loadMnist, NUM_CLASSES, type MnistSplit } from "./mnist.js";

type Tf = typeof import("@tensorflow/tfjs");

const { values } = parseArgs({
  options: {
    epochs: { type: "string", default: "2" },
    backend: { type: "string", default: "webgpu" },
  },
});
const epochs = Number(values.epochs);
const backend = values.backend!;
if (!Number.isInteger(epochs) || epochs < 1) {
  process.stderr.write(`keras-seed: --epochs must be a positive integer, not '${values.epochs}'\n`);
  process.exit(2);
}

if (backend === "webgpu") process.stderr.write(`adapter: ${await installNavigatorGpu()}\n`);
const mod = (await import("@tensorflow/tfjs")) as Tf & { default?: Tf };
const tf: Tf = mod.default ?? mod;
if (backend === "webgpu") await import("@tensorflow/tfjs-backend-webgpu");
if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' failed`);
await tf.ready();

const mnist = loadMnist();
const model = tf.sequential({
  layers: [
    tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: "relu", inputShape: [28, 28, 1] }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: NUM_CLASSES, activation: "softmax" }),
  ],
});
model.compile({
  optimizer: tf.train.adam(0.001),
  loss: "categoricalCrossentropy",
  metrics: ["accuracy"],
});

/** Samples `idx` of `split` as an NHWC image tensor in [0, 1] and one-hot labels. */
function tensors(split: MnistSplit, idx: readonly number[]) {
  const x = new Float32Array(idx.length * IMAGE_SIZE);
  const y = new Float32Array(idx.length * NUM_CLASSES);
  idx.forEach((k, r) => {
    for (let i = 0; i < IMAGE_SIZE; i++)
      x[r * IMAGE_SIZE + i] = split.images[k * IMAGE_SIZE + i]! / 255;
    y[r * NUM_CLASSES + split.labels[k]!] = 1;
  });
  return {
    x: tf.tensor4d(x, [idx.length, 28, 28, 1]),
    y: tf.tensor2d(y, [idx.length, NUM_CLASSES]),
  };
}

const started = performance.now();
for (let epoch = 1; epoch <= epochs; epoch++) {
  const order = Array.from({ length: mnist.train.count }, (_, i) => i);
  tf.util.shuffle(order);
  let lossSum = 0;
  let batches = 0;
  for (let b = 0; b < order.length; b += 64) {
    const { x, y } = tensors(mnist.train, order.slice(b, b + 64));
    const out = (await model.trainOnBatch(x, y)) as number[];
    lossSum += out[0]!;
    batches++;
    x.dispose();
    y.dispose();
    if (batches % 100 === 0) process.stderr.write(`epoch ${epoch}: ${batches} batches\r`);
  }
  let correct = 0;
  for (let b = 0; b < mnist.test.count; b += 500) {
    const idx = Array.from({ length: Math.min(500, mnist.test.count - b) }, (_, i) => b + i);
    const { x, y } = tensors(mnist.test, idx);
    const pred = tf.tidy(() => (model.predict(x) as import("@tensorflow/tfjs").Tensor).argMax(-1));
    const classes = await pred.data();
    idx.forEach((k, r) => {
      if (classes[r] === mnist.test.labels[k]) correct++;
    });
    x.dispose();
    y.dispose();
    pred.dispose();
  }
  const line = {
    system: "tfjs-keras",
    backend,
    epoch,
    train_loss: lossSum / batches,
    val_accuracy: correct / mnist.test.count,
    seconds: (performance.now() - started) / 1000,
  };
  process.stdout.write(JSON.stringify(line) + "\n");
}
