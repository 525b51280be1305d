import { openSync, readSync, closeSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadMnist, mnistDirectory } from "../../runtime/data/node.js";
import { Batcher } from "../../runtime/data/dataset.js";

// Published per-digit counts of the MNIST training and test sets.
const trainCounts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const testCounts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function counts(labels: ArrayLike<number>): number[] {
  const c = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i]!]++;
  return c;
}

/** Bytes [start, start + length) of a file, read directly. */
function fileBytes(path: string, start: number, length: number): Uint8Array {
  const fd = openSync(path, "r");
  const out = new Uint8Array(length);
  readSync(fd, out, 0, length, start);
  closeSync(fd);
  return out;
}

test("the full training set: 60,000 images, known label counts", () => {
  const ds = loadMnist({ split: "train" });
  assert.is(ds.count, 60000);
  assert.is(ds.classes, 10);
  assert.equal(ds.sampleShape, [28, 28, 1]);
  assert.is(ds.inputs.length, 60000 * 784);
  assert.is(ds.labels[0], 5);
  assert.equal(counts(ds.labels), trainCounts);
  let min = 255;
  let max = 0;
  for (const v of ds.inputs) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.is(min, 0);
  assert.is(max, 255);
  // The last image is exactly the last 784 bytes of the file.
  const path = join(mnistDirectory(), "train-images-idx3-ubyte");
  assert.equal(ds.inputs.subarray(59999 * 784), fileBytes(path, 16 + 59999 * 784, 784));
});

test("the test set: 10,000 images, first label 7", () => {
  const ds = loadMnist({ split: "test" });
  assert.is(ds.count, 10000);
  assert.is(ds.labels[0], 7);
  assert.equal([...ds.labels.subarray(0, 10)], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  assert.equal(counts(ds.labels), testCounts);
});

test("limit reads the first samples only", () => {
  const ds = loadMnist({ split: "train", limit: 100 });
  assert.is(ds.count, 100);
  assert.is(ds.inputs.length, 100 * 784);
  assert.equal([...ds.labels.subarray(0, 5)], [5, 0, 4, 1, 9]);
  const path = join(mnistDirectory(), "train-images-idx3-ubyte");
  assert.equal(ds.inputs.subarray(0, 784), fileBytes(path, 16, 784));
});

test("batches of MNIST are normalised to [0, 1] with one-hot labels", () => {
  const ds = loadMnist({ split: "test", limit: 256 });
  const batcher = new Batcher(ds, { batchSize: 64, shuffle: false });
  const b = batcher.epoch(0).next().value!;
  assert.is(b.count, 64);
  let max = 0;
  for (const v of b.x) max = Math.max(max, v);
  assert.is(max, 1);
  assert.is(b.x[200], Math.fround(ds.inputs[200]! / 255));
  assert.equal([...b.y.subarray(0, 10)], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
});

test.run();
