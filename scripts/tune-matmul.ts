/**
 * @file The matmul kernel search, shown: GFLOP/s of every candidate block configuration for
 * one square matmul (default 512 x 512 x 512) on the local device, next to a naive kernel (one
 * output per invocation, scalar loads), then the configuration `autotune` picks (measured
 * afresh; the tune cache is neither read nor written). On llvmpipe the 4x4-block vec4 kernel
 * ran ~5x the naive one's rate. Usage: node dist/scripts/tune-matmul.js [--size N] [--json]
 */
import { emitters } from "../compiler/codegen/emitters.js";
import {
  autotune,
  candidates,
  type MatmulConfig,
  timeKernel,
  useTuning,
} from "../compiler/codegen/tune.js";
import type { KernelSource } from "../compiler/codegen/wgsl.js";
import { matmulHeuristic } from "../compiler/codegen/matmul.js";
import type { EmitCtx } from "../compiler/codegen/context.js";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph } from "../compiler/ir/graph.js";
import { acquireDevice } from "../runtime/device.js";
import type { NncDevice } from "../runtime/device-core.js";
import { relaunchQuietly } from "../runtime/quiet.js";

interface Row {
  readonly kernel: string;
  readonly ms: number;
  readonly gflops: number;
}

const span = { file: "tune-matmul", start: 0, end: 0 };

/** C = A B for n x n matrices, as a graph (what autotune searches). */
function matmulGraph(n: number): Graph {
  const b = new GraphBuilder();
  const x = b.source("input", "a", { shape: [n, n], dtype: "f32" }, span);
  const y = b.source("input", "b", { shape: [n, n], dtype: "f32" }, span);
  b.output("c", b.add("matmul", [x, y], { transA: false, transB: false }, span));
  return b.build();
}

/** The textbook kernel: one output per invocation, a scalar dot product over K. */
function naiveKernel(n: number): KernelSource {
  const wg = 64;
  const wgsl = [
    "@group(0) @binding(0) var<storage, read> a: array<f32>;",
    "@group(0) @binding(1) var<storage, read> b: array<f32>;",
    "@group(0) @binding(2) var<storage, read_write> out: array<f32>;",
    `@compute @workgroup_size(${wg})`,
    "fn main(@builtin(global_invocation_id) gid: vec3<u32>) {",
    `  let i = gid.x;`,
    `  if (i >= ${n * n}u) { return; }`,
    `  let r = i / ${n}u;`,
    `  let c = i % ${n}u;`,
    "  var s = 0.0f;",
    `  for (var k = 0u; k < ${n}u; k++) { s += a[r * ${n}u + k] * b[k * ${n}u + c]; }`,
    "  out[i] = s;",
    "}",
    "",
  ].join("\n");
  return { wgsl, workgroupSize: [wg, 1, 1], dispatch: [(n * n) / wg, 1, 1], reads: [0, 1] };
}

/** The matmul emitter's kernel for `cfg` (undefined: the heuristic). */
function emitted(g: Graph, dev: NncDevice, cfg: MatmulConfig | undefined): KernelSource {
  const node = g.nodes.find((n) => n.op === "matmul")!;
  const ctx: EmitCtx = {
    node,
    attrs: node.attrs,
    shape: node.shape as number[],
    dtype: node.dtype,
    inputs: node.inputs.map((j) => ({
      shape: g.nodes[j]!.shape as number[],
      dtype: g.nodes[j]!.dtype,
    })),
    limits: dev.limits,
  };
  useTuning(cfg && "script", cfg && { script: { "matmul *": cfg } });
  try {
    const e = emitters.matmul(ctx as EmitCtx<"matmul">);
    if (e.kind !== "kernels" || e.kernels.length !== 1) throw new Error("expected one kernel");
    return e.kernels[0]!;
  } finally {
    useTuning(undefined);
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const at = args.indexOf("--size");
  const n = at >= 0 ? Number(args[at + 1]) : 512;
  if (!Number.isInteger(n) || n < 4 || n % 64 !== 0) {
    process.stderr.write("tune-matmul: --size must be a multiple of 64\n");
    return 2;
  }
  const json = args.includes("--json");
  const dev = await acquireDevice();
  try {
    const flop = 2 * n * n * n;
    const bytes = [n * n * 4, n * n * 4, n * n * 4];
    const g = matmulGraph(n);
    const h = matmulHeuristic(n, n, n);
    const kernels: [string, KernelSource][] = [
      ["naive (1 output, scalar)", naiveKernel(n)],
      [`heuristic ${h.bm}x${h.bn} wg ${h.wg}`, emitted(g, dev, undefined)],
      ...candidates.matmul.map((c): [string, KernelSource] => [
        `block ${c.bm}x${c.bn} vec4 wg ${c.wg}`,
        emitted(g, dev, c),
      ]),
    ];
    // Two passes, the faster of each kernel's two: the first kernels timed on a busy machine
    // would otherwise pay for its warming up.
    const best = kernels.map(() => Infinity);
    for (let pass = 0; pass < 2; pass++) {
      for (const [i, [, k]] of kernels.entries()) {
        best[i] = Math.min(best[i]!, await timeKernel(dev, k, bytes, { reps: 2, trials: 2 }));
      }
    }
    const rows: Row[] = kernels.map(([kernel], i) => ({
      kernel,
      ms: best[i]!,
      gflops: flop / (best[i]! * 1e6),
    }));
    if (!json) {
      process.stdout.write(`${n}x${n}x${n} matmul on ${dev.description}\n`);
      for (const r of rows) {
        process.stdout.write(
          `${r.kernel.padEnd(30)} ${r.ms.toFixed(2).padStart(8)} ms ${r.gflops.toFixed(2).padStart(7)} GFLOP/s\n`,
        );
      }
    }
    const t0 = performance.now();
    const [r] = await autotune(dev, [g], { cachePath: null });
    const searchS = (performance.now() - t0) / 1000;
    const naive = rows[0]!.ms;
    const pick = r!.config as Partial<MatmulConfig> & { heuristic?: boolean };
    const name = pick.heuristic
      ? `heuristic ${h.bm}x${h.bn} wg ${h.wg}`
      : `${pick.bm}x${pick.bn} wg ${pick.wg}`;
    if (json) {
      const pickRow = {
        config: pick,
        ms: r!.ms,
        gflops: flop / (r!.ms * 1e6),
        searchSeconds: searchS,
      };
      process.stdout.write(
        JSON.stringify({ size: n, device: dev.description, rows, autotune: pickRow }) + "\n",
      );
    } else {
      process.stdout.write(
        `autotune picks ${name}: ${r!.ms.toFixed(2)} ms, ${(flop / (r!.ms * 1e6)).toFixed(2)} GFLOP/s, ` +
          `${(naive / r!.ms).toFixed(1)}x the naive kernel (${r!.tried} kernels timed in ${searchS.toFixed(1)} s)\n`,
      );
    }
    return 0;
  } finally {
    dev.destroy();
  }
}

const quiet = await relaunchQuietly();
process.exitCode = quiet ?? (await main());
