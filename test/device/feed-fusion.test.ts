/**
 * @file The gather fused into the kernels that read the batch (runtime/feed-fusion.ts): the
 * rewrite of a kernel's loads, which kernels it refuses, and on the device, fits whose kernels
 * read the resident dataset themselves against fits fed by the gather kernel and by the host,
 * bit for bit (bytes and f32 features, a partial evaluation batch, the step counter).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFile } from "../../compiler/compile.js";
import { BYTE_SCALE, BYTE_TABLE, type Dataset } from "../../runtime/data/dataset.js";
import { loadMnist } from "../../runtime/data/node.js";
import type { NncDevice } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { fuseFeedReads, type FeedLayout } from "../../runtime/feed-fusion.js";
import { Feeder, uploadDataset } from "../../runtime/feeder.js";
import { NncModel } from "../../runtime/model.js";
import type { PlanKernel } from "../../runtime/plan.js";
import { fromRoot } from "../util/golden.js";
import { device, releaseDevice, rng, tinyGan } from "./util.js";

function kernel(wgsl: string, bindings: number): PlanKernel {
  return {
    name: "k",
    wgsl,
    entryPoint: "main",
    workgroupSize: [64, 1, 1],
    dispatch: [1, 1, 1],
    bindings: Array.from({ length: bindings }, (_, k) => ({
      binding: k,
      buffer: k,
      access: k === bindings - 1 ? ("read_write" as const) : ("read" as const),
    })),
    node: 0,
    op: "matmul",
    location: "a.nn:1:1",
  };
}

const layout: FeedLayout = { batch: 6, per: 8, classes: 3, bytes: true };

const twoInputs = `@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> lab: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = x[x[0u].x > 0.0f];
  out[i] = x[i + 2u] * lab[i % 18u] + vec4<f32>(f32(gid.x));
}
`;

test("fuseFeedReads routes every load of the input and labels through an accessor", () => {
  const f = fuseFeedReads(
    kernel(twoInputs.replace("let t = x[x[0u].x > 0.0f];\n  ", ""), 3),
    { x: [0], y: [1] },
    layout,
  );
  assert.ok(f);
  const w = f.wgsl;
  assert.match(w, "var<storage, read> x: array<u32>;");
  assert.match(w, "var<storage, read> lab: array<u32>;");
  assert.match(
    w,
    "out[i] = nnc_load_x(u32(i + 2u)) * nnc_load_lab(u32(i % 18u)) + vec4<f32>(f32(gid.x));",
  );
  assert.match(w, "@group(0) @binding(3) var<uniform> nnc_feed: NncFeed;");
  assert.match(w, "rows: array<vec4<u32>, 6>"); // six rows, one to a vec4
  assert.match(w, "return nnc_feed.rows[min(r, 5u)].x;");
  assert.match(w, `* ${BYTE_SCALE}f`);
  assert.not.match(w, "unpack4x", "shifts and masks: not every WebGPU has unpack4xU8");
  assert.equal(f.bindings.slice(0, 3), kernel(twoInputs, 3).bindings);
  assert.equal(f.bindings.at(-1), { binding: 3, buffer: -1, access: "uniform" });
  // `gid.x` is a member, not the input `x`: left as it was.
  assert.is(w.split("\n").filter((l) => l.includes("gid.x")).length, 2);
});

test("fuseFeedReads rewrites nested loads from the inside out", () => {
  const f = fuseFeedReads(kernel(twoInputs, 3), { x: [0], y: [] }, layout);
  assert.ok(f);
  assert.match(f.wgsl, "let t = nnc_load_x(u32(nnc_load_x(u32(0u)).x > 0.0f));");
});

test("fuseFeedReads refuses what it cannot rewrite", () => {
  const scalar = twoInputs.replace("x: array<vec4<f32>>", "x: array<f32>");
  assert.is(fuseFeedReads(kernel(scalar, 3), { x: [0], y: [] }, layout), null, "scalar input");
  assert.is(
    fuseFeedReads(kernel(twoInputs, 3), { x: [0], y: [] }, { ...layout, per: 10 }),
    null,
    "a sample that is not whole vec4s",
  );
  const vecLabels = twoInputs.replace("lab: array<f32>", "lab: array<vec4<f32>>");
  assert.is(fuseFeedReads(kernel(vecLabels, 3), { x: [], y: [1] }, layout), null, "vec4 labels");
  const length = twoInputs.replace("let i = gid.x;", "let i = arrayLength(&x);");
  assert.is(fuseFeedReads(kernel(length, 3), { x: [0], y: [] }, layout), null, "arrayLength");
  assert.is(
    fuseFeedReads(kernel(twoInputs, 3), { x: [2], y: [] }, layout),
    null,
    "a read_write binding",
  );
  assert.is(fuseFeedReads(kernel(twoInputs, 3), { x: [], y: [] }, layout), null, "nothing to fuse");
});

test("BYTE_TABLE is the f32 product b * BYTE_SCALE, at most an ulp from the f32 b / 255", () => {
  let off = 0;
  for (let b = 0; b < 256; b++) {
    assert.is(BYTE_TABLE[b], Math.fround(b * BYTE_SCALE));
    const exact = Math.fround(b / 255);
    const ulp = exact === 0 ? 0 : 2 ** (Math.floor(Math.log2(exact)) - 23);
    assert.ok(Math.abs(BYTE_TABLE[b]! - exact) <= ulp, `byte ${b}`);
    if (BYTE_TABLE[b] !== exact) off++;
  }
  assert.ok(off > 0 && off < 256, `${off} bytes an ulp off`);
  assert.is(BYTE_TABLE[255], 1);
});

// ---------------------------------------------------------------------------------------------
// On the device

let dev: NncDevice;
test.before(async () => {
  dev = await device();
});
test.after(releaseDevice);

interface FitResult {
  readonly weights: Float32Array[];
  readonly loss: number;
  readonly valLoss: number;
  readonly valAccuracy: number;
}

async function fitWith(
  source: { file: string; text?: string },
  data: Dataset,
  validation: Dataset,
  feed: "host" | "gather" | "fused",
): Promise<FitResult> {
  const program = compileFile(source.file, {
    limits: dev.limits,
    ...(source.text ? { text: source.text } : {}),
  }).program!;
  const model = await NncModel.create(program, dev, { seed: 5 });
  if (feed === "gather") process.env.NNC_FEED = "gather";
  try {
    const [r] = await model.fit(data, {
      epochs: 1,
      seed: 2,
      feed: feed === "host" ? "host" : "device",
      validation,
    });
    const weights = (await model.getWeights()).map((t) => Float32Array.from(t.data));
    return { weights, loss: r!.loss, valLoss: r!.valLoss!, valAccuracy: r!.valAccuracy! };
  } finally {
    delete process.env.NNC_FEED;
    model.dispose();
  }
}

function assertSame(a: FitResult, b: FitResult, what: string): void {
  assert.is(a.weights.length, b.weights.length);
  a.weights.forEach((w, k) => {
    const d = b.weights[k]!;
    let differ = 0;
    for (let i = 0; i < w.length; i++) if (!Object.is(w[i], d[i])) differ++;
    assert.is(differ, 0, `${what}: ${differ} values of weights ${k} differ`);
  });
  assert.is(a.loss, b.loss, `${what}: loss`);
  assert.is(a.valAccuracy, b.valAccuracy, `${what}: validation accuracy`);
  assert.is(a.valLoss, b.valLoss, `${what}: validation loss`);
}

/** Whether the step plan of `program` on this device gets the fused feed for `data`. */
async function fuses(file: string, data: Dataset, text?: string): Promise<boolean> {
  const program = compileFile(file, { limits: dev.limits, ...(text ? { text } : {}) }).program!;
  const ex = await Executor.create(dev, program.step);
  const resident = uploadDataset(dev, data);
  try {
    const x = ex.bufferOf("input", program.inputs[0]!.name);
    // A run whose steps take no labels (a GAN): the feed's labels go where nothing reads them.
    const y = ex.hasInput("label")
      ? ex.bufferOf("input", "label")
      : { buffer: dev.device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE }) };
    const feed = await Feeder.create(
      dev,
      resident,
      {
        batch: program.stepBatch,
        per: data.sampleShape.reduce((a, b) => a * b, 1),
        classes: data.classes,
        x: x.buffer,
        y: y.buffer,
      },
      [ex],
    );
    feed.dispose();
    return (feed.swapsFor(ex)?.size ?? 0) > 0;
  } finally {
    resident.buffer.destroy();
    ex.dispose();
  }
}

