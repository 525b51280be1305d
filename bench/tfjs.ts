/**
 * @file TensorFlow.js 4.22 adapter: builds the benchmark models with
 * `tf.layers` (Keras-style layers, loaded with the shared initial weights),
 * trains with `tf.train.adam` through `optimizer.minimize` on
 * `tf.losses.softmaxCrossEntropy` (the usual custom-loop idiom, which does
 * not force a device sync each step as `model.fit` / `trainOnBatch` do), on
 * the `cpu` (plain JS), `wasm` (XNNPACK, single-threaded SIMD in Node) or
 * `webgpu` (Dawn on llvmpipe, see gpu.ts) backend.
 */
import { installNavigatorGpu } from "./gpu.js";
import { ADAM, CNN, initialParams, MLP, type ModelKind } from "./models.js";
import type { BenchOptions, Trainer } from "./protocol.js";

type Tf = typeof import("@tensorflow/tfjs");

export const TFJS_BACKENDS = ["cpu", "wasm", "webgpu"] as const;

/** Loads TF.js with `backend` selected; the webgpu backend only registers when `navigator.gpu` exists. */
async function loadTf(backend: string): Promise<{ tf: Tf; notes: string }> {
  let notes = "";
  if (backend === "webgpu") notes = `adapter: ${await installNavigatorGpu()}`;
  const mod = (await import("@tensorflow/tfjs")) as Tf & { default?: Tf };
  const tf: Tf = mod.default ?? mod;
  if (backend === "wasm") await import("@tensorflow/tfjs-backend-wasm");
  if (backend === "webgpu") await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend(backend)))
    throw new Error(`TF.js backend '${backend}' failed to initialize`);
  await tf.ready();
  if (tf.getBackend() !== backend)
    throw new Error(`TF.js selected '${tf.getBackend()}', not '${backend}'`);
  if (backend === "wasm") {
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    notes = `simd ${simd}, threads ${threads}`;
  }
  return { tf, notes };
}

/** A TF.js trainer for `model` on `backend`. */
export async function createTfjsTrainer(
  backend: string,
  model: ModelKind,
  opts: BenchOptions,
): Promise<Trainer> {
  const { tf, notes } = await loadTf(backend);
  const net = tf.sequential();
  if (model === "cnn") {
    net.add(
      tf.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: CNN.filters,
        kernelSize: CNN.kernel,
        padding: "valid",
        activation: "relu",
      }),
    );
    net.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    net.add(tf.layers.flatten());
    net.add(tf.layers.dense({ units: 10 }));
  } else {
    net.add(tf.layers.dense({ inputShape: [784], units: MLP.hidden, activation: "relu" }));
    net.add(tf.layers.dense({ units: 10 }));
  }
  const init = initialParams(model, opts.seed);
  net.setWeights(init.map((p) => tf.tensor(p.values, [...p.shape])));
  const optimizer = tf.train.adam(ADAM.learningRate, ADAM.beta1, ADAM.beta2, ADAM.epsilon);
  const input = (x: Float32Array, n: number) =>
    model === "cnn" ? tf.tensor4d(x, [n, 28, 28, 1]) : tf.tensor2d(x, [n, 784]);

  return {
    notes,
    async step(x, y, wantLoss) {
      const n = y.length;
      const xs = input(x, n);
      const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(y), "int32"), 10));
      const cost = optimizer.minimize(
        () =>
          tf.losses.softmaxCrossEntropy(
            ys,
            net.apply(xs, { training: true }) as import("@tensorflow/tfjs").Tensor,
          ),
        true,
      );
      xs.dispose();
      ys.dispose();
      if (!cost) throw new Error("minimize returned no cost");
      if (!wantLoss) {
        cost.dispose();
        return undefined;
      }
      const v = (await cost.data())[0]!;
      cost.dispose();
      return v;
    },
    async predict(x, n) {
      const xs = input(x, n);
      const pred = tf.tidy(() => (net.predict(xs) as import("@tensorflow/tfjs").Tensor).argMax(-1));
      xs.dispose();
      const out = await pred.data();
      pred.dispose();
      return out;
    },
    dispose() {
      optimizer.dispose();
      net.dispose();
    },
  };
}
