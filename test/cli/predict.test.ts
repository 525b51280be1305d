/**
 * @file End to end through the CLI: what `nnc predict` prints for each kind of model, on weights
 * written here so that every value is known (a classifier's class and probabilities, a binary
 * classifier's probability of class 1, a regression run's values), and how it takes its inputs
 * as `nnc train` takes data: token ids as they are, PNG images in the input's channels, items of
 * the input's dimensions up to axes of size 1. Inputs the model cannot take (ids outside the
 * embedding, values that are not finite, other dimensions, no items, files that are neither PNG
 * nor IDX) fail with exit 1 and one message naming the file and the item.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSafetensors, type NamedTensor } from "../../runtime/checkpoint.js";
import { encodeIdx, type IdxType } from "../../runtime/data/idx.js";
import { encodePng, type PngImageSpec } from "../../runtime/png.js";
import { type CliResult, nncIn } from "./util.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-predict-"));

const run = (args: string[]): CliResult => nncIn(dir, args);

/** Writes `name` in the test folder; returns its name (the CLI runs there). */
function write(name: string, bytes: string | Uint8Array): string {
  writeFileSync(join(dir, name), bytes);
  return name;
}

const idx = (name: string, type: IdxType, dims: number[], data: number[]) =>
  write(name, encodeIdx(type, dims, data));
const png = (name: string, spec: PngImageSpec) => write(name, encodePng(spec));

/** A `.nn` file of `model`, trained on `data` with `loss`, and a checkpoint of `weights`. */
function model(
  name: string,
  source: string,
  data: string,
  loss: string,
  weights: Record<string, [number[], number[]]>,
): [string, string] {
  const file = write(
    `${name}.nn`,
    `${source}
train ${name} {
  data      = ${data}
  loss      = ${loss}
  optimizer = sgd(lr: 0.1)
}
`,
  );
  const tensors: NamedTensor[] = Object.entries(weights).map(([n, [shape, values]]) => ({
    name: n,
    dtype: "F32",
    shape,
    data: Float32Array.from(values),
  }));
  return [file, write(`${name}.safetensors`, encodeSafetensors(tensors))];
}

/** `nnc predict` that must succeed with exactly `stdout`. */
function predicts(args: string[], stdout: string): void {
  const r = run(["predict", ...args]);
  assert.is(r.stderr, "");
  assert.is(r.code, 0);
  assert.is(r.stdout, stdout);
}

/** `nnc predict` that must fail with exit 1 and exactly `message` on stderr, nothing on stdout. */
function refuses(args: string[], message: string): void {
  const r = run(["predict", ...args]);
  assert.is(r.stderr, message + "\n");
  assert.is(r.code, 1);
  assert.is(r.stdout, "");
}

const ln3 = Math.log(3);

// A binary classifier: its logit is x[0].
const [bin, binW] = model(
  "Bin",
  "model Bin(x: [3]) -> [1] { x |> dense(1) }",
  'csv(path: "bin.csv", label: "y", classes: 2)',
  "bce_logits",
  {
    "dense.w": [
      [3, 1],
      [1, 0, 0],
    ],
    "dense.b": [[1], [0]],
  },
);

// Token ids: embedding row i holds i; the logits are [0, the id at position 1].
const [tok, tokW] = model(
  "Tok",
  "model Tok(tokens: [3] int) -> [2] {\n  tokens |> embedding(vocab: 5, dim: 1) |> flatten |> dense(2)\n}",
  'csv(path: "tok.csv", label: "y", classes: 2)',
  "softmax_cross_entropy",
  {
    "embedding.table": [
      [5, 1],
      [0, 1, 2, 3, 4],
    ],
    "dense.w": [
      [3, 2],
      [0, 0, 0, 1, 0, 0],
    ],
    "dense.b": [[2], [0, 0]],
  },
);