test("MNIST MLP: kernels that read the dataset train as the gather kernel and the host do, bit for bit", async () => {
  const train = loadMnist({ split: "train", limit: 700 }); // 21 full steps of 32
  const val = loadMnist({ split: "test", limit: 300 }); // a partial last evaluation batch
  const file = fromRoot("examples/mlp.nn");
  assert.ok(await fuses(file, train), "the MLP's first matmul reads bytes itself");
  const fused = await fitWith({ file }, train, val, "fused");
  assertSame(fused, await fitWith({ file }, train, val, "gather"), "fused against gather");
  assertSame(fused, await fitWith({ file }, train, val, "host"), "fused against host");
  assert.ok(fused.valAccuracy > 0.5, `the run learned (${fused.valAccuracy})`);
});

test("f32 features: the fused feed reads words as they are; the step counter still advances", async () => {
  // 8 features (two vec4s a sample), 3 classes, batch 4, 23 samples: 5 steps, 3 dropped.
  const text = `model Tiny(x: [8]) -> [3] { x |> dense(16, activation: relu) |> dense(3) }
train Tiny { data = csv(path: "tiny.csv", label: "y")
  loss = softmax_cross_entropy
  optimizer = adam(lr: 0.01)
  batch = 4
  epochs = 1 }`;
  const next = rng(7);
  const ds: Dataset = {
    source: "floats",
    inputs: Float32Array.from({ length: 23 * 8 }, () => next() * 4 - 2),
    sampleShape: [8],
    labels: Uint8Array.from({ length: 23 }, () => Math.floor(next() * 3)),
    count: 23,
    classes: 3,
  };
  const val: Dataset = {
    ...ds,
    source: "val",
    count: 11,
    inputs: ds.inputs.slice(0, 88),
    labels: ds.labels.slice(0, 11),
  };
  const source = { file: "tiny.nn", text };
  assert.ok(await fuses(source.file, ds, text), "the first matmul reads f32 words itself");
  const fused = await fitWith(source, ds, val, "fused");
  assertSame(fused, await fitWith(source, ds, val, "gather"), "fused against gather");
  assertSame(fused, await fitWith(source, ds, val, "host"), "fused against host");
});

