/**
 * @file The two benchmark models and their initial weights, in one canonical
 * (Keras / TensorFlow) layout that every adapter converts from:
 *
 * - `cnn`: Conv2D 32 filters 3x3, valid, relu -> MaxPool 2x2 -> Flatten ->
 *   Dense 10 (logits). Conv kernel HWIO `[3, 3, 1, 32]`; the dense kernel is
 *   `[5408, 10]` with rows in NHWC flatten order `(h * 13 + w) * 32 + c`.
 * - `mlp`: Dense 784 -> 128 relu -> Dense 10 (logits); kernels `[in, out]`.
 *
 * Kernels are Glorot-uniform (Keras fan rules), biases zero. Loss: softmax
 * cross-entropy on the logits, mean over the batch; optimizer Adam with
 * lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7.
 */
import { glorotUniform, Rng } from "./rng.js";

export type ModelKind = "cnn" | "mlp";
export const MODEL_KINDS: readonly ModelKind[] = ["cnn", "mlp"];

/** Hyper-parameters shared by every system. */
export const ADAM = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

/** CNN geometry. */
export const CNN = {
  filters: 32,
  kernel: 3,
  convOut: 26,
  poolOut: 13,
  flat: 13 * 13 * 32,
} as const;
/** MLP geometry. */
export const MLP = { hidden: 128 } as const;

/** One named parameter: canonical shape and initial values. */
export interface ParamInit {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Initial parameters of `model`, in canonical layout and order, from `seed`. */
export function initialParams(model: ModelKind, seed: number): ParamInit[] {
  const rng = new Rng(seed ^ 0x5eed);
  if (model === "cnn") {
    const k = CNN.kernel;
    return [
      {
        name: "conv_kernel",
        shape: [k, k, 1, CNN.filters],
        values: glorotUniform(rng, k * k * CNN.filters, k * k * 1, k * k * CNN.filters),
      },
      { name: "conv_bias", shape: [CNN.filters], values: new Float32Array(CNN.filters) },
      {
        name: "dense_kernel",
        shape: [CNN.flat, 10],
        values: glorotUniform(rng, CNN.flat * 10, CNN.flat, 10),
      },
      { name: "dense_bias", shape: [10], values: new Float32Array(10) },
    ];
  }
  return [
    {
      name: "dense1_kernel",
      shape: [784, MLP.hidden],
      values: glorotUniform(rng, 784 * MLP.hidden, 784, MLP.hidden),
    },
    { name: "dense1_bias", shape: [MLP.hidden], values: new Float32Array(MLP.hidden) },
    {
      name: "dense2_kernel",
      shape: [MLP.hidden, 10],
      values: glorotUniform(rng, MLP.hidden * 10, MLP.hidden, 10),
    },
    { name: "dense2_bias", shape: [10], values: new Float32Array(10) },
  ];
}

/** HWIO `[kh, kw, ci, co]` -> OIHW `[co, ci, kh, kw]`. */
export function hwioToOihw(
  w: Float32Array,
  kh: number,
  kw: number,
  ci: number,
  co: number,
): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < kh; h++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++)
          out[((o * ci + i) * kh + h) * kw + x] = w[((h * kw + x) * ci + i) * co + o]!;
  return out;
}

/**
 * Dense kernel rows from NHWC flatten order `(h * W + w) * C + c` to NCHW
 * flatten order `(c * H + h) * W + w`; `cols` columns per row.
 */
export function nhwcRowsToNchw(
  k: Float32Array,
  h: number,
  w: number,
  c: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        const src = ((y * w + x) * c + ch) * cols;
        const dst = ((ch * h + y) * w + x) * cols;
        out.set(k.subarray(src, src + cols), dst);
      }
  return out;
}
