/**
 * @file Which command modules `nnc` loads: the bundled ones in dist/bundle/ (written by
 * scripts/bundle.ts after tsc; a handful of files instead of hundreds, most of them lodash-es
 * files that chevrotain imports) when they are fresh, else the files tsc wrote. Fresh means
 * every file bundled is unchanged since: dist/bundle/manifest.json lists each compiled file and
 * each bundled package's package.json with its size, mtime and SHA-1 (the hash is read only
 * when the mtime differs, as it does after every tsc run, so an unchanged rebuild keeps the
 * bundle). NNC_BUNDLE=0 never uses the bundle; NNC_BUNDLE=1 requires it (NNC_BUNDLE=DIR: the
 * one in DIR).
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** One file the bundle was made from, its path relative to the package root. */
export interface BundledFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha1: string;
}

export interface BundleManifest {
  /** The command modules bundled: `compiler/cli/NAME.js` is `bundle/NAME.js`. */
  readonly commands: readonly string[];
  readonly files: readonly BundledFile[];
}

/** The package root (this file is dist/bin/bundled.js). */
export const packageRoot = fileURLToPath(new URL("../../", import.meta.url));
export const bundleDir = join(packageRoot, "dist", "bundle");

export function sha1(bytes: Uint8Array): string {
  return createHash("sha1").update(bytes).digest("hex");
}

/** True when the file at `root`/`f.path` still has the content it had when bundled. */
function unchanged(root: string, f: BundledFile): boolean {
  const path = join(root, f.path);
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st || st.size !== f.size) return false;
  return st.mtimeMs === f.mtimeMs || sha1(readFileSync(path)) === f.sha1;
}

/**
 * The manifest of the bundle in `dir` when every file it was made from (paths relative to
 * `root`) is unchanged, else undefined.
 */
export function freshManifest(dir = bundleDir, root = packageRoot): BundleManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as BundleManifest;
    return m.files.every((f) => unchanged(root, f)) ? m : undefined;
  } catch {
    return undefined;
  }
}

let checked: { dir: string; manifest: BundleManifest | undefined } | undefined;

/**
 * The URL of the bundled module of command `name` when the bundle is fresh and has it. With
 * NNC_BUNDLE=0, always undefined; with NNC_BUNDLE=1, a missing or stale bundle is an error;
 * NNC_BUNDLE=DIR requires the bundle in DIR instead (tests make one there).
 */
export function bundledCommand(name: string): string | undefined {
  const mode = process.env.NNC_BUNDLE ?? "";
  if (mode === "0") return undefined;
  const dir = mode === "" || mode === "1" ? bundleDir : resolve(mode);
  if (checked?.dir !== dir) checked = { dir, manifest: freshManifest(dir) };
  if (checked.manifest?.commands.includes(name)) return pathToFileURL(join(dir, `${name}.js`)).href;
  if (mode !== "") {
    throw new Error(
      `NNC_BUNDLE=${mode} but ${dir} is missing, stale or lacks '${name}' (run npm run build)`,
    );
  }
  return undefined;
}
