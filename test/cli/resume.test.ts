/**
 * @file `nnc train --resume` end to end through the CLI: training 2 epochs straight, and 1
 * epoch then `--resume` to 2, give bit-identical weights (a model with dropout, so the step
 * counter matters too; the GAN's resume is in seed.test.ts); so does a run interrupted
 * (SIGINT) during its second epoch and resumed; one interrupted in its first epoch says there
 * is nothing to resume. Resuming with the optimizer state zeroed (what restarting from the
 * weights alone did) does not, so the comparison can fail. metrics.jsonl is continued, the weights file stays weights-only, and
 * every refusal (nothing to resume, a corrupt or foreign state, a different --seed) exits 1
 * naming the file; a finished run says so and exits 0, and `--epochs N` trains on.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCheckpoint, writeCheckpoint } from "../../runtime/checkpoint-node.js";
import { fromRoot } from "../util/golden.js";

const nnc = fromRoot("dist/bin/nnc.js");
const dir = mkdtempSync(join(tmpdir(), "nnc-resume-"));
const file = join(dir, "drop.nn");
const source = `model Drop(image: [28, 28, 1]) -> [10] {
  image
    |> flatten
    |> dense(32, activation: relu)
    |> dropout(0.3)
    |> dense(10)
}

train Drop {
  data      = mnist(split: "train")
  validate  = mnist(split: "test")
  loss      = softmax_cross_entropy
  optimizer = adam(lr: 0.003)
  batch     = 32
  epochs    = 2
  metrics   = [accuracy]
}
`;
writeFileSync(file, source);
// Enough samples (100 batches an epoch) that epoch 2 still runs when SIGINT arrives after
// epoch 1's line.
const LIMIT = "3200";

const env = { ...process.env, NNC_TUNE: "0" };

function run(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [nnc, ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: 300_000,
    env,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function noStackTrace(stderr: string): void {
  assert.not.match(stderr, /\n\s+at /, `stack trace in:\n${stderr}`);
  assert.not.match(stderr, /internal error/);
}

function train(out: string, ...more: string[]): { code: number; stdout: string; stderr: string } {
  const r = run(["train", file, "--limit", LIMIT, "--out", out, ...more]);
  noStackTrace(r.stderr);
  return r;
}

function same(a: string, b: string): boolean {
  return Buffer.compare(readFileSync(a), readFileSync(b)) === 0;
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

const straight = join(dir, "straight");
const resumed = join(dir, "resumed");
/** The resumed run's folder after its first epoch. */
const one = join(dir, "one");
const files = ["Drop.safetensors", "Drop.state.safetensors", "metrics.jsonl"];

test("2 epochs straight and 1 epoch + --resume give bit-identical weights", () => {
  const a = train(straight, "--epochs", "2");
  assert.is(a.code, 0, a.stderr);
  const b = train(resumed, "--epochs", "1");
  assert.is(b.code, 0, b.stderr);
  mkdirSync(one);
  for (const f of files) copyFileSync(join(resumed, f), join(one, f));
  assert.not.ok(same(join(straight, "Drop.safetensors"), join(resumed, "Drop.safetensors")));
  const firstLine = readFileSync(join(resumed, "metrics.jsonl"), "utf8");
  const c = run(["train", file, "--resume", "--epochs", "2", "--out", resumed, "--json"]);
  assert.is(c.code, 0, c.stderr);
  noStackTrace(c.stderr);
  assert.match(
    c.stderr,
    /resuming Drop from .*Drop\.state\.safetensors: 1 epoch done \(step 100\), training to epoch 2/,
  );
  assert.ok(same(join(straight, "Drop.safetensors"), join(resumed, "Drop.safetensors")));
  // The state too (weights, Adam's moments, step counter, metrics history) is the same.
  const sa = readCheckpoint(join(straight, "Drop.state.safetensors"));
  const sb = readCheckpoint(join(resumed, "Drop.state.safetensors"));
  assert.equal(
    sb.tensors.map((t) => [t.name, [...t.data]]),
    sa.tensors.map((t) => [t.name, [...t.data]]),
  );
  assert.is(sb.metadata.epoch, "2");
  assert.is(sb.metadata.step, "200");
  // metrics.jsonl continued: the first epoch's line as it was, then the second's, equal to
  // the straight run's up to the timings.
  const lines = readFileSync(join(resumed, "metrics.jsonl"), "utf8");
  assert.ok(lines.startsWith(firstLine));
  const strip = (text: string) =>
    text
      .trim()
      .split("\n")
      .map((l) => {
        const {
          seconds: _s,
          images_per_second: _i,
          ...rest
        } = JSON.parse(l) as Record<string, unknown>;
        return rest;
      });
  assert.equal(strip(lines), strip(readFileSync(join(straight, "metrics.jsonl"), "utf8")));
  const s = JSON.parse(c.stdout.trim()) as Record<string, unknown>;
  assert.is(s.epochs, 2);
  // The weights file holds the model's tensors only, as nnc summary names them.
  const w = readCheckpoint(join(resumed, "Drop.safetensors"));
  assert.equal(
    w.tensors.map((t) => t.name),
    ["dense.w", "dense.b", "dense_1.w", "dense_1.b"],
  );
  assert.equal(
    sb.tensors.map((t) => t.name).filter((n) => n.startsWith("adam.")).length,
    8,
    "the state holds Adam's m and v of every parameter",
  );
});