test("a binary classifier's one output is the probability of class 1", () => {
  const x = idx("bin.idx", "f32", [2, 3], [ln3, 0, 0, -ln3, 5, 5]);
  predicts(
    [bin, "-w", binW, x],
    "bin.idx[0]: 1 (75.0%)  0:0.250 1:0.750\nbin.idx[1]: 0 (75.0%)  0:0.750 1:0.250\n",
  );
  predicts(
    [bin, "-w", binW, x, "--json"],
    JSON.stringify([
      { input: "bin.idx[0]", class: 1, probabilities: [0.25, 0.75] },
      { input: "bin.idx[1]", class: 0, probabilities: [0.75, 0.25] },
    ]) + "\n",
  );
});

test("a regression run prints its predicted values, no class", () => {
  const [reg, regW] = model(
    "Reg",
    "model Reg(x: [3]) -> [1] { x |> dense(1) }",
    'csv(path: "reg.csv", label: "y")',
    "mse",
    {
      "dense.w": [
        [3, 1],
        [0.5, -1, 2],
      ],
      "dense.b": [[1], [0.25]],
    },
  );
  const x = idx("reg.idx", "f32", [2, 3], [1.5, 2, 3, 0, 0, 0]);
  predicts([reg, "-w", regW, x], "reg.idx[0]: 5\nreg.idx[1]: 0.25\n");
  predicts(
    [reg, "-w", regW, x, "--json"],
    '[{"input":"reg.idx[0]","values":[5]},{"input":"reg.idx[1]","values":[0.25]}]\n',
  );
});

test("token ids are taken as they are, from bytes or integers", () => {
  const out = (name: string) => `${name}[0]: 1 (88.1%)  0:0.119 1:0.881\n`;
  predicts([tok, "-w", tokW, idx("ids.idx", "i32", [1, 3], [0, 2, 4])], out("ids.idx"));
  predicts([tok, "-w", tokW, idx("ids-u8.idx", "u8", [1, 3], [0, 2, 4])], out("ids-u8.idx"));
});

test("a token id outside the embedding or not whole is NN5602 naming the file and item", () => {
  refuses(
    [tok, "-w", tokW, idx("id5.idx", "i32", [2, 3], [0, 1, 2, 3, 5, 0])],
    "id5.idx: error NN5602: 5 (item 1, value 1, from 0) is out of range; input tokens takes ids 0 to 4",
  );
  refuses(
    [tok, "-w", tokW, idx("neg.idx", "i32", [1, 3], [-1, 0, 0])],
    "neg.idx: error NN5602: -1 (item 0, value 0, from 0) is out of range; input tokens takes ids 0 to 4",
  );
  refuses(
    [tok, "-w", tokW, idx("half.idx", "f32", [1, 3], [0, 0, 1.5])],
    "half.idx: error NN5602: 1.5 (item 0, value 2, from 0) is not a whole number; input tokens takes integer ids",
  );
  png("gray.png", { width: 3, height: 1, colorType: 0, bitDepth: 8, samples: [0, 1, 2] });
  refuses(
    [tok, "-w", tokW, "gray.png"],
    "gray.png: error NN5601: a PNG image holds pixels, but model Tok's input tokens takes [3] of integer ids (give them in an IDX file)",
  );
});

test("a value that is not a finite 32-bit float is NN5602 naming the file and item", () => {
  refuses(
    [bin, "-w", binW, idx("nan.idx", "f32", [2, 3], [0, 0, 0, 0, 0, NaN])],
    "nan.idx: error NN5602: NaN (item 1, value 2, from 0) is not a finite number",
  );
  refuses(
    [bin, "-w", binW, idx("inf.idx", "f32", [1, 3], [0, -Infinity, 0])],
    "inf.idx: error NN5602: -Infinity (item 0, value 1, from 0) is not a finite number",
  );
  refuses(
    [bin, "-w", binW, idx("big.idx", "f64", [1, 3], [1e39, 0, 0])],
    "big.idx: error NN5602: 1e+39 (item 0, value 0, from 0) is out of the range of 32-bit floats (about ±3.4e38)",
  );
});

