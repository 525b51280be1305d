import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  Batcher,
  mixSeed,
  mulberry32,
  normalize,
  oneHot,
  permutation,
  randomBelow,
  sliceDataset,
  type Dataset,
} from "../../runtime/data/dataset.js";

/** A byte as nnc reads it: the f32 product with the f32 nearest 1/255 (runtime/data/dataset.ts). */
function byte(b: number): number {
  return Math.fround(b * Math.fround(1 / 255));
}

/** 23 samples of shape [2, 2]: sample i holds bytes 4i..4i+3 (mod 256), label i % 3. */
function tiny(count = 23): Dataset {
  const inputs = new Uint8Array(count * 4).map((_, k) => k % 256);
  const labels = new Uint8Array(count).map((_, i) => i % 3);
  return { source: "tiny", inputs, sampleShape: [2, 2], labels, count, classes: 3 };
}

test("mulberry32 matches the reference algorithm and is deterministic", () => {
  // Reference: bryc's published JavaScript, verbatim apart from returning the u32.
  function reference(a: number) {
    return function () {
      let t = (a += 0x6d2b79f5);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (t ^ (t >>> 14)) >>> 0;
    };
  }
  for (const seed of [0, 1, 42, 0xdeadbeef]) {
    const a = mulberry32(seed);
    const r = reference(seed);
    for (let i = 0; i < 1000; i++) assert.is(a(), r());
  }
});

test("randomBelow is uniform (chi-square) and in range", () => {
  const next = mulberry32(123);
  const n = 7;
  const bins = new Array<number>(n).fill(0);
  const draws = 70000;
  for (let i = 0; i < draws; i++) {
    const k = randomBelow(next, n);
    assert.ok(k >= 0 && k < n && Number.isInteger(k));
    bins[k]++;
  }
  const e = draws / n;
  const chi2 = bins.reduce((s, o) => s + ((o - e) * (o - e)) / e, 0);
  assert.ok(chi2 < 22.5, `chi-square ${chi2} (6 degrees of freedom, p = 0.001 at 22.46)`);
});

test("permutations: a permutation, determined by the seed alone", () => {
  const a = permutation(1000, 7);
  const sorted = [...a].sort((x, y) => x - y);
  assert.equal(
    sorted,
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.equal([...permutation(1000, 7)], [...a]);
  assert.not.equal([...permutation(1000, 8)], [...a]);
  // Not the identity, and every position moves around: few fixed points.
  const fixed = [...a].filter((v, i) => v === i).length;
  assert.ok(fixed < 10, `${fixed} fixed points`);
});

test("each position is equally likely to receive each element (small n, many seeds)", () => {
  const n = 4;
  const counts = new Array<number>(n * n).fill(0);
  const trials = 24000;
  for (let s = 0; s < trials; s++) {
    const p = permutation(n, mixSeed(99, s));
    for (let i = 0; i < n; i++) counts[i * n + p[i]!]++;
  }
  for (const c of counts) assert.ok(Math.abs(c - trials / n) < 400, `count ${c}`);
});

test("batching covers each sample exactly once per epoch, keeping the partial batch", () => {
  const ds = tiny();
  const batcher = new Batcher(ds, { batchSize: 5, seed: 3 });
  assert.is(batcher.batchesPerEpoch, 5);
  const orders: number[][] = [];
  for (let epoch = 0; epoch < 3; epoch++) {
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of batcher.epoch(epoch)) {
      sizes.push(b.count);
      for (let r = 0; r < b.count; r++) {
        const first = Math.round(b.x[r * 4]! * 255);
        const sample = first / 4;
        seen.push(sample);
        // The whole sample, scaled to [0, 1], and its label in both forms.
        for (let k = 0; k < 4; k++) assert.is(b.x[r * 4 + k], byte(ds.inputs[sample * 4 + k]!));
        assert.is(b.labels[r], sample % 3);
        assert.equal(
          [...b.y.subarray(r * 3, r * 3 + 3)],
          [0, 1, 2].map((c) => (c === sample % 3 ? 1 : 0)),
        );
      }
      if (b.count < 5) {
        // Padding rows are zero.
        assert.ok(b.x.subarray(b.count * 4).every((v) => v === 0));
        assert.ok(b.y.subarray(b.count * 3).every((v) => v === 0));
      }
    }
    assert.equal(sizes, [5, 5, 5, 5, 3]);
    assert.equal(
      [...seen].sort((a, b) => a - b),
      Array.from({ length: 23 }, (_, i) => i),
    );
    orders.push(seen);
  }
  assert.not.equal(orders[0], orders[1]);
  // Same seed, same epoch: same order, in a new Batcher.
  const again = new Batcher(ds, { batchSize: 5, seed: 3 });
  const first: number[] = [];
  for (const b of again.epoch(1))
    for (let r = 0; r < b.count; r++) first.push(Math.round(b.x[r * 4]! * 255) / 4);
  assert.equal(first, orders[1]);
});