test("resuming without the optimizer state would not be exact", () => {
  // The state with Adam's moments zeroed: what restarting from the weights alone did.
  const out = join(dir, "zeroed");
  mkdirSync(out);
  for (const f of files) copyFileSync(join(one, f), join(out, f));
  const st = readCheckpoint(join(one, "Drop.state.safetensors"));
  const zeroed = st.tensors.map((t) =>
    t.name.startsWith("adam.") ? { ...t, data: new Float32Array(t.data.length) } : t,
  );
  writeCheckpoint(join(out, "Drop.state.safetensors"), zeroed, st.metadata);
  const r = run(["train", file, "--resume", "--epochs", "2", "--out", out]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /epoch 2\/2/);
  assert.not.ok(same(join(straight, "Drop.safetensors"), join(out, "Drop.safetensors")));
});

test("a finished run says so and exits 0; --epochs N continues it", () => {
  const r = run(["train", file, "--resume", "--out", resumed]);
  assert.is(r.code, 0, r.stderr);
  noStackTrace(r.stderr);
  assert.match(
    r.stderr,
    /Drop\.state\.safetensors: Drop already finished: 2 epochs trained; nothing to resume \(--epochs N with N > 2 trains more\)/,
  );
  const more = run(["train", file, "--resume", "--epochs", "3", "--out", resumed]);
  assert.is(more.code, 0, more.stderr);
  assert.match(more.stderr, /epoch 3\/3/);
  const lines = readFileSync(join(resumed, "metrics.jsonl"), "utf8").trim().split("\n");
  assert.equal(
    lines.map((l) => (JSON.parse(l) as { epoch: number }).epoch),
    [1, 2, 3],
  );
});

