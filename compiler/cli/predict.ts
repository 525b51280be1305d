/**
 * @file `nnc predict FILE --weights CKPT INPUT...`: runs the model on PNG images (decoded to the
 * input's channels: gray, RGB or RGBA) and on every item of IDX files, each checked against the
 * model's input as `nnc train` checks its data (dimensions up to axes of size 1, finite values,
 * token ids taken as they are and within the embedding), and prints for each what the prediction
 * is: a classifier's class and the probabilities of each (an output of one value is the
 * probability of class 1), or a regression run's predicted values. `--json` prints one JSON
 * array instead.
 */
import { readCheckpoint } from "../../runtime/checkpoint-node.js";
import {
  firstValueProblem,
  floatProblem,
  integerProblem,
  type IntegerInput,
} from "../../runtime/data/dataset.js";
import { describeItems, type IdxArray } from "../../runtime/data/idx.js";
import { readIdxFile, readPng } from "../../runtime/data/node.js";
import { NncModel } from "../../runtime/model.js";
import { isNncError, NncError } from "../../runtime/errors.js";
import { fileError } from "../../runtime/file-errors.js";
import type { PngChannels } from "../../runtime/png.js";
import { relaunchQuietly } from "../../runtime/quiet.js";
import { dimFlag, type FlagSpec, parseArgs, usage, UsageError } from "./args.js";
import { compileForInference } from "./tuning.js";
import { device, guard, isRegression, requireFile } from "./common.js";
import { checkpointTensors, type ModelProgram } from "../../runtime/program.js";

const flags: Record<string, FlagSpec> = {
  weights: { kind: "string", alias: "w", help: "safetensors checkpoint (required)" },
  run: { kind: "string", help: "which train section, when the file has several" },
  dim: dimFlag,
  limit: { kind: "int", min: 1, help: "at most N images from an IDX file" },
  invert: { kind: "boolean", help: "invert PNG images (dark digits on a light background)" },
  device: { kind: "string", help: "auto | gpu | llvmpipe | swiftshader (env NNC_DEVICE)" },
  json: { kind: "boolean", help: "print a JSON array on stdout" },
  help: { kind: "boolean", alias: "h", help: "show this help" },
};

interface Sample {
  readonly name: string;
  readonly pixels: Float32Array;
}

function softmaxIfLogits(row: Float32Array): Float32Array {
  const sum = row.reduce((a, b) => a + b, 0);
  const probabilities = row.every((v) => v >= 0 && v <= 1) && Math.abs(sum - 1) < 1e-3;
  if (probabilities) return row;
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

const shapeText = (s: readonly number[]) => `[${s.join(", ")}]`;

/**
 * Whether items of dimensions `item` feed `program`'s input as `nnc train` takes them: the same
 * dimensions up to axes of size 1, or as many values for a flat input.
 */
function fitsInput(item: readonly number[], program: ModelProgram): boolean {
  const shape = program.inputs[0]!.shape;
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  if (shape.length === 1 && size(item) === size(shape)) return true;
  const bare = (s: readonly number[]) => shapeText(s.filter((d) => d !== 1));
  return bare(item) === bare(shape);
}

/** "model Mlp's input image takes [28, 28, 1]", for messages. */
function takes(program: ModelProgram): string {
  const input = program.inputs[0]!;
  return `model ${program.model}'s input ${input.name} takes ${shapeText(input.shape)}`;
}

/**
 * The PNG image at `path` as one sample of `program`'s input, decoded to its channels (the last
 * axis of an input of rank 3 or more, else gray); an error naming the file when it does not fit.
 */
function pngSample(path: string, program: ModelProgram, invert: boolean): Sample {
  const input = program.inputs[0]!;
  const at = { file: path };
  if (input.dtype !== "f32") {
    throw fileError(
      "NN5601",
      {
        detail: `a PNG image holds pixels, but ${takes(program)} of integer ids (give them in an IDX file)`,
      },
      at,
    );
  }
  const channels = input.shape.length >= 3 ? input.shape[input.shape.length - 1]! : 1;
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw fileError(
      "NN5601",
      {
        detail: `a PNG image feeds an input of [height, width] or [height, width, channels] with 1 (gray), 3 (RGB) or 4 (RGBA) channels, but ${takes(program)}`,
      },
      at,
    );
  }
  const img = readPng(path, { background: invert ? 1 : 0, channels: channels as PngChannels });
  if (!fitsInput([img.height, img.width, channels], program)) {
    throw fileError(
      "NN5601",
      { detail: `the image is ${img.width}x${img.height} (width x height), but ${takes(program)}` },
      at,
    );
  }
  // Inverting flips the colour channels, never the alpha of RGBA.
  const px = invert
    ? img.pixels.map((v, i) => (channels === 4 && i % 4 === 3 ? v : 1 - v))
    : img.pixels;
  return { name: path, pixels: px };
}

/** The IDX file at `path`, its first `limit` items; an error that says what predict reads. */
function readInputIdx(path: string, limit: number | undefined): IdxArray {
  try {
    return readIdxFile(path, limit !== undefined ? { limit } : {});
  } catch (e) {
    if (!isNncError(e) || e.code !== "NN5101") throw e;
    const hint = "nnc predict reads PNG images, named .png, and IDX files";
    throw new NncError(e.code, `${e.detail} (${hint})`, e.location);
  }
}

