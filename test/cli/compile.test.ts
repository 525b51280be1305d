/**
 * @file Every example compiles all the way to a ModelProgram (check, lower, autodiff, fusion,
 * kernel plans) without a device, the GAN to one plan per step; a run the CLI cannot train as
 * written (an unbound sequence length) ends in a diagnostic, never an exception; one about the
 * whole file (a `--run` it lacks) names the file alone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFile } from "../../compiler/compile.js";
import { diagnosticToJson, renderDiagnostic } from "../../compiler/diagnostics.js";
import { defaultLimits } from "../../runtime/plan.js";
import { fromRoot } from "../util/golden.js";

const limits = { ...defaultLimits, maxStorageBuffersPerShaderStage: 16 };

for (const name of ["mnist", "mnist-deep", "mlp", "residual", "rows", "finetune", "search"]) {
  test(`examples/${name}.nn compiles to a program`, () => {
    const r = compileFile(fromRoot("examples", `${name}.nn`), { limits });
    assert.equal(r.diagnostics, []);
    assert.ok(r.program);
    assert.ok(r.program!.step.kernels.length > 0);
    assert.ok(r.program!.variables.some((v) => v.role === "model" && v.trainable));
  });
}

test("examples/gan.nn compiles to a program with a plan per step", () => {
  const r = compileFile(fromRoot("examples", "gan.nn"), { limits });
  assert.equal(r.diagnostics, []);
  const p = r.program!;
  assert.is(p.model, "Gan");
  assert.equal(
    p.steps!.map((s) => [s.name, s.updates]),
    [
      ["discriminator", ["Discriminator"]],
      ["generator", ["Generator"]],
    ],
  );
  assert.ok(p.steps!.every((s) => s.plan.kernels.length > 0));
  assert.is(p.evaluate, null);
  assert.is(p.predict, null);
  assert.equal(p.inputs, [{ name: "image", shape: [28, 28, 1], dtype: "f32" }]);
  const models = p.variables.filter((v) => v.role === "model").map((v) => v.name.split("/")[0]);
  assert.equal([...new Set(models)].sort(), ["Discriminator", "Generator"]);
});

test("steps on csv data: image takes the input shape of the model called on it", () => {
  // csv's features come from the file, so the checker had no shape for `image` (and none for a
  // regression's `label`): NN2001 unknown name 'image'.
  const dir = mkdtempSync(join(tmpdir(), "nnc-steps-csv-"));
  try {
    const file = join(dir, "two.nn");
    const run = (data: string, loss: string) =>
      `model Net(x: [4]) -> [3] { x |> dense(3) }
model Lin(x: [4]) -> [1] { x |> dense(1) }
train Two {
  data = ${data}
  batch = 8
  noise z: [4] = normal(std: 0.1)
  step fit { loss = ${loss}  optimizer = sgd(lr: 0.1)  updates = Net }
}
`;
    writeFileSync(
      file,
      run('csv(path: "d.csv", label: "y", classes: 3)', "softmax_cross_entropy(Net(image), label)"),
    );
    let r = compileFile(file, { limits });
    assert.equal(r.diagnostics, []);
    assert.equal(r.program!.inputs, [{ name: "image", shape: [4], dtype: "f32" }]);
    assert.is(r.program!.classes, 3);
    // A regression's label is a target per sample; `image` may be one term of the argument.
    writeFileSync(file, run('csv(path: "d.csv", label: "y")', "mse(Lin(image + z), label)"));
    r = compileFile(file, { limits });
    assert.equal(r.diagnostics, []);
    assert.equal(r.program!.inputs, [{ name: "image", shape: [4], dtype: "f32" }]);
    assert.is(r.program!.classes, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [name, code] of [["sentiment", "NN3019"]] as const) {
  test(`examples/${name}.nn is refused with ${code}`, () => {
    const r = compileFile(fromRoot("examples", `${name}.nn`), { limits });
    assert.is(r.program, null);
    assert.is(r.diagnostics[0]?.code, code);
  });
}

test("a batch the caller passes that is not a positive integer is a diagnostic, not a kernel", () => {
  for (const opts of [{ batch: 0 }, { batch: 2.5 }, { inferBatch: -4 }]) {
    const r = compileFile(fromRoot("examples", "mlp.nn"), { limits, ...opts });
    assert.is(r.program, null, JSON.stringify(opts));
    assert.is(r.diagnostics.length, 1);
    assert.is(r.diagnostics[0]!.code, "NN3012");
    assert.match(r.diagnostics[0]!.message, /must be positive/);
  }
});

test("a run the file lacks, or a file without train sections, is about the whole file", () => {
  // Not at a place in it: the file's first line (a comment) has nothing to do with it.
  const mlp = fromRoot("examples", "mlp.nn");
  const r = compileFile(mlp, { limits, run: "Nope" });
  assert.is(r.program, null);
  assert.is(r.diagnostics.length, 1);
  const shown = r.diagnostics[0]!.span.file; // as the file's other diagnostics show it
  assert.ok(shown.endsWith("examples/mlp.nn"), shown);
  assert.is(
    renderDiagnostic(r.sources, r.diagnostics[0]!),
    `${shown}: error NN3018: unknown train 'Nope' (train sections: Mlp)`,
  );
  const json = diagnosticToJson(r.sources, r.diagnostics[0]!);
  assert.equal([json.file, json.line, json.column], [shown, 0, 0]);

  const dir = mkdtempSync(join(tmpdir(), "nnc-compile-"));
  try {
    const file = join(dir, "no-train.nn");
    writeFileSync(file, "# A model alone.\nmodel M(x: [4]) -> [4] { x }\n");
    const none = compileFile(file, { limits });
    assert.is(none.diagnostics.length, 1);
    assert.is(
      renderDiagnostic(none.sources, none.diagnostics[0]!),
      `${none.diagnostics[0]!.span.file}: error NN4010: ${file} has no train section to compile; add \`train ModelName { ... }\``,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a train that inherits from itself is NN3021 at its base's name, not a silent failure", () => {
  const r = compileFile(fromRoot("test/golden/check/train-inheritance-cycle/input.nn"), {
    limits,
    run: "A",
  });
  assert.is(r.program, null);
  assert.equal(
    r.diagnostics.map((d) => `${d.code} ${d.message}`),
    [
      "NN3021 train A inherits from itself: A -> B -> A",
      "NN3021 train B inherits from itself: B -> A -> B",
      "NN3021 train C inherits from itself: C -> C",
    ],
  );
});

test("a 3,000-term `+` chain compiles: checking and the fused kernel's code walk it without recursing", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-chain-"));
  try {
    const path = join(dir, "chain.nn");
    writeFileSync(
      path,
      `model M(image: [28, 28, 1]) -> [10] {
  let x = image |> flatten |> dense(10)
  ${Array(3000).fill("x").join(" + ")}
}
train M { data = mnist(split: "train")  loss = softmax_cross_entropy  optimizer = sgd }
`,
    );
    const r = compileFile(path, { limits });
    assert.equal(r.diagnostics, []);
    assert.ok(r.program);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a stdlib layer's parameter too big for the device is one NN4002 at the user's call", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-compile-"));
  try {
    const file = join(dir, "big.nn");
    writeFileSync(
      file,
      readFileSync(fromRoot("examples", "mlp.nn"), "utf8").replace(
        "dense(128,",
        "dense(100000000,",
      ),
    );
    const r = compileFile(file, { limits: defaultLimits });
    assert.is(r.program, null);
    assert.is(r.diagnostics.length, 1, "once, not once per plan");
    const text = renderDiagnostic(r.sources, r.diagnostics[0]!);
    assert.match(
      text,
      /big\.nn:6:8: error NN4002: param: this value needs a buffer of 313600000000 bytes/,
    );
    assert.match(text, "|> dense(100000000, activation: relu)");
    assert.match(text, "note: the param is declared here (stdlib/layers.nn:13:3)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
