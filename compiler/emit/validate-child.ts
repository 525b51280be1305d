/**
 * @file The kernel validator process of `nnc build` (started by validator.ts through
 * `spawnQuiet`, so Dawn's native stderr noise is filtered). It acquires the device and a
 * default-limits device as soon as it starts, while the parent process is still compiling the
 * `.nn` file; then it reads the kernels as one JSON object on stdin, compiles them all, and
 * writes one reply line on stdout: `nnc-validate: {...}` (see `ValidatorReply`). Usage:
 * `node validate-child.js [DEVICE]` (DEVICE as `nnc build --device`; NNC_DEVICE overrides it).
 * Kernels the kernel cache knows compiled on this adapter are not compiled again
 * (kernel-cache.ts). Imports only the runtime's device module, kernel-compile.ts and
 * kernel-cache.ts, so it starts quickly.
 */
import { acquireDevice, type DeviceChoice, type NncDevice } from "../../runtime/device.js";
import { isNncError, renderNncError } from "../../runtime/errors.js";
import { compileKernels, type CompileTarget, type KernelSource } from "./kernel-compile.js";
import { kernelCachePath, kernelKeys, readKernelCache, writeKernelCache } from "./kernel-cache.js";
import { replyMarker, type ValidatorReply } from "./validator-protocol.js";

type Ready = { dev: NncDevice; target: CompileTarget } | { reply: ValidatorReply };

/** The device and the default-limits device to compile on, or the reply that says why not. */
async function prepare(choice: DeviceChoice | undefined): Promise<Ready> {
  try {
    // One device, with WebGPU's default limits: the kernels are checked against those.
    const dev = await acquireDevice({
      defaultLimits: true,
      profile: false,
      ...(choice === undefined ? {} : { device: choice }),
    });
    return { dev, target: { device: dev.device, own: false } };
  } catch (e) {
    if (isNncError(e)) return { reply: { kind: "failure", text: renderNncError(e) } };
    return { reply: { kind: "internal", message: e instanceof Error ? e.message : String(e) } };
  }
}

/** All of stdin as text. */
function readStdin(): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk: string) => (text += chunk));
    process.stdin.on("end", () => resolve(text));
  });
}

/**
 * Each kernel's error text (null: it compiled), compiling only those the kernel cache does not
 * know compiled on this adapter (kernel-cache.ts); the ones that compile now join the cache.
 */
async function compileUncached(
  device: string,
  target: CompileTarget,
  kernels: readonly KernelSource[],
): Promise<(string | null)[]> {
  const path = kernelCachePath();
  if (path === null) return (await compileKernels(target, kernels)).map((e) => e ?? null);
  const keys = kernelKeys(device, kernels);
  const known = readKernelCache(path);
  const cached = new Set(known);
  const todo = kernels.map((_, i) => i).filter((i) => !cached.has(keys[i]!));
  const errors: (string | null)[] = kernels.map(() => null);
  const results = await compileKernels(
    target,
    todo.map((i) => kernels[i]!),
  );
  todo.forEach((i, j) => (errors[i] = results[j] ?? null));
  const compiled = todo.filter((i) => errors[i] === null).map((i) => keys[i]!);
  if (compiled.length > 0) writeKernelCache(path, [...known, ...compiled]);
  return errors;
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  const ready = prepare(arg === undefined || arg === "" ? undefined : (arg as DeviceChoice));
  const input = await readStdin();
  // An empty request: the parent needs no validation after all (e.g. the file did not compile).
  if (input.trim() === "") process.exit(0);
  const { kernels } = JSON.parse(input) as { kernels: KernelSource[] };
  const r = await ready;
  const reply: ValidatorReply =
    "reply" in r
      ? r.reply
      : {
          kind: "compiled",
          device: r.dev.description,
          errors: await compileUncached(r.dev.description, r.target, kernels),
        };
  // Exit as soon as the reply is out: tearing Dawn down costs tens of milliseconds that no one
  // waits for.
  process.stdout.write(`${replyMarker}${JSON.stringify(reply)}\n`, () => process.exit(0));
}

await main();
