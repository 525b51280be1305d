/**
 * @file `early_stop = { metric, patience, min_delta }` as Keras's EarlyStopping applies it: an
 * epoch improves on the best so far only by more than `min_delta`, and training stops once
 * `patience` epochs in a row have not. The rule on given histories, and `nnc train` stopping
 * a small MNIST run after 2 of 4 epochs when `min_delta` asks more than its loss can improve
 * (`min_delta` used to be dropped on the way to the training loop).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { earlyStop } from "../../compiler/cli/train.js";
import { compileFile } from "../../compiler/compile.js";
import type { EpochResult } from "../../runtime/model.js";
import { defaultLimits } from "../../runtime/plan.js";
import { fromRoot } from "../util/golden.js";

/** A history of validation losses (the other metrics do not matter here). */
function history(valLosses: number[]): EpochResult[] {
  return valLosses.map((valLoss, i) => ({
    epoch: i + 1,
    loss: valLoss,
    accuracy: 1 - valLoss,
    valLoss,
    valAccuracy: 1 - valLoss,
    seconds: 1,
    imagesPerSecond: 1,
  }));
}

const valLoss = (patience: number, minDelta: number) => ({
  metric: "val_loss",
  patience,
  minDelta,
});

test("without min_delta, any improvement resets the patience", () => {
  assert.ok(earlyStop(history([1, 0.99]), valLoss(1, 0)));
  assert.not.ok(earlyStop(history([1, 1]), valLoss(1, 0)));
  assert.ok(earlyStop(history([1, 1.1, 0.9]), valLoss(2, 0)));
  assert.not.ok(earlyStop(history([1, 1.1, 1]), valLoss(2, 0)));
});

test("an improvement must exceed min_delta; a smaller one does not become the best", () => {
  assert.not.ok(earlyStop(history([1, 0.99]), valLoss(1, 0.05)));
  assert.ok(earlyStop(history([1, 0.9]), valLoss(1, 0.05)));
  // Exactly min_delta is not more than it.
  assert.not.ok(earlyStop(history([1, 0.75]), valLoss(1, 0.25)));
  // 1 -> 0.96 -> 0.92: 0.96 is not enough, so the best stays 1, on which 0.92 improves by
  // more than 0.05 (it is only 0.04 below 0.96): training goes on.
  assert.ok(earlyStop(history([1, 0.96, 0.92]), valLoss(2, 0.05)));
  assert.not.ok(earlyStop(history([1, 0.96, 0.97]), valLoss(2, 0.05)));
  // Accuracy: higher is better; a negative min_delta counts as its size, as in Keras.
  const acc = { metric: "val_accuracy", patience: 1, minDelta: -0.1 };
  assert.not.ok(earlyStop(history([0.5, 0.45]), acc), "accuracy 0.5 -> 0.55 is 0.05");
  assert.ok(earlyStop(history([0.5, 0.3]), acc), "accuracy 0.5 -> 0.7 is 0.2");
});

test("`metric: loss` (loss is a keyword) parses, checks and reaches the program", () => {
  const text = readFileSync(fromRoot("examples/mlp.nn"), "utf8").replace(
    "  metrics   = [accuracy]\n",
    "  metrics   = [accuracy]\n  early_stop = { metric: loss, patience: 2 }\n",
  );
  const compiled = compileFile(fromRoot("examples/mlp.nn"), { limits: defaultLimits, text });
  assert.equal(compiled.diagnostics, []);
  assert.equal(compiled.program?.settings.earlyStop, { metric: "loss", patience: 2, minDelta: 0 });
});

test("min_delta reaches the program; nnc train stops when val_loss does not improve by it", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-early-stop-"));
  try {
    const file = join(dir, "mlp.nn");
    writeFileSync(
      file,
      readFileSync(fromRoot("examples/mlp.nn"), "utf8").replace(
        "  metrics   = [accuracy]\n",
        "  metrics   = [accuracy]\n  early_stop = { metric: val_loss, patience: 1, min_delta: 100 }\n",
      ),
    );
    const compiled = compileFile(file, { limits: defaultLimits });
    assert.equal(compiled.program?.settings.earlyStop, {
      metric: "val_loss",
      patience: 1,
      minDelta: 100,
    });
    const out = join(dir, "out");
    const args = ["train", file, "--limit", "128", "--epochs", "4", "--out", out, "--json"];
    const r = spawnSync(process.execPath, [fromRoot("dist/bin/nnc.js"), ...args], {
      cwd: dir,
      encoding: "utf8",
      timeout: 300_000,
      env: { ...process.env, NNC_TUNE: "0" },
    });
    assert.is(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { epochs: number; stopped: unknown };
    assert.is(summary.epochs, 2, r.stderr);
    assert.is(summary.stopped, "early_stop");
    assert.match(
      r.stderr,
      "nnc: stopped early after epoch 2: val_loss has not improved by more than 100 for 1 epoch\n",
    );
    const lines = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    assert.is(lines.length, 2);
    const resumed = spawnSync(
      process.execPath,
      [fromRoot("dist/bin/nnc.js"), "train", file, "--resume", "--out", out],
      { cwd: dir, encoding: "utf8", timeout: 300_000, env: { ...process.env, NNC_TUNE: "0" } },
    );
    assert.is(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, "Mlp already finished: 2 epochs trained (early stopping)");
    assert.not.match(resumed.stderr, "stopped early after", "said once, when it stopped");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
