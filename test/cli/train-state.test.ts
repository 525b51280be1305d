/**
 * @file The training state file of `nnc train` (compiler/cli/train-state.ts) without a device:
 * what `writeState` writes `readState` reads back exactly (an epoch history with a multi-step
 * run's losses and NaN accuracy, early stopping, no limit), its tensors come back checked
 * against the program, and every malformed state is refused with one line naming the file
 * (exit 1 through Reported), never a stack trace.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Reported } from "../../compiler/cli/common.js";
import {
  readState,
  readStateTensors,
  statePath,
  writeState,
  type TrainState,
} from "../../compiler/cli/train-state.js";
import { compileFile } from "../../compiler/compile.js";
import type { NamedTensor } from "../../runtime/checkpoint.js";
import { readCheckpoint, writeCheckpoint } from "../../runtime/checkpoint-node.js";
import { defaultLimits } from "../../runtime/plan.js";
import type { ModelProgram } from "../../runtime/program.js";
import { fromRoot } from "../util/golden.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-state-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const program: ModelProgram = compileFile(fromRoot("examples/gan.nn"), {
  limits: defaultLimits,
}).program!;

function tensorsOf(p: ModelProgram): NamedTensor[] {
  return p.variables
    .filter((v) => v.role === "model" || v.role === "optimizer")
    .map((v, i) => {
      const n = v.shape.reduce((a, b) => a * b, 1);
      return {
        name: v.name,
        dtype: "F32" as const,
        shape: [...v.shape],
        data: Float32Array.from({ length: n }, (_, k) => i + k / n),
      };
    });
}

const state: Omit<TrainState, "path"> = {
  model: "Gan",
  run: "Gan",
  epoch: 2,
  step: 18,
  epochs: 5,
  seed: 7,
  batch: 64,
  limit: null,
  source: "ab".repeat(32),
  stoppedEarly: true,
  history: [1, 2].map((e) => ({
    epoch: e,
    loss: 2 / e,
    accuracy: NaN,
    losses: { discriminator: 1.25 / e, generator: 0.75 / e },
    seconds: 0.5,
    imagesPerSecond: 1152,
  })),
};

/** Runs `f`, expecting it to exit 1 (Reported); returns what it wrote on stderr. */
function refused(f: () => unknown): string {
  const write = process.stderr.write.bind(process.stderr);
  let text = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    f();
    assert.unreachable("it was not refused");
  } catch (e) {
    if (!(e instanceof Reported)) throw e;
    assert.is(e.exitCode, 1);
  } finally {
    process.stderr.write = write;
  }
  assert.not.match(text, /\n\s+at /);
  return text;
}

test("what writeState writes, readState and readStateTensors read back", () => {
  const tensors = tensorsOf(program);
  writeState(statePath(dir, "Gan"), state, tensors);
  const back = readState(dir, program);
  assert.equal(
    { ...back, history: undefined },
    {
      ...state,
      path: join(dir, "Gan.state.safetensors"),
      history: undefined,
    },
  );
  assert.is(back.history.length, 2);
  assert.ok(Number.isNaN(back.history[1]!.accuracy));
  assert.equal(back.history[1]!.losses, { discriminator: 0.625, generator: 0.375 });
  assert.is(back.history[0]!.valLoss, undefined);
  const { weights, optimizer } = readStateTensors(back, program);
  assert.is(weights.length, 8);
  assert.is(optimizer.length, 16);
  const byName = new Map(tensors.map((t) => [t.name, [...t.data]]));
  for (const t of [...weights, ...optimizer]) assert.equal([...t.data], byName.get(t.name));
});

test("refusals name the state file", () => {
  const empty = join(dir, "empty");
  let text = refused(() => readState(empty, program));
  assert.match(text, `nnc train: ${join(empty, "Gan.state.safetensors")}: nothing to resume`);

  const other = join(dir, "other");
  mkdirSync(other);
  const bad = (meta: Record<string, string>, tensors = tensorsOf(program)) => {
    writeCheckpoint(statePath(other, "Gan"), tensors, meta);
    return refused(() => readStateTensors(readState(other, program), program));
  };
  // Not a state at all: a weights file renamed.
  text = bad({ model: "Gan" });
  assert.match(text, `${statePath(other, "Gan")}: not an nnc training state`);
  // A good state, then one field broken at a time.
  writeState(statePath(other, "Gan"), state, tensorsOf(program));
  const meta = readCheckpoint(statePath(other, "Gan")).metadata;
  assert.match(bad({ ...meta, version: "9" }), "training state version 9; this nnc reads 1");
  assert.match(bad({ ...meta, step: "x" }), 'its metadata step is "x", not a whole number');
  assert.match(bad({ ...meta, history: "[{" }), "its metadata history is not valid");
  assert.match(
    bad({ ...meta, epoch: "3" }),
    "its metadata says epoch 3 but lists 2 epochs' metrics",
  );
  assert.match(
    bad({ ...meta, run: "Other" }),
    "it is the state of train Other (model Gan), not of train Gan",
  );
  // A tensor short: the program changed.
  text = bad(meta, tensorsOf(program).slice(1));
  assert.match(text, "Discriminator/dense.w is missing");
  assert.match(text, "cannot resume: the state does not fit train Gan");
});

test.run();
