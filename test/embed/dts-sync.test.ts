/**
 * @file The standalone `.d.ts` (`nnc build --standalone`) spells out the runtime's public types
 * so that it imports nothing (compiler/emit/module.ts). This test keeps the two in step: `tsc`
 * checks that every type the declarations export is the same, both ways, as the runtime's type
 * of that name (the runtime's own declarations in dist/), so a field added to one and not the
 * other fails here. The program's type is given in part: the fields it names must match.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { emitStandaloneDeclarations } from "../../compiler/emit/module.js";
import { mnistProgram, root, scratch } from "./util.js";

/** Each exported type of the standalone declarations, and the runtime module that defines it. */
const runtimeHome: Readonly<Record<string, string>> = {
  CreateOptions: "embedded",
  InputArray: "embedded",
  TrainingBatch: "embedded",
  TrainingData: "embedded",
  SampleBatch: "embedded",
  SampleData: "embedded",
  StepResult: "embedded",
  FitOptions: "embedded",
  EpochResult: "model",
  Evaluation: "model",
  ModelProgram: "program",
};

test("every type of the standalone declarations is the runtime's type of that name", () => {
  const space = scratch("dts-sync");
  try {
    const dts = emitStandaloneDeclarations(mnistProgram());
    const exported = [...dts.matchAll(/^export (?:interface|type) (\w+)/gm)].map((m) => m[1]!);
    // GPUDeviceLike stands for GPUDevice where WebGPU's types are loaded, as they are here;
    // the model's own types (MnistInputShape, ...) have no runtime counterpart.
    const compared = exported.filter((n) => n !== "GPUDeviceLike" && !n.startsWith("Mnist"));
    assert.equal(
      compared.filter((n) => !runtimeHome[n]),
      [],
      "a new exported type needs a home",
    );
    writeFileSync(join(space.dir, "Mnist.d.ts"), dts);
    const homes = [...new Set(compared.map((n) => runtimeHome[n]!))];
    const lines = [
      'import type * as S from "./Mnist.js";',
      ...homes.map(
        (h) =>
          `import type * as ${h} from ${JSON.stringify(join(root, "dist/runtime", `${h}.js`))};`,
      ),
      "type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;",
      "type Named<T> = { [K in keyof T as string extends K ? never : K]: T[K] };",
      "type GpuLike = Same<S.GPUDeviceLike, GPUDevice>;",
      "export const gpu: GpuLike = true;",
      // ModelProgram is spelled out only in part (plain JSON, opaque to users, the rest behind an
      // index signature): the fields it names must be the runtime's.
      ...compared.map((n) =>
        n === "ModelProgram"
          ? `export const ${n}: Same<Named<S.${n}>, Pick<${runtimeHome[n]}.${n}, keyof Named<S.${n}>>> = true;`
          : `export const ${n}: Same<S.${n}, ${runtimeHome[n]}.${n}> = true;`,
      ),
      "",
    ];
    writeFileSync(join(space.dir, "check.ts"), lines.join("\n"));
    writeFileSync(
      join(space.dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["@webgpu/types"],
          typeRoots: [join(root, "node_modules/@types"), join(root, "node_modules")],
        },
        files: ["check.ts"],
      }),
    );
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", space.dir], { encoding: "utf8" });
    assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    space.cleanup();
  }
});

test.run();
