/**
 * @file `nnc predict FILE --weights CKPT INPUT...`: classifies PNG images (converted to
 * grayscale, checked against the model's input size) or every image of an IDX file, printing
 * the class and the probabilities of each. `--json` prints one JSON array instead.
 */
import { readCheckpoint } from "../../runtime/checkpoint-node.js";
import { readIdxFile, readPng } from "../../runtime/data/node.js";
import { NncModel } from "../../runtime/model.js";
import { nncError } from "../../runtime/errors.js";
import { fileError } from "../../runtime/file-errors.js";
import { relaunchQuietly } from "../../runtime/quiet.js";
import { dimFlag, type FlagSpec, parseArgs, usage, UsageError } from "./args.js";
import { compileForInference } from "./tuning.js";
import { device, guard, requireFile } from "./common.js";
import { checkpointTensors } from "../../runtime/program.js";

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

export async function run(args: string[]): Promise<number> {
  const quiet = await relaunchQuietly();
  if (quiet !== undefined) return quiet;
  return guard("predict", async () => {
    const { flags: f, positionals } = parseArgs(args, flags);
    if (f.help) {
      process.stdout.write(
        usage("predict", "FILE --weights CKPT INPUT... (PNG images or an IDX file)", flags) + "\n",
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
      const ckpt = readCheckpoint(weights, checkpointTensors(program));
      const shape = program.inputs[0]!.shape;
      const per = shape.reduce((a, b) => a * b, 1);
      const samples: Sample[] = [];
      for (const path of inputs) {
        if (/\.png$/i.test(path)) {
          const img = readPng(path, { background: f.invert ? 1 : 0 });
          if (img.width * img.height !== per) {
            throw fileError(
              "NN5304",
              {
                detail: `the image is ${img.width}x${img.height} but ${program.model} expects [${shape.join(", ")}]`,
              },
              { file: path },
            );
          }
          const px = f.invert ? img.pixels.map((v) => 1 - v) : img.pixels;
          samples.push({ name: path, pixels: px });
        } else {
          const idx = readIdxFile(path, {
            noun: "images",
            ...(f.limit !== undefined ? { limit: f.limit as number } : {}),
          });
          const each = idx.dims.slice(1).reduce((a, b) => a * b, 1);
          if (each !== per) {
            throw nncError(
              "NN5105",
              {
                detail: `its images have ${each} values each but ${program.model} expects [${shape.join(", ")}] (${per})`,
              },
              { file: path },
            );
          }
          const count = idx.dims[0]!;
          const scale = idx.type === "u8" ? 1 / 255 : 1;
          for (let i = 0; i < count; i++) {
            const px = new Float32Array(per);
            for (let k = 0; k < per; k++) px[k] = Number(idx.data[i * per + k]!) * scale;
            samples.push({ name: `${path}[${i}]`, pixels: px });
          }
        }
      }
      const model = await NncModel.create(program, dev);
      try {
        model.setWeights(ckpt.tensors);
        const x = new Float32Array(samples.length * per);
        samples.forEach((s, i) => x.set(s.pixels, i * per));
        const out = await model.predict(x, samples.length);
        const k = out.length / samples.length;
        const rows = samples.map((s, i) => {
          const p = softmaxIfLogits(out.slice(i * k, (i + 1) * k));
          let best = 0;
          for (let c = 1; c < k; c++) if (p[c]! > p[best]!) best = c;
          return {
            input: s.name,
            class: best,
            probabilities: Array.from(p, (v) => Number(v.toFixed(6))),
          };
        });
        if (f.json) process.stdout.write(JSON.stringify(rows) + "\n");
        else
          for (const r of rows) {
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
