/**
 * @file Skipping Prettier in `nnc build` changes nothing: the emitted skeleton is used as it is
 * only where Prettier itself gives the same text (checked against Prettier for several models,
 * odd names and print widths), is left to Prettier where a line is too wide for the width, and
 * the configuration nnc finds without Prettier is the one Prettier's `resolveConfig` finds (or
 * nnc says it cannot tell).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileFile } from "../../compiler/compile.js";
import { formatModule } from "../../compiler/emit/format.js";
import { emitModuleParts, fillHoles } from "../../compiler/emit/module.js";
import {
  isPrettierStable,
  prettierOptionsFor,
  widestPrintWidth,
} from "../../compiler/emit/prettier-options.js";
import { defaultLimits } from "../../runtime/plan.js";
import type { ModelProgram } from "../../runtime/program.js";
import { mnistProgram, root } from "./util.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-format-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function program(file: string): ModelProgram {
  const r = compileFile(join(root, "examples", file), { limits: defaultLimits });
  if (!r.program) throw new Error(`${file} did not compile`);
  return r.program;
}

/**
 * The examples' skeletons (a multi-step run among them), some also with names long enough to
 * push lines past a width.
 */
function skeletons(): string[] {
  const out: string[] = [];
  for (const file of ["finetune.nn", "search.nn"]) {
    out.push(emitModuleParts(program(file), { version: "0.1.0" }).skeleton);
  }
  for (const p of [mnistProgram(), program("mlp.nn"), program("residual.nn"), program("gan.nn")]) {
    for (const model of [p.model, "M", "A".repeat(20), "Classifier".repeat(4)]) {
      for (const input of [p.inputs[0]!.name, "x", "pixels_of_the_input_image_batch"]) {
        const inputs = [{ ...p.inputs[0]!, name: input }, ...p.inputs.slice(1)];
        out.push(emitModuleParts({ ...p, model, inputs }, { version: "0.1.0" }).skeleton);
      }
    }
  }
  return out;
}

test("a skeleton taken as it is equals Prettier's output; one too wide is left to Prettier", async () => {
  const prettier = await import("prettier");
  let kept = 0;
  let declined = 0;
  let declinedChanged = 0;
  for (const skeleton of skeletons()) {
    for (const printWidth of [80, 90, 100, widestPrintWidth]) {
      const formatted = await prettier.format(skeleton, { parser: "typescript", printWidth });
      if (isPrettierStable(skeleton, { printWidth })) {
        kept++;
        assert.fixture(skeleton, formatted, `printWidth ${printWidth}`);
      } else {
        declined++;
        if (formatted !== skeleton) declinedChanged++;
      }
    }
  }
  assert.ok(kept >= 50, `most skeletons are kept (${kept})`);
  assert.ok(declinedChanged > 0, `a long name makes Prettier break a line (${declined} declined)`);
});

test("options other than printWidth, and widths beyond the checked ones, need Prettier", () => {
  const s = emitModuleParts(mnistProgram()).skeleton;
  assert.ok(isPrettierStable(s, {}));
  assert.ok(isPrettierStable(s, { printWidth: 100, semi: true, $schema: "x" }));
  assert.not.ok(isPrettierStable(s, { semi: false }));
  assert.not.ok(isPrettierStable(s, { singleQuote: true }));
  assert.not.ok(isPrettierStable(s, { tabWidth: 4 }));
  assert.not.ok(isPrettierStable(s, { plugins: ["x"] }));
  assert.not.ok(isPrettierStable(s, { printWidth: widestPrintWidth + 1 }));
  assert.not.ok(isPrettierStable(s, { printWidth: 40 }));
  assert.not.ok(isPrettierStable(s, { printWidth: "80" }));
});

/** Writes `files` (path relative to a fresh folder -> text); returns the folder. */
function tree(name: string, files: Record<string, string>): string {
  const base = join(dir, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(base, path, ".."), { recursive: true });
    writeFileSync(join(base, path), text);
  }
  mkdirSync(join(base, "a", "b"), { recursive: true });
  return base;
}

test("the configuration found is Prettier's, or undefined where only Prettier can tell", async () => {
  const prettier = await import("prettier");
  const plainCases: Record<string, Record<string, string>> = {
    none: {},
    json: { ".prettierrc.json": '{ "printWidth": 100 }' },
    rc: { "a/.prettierrc": '{ "semi": false }', ".prettierrc.json": '{ "printWidth": 90 }' },
    pkg: { "a/package.json": '{ "name": "x" }', ".prettierrc": '{ "printWidth": 70 }' },
    pkgKey: { "a/package.json": '{ "prettier": { "tabWidth": 4 } }', ".prettierrc": "{}" },
    badPkg: { "a/b/package.json": "{ nope", ".prettierrc.json": '{ "useTabs": true }' },
  };
  for (const [name, files] of Object.entries(plainCases)) {
    const file = join(tree(name, files), "a", "b", "Model.ts");
    const ours = prettierOptionsFor(file);
    const theirs = (await prettier.resolveConfig(file)) ?? {};
    assert.equal(ours, theirs, name);
  }
  const unknownCases: Record<string, Record<string, string>> = {
    yaml: { ".prettierrc": "printWidth: 100\n" },
    js: { "a/prettier.config.js": "export default {};\n", ".prettierrc.json": "{}" },
    shared: { "package.json": '{ "prettier": "some-shared-config" }' },
    overrides: { ".prettierrc.json": '{ "overrides": [{ "files": "*.ts", "options": {} }] }' },
    toml: { "a/b/.prettierrc.toml": "semi = false\n" },
    // package.json comes first, but a package.yaml would be read by Prettier
    packageYaml: { "a/package.yaml": "prettier:\n  semi: false\n" },
    // a name a later Prettier might read, beside one nnc can read
    future: { "a/.prettierrc.json": "{}", "a/.prettierrc.jsonc": '{ "semi": false }' },
  };
  for (const [name, files] of Object.entries(unknownCases)) {
    const file = join(tree(name, files), "a", "b", "Model.ts");
    assert.is(prettierOptionsFor(file), undefined, name);
  }
});

test("formatModule gives Prettier's text with and without Prettier running", async () => {
  const parts = emitModuleParts(mnistProgram());
  const cases: Record<string, Record<string, string>> = {
    plain: {},
    wide: { ".prettierrc.json": '{ "printWidth": 100 }' },
    yaml: { ".prettierrc": "semi: false\n" },
  };
  for (const [name, files] of Object.entries(cases)) {
    const file = join(tree(`module-${name}`, files), "a", "Mnist.ts");
    const fast = await formatModule(parts, file);
    process.env.NNC_PRETTIER = "1";
    try {
      assert.fixture(fast, await formatModule(parts, file), name);
    } finally {
      delete process.env.NNC_PRETTIER;
    }
  }
  const yaml = join(dir, "module-yaml", "a", "Mnist.ts");
  assert.not.match(await formatModule(parts, yaml), /unpackProgram\(packed, kernels\);/);
  assert.is(
    await formatModule(parts, join(dir, "module-plain", "a", "Mnist.ts")),
    fillHoles(parts.skeleton, parts.holes),
  );
});

test.run();