test("dropLast drops the partial batch; shuffle: false keeps file order", () => {
  const ds = tiny();
  const batcher = new Batcher(ds, { batchSize: 5, dropLast: true, shuffle: false });
  assert.is(batcher.batchesPerEpoch, 4);
  const seen: number[] = [];
  for (const b of batcher.epoch(0)) {
    assert.is(b.count, 5);
    for (let r = 0; r < b.count; r++) seen.push(b.labels[r]!);
  }
  assert.equal(
    seen,
    Array.from({ length: 20 }, (_, i) => i % 3),
  );
});

test("the batcher reuses its buffers: no allocation per batch", () => {
  const batcher = new Batcher(tiny(), { batchSize: 4 });
  const { x, y, labels } = batcher.batch;
  for (let e = 0; e < 2; e++) {
    for (const b of batcher.epoch(e)) {
      assert.ok(b === batcher.batch);
      assert.ok(b.x === x && b.y === y && b.labels === labels);
    }
  }
});

test("f32 inputs are copied unscaled", () => {
  const ds: Dataset = {
    source: "f",
    inputs: new Float32Array([0.5, -2, 3, 7]),
    sampleShape: [2],
    labels: new Int32Array([1, 0]),
    count: 2,
    classes: 2,
  };
  const b = new Batcher(ds, { batchSize: 2, shuffle: false }).epoch(0).next().value!;
  assert.equal([...b.x], [0.5, -2, 3, 7]);
  assert.equal([...b.y], [0, 1, 1, 0]);
});

test("regression targets are the label rows, in the batch's order; slices keep theirs", () => {
  const ds: Dataset = {
    source: "r",
    inputs: new Float32Array([1, 2, 3, 4, 5, 6]),
    sampleShape: [1],
    labels: new Int32Array(3),
    count: 3,
    classes: 2,
    targets: new Float32Array([0.5, -1, 2, 3, -4.25, 9]),
  };
  const batcher = new Batcher(ds, { batchSize: 2, shuffle: false });
  const order = Uint32Array.from([2, 0, 1]);
  const first = batcher.fill(order, 0);
  assert.equal([...first.x], [3, 1]);
  assert.equal([...first.y], [-4.25, 9, 0.5, -1]);
  // The partial last batch: its missing row is zero, not left over from the last batch.
  const last = batcher.fill(order, 1);
  assert.is(last.count, 1);
  assert.equal([...last.y], [2, 3, 0, 0]);
  const s = sliceDataset(ds, 1, 2);
  assert.equal([...s.targets!], [2, 3, -4.25, 9]);
});

test("normalize, oneHot and sliceDataset", () => {
  const ds = tiny(4);
  const n = normalize(ds);
  assert.ok(n.inputs instanceof Float32Array);
  assert.is(n.inputs[5], byte(5));
  assert.ok(normalize(n) === n);
  assert.equal([...oneHot([2, 0], 3)], [0, 0, 1, 1, 0, 0]);
  const s = sliceDataset(ds, 1, 2);
  assert.is(s.count, 2);
  assert.equal([...s.labels], [1, 2]);
  assert.equal([...s.inputs], [4, 5, 6, 7, 8, 9, 10, 11]);
  assert.is(sliceDataset(ds, 3, 10).count, 1);
});

test("a batch size of 0 is refused", () => {
  assert.throws(() => new Batcher(tiny(), { batchSize: 0 }), /positive integer/);
});

test.run();
