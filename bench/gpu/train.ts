/**
 * @file `nnc train` as one entry point, for the GPU package (scripts/pack-gpu.ts bundles it):
 * the command module itself, without bin/nnc.ts's table of lazily loaded commands.
 * Usage in the package: node dist/bench/gpu-train.js FILE [nnc train options].
 */
import { run } from "../../compiler/cli/train.js";

process.exitCode = await run(process.argv.slice(2));