test("inputs must have the input's dimensions up to axes of size 1", () => {
  // The logits are [0, the first pixel + 2 * the last].
  const w = Array.from({ length: 32 }, (_, i) => (i === 1 ? 1 : i === 31 ? 2 : 0));
  const [img, imgW] = model(
    "Img",
    "model Img(image: [4, 4, 1]) -> [2] { image |> flatten |> dense(2) }",
    'idx(images: "img.idx", labels: "lab.idx", classes: 2)',
    "softmax_cross_entropy",
    { "dense.w": [[16, 2], w], "dense.b": [[2], [0, 0]] },
  );
  const pixels = Array.from({ length: 16 }, (_, i) => (i === 0 ? 255 : 0));
  const out = "1 (73.1%)  0:0.269 1:0.731\n";
  predicts([img, "-w", imgW, idx("ok.idx", "u8", [1, 4, 4], pixels)], `ok.idx[0]: ${out}`);
  const square = { width: 4, height: 4, colorType: 0 as const, bitDepth: 8, samples: pixels };
  predicts([img, "-w", imgW, png("square.png", square)], `square.png: ${out}`);
  refuses(
    [img, "-w", imgW, idx("flat.idx", "u8", [1, 16], pixels)],
    "flat.idx: error NN5601: the file holds 1 items of 16, but model Img's input image takes [4, 4, 1]",
  );
  refuses(
    [img, "-w", imgW, png("row.png", { ...square, width: 16, height: 1 })],
    "row.png: error NN5601: the image is 16x1 (width x height), but model Img's input image takes [4, 4, 1]",
  );
  refuses(
    [img, "-w", imgW, idx("none.idx", "u8", [0, 4, 4], [])],
    "none.idx: error NN5601: the file holds 0 images of 4x4: no items to predict",
  );
  refuses(
    [img, "-w", imgW, write("rows.csv", "a,b\n1,2\n")],
    "rows.csv: error NN5101: not an IDX file: the magic bytes are 61 2C 62 0A, but an IDX file starts with 00 00, a type byte and a rank (nnc predict reads PNG images, named .png, and IDX files)",
  );
});

test("PNG images feed an input of 3 channels as RGB, gray as three equal channels", () => {
  // The prediction is red + 10 green + 100 blue of the first pixel.
  const w = Array.from({ length: 12 }, (_, i) => [1, 10, 100][i] ?? 0);
  const [rgb, rgbW] = model(
    "Rgb",
    "model Rgb(image: [2, 2, 3]) -> [1] { image |> flatten |> dense(1) }",
    'csv(path: "rgb.csv", label: "y")',
    "mse",
    { "dense.w": [[12, 1], w], "dense.b": [[1], [0]] },
  );
  const size = { width: 2, height: 2, bitDepth: 8 };
  const colour = png("rgb.png", {
    ...size,
    colorType: 2,
    samples: [255, 0, 51, ...Array(9).fill(0)],
  });
  const gray = png("gray4.png", { ...size, colorType: 0, samples: [51, 0, 0, 0] });
  // Alpha 0.2 over predict's black background: (0.2, 0, 0.04).
  const rgba = png("rgba.png", {
    ...size,
    colorType: 6,
    samples: [255, 0, 51, 51, ...Array(12).fill(0)],
  });
  predicts([rgb, "-w", rgbW, colour, gray, rgba], "rgb.png: 21\ngray4.png: 22.2\nrgba.png: 4.2\n");
  const [two, twoW] = model(
    "Two",
    "model Two(image: [2, 2, 2]) -> [1] { image |> flatten |> dense(1) }",
    'csv(path: "two.csv", label: "y")',
    "mse",
    { "dense.w": [[8, 1], Array(8).fill(0)], "dense.b": [[1], [0]] },
  );
  refuses(
    [two, "-w", twoW, colour],
    "rgb.png: error NN5601: a PNG image feeds an input of [height, width] or [height, width, channels] with 1 (gray), 3 (RGB) or 4 (RGBA) channels, but model Two's input image takes [2, 2, 2]",
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
