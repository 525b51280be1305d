/**
 * @file The GPU package's first check (bench/gpu/run.sh): which WebGPU adapter nnc gets here
 * (NNC_DEVICE, default `gpu`: a real GPU or a failure, never a silent CPU fallback), its
 * features (timestamp-query for the kernel table) and limits, as one JSON object on stdout.
 * Exits 1 with `{ "error": ... }` when there is no such adapter, so run.sh can try the
 * driver's ICD file next.
 */
import { acquireDevice } from "../../runtime/device.js";

async function main(): Promise<number> {
  process.env.NNC_DEVICE ??= "gpu";
  const base = { node: process.version, device: process.env.NNC_DEVICE };
  try {
    const dev = await acquireDevice({ profile: true });
    const info = dev.adapter?.info;
    const report = {
      ...base,
      kind: dev.kind,
      description: dev.description,
      adapter: info
        ? {
            vendor: info.vendor,
            architecture: info.architecture,
            device: info.device,
            description: info.description,
          }
        : null,
      features: [...dev.device.features].sort(),
      limits: dev.limits,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    dev.destroy();
    return 0;
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ ...base, error: (e as Error).message })}\n`);
    return 1;
  }
}

process.exitCode = await main();