test("a run interrupted during its second epoch resumes from the end of the first", async () => {
  const out = join(dir, "interrupted");
  const child = spawn(
    process.execPath,
    [nnc, "train", file, "--limit", LIMIT, "--epochs", "2", "--out", out],
    {
      cwd: dir,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (!/epoch 1\/2 loss/.test(stderr) && /epoch 1\/2 loss/.test(stderr + d)) child.kill("SIGINT");
    stderr += d;
  });
  const code = await new Promise<number>((res) => child.on("close", (c) => res(c ?? -1)));
  assert.is(code, 130, stderr);
  assert.match(stderr, /interrupted; saving the last weights/);
  assert.match(stderr, /--resume continues from the end of epoch 1/);
  const w = readCheckpoint(join(out, "Drop.safetensors"));
  assert.is(w.metadata.interrupted_in_epoch, "2");
  const r = run(["train", file, "--resume", "--out", out]);
  assert.is(r.code, 0, r.stderr);
  noStackTrace(r.stderr);
  assert.match(
    r.stderr,
    /1 epoch done \(step 100\), training to epoch 2; the run was interrupted during epoch 2, which starts over/,
  );
  assert.ok(same(join(straight, "Drop.safetensors"), join(out, "Drop.safetensors")));
  assert.is(readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").length, 2);
});

test("a run interrupted during its first epoch says there is nothing to resume", async () => {
  const out = join(dir, "interrupted-first");
  // All 60,000 samples (1,875 steps, seconds of training): SIGINT lands inside the first epoch
  // even when the machine is slow to pass the line on (with 100 steps it sometimes did not).
  const child = spawn(process.execPath, [nnc, "train", file, "--out", out], {
    cwd: dir,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (!/nnc: training/.test(stderr) && /nnc: training/.test(stderr + d)) child.kill("SIGINT");
    stderr += d;
  });
  const code = await new Promise<number>((res) => child.on("close", (c) => res(c ?? -1)));
  assert.is(code, 130, stderr);
  noStackTrace(stderr);
  assert.match(
    stderr,
    "; no epoch finished, so there is no state to resume from (train again to start over)\n",
  );
  assert.not.match(stderr, "--resume continues");
  assert.is(readCheckpoint(join(out, "Drop.safetensors")).metadata.interrupted_in_epoch, "1");
  assert.not.ok(existsSync(join(out, "Drop.state.safetensors")));
});

test("refusals exit 1 and name the file", () => {
  // No such folder: refused before anything compiles.
  const missing = join(dir, "missing");
  let r = run(["train", file, "--resume", "--out", missing]);
  assert.is(r.code, 1);
  noStackTrace(r.stderr);
  assert.match(r.stderr, `nnc train: ${missing}: nothing to resume: no such folder`);
  assert.not.match(r.stderr, "tuned");
  // A folder without a state.
  const empty = join(dir, "empty");
  mkdirSync(empty);
  r = run(["train", file, "--resume", "--out", empty]);
  assert.is(r.code, 1);
  noStackTrace(r.stderr);
  assert.match(
    r.stderr,
    `nnc train: ${join(empty, "Drop.state.safetensors")}: nothing to resume: no such file`,
  );

  // A truncated state.
  const cut = join(dir, "truncated");
  mkdirSync(cut);
  const bytes = readFileSync(join(resumed, "Drop.state.safetensors"));
  writeFileSync(join(cut, "Drop.state.safetensors"), bytes.subarray(0, bytes.length >> 1));
  r = run(["train", file, "--resume", "--out", cut]);
  assert.is(r.code, 1);
  noStackTrace(r.stderr);
  assert.match(
    r.stderr,
    `${join(cut, "Drop.state.safetensors")}: cannot resume from this state file (corrupt or truncated)`,
  );

  // The program changed: a wider hidden layer no longer fits the saved tensors.
  const wider = join(dir, "wider.nn");
  writeFileSync(wider, source.replace("dense(32", "dense(48"));
  r = run(["train", wider, "--resume", "--out", resumed]);
  assert.is(r.code, 1);
  noStackTrace(r.stderr);
  assert.match(r.stderr, /dense\.w has shape \[784, 32\] but the model expects \[784, 48\]/);
  assert.match(r.stderr, "cannot resume: the state does not fit train Drop");

  // A different seed, batch or limit would not continue the run.
  r = run(["train", file, "--resume", "--seed", "9", "--epochs", "4", "--out", resumed]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /the run was trained with seed 0; --seed 9 would not continue it/);
  // Refused before the kernel search (it used to measure for seconds first), so with tuning on
  // and an empty tune cache nothing is tuned.
  const { NNC_TUNE: _, ...tuning } = process.env;
  const b = spawnSync(
    process.execPath,
    [nnc, "train", file, "--resume", "--batch", "64", "--out", resumed],
    {
      cwd: mkdtempSync(join(dir, "cache-")),
      encoding: "utf8",
      env: tuning,
    },
  );
  assert.is(b.status, 1, b.stderr);
  assert.match(
    b.stderr,
    `nnc train: ${join(resumed, "Drop.state.safetensors")}: the run was trained with batch 32; --batch 64 would not continue it`,
  );
  assert.not.match(b.stderr, "tuned");
  assert.ok(existsSync(join(resumed, "Drop.state.safetensors")), "refusals leave the state");
});

test.run();
