/**
 * @file Per-kernel times of a compiled train run on the local device: each kernel of the step
 * plan runs alone `reps` times in one submission, so the table shows where a step's time goes.
 * Usage: node dist/scripts/profile-kernels.js FILE [--reps N] [--batch N]. The adapter has no
 * timestamp queries on llvmpipe, so this measures wall time around whole submissions.
 */
import { compileFile } from "../compiler/compile.js";
import { acquireDevice } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import type { KernelPlan } from "../runtime/plan.js";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args[0] ?? "examples/mnist.nn";
  const opt = (name: string, d: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const reps = opt("reps", 20);
  const dev = await acquireDevice();
  const r = compileFile(file, {
    limits: dev.limits,
    ...(args.includes("--batch") ? { batch: opt("batch", 64) } : {}),
  });
  if (!r.program) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  for (const which of ["step", "predict"] as const) {
    const plan: KernelPlan = r.program[which];
    const rows: { name: string; op: string; ms: number; location: string }[] = [];
    for (const k of plan.kernels) {
      const sub: KernelPlan = { ...plan, kernels: [k], updates: [], outputs: [] };
      const ex = await Executor.create(dev, sub);
      await ex.submit(2);
      const t0 = performance.now();
      await ex.submit(reps);
      const ms = (performance.now() - t0) / reps;
      rows.push({ name: k.name, op: k.op, ms, location: k.location });
      ex.dispose();
    }
    const full = await Executor.create(dev, plan);
    await full.submit(2);
    const t0 = performance.now();
    await full.submit(reps);
    const total = (performance.now() - t0) / reps;
    full.dispose();
    const sum = rows.reduce((a, x) => a + x.ms, 0);
    console.log(
      `\n${which}: ${plan.kernels.length} kernels, whole plan ${total.toFixed(2)} ms/step (sum of kernels ${sum.toFixed(2)} ms), batch ${which === "step" ? r.program.stepBatch : r.program.inferBatch}`,
    );
    for (const x of [...rows].sort((a, b) => b.ms - a.ms)) {
      console.log(`${x.ms.toFixed(3).padStart(9)} ms  ${x.name.padEnd(28)} ${x.location}`);
    }
  }
  dev.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
