/**
 * @file The module emitter without a device: the packed program round-trips; the emitted
 * module imports only `nnc/runtime/embed`, carries the `.nn` signature as types and doc
 * comments, and its embedded data evaluates back to exactly the compiled program; the
 * formatted module is what Prettier makes of it; the standalone declarations import nothing;
 * identifiers that would clash are renamed; the CLI's `--emit` phases print what the program
 * holds, and a bad phase is a usage error.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  compactWgsl,
  emitModuleParts,
  emitModule,
  emitStandaloneDeclarations,
} from "../../compiler/emit/module.js";
import { formatModule } from "../../compiler/emit/format.js";
import { printPlan } from "../../compiler/emit/print.js";
import { packProgram, unpackProgram } from "../../runtime/embedded.js";
import type { ModelProgram } from "../../runtime/program.js";
import { importTypeScript, mnistProgram, mnistResult, nnc, root, scratch } from "./util.js";

const space = scratch("embed-emit");
test.after(() => space.cleanup());

/** The distinct modules `source` imports or re-exports from. */
function specifiers(source: string): string[] {
  const found = source.matchAll(/^\s*(?:import|export)\b(?:[^;]*?\bfrom)?\s+"([^"]+)"/gm);
  return [...new Set([...found].map((m) => m[1]!))];
}

test("packing keeps one copy of each distinct kernel and unpacks to the program", () => {
  const p = mnistProgram();
  const { program: packed, kernels } = packProgram(p);
  const all = [...p.step.kernels, ...p.evaluate!.kernels, ...p.predict!.kernels];
  assert.is(kernels.length, new Set(all.map((k) => k.wgsl)).size);
  assert.ok(kernels.length < all.length, "the forward kernels are shared between plans");
  assert.equal(unpackProgram(packed, kernels), p);
  assert.throws(() => unpackProgram(packed, kernels.slice(1)), /refers to WGSL/);
});

test("the module imports only the runtime entry and carries the .nn signature", () => {
  const r = mnistResult();
  const ts = emitModule(r.program!, { predictOutput: r.lowered!.infer.predictOutput });
  assert.equal(specifiers(ts), ["nnc/runtime/embed"]);
  assert.match(ts, "export type MnistInputShape = readonly [28, 28, 1];");
  assert.match(ts, "export type MnistOutputShape = readonly [10];");
  assert.match(ts, "export class Mnist {");
  assert.match(ts, "static readonly inputShape: MnistInputShape = [28, 28, 1];");
  assert.match(ts, `static readonly batchSize: ${r.program!.stepBatch} = ${r.program!.stepBatch};`);
  assert.match(ts, "static async create(opts: CreateOptions = {}): Promise<Mnist> {");
  assert.match(ts, "predict(image: InputArray, count?: number): Promise<Float32Array> {");
  assert.match(ts, "Each sample has shape [28, 28, 1] (784 values)");
  assert.match(ts, "`count` rows of shape [10] (10 values each)");
  assert.match(ts, "class probabilities (the softmax of the logits)");
  for (const m of ["trainStep", "fit", "evaluate", "saveWeights", "loadWeights", "dispose"]) {
    assert.match(ts, new RegExp(`\\n  ${m}\\(`), `method ${m}`);
  }
});

test("the module's embedded data evaluates to exactly the compiled program", async () => {
  const p = mnistProgram();
  const mod = await importTypeScript<{ program: ModelProgram }>(space.dir, "Data", emitModule(p));
  assert.equal(mod.program, p);
});

test("the formatted module is Prettier's output, data tables included", async () => {
  const prettier = await import("prettier");
  const path = `${root}/Mnist.ts`;
  const text = await formatModule(emitModuleParts(mnistProgram()), path);
  const options = { ...((await prettier.resolveConfig(path)) ?? {}), parser: "typescript" };
  assert.ok(await prettier.check(text, options), "prettier --check accepts the module");
  assert.not.match(text, /__NNC_[A-Z]+__/);
  assert.not.match(text, /[ \t]+$/m);
});

test("standalone declarations declare the class and import nothing", () => {
  const dts = emitStandaloneDeclarations(mnistProgram());
  assert.equal(specifiers(dts), []);
  assert.not.match(dts, /\/\/\/ <reference/);
  assert.match(dts, "export declare class Mnist {");
  assert.match(dts, "static create(opts?: CreateOptions): Promise<Mnist>;");
  assert.match(dts, "predict(image: InputArray, count?: number): Promise<Float32Array>;");
  assert.match(dts, "readonly device?: GPUDeviceLike | undefined;");
  assert.match(dts, "export declare class NncError extends Error {");
});

