/**
 * @file `nnc train` on a run with `search` options: every trial trains into its own folder,
 * `search.jsonl` has a line per trial, the best trial (highest validation accuracy) is the one
 * whose weights land in `DIR/<Model>.safetensors`, `--trial K` trains one trial, and a trial
 * number outside the grid is a clear error (exit 1, no stack trace). A search over the data
 * trains each trial on its own data, and `--resume` after a finished search retrains nothing.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliResult, nncIn } from "./util.js";
import { rng } from "../device/util.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-search-"));
const file = join(dir, "grid.nn");
// Two trials that differ clearly: a learning rate that learns and one that barely moves.
writeFileSync(
  file,
  `model Tiny(image: [28, 28, 1]) -> [10] {
  image |> flatten |> dense(10)
}

train Grid {
  data      = mnist(split: "train")
  validate  = mnist(split: "test")
  loss      = softmax_cross_entropy
  optimizer = adam(lr: search [1e-7, 1e-2])
  batch     = 32
  epochs    = 1
  metrics   = [accuracy]
}
`,
);

const run = (args: string[]): CliResult => nncIn(dir, args);

test("every trial trains; the best one's weights are the run's checkpoint", () => {
  const out = join(dir, "out");
  const r = run(["train", file, "--limit", "640", "--out", out, "--json"]);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stderr, /\n\s+at /);
  const summary = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    trial: number;
    choices: string[];
    val_accuracy: number;
    checkpoint: string;
    seconds: number;
    search_seconds: number;
    trials: { trial: number; val_accuracy: number; checkpoint: string; choices: string[] }[];
  };
  assert.is(summary.trials.length, 2);
  assert.equal(
    summary.trials.map((t) => t.choices),
    [["lr = 1e-7"], ["lr = 1e-2"]],
  );
  const [slow, fast] = summary.trials;
  assert.ok(fast!.val_accuracy > slow!.val_accuracy + 0.2, JSON.stringify(summary.trials));
  assert.is(summary.trial, 1);
  assert.equal(summary.choices, ["lr = 1e-2"]);
  assert.is(summary.val_accuracy, fast!.val_accuracy);
  assert.is(summary.checkpoint, join(out, "Tiny.safetensors"));
  assert.ok(
    Buffer.compare(readFileSync(summary.checkpoint), readFileSync(fast!.checkpoint)) === 0,
    "the run's checkpoint is the best trial's",
  );
  assert.ok(existsSync(join(out, "trial-0", "metrics.jsonl")));
  const lines = readFileSync(join(out, "search.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { trial: number; seconds: number });
  assert.equal(
    lines.map((l) => l.trial),
    [0, 1],
  );
  // Each trial's seconds are its own (they used to count from the start of the search), and
  // the summary's are the best trial's, beside the whole search's.
  const total = summary.search_seconds;
  assert.ok(lines.every((l) => l.seconds > 0));
  assert.ok(lines[0]!.seconds + lines[1]!.seconds <= total, `${JSON.stringify(lines)} ${total}`);
  assert.is(summary.seconds, lines[1]!.seconds);
  assert.match(r.stderr, /2 of 2 trials, best first/);
});

test("--trial K trains one trial; a trial outside the grid is an error naming the run", () => {
  const out = join(dir, "one");
  const r = run(["train", file, "--limit", "320", "--trial", "1", "--out", out, "--json"]);
  assert.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  assert.is(summary.trial, 1);
  assert.not.ok(existsSync(join(out, "search.jsonl")));
  const bad = run(["train", file, "--trial", "2", "--out", join(dir, "bad")]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /NN4012/);
  assert.match(bad.stderr, /train Grid has 2 trial\(s\)/);
  assert.match(bad.stderr, /grid\.nn/);
  assert.not.match(bad.stderr, /\n\s+at /);
});

test("nnc build builds the trial --trial names, and says which trial it built", () => {
  const out = join(dir, "built");
  const r = run(["build", file, "--trial", "1", "-o", out]);
  assert.is(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    "note: train Grid has 2 trials; this module is trial 1 (lr = 1e-2); --trial K builds another",
  );
  assert.match(readFileSync(join(out, "Tiny.ts"), "utf8"), /trial: 1,/);
  const first = run(["build", file, "-o", out]);
  assert.match(first.stdout, "this module is trial 0 (lr = 1e-7)");
  const bad = run(["build", file, "--trial", "2", "-o", out]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /NN4012/);
  assert.not.match(bad.stderr, /\n\s+at /);
});

test("a search over the data trains each trial on its own data", () => {
  // Trial 0's data has every label flipped, trial 1's is right; validation data is right. Had
  // trial 1 trained on trial 0's data, it would score as badly as trial 0.
  const next = rng(11);
  const csv = (name: string, flip: boolean) => {
    const rows = ["a,b,y"];
    for (let i = 0; i < 256; i++) {
      const a = next();
      const b = next();
      const y = a > b !== flip ? 1 : 0;
      rows.push(`${a.toFixed(4)},${b.toFixed(4)},${y}`);
    }
    writeFileSync(join(dir, name), rows.join("\n") + "\n");
  };
  csv("flipped.csv", true);
  csv("right.csv", false);
  csv("check.csv", false);
  const pick = join(dir, "pick.nn");
  writeFileSync(
    pick,
    `model Pair(x: [2]) -> [2] {
  x |> dense(2)
}

train Pick {
  data      = search [csv(path: "flipped.csv", label: "y", classes: 2), csv(path: "right.csv", label: "y", classes: 2)]
  validate  = csv(path: "check.csv", label: "y", classes: 2)
  loss      = softmax_cross_entropy
  optimizer = adam(lr: 0.05)
  batch     = 32
  epochs    = 3
  metrics   = [accuracy]
}
`,
  );
  const out = join(dir, "pick");
  const r = run(["train", pick, "--out", out, "--json"]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, "nnc: trial 1 has other data settings; loading its data");
  type Summary = { trial: number; trials: { val_accuracy: number }[] };
  const s = JSON.parse(r.stdout.trim().split("\n").pop()!) as Summary;
  const [flipped, right] = s.trials.map((t) => t.val_accuracy);
  assert.ok(flipped! < 0.35, `trial 0 (flipped labels): ${flipped}`);
  assert.ok(right! > 0.75, `trial 1 (right labels): ${right}`);
  assert.is(s.trial, 1);

  // --resume after the search finished: every trial says so, none trains, the ranking stands.
  const again = run(["train", pick, "--out", out, "--resume", "--json"]);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /trial 0 of 2 .*already finished: 3 epochs trained/);
  assert.match(again.stderr, /trial 1 of 2 .*already finished: 3 epochs trained/);
  assert.not.match(again.stderr, /epoch \d\/3 loss/);
  assert.equal(JSON.parse(again.stdout.trim().split("\n").pop()!).trials, s.trials);

  // A search stopped before trial 1 saved a state: --resume keeps trial 0, trains trial 1
  // from the start, and (same seed, same data) gets the same result.
  rmSync(join(out, "trial-1", "Pair.state.safetensors"));
  const rest = run(["train", pick, "--out", out, "--resume", "--json"]);
  assert.is(rest.code, 0, rest.stderr);
  assert.match(rest.stderr, /trial 0 of 2 .*already finished/);
  assert.match(rest.stderr, "nnc: trial 1 has no saved state in");
  assert.match(rest.stderr, /epoch 3\/3 loss/);
  assert.equal(JSON.parse(rest.stdout.trim().split("\n").pop()!).trials, s.trials);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
