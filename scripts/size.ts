/**
 * @file `npm run size`: what a web page downloads to train and run the MNIST model. It builds
 * examples/mnist.nn the way `nnc build --standalone --minify` does (planned for WebGPU's default
 * limits), bundles the module with its runtime through esbuild, minifies and gzips it (level
 * 9), and reports the total and its two parts: the runtime alone and the model (kernels and
 * plans). No device is needed. Usage: node dist/scripts/size.js [FILE] [--json]; exits 1 when
 * the gzipped total exceeds the 30 KB target (30,000 bytes). The target is judged on the module
 * with heuristic kernel parameters (a fresh machine's `nnc build`); the module with this
 * machine's tuned parameters, when it differs, is reported beside it.
 */
import { gzipSync } from "node:zlib";
import { buildTuning } from "../compiler/cli/tuning.js";
import { useTuning } from "../compiler/codegen/tune.js";
import { compileFile } from "../compiler/compile.js";
import { bundleStandalone } from "../compiler/emit/bundle.js";
import { emitModule } from "../compiler/emit/module.js";
import { formatBytes } from "../compiler/emit/print.js";
import { renderDiagnostic } from "../compiler/diagnostics.js";
import { defaultLimits } from "../runtime/plan.js";

export const targetBytes = 30_000;

export interface SizeReport {
  readonly file: string;
  readonly model: string;
  /** Bytes of the emitted TypeScript module (unformatted). */
  readonly source: number;
  readonly minified: number;
  readonly gzipped: number;
  /** The runtime bundled alone (what every model module shares), minified and gzipped. */
  readonly runtimeGzipped: number;
  /** The rest: the model's kernels and plans. */
  readonly modelGzipped: number;
  readonly target: number;
}

function gzipSize(text: string): number {
  return gzipSync(text, { level: 9 }).length;
}

/**
 * The report for `file` built with heuristic kernel parameters (what `nnc build` writes on a
 * machine that never tuned: the size the target is about), or with `tuned`, with this
 * machine's cached winners as `nnc build` uses them (bigger matmul blocks, longer WGSL).
 */
export async function measure(file: string, tuned = false): Promise<SizeReport> {
  if (tuned) await buildTuning(false, undefined, () => []);
  else useTuning(undefined);
  const r = compileFile(file, { limits: defaultLimits });
  if (!r.program) {
    throw new Error(r.diagnostics.map((d) => renderDiagnostic(r.sources, d)).join("\n"));
  }
  const source = emitModule(r.program, {
    predictOutput: r.lowered?.infer.predictOutput ?? null,
    compactWgsl: true,
  });
  const minified = await bundleStandalone(source, { minify: true });
  const runtimeOnly = await bundleStandalone(
    'import { createRunner, unpackProgram } from "nnc/runtime/embed";\n' +
      "export { createRunner, unpackProgram };\n",
    { minify: true },
  );
  const gzipped = gzipSize(minified);
  const runtimeGzipped = gzipSize(runtimeOnly);
  return {
    file,
    model: r.program.model,
    source: source.length,
    minified: minified.length,
    gzipped,
    runtimeGzipped,
    modelGzipped: gzipped - runtimeGzipped,
    target: targetBytes,
  };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const file = args.find((a) => !a.startsWith("--")) ?? "examples/mnist.nn";
  const s = await measure(file);
  // This machine's tuned kernels, when it has any: reported beside, not judged.
  const t = await measure(file, true);
  const tunedGzipped = t.gzipped !== s.gzipped ? t.gzipped : undefined;
  if (json) {
    process.stdout.write(
      JSON.stringify({ ...s, ...(tunedGzipped ? { tunedGzipped } : {}) }) + "\n",
    );
  } else {
    process.stdout.write(
      `${s.model} module with its runtime (${file}): ${formatBytes(s.source)} of TypeScript, ` +
        `${formatBytes(s.minified)} minified, ${s.gzipped} bytes (${formatBytes(s.gzipped)}) ` +
        `minified + gzipped: runtime ${s.runtimeGzipped} bytes, model ${s.modelGzipped} bytes. ` +
        `Target: under ${s.target} bytes (TensorFlow.js is about 269 KB gzipped): ` +
        `${s.gzipped < s.target ? "met" : "MISSED"}.\n`,
    );
    if (tunedGzipped) {
      process.stdout.write(
        `With this machine's tuned kernel parameters (.nnc-cache/tune.json), which nnc build uses, ` +
          `the module is ${tunedGzipped} bytes gzipped (bigger blocks, longer WGSL); ` +
          `NNC_TUNE=0 nnc build writes the compact one.\n`,
      );
    }
  }
  return s.gzipped < s.target ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`size: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
