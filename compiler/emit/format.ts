/**
 * @file Prettier for emitted TypeScript: every module `nnc build` writes (and prints with
 * `--emit ts`) goes through here, with the Prettier configuration that applies where the file
 * is written (the consumer's own style), else Prettier's defaults. Prettier is imported lazily,
 * so the other commands never load it.
 */
import { type EmittedModule, fillHoles } from "./module.js";

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
 * data tables, in `// prettier-ignore` statements, are filled in afterwards.
 */
export async function formatModule(parts: EmittedModule, filepath?: string): Promise<string> {
  return fillHoles(await formatTypeScript(parts.skeleton, filepath), parts.holes);
}