/**
 * Every item of the IDX file at `path` as a sample of `program`'s input: token ids as they are,
 * bytes of a float input scaled by 1/255 (as `nnc train` scales images), other numbers as they
 * are. An error naming the file when it holds no items, items of other dimensions, or a value
 * the input cannot take (not finite; for ids, not whole or outside the embedding).
 */
function idxSamples(path: string, program: ModelProgram, limit: number | undefined): Sample[] {
  const input = program.inputs[0]!;
  const at = { file: path };
  const idx = readInputIdx(path, limit);
  const count = idx.dims[0]!;
  if (count === 0) {
    throw fileError(
      "NN5601",
      { detail: `the file holds ${describeItems(idx.dims)}: no items to predict` },
      at,
    );
  }
  if (!fitsInput(idx.dims.slice(1), program)) {
    throw fileError(
      "NN5601",
      { detail: `the file holds ${describeItems(idx.dims)}, but ${takes(program)}` },
      at,
    );
  }
  const per = idx.data.length / count;
  const ids: IntegerInput | undefined =
    input.dtype === "f32"
      ? undefined
      : { name: input.name, ...(input.below !== undefined ? { below: input.below } : {}) };
  const problem = firstValueProblem(
    idx.data,
    per,
    ids ? (v) => integerProblem(v, ids) : floatProblem,
  );
  if (problem !== undefined) throw fileError("NN5602", { detail: problem }, at);
  const scale = !ids && idx.type === "u8" ? 1 / 255 : 1;
  return Array.from({ length: count }, (_, i) => ({
    name: `${path}[${i}]`,
    pixels: Float32Array.from(idx.data.subarray(i * per, (i + 1) * per), (v) => v * scale),
  }));
}

/**
 * What the prediction `row` of one sample says: a regression run's values, or a classifier's
 * class and the probabilities of each (an output of one value is the probability of class 1,
 * the sigmoid `predict` applies to a logit, so the class is 1 from 0.5 on).
 */
function readOut(
  input: string,
  row: Float32Array,
  regression: boolean,
): { input: string; values: number[] } | { input: string; class: number; probabilities: number[] } {
  if (regression) return { input, values: Array.from(row, (v) => Number(v.toPrecision(6))) };
  const p = row.length === 1 ? Float32Array.of(1 - row[0]!, row[0]!) : softmaxIfLogits(row);
  let best = 0;
  if (row.length === 1) best = row[0]! >= 0.5 ? 1 : 0;
  else for (let c = 1; c < p.length; c++) if (p[c]! > p[best]!) best = c;
  return { input, class: best, probabilities: Array.from(p, (v) => Number(v.toFixed(6))) };
}

export async function run(args: string[]): Promise<number> {
  const quiet = await relaunchQuietly();
  if (quiet !== undefined) return quiet;
  return guard("predict", async () => {
    const { flags: f, positionals } = parseArgs(args, flags);
    if (f.help) {
      process.stdout.write(
        usage("predict", "FILE --weights CKPT INPUT... (PNG images or IDX files)", flags) + "\n",
      );
      return 0;
    }
    const file = requireFile("predict", positionals[0]);
    const weights = requireFile("predict", f.weights as string | undefined, "--weights CKPT");
    const inputs = positionals.slice(1);
    if (inputs.length === 0)
      throw new UsageError("needs at least one INPUT (a PNG image or an IDX file)");
    for (const p of inputs) requireFile("predict", p, "an input");
    const dev = await device(f.device as string | undefined);
    try {
      const program = await compileForInference("predict", file, dev, f);
      const ckpt = readCheckpoint(weights, checkpointTensors(program), program.model);
      const limit = f.limit as number | undefined;
      const samples = inputs.flatMap((path) =>
        /\.png$/i.test(path)
          ? [pngSample(path, program, f.invert === true)]
          : idxSamples(path, program, limit),
      );
      const per = samples[0]!.pixels.length;
      const model = await NncModel.create(program, dev);
      try {
        model.setWeights(ckpt.tensors);
        const x = new Float32Array(samples.length * per);
        samples.forEach((s, i) => x.set(s.pixels, i * per));
        const out = await model.predict(x, samples.length);
        const k = out.length / samples.length;
        const regression = isRegression(program.settings.data);
        const rows = samples.map((s, i) =>
          readOut(s.name, out.slice(i * k, (i + 1) * k), regression),
        );
        if (f.json) process.stdout.write(JSON.stringify(rows) + "\n");
        else
          for (const r of rows) {
            if ("values" in r) {
              process.stdout.write(`${r.input}: ${r.values.join(" ")}\n`);
              continue;
            }
            const top = r.probabilities.map((v, c) => `${c}:${v.toFixed(3)}`).join(" ");
            process.stdout.write(
              `${r.input}: ${r.class} (${(100 * r.probabilities[r.class]!).toFixed(1)}%)  ${top}\n`,
            );
          }
        return 0;
      } finally {
        model.dispose();
      }
    } finally {
      dev.destroy();
    }
  });
}
