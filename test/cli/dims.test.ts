/**
 * @file `--dim NAME=N` binds a symbolic dimension of a model's inputs (a sequence length `T`)
 * for the commands that build graphs: without it `nnc train` stops with NN3019 and says how to
 * bind it; with it an LSTM over token ids trains on a CSV and learns a rule it can only learn
 * from the whole sequence; a malformed value is a usage error (exit 2).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileFile } from "../../compiler/compile.js";
import { defaultLimits } from "../../runtime/plan.js";
import { fromRoot } from "../util/golden.js";
import { type CliResult, nncIn } from "./util.js";
import { rng } from "../device/util.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-dims-"));
const file = join(dir, "seq.nn");
writeFileSync(
  file,
  `# The class: whether token 1 occurs anywhere in the sequence.
model Seq(tokens: [T] int) -> [2] {
  tokens
    |> embedding(vocab: 8, dim: 8)
    |> lstm(16)
    |> last
    |> dense(2)
}

train Seq {
  data      = csv(path: "seq.csv", label: "y", classes: 2)
  validate  = csv(path: "seq.csv", label: "y", classes: 2)
  loss      = softmax_cross_entropy
  optimizer = adam(lr: 0.01)
  batch     = 32
  epochs    = 4
  metrics   = [accuracy]
}
`,
);
const next = rng(7);
const rows = ["t0,t1,t2,t3,t4,t5,y"];
for (let i = 0; i < 512; i++) {
  const t = Array.from({ length: 6 }, () => 2 + Math.floor(next() * 6));
  const y = next() < 0.5 ? 1 : 0;
  if (y === 1) t[Math.floor(next() * 6)] = 1;
  rows.push([...t, y].join(","));
}
writeFileSync(join(dir, "seq.csv"), rows.join("\n") + "\n");

const run = (args: string[]): CliResult => nncIn(dir, args);

test("without --dim, NN3019 names the dimension, the run and how to bind it", () => {
  const r = run(["train", file]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /seq\.nn:10:7: error NN3019: the size of dimension 'T' is unknown/);
  assert.match(r.stderr, /--dim T=100/);
  assert.not.match(r.stderr, /\n\s+at /);
});

test("--dim T=6 trains the LSTM on token ids and it learns the rule", () => {
  const r = run(["train", file, "--dim", "T=6", "--out", join(dir, "out"), "--json"]);
  assert.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim().split("\n").pop()!) as { val_accuracy: number };
  assert.ok(s.val_accuracy >= 0.9, `val accuracy ${s.val_accuracy}`);
});

test("nnc build --dim writes the module; a malformed --dim is a usage error", () => {
  const b = run(["build", file, "--dim", "T=6", "-o", join(dir, "built"), "--quiet"]);
  assert.is(b.code, 0, b.stderr);
  assert.ok(existsSync(join(dir, "built", "Seq.ts")));
  const bad = run(["train", file, "--dim", "T=zero"]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /option --dim needs NAME=N/);
});

test("compileFile binds T for the shipped sentiment example", () => {
  const r = compileFile(fromRoot("examples", "sentiment.nn"), {
    limits: defaultLimits,
    bindings: { T: 20 },
  });
  assert.equal(r.diagnostics, []);
  // The token ids index the embedding's 10000 rows: the input records the bound.
  assert.equal(r.program!.inputs, [{ name: "tokens", shape: [20], dtype: "i32", below: 10000 }]);
});

test("a size for a dimension no input declares is NN4013 naming the known ones", () => {
  const typo = compileFile(fromRoot("examples", "sentiment.nn"), {
    limits: defaultLimits,
    bindings: { T: 20, Tt: 5 },
  });
  assert.equal(
    typo.diagnostics.map((d) => [d.code, d.message]),
    [
      [
        "NN4013",
        "a size was given for dimension 'Tt', but model Sentiment has no dimension of that name (its symbolic dimensions: T)",
      ],
    ],
  );
  // The only size given misspelt: the model's T is unbound too (NN3019), but the first error
  // says that X is no dimension of the model, and which are (it said only that T was unknown).
  const only = compileFile(fromRoot("examples", "sentiment.nn"), {
    limits: defaultLimits,
    bindings: { X: 7 },
  });
  assert.equal(
    only.diagnostics.map((d) => [d.code, d.message]),
    [
      [
        "NN4013",
        "a size was given for dimension 'X', but model Sentiment has no dimension of that name (its symbolic dimensions: T)",
      ],
      [
        "NN3019",
        "the size of dimension 'T' is unknown; bind it to a number to build the graphs (e.g. --dim T=100)",
      ],
    ],
  );
  const fixed = run(["train", fromRoot("examples", "mnist.nn"), "--dim", "X=3"]);
  assert.is(fixed.code, 1);
  assert.match(fixed.stderr, /mnist\.nn:4:7: error NN4013: .*'X'.*\(its inputs have fixed sizes\)/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
