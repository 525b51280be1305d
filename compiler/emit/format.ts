/**
 * @file Prettier for emitted TypeScript: every module `nnc build` writes (and prints with
 * `--emit ts`) is what Prettier makes of it, with the Prettier configuration that applies where
 * the file is written (the consumer's own style), else Prettier's defaults. The module emitter
 * already writes Prettier's output for default options, so when the configuration found asks
 * for nothing else (prettier-options.ts) Prettier is not run at all; otherwise it is imported
 * lazily, so the other commands never load it.
 */
import { type EmittedModule, fillHoles } from "./module.js";
import { isPrettierStable, prettierOptionsFor } from "./prettier-options.js";

/** `text` formatted as TypeScript; `filepath` selects the Prettier configuration. */
export async function formatTypeScript(text: string, filepath?: string): Promise<string> {
  const prettier = await import("prettier");
  const config = filepath ? await prettier.resolveConfig(filepath) : null;
  return prettier.format(text, {
    ...(config ?? {}),
    parser: "typescript",
    ...(filepath ? { filepath } : {}),
  });
}

/**
 * A module from `emitModuleParts`, formatted: Prettier runs over the skeleton only, and the
 * data tables, in `// prettier-ignore` statements, are filled in afterwards. The skeleton is
 * used as it is when Prettier would not change it (NNC_PRETTIER=1 always runs Prettier).
 */
export async function formatModule(parts: EmittedModule, filepath?: string): Promise<string> {
  const options =
    process.env.NNC_PRETTIER === "1" ? undefined : filepath ? prettierOptionsFor(filepath) : {};
  const skeleton =
    options !== undefined && isPrettierStable(parts.skeleton, options)
      ? parts.skeleton
      : await formatTypeScript(parts.skeleton, filepath);
  return fillHoles(skeleton, parts.holes);
}
