/**
 * @file nnc's own benchmark row: the hook the project lead fills in once the
 * runtime can train the benchmark models. Until then it reports "not
 * available" as a row `error`, and the harness carries on with the peers.
 *
 * To plug nnc in: compile the model (see `models.ts` for the exact network,
 * initial weights in canonical layout, loss and Adam settings), wrap the built
 * module in a `Trainer` (`step` = one training step on a batch, `predict` =
 * argmax of the logits), and return
 * `runProtocol("nnc", backend, model, trainer, loadMnist(), opts)` so nnc's
 * row is measured exactly as the peers' rows are.
 */
import type { ModelKind } from "./models.js";
import { errorRow, type BenchOptions, type BenchRow } from "./protocol.js";

/** Backends nnc's row is measured on. */
export const NNC_BACKENDS = ["webgpu"] as const;

/** Options for nnc's row: the shared protocol options plus the backend name. */
export interface NncBenchOptions extends BenchOptions {
  readonly backend: string;
}

/** Measures nnc on `model`; for now a "not available" row. */
export async function benchNnc(model: ModelKind, opts: NncBenchOptions): Promise<BenchRow> {
  // HOOK (project lead): build and train the model with nnc here, e.g.
  //   const trainer: Trainer = await createNncTrainer(model, opts);
  //   return runProtocol("nnc", opts.backend, model, trainer, loadMnist(), opts, log);
  const row = errorRow(
    "nnc",
    opts.backend,
    model,
    "not available: nnc's runtime is not wired into the benchmark yet",
  );
  return { ...row, peak_rss_mb: null };
}
