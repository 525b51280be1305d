/**
 * @file `npm run size`: what a web page downloads to train and run the MNIST model. It builds
 * examples/mnist.nn the way `nnc build --standalone --minify` does (planned for WebGPU's default
 * limits), bundles the module with its runtime through esbuild, minifies and gzips it (level
 * 9), and reports the total and its two parts: the runtime alone and the model (kernels and
 * plans). No device is needed. Usage: node dist/scripts/size.js [FILE] [--json]; exits 1 when
 * the gzipped total exceeds the 30 KB target (30,000 bytes).
 */
import { gzipSync } from "node:zlib";
import { buildTuning } from "../compiler/cli/tuning.js";
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

export async function measure(file: string): Promise<SizeReport> {
  await buildTuning(false, undefined, () => []); // the cached kernel parameters, as nnc build
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
  if (json) {
    process.stdout.write(JSON.stringify(s) + "\n");
  } else {
    process.stdout.write(
      `${s.model} module with its runtime (${file}): ${formatBytes(s.source)} of TypeScript, ` +
        `${formatBytes(s.minified)} minified, ${s.gzipped} bytes (${formatBytes(s.gzipped)}) ` +
        `minified + gzipped: runtime ${s.runtimeGzipped} bytes, model ${s.modelGzipped} bytes. ` +
        `Target: under ${s.target} bytes (TensorFlow.js is about 269 KB gzipped): ` +
        `${s.gzipped < s.target ? "met" : "MISSED"}.\n`,
    );
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