test("compactWgsl drops indentation, blank lines and comment lines, and nothing else", () => {
  const wgsl =
    "// header\n@compute @workgroup_size(64)\nfn main() {\n\n  let a = 1u; // kept\n    if (a > 0u) {\n    }\n}\n";
  assert.is(
    compactWgsl(wgsl),
    "@compute @workgroup_size(64)\nfn main() {\nlet a = 1u; // kept\nif (a > 0u) {\n}\n}",
  );
  const p = mnistProgram();
  const plain = emitModule(p);
  const compact = emitModule(p, { compactWgsl: true });
  assert.ok(compact.length < plain.length - 5000, `${compact.length} vs ${plain.length}`);
  assert.not.match(compact, /\n {2,}let /);
});

test("names that would clash are renamed; comment closers in paths are escaped", async () => {
  const p = mnistProgram();
  const odd: ModelProgram = {
    ...p,
    model: "Promise",
    source: "weird*/path.nn",
    inputs: [{ ...p.inputs[0]!, name: "delete" }],
  };
  const ts = emitModule(odd);
  assert.match(ts, "export class PromiseModel {");
  assert.match(ts, "predict(deleteValues: InputArray, count?: number)");
  const mod = await importTypeScript<{ PromiseModel: unknown; program: ModelProgram }>(
    space.dir,
    "Odd",
    ts,
  );
  assert.type(mod.PromiseModel, "function");
  assert.is(mod.program.source, "weird*/path.nn");
});

test("a plan's printout lists every buffer and kernel and sums its memory", () => {
  const p = mnistProgram();
  const text = printPlan(p, "predict");
  const lines = text.split("\n");
  assert.is(lines.filter((l) => /^ {2}b\d+ /.test(l)).length, p.predict!.buffers.length);
  assert.is(lines.filter((l) => /^ {2}k\d+ /.test(l)).length, p.predict!.kernels.length);
  const bytes = p.predict!.buffers.reduce((a, b) => a + b.size, 0);
  const mib = (bytes / (1024 * 1024)).toFixed(1);
  assert.match(lines[1]!, `memory: ${mib} MiB`);
});

test("nnc build --emit prints a phase; an unknown phase is a usage error", async () => {
  const p = mnistProgram();
  const wgsl = await nnc(["build", "examples/mnist.nn", "--emit", "wgsl"]);
  assert.is(wgsl.code, 0, wgsl.stderr);
  for (const plan of ["step", "evaluate", "predict"] as const) {
    const headers = wgsl.stdout.match(new RegExp(`^// ${plan} kernel \\d+: `, "gm")) ?? [];
    assert.is(headers.length, p[plan]!.kernels.length, `${plan} kernels`);
  }
  assert.match(wgsl.stdout, "@compute @workgroup_size(");
  const grad = await nnc(["build", "examples/mnist.nn", "--emit", "grad"]);
  assert.is(grad.code, 0, grad.stderr);
  assert.match(grad.stdout, /^# step .*: forward, gradients, updates$/m);
  assert.match(grad.stdout, /^updates:$/m);
  const bad = await nnc(["build", "examples/mnist.nn", "--emit", "llvm"]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, "--emit must be one of ir, grad, wgsl, plan, ts (got 'llvm')");
  // --minify applies to the --standalone bundle only; alone it was silently ignored.
  const minify = await nnc(["build", "examples/mnist.nn", "--minify", "-o", "no-such-dir"]);
  assert.is(minify.code, 2);
  assert.is(
    minify.stderr,
    "nnc build: --minify minifies the --standalone bundle; give --standalone too (see nnc build --help)\n",
  );
});

test("a run's init checkpoint is left to loadWeights, and the build says so", async () => {
  const out = join(space.dir, "finetune");
  const r = await nnc(["build", join(root, "examples/finetune.nn"), "-o", out], {
    env: { NNC_TUNE: "0" },
  });
  assert.is(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    'note: train FineTune starts from init = "checkpoints/mnist.safetensors", which the module ' +
      "does not read: pass that file's bytes to loadWeights() after create()",
  );
  const ts = readFileSync(join(out, "Mnist.ts"), "utf8").replace(/\n\s*\* /g, " ");
  assert.match(ts, "is not read: pass that file's bytes to `loadWeights` after `create`.");
  assert.match(ts, 'import "nnc/runtime/augment";');
});

test.run();
