/**
 * @file The IR printer against golden files: a small conv + dense model from real `.nn` text
 * with line:column locations, the same graph with its gradients (`--emit grad`), and offsets
 * when no SourceMap is given.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { addGradients } from "../../compiler/autodiff/grad.js";
import { SourceMap } from "../../compiler/diagnostics.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { printGraph, printNode } from "../../compiler/ir/print.js";
import { noSpan, SourceFile } from "../../compiler/source.js";
import { expectGolden } from "../util/golden.js";

const text = `model tiny(x: [6, 6, 1]) -> [3] {
  x |> conv2d(4, 3) |> relu |> maxpool(2) |> flatten |> dense(3)
}
`;
const file = new SourceFile("examples/tiny.nn", text);

/** The span of the first occurrence of `s` in the text. */
function spanOf(s: string) {
  const start = text.indexOf(s);
  return file.span(start, start + s.length);
}

function tiny() {
  const b = new GraphBuilder();
  const x = b.source("input", "x", { shape: [2, 6, 6, 1], dtype: "f32" }, spanOf("x: [6, 6, 1]"));
  const conv = spanOf("conv2d(4, 3)");
  const dense = spanOf("dense(3)");
  const w = b.variable({
    name: "conv2d.w",
    kind: "param",
    shape: [3, 3, 1, 4],
    dtype: "f32",
    init: { dist: "uniform", lo: -0.5, hi: 0.5 },
    layer: "conv2d",
    span: conv,
  });
  const dw = b.variable({
    name: "dense.w",
    kind: "param",
    shape: [16, 3],
    dtype: "f32",
    init: { dist: "normal", mean: 0, std: 0.1 },
    layer: "dense",
    span: dense,
  });
  const db = b.variable({
    name: "dense.b",
    kind: "param",
    shape: [3],
    dtype: "f32",
    init: { dist: "constant", value: 0 },
    layer: "dense",
    span: dense,
  });
  const c = b.add("conv2d", [x, w], { strides: [1, 1], pads: [0, 0, 0, 0] }, conv);
  const r = b.add("relu", [c], {}, spanOf("relu"));
  const p = b.add(
    "maxpool2d",
    [r],
    { window: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
    spanOf("maxpool(2)"),
  );
  const f = b.add("reshape", [p], { shape: [2, 16] }, spanOf("flatten"));
  const mm = b.add("matmul", [f, dw], { transA: false, transB: false }, dense);
  const y = b.add("add", [mm, db], {}, dense);
  const loss = b.add(
    "reduce_sum",
    [b.add("square", [y], {}, noSpan)],
    { axes: [0, 1], keepDims: false },
    noSpan,
  );
  b.output("y", y);
  b.output("loss", loss);
  return { b, loss, params: [w, dw, db] };
}

test("forward graph with line:column locations", () => {
  const sources = new SourceMap();
  sources.add(file);
  expectGolden("test/ir/golden/tiny.ir.txt", printGraph(tiny().b.build(), sources));
});

test("gradients and updates (--emit grad)", () => {
  const sources = new SourceMap();
  sources.add(file);
  const { b, loss, params } = tiny();
  const grads = addGradients(b, loss, params);
  const lr = b.constant(0.01, noSpan);
  const names = ["conv2d.w", "dense.w", "dense.b"];
  params.forEach((p, i) => {
    b.update(names[i]!, b.add("sub", [p, b.add("mul", [grads[i]!, lr], {}, noSpan)], {}, noSpan));
  });
  expectGolden("test/ir/golden/tiny.grad.txt", printGraph(b.build(), sources));
});

test("offsets without a SourceMap; symbolic shapes, i32 and attributes", () => {
  const b = new GraphBuilder();
  const s = file.span(10, 14);
  const x = b.source("input", "x", { shape: ["batch", 4], dtype: "f32" }, s);
  const idx = b.add("argmax", [x], { axis: 1 }, s);
  const t = b.add("transpose", [x], { perm: [1, 0] }, s);
  const g = b.build();
  assert.is(
    printNode(g.nodes[idx]!),
    "%1 = argmax(%0) {axis: 1} : [batch] i32  @examples/tiny.nn[10..14]",
  );
  assert.is(
    printNode(g.nodes[t]!),
    "%2 = transpose(%0) {perm: [1, 0]} : [4, batch] f32  @examples/tiny.nn[10..14]",
  );
  assert.is(
    printNode(g.nodes[x]!),
    '%0 = input {name: "x"} : [batch, 4] f32  @examples/tiny.nn[10..14]',
  );
});

test("printing is deterministic", () => {
  const sources = new SourceMap();
  sources.add(file);
  assert.is(printGraph(tiny().b.build(), sources), printGraph(tiny().b.build(), sources));
});

test.run();
