/**
 * @file Build-time validation on the local Dawn device: every distinct kernel of MNIST compiles
 * within WebGPU's default limits; a kernel that does not compile, or that needs more than the
 * default limits (workgroup size, storage buffers per stage), is one NN4001 diagnostic at the
 * `.nn` span of the IR node it computes, even while other kernels compile concurrently; and
 * `nnc build` reports a value larger than the default buffer size at its `.nn` line, writes
 * nothing and exits 1.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { validateProgram, type ValidationGraphs } from "../../compiler/emit/validate.js";
import { acquireDevice, type NncDevice } from "../../runtime/device.js";
import type { KernelPlan, PlanKernel } from "../../runtime/plan.js";
import type { ModelProgram } from "../../runtime/program.js";
import { mnistProgram, mnistResult, nnc, scratch } from "./util.js";

let dev: NncDevice;
const space = scratch("embed-validate");
test.before(async () => {
  dev = await acquireDevice();
});
test.after(() => {
  dev.destroy();
  space.cleanup();
});

function graphs(): ValidationGraphs {
  const l = mnistResult().lowered!;
  return { step: l.step.step, evaluate: l.infer.evaluate!, predict: l.infer.predict! };
}

/** The program with predict kernel `k` replaced. */
function withPredictKernel(p: ModelProgram, k: number, kernel: PlanKernel): ModelProgram {
  const kernels = p.predict!.kernels.map((x, i) => (i === k ? kernel : x));
  const predict: KernelPlan = { ...p.predict!, kernels };
  return { ...p, predict };
}

test("every distinct MNIST kernel compiles within the default limits", async () => {
  const p = mnistProgram();
  const r = await validateProgram(p, dev, graphs());
  assert.equal(r.diagnostics, []);
  const distinct = new Set(
    [...p.step.kernels, ...p.evaluate!.kernels, ...p.predict!.kernels].map(
      (k) => `${k.entryPoint}\n${k.bindings.map((b) => b.access).join(",")}\n${k.wgsl}`,
    ),
  );
  assert.is(r.kernels, distinct.size);
});

test("a kernel that does not compile is one diagnostic at its node's span", async () => {
  const p = mnistProgram();
  const k = 0;
  const original = p.predict!.kernels[k]!;
  const lines = original.wgsl.split("\n");
  const at = lines.findIndex((l) => /^\s+let /.test(l));
  lines[at] = lines[at]!.replace("let ", "let 1bad = undefined_name; let ");
  const broken = withPredictKernel(p, k, { ...original, wgsl: lines.join("\n") });
  const r = await validateProgram(broken, dev, graphs());
  assert.is(r.diagnostics.length, 1, r.diagnostics.map((d) => d.message).join("\n"));
  const d = r.diagnostics[0]!;
  assert.is(d.code, "NN4001");
  assert.equal(d.span, graphs().predict!.nodes[original.node]!.span);
  assert.match(d.message, `kernel ${original.name} (predict) does not compile`);
  assert.match(d.message, new RegExp(`\\[${at + 1}:\\d+\\] `));
});

test("kernels beyond the default limits are reported, not built", async () => {
  const p = mnistProgram();
  const original = p.predict!.kernels[0]!;
  // 512 invocations per workgroup: above the default of every adapter (128, or 256 in core).
  const wide = original.wgsl.replace(/@workgroup_size\([^)]*\)/, "@workgroup_size(512)");
  assert.ok(wide !== original.wgsl);
  // Nine storage buffers: above the default per stage (4, or 8 in core).
  const many = Array.from(
    { length: 9 },
    (_, i) => `@group(0) @binding(${i}) var<storage, read_write> b${i}: array<f32>;`,
  ).join("\n");
  const sum = Array.from({ length: 8 }, (_, i) => `b${i + 1}[0]`).join(" + ");
  const nine: PlanKernel = {
    ...p.predict!.kernels[1]!,
    wgsl: `${many}\n@compute @workgroup_size(1)\nfn main() {\n  b0[0] = ${sum};\n}\n`,
    bindings: Array.from({ length: 9 }, (_, i) => ({
      binding: i,
      buffer: 0,
      access: "read_write" as const,
    })),
  };
  const program = withPredictKernel(withPredictKernel(p, 0, { ...original, wgsl: wide }), 1, nine);
  const r = await validateProgram(program, dev, graphs());
  const found = r.diagnostics.map((d) => `${d.code} ${/kernel (\w+)/.exec(d.message)?.[1]}`);
  assert.equal(found.sort(), [`NN4001 ${original.name}`, `NN4003 ${nine.name}`].sort());
  const wideDiag = r.diagnostics.find((d) => d.code === "NN4001")!;
  assert.match(wideDiag.message, "with WebGPU's default limits");
  const nineDiag = r.diagnostics.find((d) => d.code === "NN4003")!;
  assert.match(nineDiag.message, "needs 9 storage buffers, more than the device's limit of 4");
  assert.equal(nineDiag.span, graphs().predict!.nodes[nine.node]!.span);

  // The plan's own numbers are checked too: a grid too large in one dimension.
  const tall = withPredictKernel(p, 1, { ...p.predict!.kernels[1]!, dispatch: [70000, 1, 1] });
  const t = await validateProgram(tall, dev, graphs());
  assert.is(t.diagnostics.length, 1);
  assert.is(t.diagnostics[0]!.code, "NN4004");
  assert.match(
    t.diagnostics[0]!.message,
    "dispatches 70000x1x1 workgroups; the default limit is 65535",
  );
});

test("nnc build reports a value over the default buffer size at its .nn line", async () => {
  const file = join(space.dir, "big.nn");
  writeFileSync(
    file,
    [
      "model Big(image: [28, 28, 1]) -> [10] {",
      "  image |> flatten |> dense(100000) |> dense(10)",
      "}",
      "train Big {",
      '  data = mnist(split: "train")',
      "  loss = softmax_cross_entropy",
      "  optimizer = sgd(lr: 0.1)",
      "  batch = 8",
      "}",
      "",
    ].join("\n"),
  );
  const out = join(space.dir, "out");
  const r = await nnc(["build", file, "-o", out]);
  assert.is(r.code, 1, r.stderr);
  // 784 x 100000 f32 weights: 313,600,000 bytes; the default binding limit is 128 MiB.
  // At the user's call of the stdlib's dense, with a note at the parameter's declaration.
  assert.match(r.stderr, /big\.nn:2:23: error NN4002: .*313600000 bytes/);
  assert.match(r.stderr, /note: the param is declared here \(stdlib\/layers\.nn:\d+:\d+\)/);
  const reported = r.stderr.match(/^\S+: error NN4\d+: .*$/gm) ?? [];
  assert.is(new Set(reported).size, reported.length, "each diagnostic once");
  assert.not.ok(existsSync(join(out, "Big.ts")), "nothing written");
});

test.run();
