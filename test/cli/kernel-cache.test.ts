/**
 * @file The validator's kernel cache (compiler/emit/kernel-cache.ts): a build records the keys of
 * the kernels that compiled, a second build with the same cache writes the same module, a
 * corrupt cache file is treated as empty and rewritten, NNC_KERNEL_CACHE=0 writes none, and a
 * key depends on the adapter and on every byte of the kernel.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelKeys, readKernelCache } from "../../compiler/emit/kernel-cache.js";
import { fromRoot } from "../util/golden.js";

const nnc = fromRoot("dist/bin/nnc.js");
const dir = mkdtempSync(join(tmpdir(), "nnc-kcache-"));
const cache = join(dir, "kernels.json");

function build(out: string, env: Record<string, string>): { code: number; stderr: string } {
  const r = spawnSync(process.execPath, [nnc, "build", fromRoot("examples/mlp.nn"), "-o", out], {
    cwd: dir,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status ?? -1, stderr: r.stdout + r.stderr };
}

const kernelsIn = (stderr: string): number => Number(/(\d+) kernels compiled/.exec(stderr)?.[1]);

test("a build records its kernels; the next one writes the same module from the cache", () => {
  const first = build(join(dir, "a"), { NNC_KERNEL_CACHE: cache });
  assert.is(first.code, 0, first.stderr);
  const n = kernelsIn(first.stderr);
  assert.ok(n > 0, first.stderr);
  const keys = readKernelCache(cache);
  assert.is(keys.length, n);
  const second = build(join(dir, "b"), { NNC_KERNEL_CACHE: cache });
  assert.is(second.code, 0, second.stderr);
  assert.is(kernelsIn(second.stderr), n);
  assert.equal(readKernelCache(cache), keys);
  assert.is(
    readFileSync(join(dir, "b", "Mlp.ts"), "utf8"),
    readFileSync(join(dir, "a", "Mlp.ts"), "utf8"),
  );
});

test("a corrupt cache is an empty one and is rewritten; NNC_KERNEL_CACHE=0 writes none", () => {
  writeFileSync(cache, "{ not json");
  const r = build(join(dir, "c"), { NNC_KERNEL_CACHE: cache });
  assert.is(r.code, 0, r.stderr);
  assert.is(readKernelCache(cache).length, kernelsIn(r.stderr));
  const off = build(join(dir, "d"), { NNC_KERNEL_CACHE: "0" });
  assert.is(off.code, 0, off.stderr);
  assert.not.ok(existsSync(join(dir, ".nnc-cache", "kernels.json")));
});

test("a key depends on the adapter and on the kernel's text", () => {
  const k = { name: "k", wgsl: "fn main() {}", entryPoint: "main", bindings: [] };
  const [a] = kernelKeys("llvmpipe", [k]);
  const [b] = kernelKeys("swiftshader", [k]);
  const [c] = kernelKeys("llvmpipe", [{ ...k, wgsl: "fn main() { }" }]);
  assert.is.not(a, b);
  assert.is.not(a, c);
  assert.is(kernelKeys("llvmpipe", [k])[0], a);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
