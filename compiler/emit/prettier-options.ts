/**
 * @file When `nnc build` can skip Prettier. The module emitter (module.ts) writes its skeleton
 * the way Prettier prints it with default options, so formatting only changes the text when
 * the consumer's Prettier configuration asks for something else, or when a code line (a long
 * model name, a long shape) is wider than the print width. Loading and running Prettier costs
 * a build about a fifth of a second; this file decides, without loading it, whether it would
 * change the skeleton. `prettierOptionsFor` finds the configuration Prettier's own
 * `resolveConfig` would find (the same file names in the same order, from the file's folder up
 * to the root; `package.json` only with a `prettier` key; `.editorconfig` is not read, as
 * `resolveConfig` does not by default) and reads it when it is JSON; anything it cannot read
 * the way Prettier would (YAML, TOML, JavaScript, shared configurations, `overrides`, a
 * configuration file name it does not know) is `undefined`, and the caller runs Prettier. `isPrettierStable` says whether a skeleton already
 * is Prettier's output for the options found. test/embed/format.test.ts checks both against
 * Prettier itself.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** The configuration files Prettier 3 looks for in each folder, in its order. */
const configFiles = [
  "package.json",
  "package.yaml",
  ".prettierrc",
  ".prettierrc.json",
  ".prettierrc.yml",
  ".prettierrc.yaml",
  ".prettierrc.json5",
  ".prettierrc.js",
  "prettier.config.js",
  ".prettierrc.ts",
  "prettier.config.ts",
  ".prettierrc.mjs",
  "prettier.config.mjs",
  ".prettierrc.mts",
  "prettier.config.mts",
  ".prettierrc.cjs",
  "prettier.config.cjs",
  ".prettierrc.cts",
  "prettier.config.cts",
  ".prettierrc.toml",
];

/** Plain Prettier options: a JSON object of option names and values. */
export type PrettierOptions = Readonly<Record<string, unknown>>;

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** A JSON object's value, or undefined when `text` is not JSON or not an object. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === "object" && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The names in folder `dir` (none when it does not exist or cannot be read). */
function entries(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch {
    return new Set();
  }
}

/** A name that looks like a Prettier configuration file, known to this file or not. */
const configLike = /^(\.prettierrc|prettier\.config\.)/;

/**
 * The options Prettier's `resolveConfig(filepath)` gives for a file at `filepath` ({} when no
 * configuration applies), or undefined when only Prettier can tell: the configuration found is
 * not plain JSON, has `overrides`, or could not be read, or a folder holds a configuration-like
 * file this list does not know (a later Prettier's).
 */
export function prettierOptionsFor(filepath: string): PrettierOptions | undefined {
  let dir = dirname(resolve(filepath));
  for (;;) {
    const names = entries(dir);
    const unknown = [...names].some((n) => configLike.test(n) && !configFiles.includes(n));
    for (const name of configFiles) {
      const path = join(dir, name);
      if (!names.has(name) || !isFile(path)) continue;
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        return undefined;
      }
      if (name === "package.json") {
        // Prettier passes over a package.json without a `prettier` key (or one it cannot read).
        const pkg = jsonObject(text);
        if (!pkg || !Object.hasOwn(pkg, "prettier")) continue;
        const config = pkg["prettier"];
        if (config === null || typeof config !== "object" || Array.isArray(config)) {
          return undefined; // a shared configuration's name
        }
        return plain(config as Record<string, unknown>);
      }
      if (unknown || (name !== ".prettierrc" && name !== ".prettierrc.json")) return undefined;
      const config = jsonObject(text);
      return config ? plain(config) : undefined; // .prettierrc may be YAML
    }
    if (unknown) return undefined;
    const up = dirname(dir);
    if (up === dir) return {};
    dir = up;
  }
}

function plain(config: Record<string, unknown>): PrettierOptions | undefined {
  return Object.hasOwn(config, "overrides") ? undefined : config;
}

/** Prettier's defaults for the options that change how TypeScript is printed. */
const defaults: Readonly<Record<string, unknown>> = {
  tabWidth: 2,
  useTabs: false,
  semi: true,
  singleQuote: false,
  jsxSingleQuote: false,
  quoteProps: "as-needed",
  trailingComma: "all",
  bracketSpacing: true,
  bracketSameLine: false,
  objectWrap: "preserve",
  arrowParens: "always",
  endOfLine: "lf",
  experimentalTernaries: false,
  experimentalOperatorPosition: "end",
  embeddedLanguageFormatting: "auto",
  singleAttributePerLine: false,
};

/**
 * The widest print width the emitter's skeletons were checked at: wider, Prettier could join a
 * broken list (the `export type { ... }` list) onto one line.
 */
export const widestPrintWidth = 110;

/** Options that do not concern TypeScript code (or, like `$schema`, nothing at all). */
const ignored = new Set([
  "$schema",
  "proseWrap",
  "htmlWhitespaceSensitivity",
  "vueIndentScriptAndStyle",
]);

/**
 * True when Prettier, with `options`, prints `skeleton` (TypeScript written by module.ts) as it
 * is: every option is its default but `printWidth` (at most `widestPrintWidth`), and no line
 * outside a comment is wider than the print width (Prettier breaks such lines, and never
 * rewraps a comment). Lines are measured in characters, so any non-ASCII character outside a
 * comment makes it false (Prettier counts some as two columns).
 */
export function isPrettierStable(skeleton: string, options: PrettierOptions): boolean {
  let width = 80;
  for (const [key, value] of Object.entries(options)) {
    if (key === "printWidth") {
      if (typeof value !== "number" || !Number.isInteger(value)) return false;
      width = value;
    } else if (!ignored.has(key) && (!Object.hasOwn(defaults, key) || defaults[key] !== value)) {
      return false;
    }
  }
  if (width > widestPrintWidth) return false;
  let inComment = false;
  for (const line of skeleton.split("\n")) {
    const t = line.trimStart();
    if (inComment || t.startsWith("/*")) {
      inComment = !t.includes("*/");
      continue;
    }
    if (t.startsWith("//")) continue;
    if (line.length > width || /[^\x20-\x7e]/.test(line)) return false;
  }
  return true;
}