test("a GAN (two steps, no labels) trains from the fused feed as from host batches, bit for bit", async () => {
  const text = tinyGan("", 8);
  const data = loadMnist({ split: "train", limit: 102 }); // 25 steps of 4, 2 samples dropped
  assert.ok(await fuses("tiny-gan.nn", data, text), "the discriminator's first matmul reads bytes");
  const program = compileFile("tiny-gan.nn", { limits: dev.limits, text }).program!;
  const fit = async (feed: "host" | "device") => {
    const model = await NncModel.create(program, dev, { seed: 3 });
    try {
      const [r] = await model.fit(data, { epochs: 1, seed: 4, feed });
      const weights = (await model.getWeights()).map((t) => [...t.data]);
      return { weights, losses: r!.losses };
    } finally {
      model.dispose();
    }
  };
  const fused = await fit("device");
  const host = await fit("host");
  assert.equal(fused.losses, host.losses);
  assert.ok(fused.weights.length >= 8);
  fused.weights.forEach((w, k) => assert.equal(w, host.weights[k]!, `weights ${k}`));
});

test("a rewritten kernel the device rejects leaves the feed to the gather kernel", async () => {
  const program = compileFile(fromRoot("examples/mlp.nn"), { limits: dev.limits }).program!;
  const image = program.step.inputs.find((i) => i.name === "image")!.buffer;
  // An extra function named like the feed's own: harmless in the plan's kernel, a duplicate
  // declaration once the feed is added, so the rewritten kernel fails to compile.
  const kernels = program.step.kernels.map((k) =>
    k.bindings.some((b) => b.buffer === image)
      ? { ...k, wgsl: `${k.wgsl}\nfn nnc_feed_row() {}\n` }
      : k,
  );
  const ex = await Executor.create(dev, { ...program.step, kernels });
  const data = loadMnist({ split: "train", limit: 64 });
  const resident = uploadDataset(dev, data);
  try {
    const target = {
      batch: program.stepBatch,
      per: 784,
      classes: 10,
      x: ex.bufferOf("input", "image").buffer,
      y: ex.bufferOf("input", "label").buffer,
    };
    const feed = await Feeder.create(dev, resident, target, [ex]);
    assert.is(feed.swapsFor(ex), undefined, "no kernel swapped: the gather kernel feeds the plan");
    feed.dispose();
  } finally {
    resident.buffer.destroy();
    ex.dispose();
  }
});

test("the seed CNN keeps the gather kernel: its convolution reads one value at a time", async () => {
  const train = loadMnist({ split: "train", limit: 64 });
  assert.not.ok(await fuses(fromRoot("examples/mnist.nn"), train));
});

test.run();
