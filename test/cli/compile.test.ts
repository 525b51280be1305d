/**
 * @file Every single-model example compiles all the way to a ModelProgram (check, lower,
 * autodiff, fusion, kernel plans) without a device; runs the CLI cannot train yet (a GAN's
 * several steps, an unbound sequence length) end in a diagnostic, never an exception.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFile } from "../../compiler/compile.js";
import { defaultLimits } from "../../runtime/plan.js";
import { fromRoot } from "../util/golden.js";

const limits = { ...defaultLimits, maxStorageBuffersPerShaderStage: 16 };

for (const name of ["mnist", "mlp", "residual", "rows", "finetune", "search"]) {
  test(`examples/${name}.nn compiles to a program`, () => {
    const r = compileFile(fromRoot("examples", `${name}.nn`), { limits });
    assert.equal(r.diagnostics, []);
    assert.ok(r.program);
    assert.ok(r.program!.step.kernels.length > 0);
    assert.ok(r.program!.variables.some((v) => v.role === "model" && v.trainable));
  });
}

for (const [name, code] of [
  ["gan", "NN4011"],
  ["sentiment", "NN3019"],
] as const) {
  test(`examples/${name}.nn is refused with ${code}`, () => {
    const r = compileFile(fromRoot("examples", `${name}.nn`), { limits });
    assert.is(r.program, null);
    assert.is(r.diagnostics[0]?.code, code);
  });
}

test.run();
