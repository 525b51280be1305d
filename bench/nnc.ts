/**
 * @file nnc's own benchmark row, measured by the same protocol as the peers: the model is
 * compiled from `.nn` (examples/mnist.nn for the CNN, examples/mlp.nn for the MLP, at the
 * protocol's batch sizes, with the tuned kernel parameters `nnc train` uses) into a ModelProgram
 * and run through NncModel, the one execution path
 * `nnc train` and built modules share, starting from the same initial weights as every peer.
 * Steps are queued without waiting except when the protocol asks for the loss.
 */
import { compileForTuned, trainBudgetMs } from "../compiler/cli/tuning.js";
import { acquireDevice } from "../runtime/device.js";
import type { Dataset } from "../runtime/data/dataset.js";
import { NncModel } from "../runtime/model.js";
import { formatProfile, kernelProfileOf, profilingRequested } from "../runtime/profile.js";
import type { Mnist } from "./mnist.js";
import { initialParams, type ModelKind } from "./models.js";
import type { BenchOptions, Trainer } from "./protocol.js";
import { fileURLToPath } from "node:url";

/** Backends nnc's row is measured on. */
export const NNC_BACKENDS = ["webgpu"] as const;

/** Options for nnc's row: the shared protocol options plus the backend name. */
export interface NncBenchOptions extends BenchOptions {
  readonly backend: string;
}

const files: Record<ModelKind, string> = { cnn: "examples/mnist.nn", mlp: "examples/mlp.nn" };
/** The benchmark's parameter names -> nnc's layer parameter names. */
const names: Record<string, string> = {
  conv_kernel: "conv2d.w",
  conv_bias: "conv2d.b",
  dense_kernel: "dense.w",
  dense_bias: "dense.b",
  dense1_kernel: "dense.w",
  dense1_bias: "dense.b",
  dense2_kernel: "dense_1.w",
  dense2_bias: "dense_1.b",
};

/** nnc's trainer for `model`: the `.nn` example compiled with tuned kernels, run by NncModel. */
export async function createNncTrainer(
  model: ModelKind,
  opts: NncBenchOptions,
  data: Mnist,
): Promise<Trainer> {
  const dev = await acquireDevice();
  const path = fileURLToPath(new URL(`../../${files[model]}`, import.meta.url));
  // As `nnc train` compiles: the tune cache's kernel parameters for this adapter, after a
  // bounded search for shapes it lacks (NNC_TUNE=0: heuristics only).
  const program = await compileForTuned(
    path,
    dev,
    { batch: opts.batchSize, inferBatch: opts.inferBatch },
    { search: true, device: undefined, budgetMs: trainBudgetMs },
  );
  const m = await NncModel.create(program, dev, { seed: opts.seed });
  m.setWeights(
    initialParams(model, opts.seed).map((p) => ({
      name: names[p.name] ?? p.name,
      dtype: "F32" as const,
      shape: [...p.shape],
      data: p.values,
    })),
  );
  const classes = program.classes;
  const onehot = new Float32Array(opts.batchSize * classes);
  // The training split as bytes: uploaded to the device on the first step, every batch
  // gathered and normalised there (the images and order are the protocol's).
  const train = data.train;
  const resident: Dataset = {
    source: "mnist train",
    inputs: train.images,
    sampleShape: [...program.inputs[0]!.shape],
    labels: train.labels,
    count: train.count,
    classes,
  };
  return {
    notes: `${dev.description}; ${program.step.kernels.length} kernels per step${process.env.NNC_FEED === "host" ? "; batches written by the host" : "; training set resident on the device"}`,
    // NNC_FEED=host: the protocol's float batches, written every step, as the peers get them.
    ...(process.env.NNC_FEED === "host"
      ? {}
      : {
          async stepIndices(idx: Uint32Array, _y: Uint8Array, wantLoss: boolean) {
            if (!wantLoss) {
              await m.queueTrainStepOn(resident, idx);
              return undefined;
            }
            return (await m.trainStepOn(resident, idx)).loss;
          },
        }),
    async step(x, y, wantLoss) {
      onehot.fill(0);
      for (let i = 0; i < y.length; i++) onehot[i * classes + y[i]!] = 1;
      if (!wantLoss) {
        await m.queueTrainStep(x, onehot);
        return undefined;
      }
      return (await m.trainStep(x, onehot)).loss;
    },
    async predict(x, n) {
      const out = await m.predict(x.subarray(0, n * 784), n);
      const k = out.length / n;
      const cls = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < k; c++) if (out[i * k + c]! > out[i * k + best]!) best = c;
        cls[i] = best;
      }
      return cls;
    },
    // NNC_DEBUG: the per-kernel table `nnc train` prints (timestamp queries where the adapter
    // has them, else each kernel timed alone).
    async debugReport() {
      if (!profilingRequested()) return undefined;
      const p = await kernelProfileOf(program.step);
      const what = `the training step of ${program.model} (batch ${program.stepBatch})`;
      return p ? formatProfile(p, what) : undefined;
    },
    dispose() {
      m.dispose();
      dev.destroy();
    },
  };
}
