/**
 * @file jax-js 0.1.25 adapter: the benchmark models written as plain
 * functions of a parameter tree (NCHW layout, `lax.conv`, max-pooling with
 * `lax.reduceWindow`), the loss differentiated with `valueAndGrad`, and the
 * whole training step (forward, backward, Adam in TF.js' form) compiled as
 * one `jit` function; prediction is a second `jit` function. Devices:
 * `wasm` (single-threaded in Node, which has no web `Worker`) and `webgpu`
 * (Dawn on llvmpipe, see gpu.ts). jax-js' reference counting is followed:
 * every function consumes its arguments, `.ref` keeps one alive.
 */
import type { Array as JaxArray } from "@jax-js/jax";
import { installNavigatorGpu } from "./gpu.js";
import {
  ADAM,
  CNN,
  hwioToOihw,
  initialParams,
  MLP,
  nhwcRowsToNchw,
  type ModelKind,
} from "./models.js";
import type { BenchOptions, Trainer } from "./protocol.js";

export const JAX_BACKENDS = ["wasm", "webgpu"] as const;

type Params = { w1: JaxArray; b1: JaxArray; w2: JaxArray; b2: JaxArray };
const KEYS = ["w1", "b1", "w2", "b2"] as const;
/** jax-js wants typed arrays over a plain `ArrayBuffer`. */
const buf = (a: Float32Array) => a as Float32Array<ArrayBuffer>;

/** A jax-js trainer for `model` on device `backend`. */
export async function createJaxTrainer(
  backend: string,
  model: ModelKind,
  opts: BenchOptions,
): Promise<Trainer> {
  if (backend !== "wasm" && backend !== "webgpu")
    throw new Error(`jax-js device '${backend}' is not benchmarked`);
  let notes = "";
  if (backend === "webgpu") notes = `adapter: ${await installNavigatorGpu()}`;
  const jax = await import("@jax-js/jax");
  const { numpy: np, nn, lax, jit, valueAndGrad, tree } = jax;
  const available = await jax.init(backend);
  if (!available.includes(backend))
    throw new Error(`jax-js could not initialize the '${backend}' device`);
  jax.defaultDevice(backend);
  if (backend === "wasm")
    notes = `threads: ${typeof Worker === "undefined" ? "1 (no Worker in Node)" : "workers"}`;

  // Initial weights, converted from the canonical (Keras) layout.
  const init = initialParams(model, opts.seed);
  const v = (i: number) => init[i]!.values;
  let params: Params =
    model === "cnn"
      ? {
          w1: np
            .array(buf(hwioToOihw(v(0), CNN.kernel, CNN.kernel, 1, CNN.filters)))
            .reshape([CNN.filters, 1, 3, 3]),
          b1: np.array(buf(v(1))),
          w2: np
            .array(buf(nhwcRowsToNchw(v(2), CNN.poolOut, CNN.poolOut, CNN.filters, 10)))
            .reshape([CNN.flat, 10]),
          b2: np.array(buf(v(3))),
        }
      : {
          w1: np.array(buf(v(0))).reshape([784, MLP.hidden]),
          b1: np.array(buf(v(1))),
          w2: np.array(buf(v(2))).reshape([MLP.hidden, 10]),
          b2: np.array(buf(v(3))),
        };
  const zerosLike = (p: Params): Params => ({
    w1: np.zeros(p.w1.shape),
    b1: np.zeros(p.b1.shape),
    w2: np.zeros(p.w2.shape),
    b2: np.zeros(p.b2.shape),
  });
  let m = zerosLike(params);
  let s = zerosLike(params);
  let t = 0;

  /** Logits of a batch; consumes `p` and `x`. */
  const logits = (p: Params, x: JaxArray): JaxArray => {
    if (model === "cnn") {
      const n = x.shape[0]!;
      const conv = lax
        .conv(x.reshape([n, 1, 28, 28]), p.w1, [1, 1], "VALID")
        .add(p.b1.reshape([CNN.filters, 1, 1]));
      const pooled = lax.reduceWindow(nn.relu(conv), np.max, [2, 2], [2, 2]);
      return np.dot(pooled.reshape([n, CNN.flat]), p.w2).add(p.b2);
    }
    const h = nn.relu(np.dot(x, p.w1).add(p.b1));
    return np.dot(h, p.w2).add(p.b2);
  };

  /** Mean softmax cross-entropy; `y` is one-hot. */
  const lossFn = (p: Params, x: JaxArray, y: JaxArray): JaxArray => {
    const n = y.shape[0]!;
    return nn
      .logSoftmax(logits(p, x), -1)
      .mul(y)
      .sum()
      .mul(-1 / n);
  };

  // One training step: loss, gradients, Adam (TF.js form:
  // p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)).
  const trainStep = jit(
    (p: Params, m: Params, s: Params, x: JaxArray, y: JaxArray, c1: JaxArray, c2: JaxArray) => {
      const [loss, g] = valueAndGrad(lossFn)(tree.ref(p), x, y);
      const np2: Partial<Params> = {};
      const nm: Partial<Params> = {};
      const ns: Partial<Params> = {};
      for (const k of KEYS) {
        const gk = g[k];
        const mk = m[k].mul(ADAM.beta1).add(gk.ref.mul(1 - ADAM.beta1));
        const sk = s[k].mul(ADAM.beta2).add(gk.ref.mul(gk).mul(1 - ADAM.beta2));
        const update = mk.ref
          .mul(c1.ref)
          .div(np.sqrt(sk.ref.mul(c2.ref)).add(ADAM.epsilon))
          .mul(ADAM.learningRate);
        np2[k] = p[k].sub(update);
        nm[k] = mk;
        ns[k] = sk;
      }
      c1.dispose();
      c2.dispose();
      return [np2 as Params, nm as Params, ns as Params, loss] as [
        Params,
        Params,
        Params,
        JaxArray,
      ];
    },
  );
  const predictFn = jit((p: Params, x: JaxArray) => np.argmax(logits(p, x), 1));

  const oneHot = (y: Uint8Array): Float32Array => {
    const out = new Float32Array(y.length * 10);
    for (let i = 0; i < y.length; i++) out[i * 10 + y[i]!] = 1;
    return out;
  };

  return {
    notes,
    async step(xf, y, wantLoss) {
      t++;
      const n = y.length;
      const x = np.array(buf(xf)).reshape([n, 784]);
      const yy = np.array(buf(oneHot(y))).reshape([n, 10]);
      const c1 = np.array(buf(new Float32Array([1 / (1 - ADAM.beta1 ** t)]))).reshape([]);
      const c2 = np.array(buf(new Float32Array([1 / (1 - ADAM.beta2 ** t)]))).reshape([]);
      const [p2, m2, s2, loss] = trainStep(params, m, s, x, yy, c1, c2);
      params = p2;
      m = m2;
      s = s2;
      if (!wantLoss) {
        loss.dispose();
        return undefined;
      }
      const data = await loss.data();
      return data[0] as number;
    },
    async predict(xf, n) {
      const x = np.array(buf(xf)).reshape([n, 784]);
      const pred = predictFn(tree.ref(params), x);
      return (await pred.data()) as ArrayLike<number>;
    },
    dispose() {
      tree.dispose(params);
      tree.dispose(m);
      tree.dispose(s);
      trainStep.dispose();
      predictFn.dispose();
    },
  };
}
