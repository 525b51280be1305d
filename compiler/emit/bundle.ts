/**
 * @file Bundling for `nnc build --standalone` and the size report: esbuild resolves the
 * module's runtime import (`nnc/runtime/embed`) to this package's browser entry, and
 * `nnc/runtime/augment` (imported by modules whose run augments) to its augmentation code, and
 * bundles them in, giving one ES module that imports nothing (its default device is `navigator.gpu`, or the
 * `webgpu` package in Node when installed, loaded at run time). esbuild is imported lazily.
 */
import { fileURLToPath } from "node:url";

/** The compiled browser entry of the runtime, next to this file in dist/. */
export const browserEntry = fileURLToPath(new URL("../../runtime/browser.js", import.meta.url));
const augmentEntry = fileURLToPath(new URL("../../runtime/augment.js", import.meta.url));

export interface BundleOptions {
  readonly minify?: boolean;
  /** For messages: the name the source is known by. */
  readonly sourcefile?: string;
  /** The runtime specifier the module imports (default `nnc/runtime/embed`). */
  readonly runtime?: string;
  /** Text put first in the bundle, e.g. a header comment. */
  readonly banner?: string;
}

/** One self-contained ES module from the TypeScript module `source`. */
export async function bundleStandalone(source: string, opts: BundleOptions = {}): Promise<string> {
  const esbuild = await import("esbuild");
  const runtime = opts.runtime ?? "nnc/runtime/embed";
  const escaped = runtime.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const result = await esbuild.build({
    stdin: {
      contents: source,
      loader: "ts",
      sourcefile: opts.sourcefile ?? "module.ts",
      resolveDir: process.cwd(),
    },
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    minify: opts.minify ?? false,
    legalComments: "none",
    ...(opts.banner ? { banner: { js: opts.banner } } : {}),
    logLevel: "silent",
    plugins: [
      {
        name: "nnc-runtime",
        setup(build) {
          build.onResolve({ filter: new RegExp(`^${escaped}$`) }, () => ({ path: browserEntry }));
          build.onResolve({ filter: /^nnc\/runtime\/augment$/ }, () => ({ path: augmentEntry }));
        },
      },
    ],
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error("esbuild produced no output");
  return file.text;
}
