/**
 * @file Per-kernel times of a compiled train run's step and predict plans on the local device,
 * without training on data: the same profiler `NNC_DEBUG=1 nnc train` prints from
 * (runtime/profile.ts): GPU timestamp queries where the adapter has them, else each kernel
 * timed alone on the host. Inputs stay zero; the times do not depend on the values.
 * Usage: node dist/scripts/profile-kernels.js [FILE] [--reps N] [--batch N].
 */
import { compileFile } from "../compiler/compile.js";
import { acquireDevice } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { formatProfile } from "../runtime/profile.js";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
  const opt = (name: string, d: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const reps = opt("reps", 20);
  const dev = await acquireDevice({ profile: true });
  try {
    const r = compileFile(file ?? "examples/mnist.nn", {
      limits: dev.limits,
      ...(args.includes("--batch") ? { batch: opt("batch", 64) } : {}),
    });
    if (!r.program) {
      process.stderr.write(r.diagnostics.map((d) => `${d.code}: ${d.message}`).join("\n") + "\n");
      process.exitCode = 1;
      return;
    }
    const program = r.program;
    process.stderr.write(`${dev.description}\n`);
    for (const which of ["step", "predict"] as const) {
      const plan = program[which];
      if (!plan) continue;
      const ex = await Executor.create(dev, plan, { profile: true });
      try {
        ex.initVariables(0);
        await ex.submit(2); // warm-up (timed too where timestamps are read: runs are alike)
        const t0 = performance.now();
        await ex.submit(reps);
        const wall = (performance.now() - t0) / reps;
        const batch = which === "step" ? program.stepBatch : program.inferBatch;
        const p = (await ex.kernelProfile())!;
        process.stdout.write(
          `\n${formatProfile(p, `${which} (batch ${batch}; ${wall.toFixed(3)} ms per step measured on the host over ${reps} steps in one submission)`)}\n`,
        );
      } finally {
        ex.dispose();
      }
    }
  } finally {
    dev.destroy();
  }
}

await main();
