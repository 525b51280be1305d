/**
 * @file Robustness: mutated examples (names and numbers swapped for others, tokens dropped) must
 * never make the checker throw; every failure is a diagnostic. A fixed-seed generator keeps the
 * run reproducible.
 */
import { readdirSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkFile } from "../../compiler/index.js";
import { fromRoot, repoRoot } from "../util/golden.js";

const words = [
  "dense",
  "conv2d",
  "flatten",
  "x",
  "image",
  "3",
  "0",
  "-1",
  "1e9",
  "relu",
  "T",
  "true",
  '"s"',
  "adam",
  "sgd",
  "last",
  "batchnorm",
  "zeros",
  "lstm",
  "gru",
  "Mnist",
  "z",
  "tokens",
  "softmax",
  "mse",
  "dropout",
  "global_avgpool2d",
  "layernorm",
  "embedding",
  "2.5",
  "Generator",
  "label",
  "same",
  "training",
  "pi",
  "normal",
  "cosine",
  "warmup",
  "l2",
  "mnist",
  "csv",
  "accuracy",
  "reshape",
  "take",
  "chunk",
  "concat",
  "sum",
  "max",
  "where",
  "size",
  "index",
];

test("mutated examples produce diagnostics, never exceptions", () => {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const files = readdirSync(fromRoot("examples"))
    .filter((f) => f.endsWith(".nn"))
    .map((f) => readFileSync(fromRoot("examples", f), "utf8"));
  let reachedChecker = 0;
  for (let i = 0; i < 150; i++) {
    const toks = files[Math.floor(rnd() * files.length)]!.split(
      /([A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?)/,
    );
    for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) {
      const j = 1 + 2 * Math.floor(rnd() * ((toks.length - 1) / 2));
      toks[j] = rnd() < 0.1 ? "" : words[Math.floor(rnd() * words.length)]!;
    }
    const text = toks.join("");
    let r;
    try {
      r = checkFile(fromRoot("examples/fuzz.nn"), { text, displayRoot: repoRoot });
    } catch (e) {
      assert.unreachable(`checker threw on:\n${text}\n${e instanceof Error ? e.stack : e}`);
      return;
    }
    if (!r.diagnostics.some((d) => d.code.startsWith("NN1"))) reachedChecker++;
  }
  assert.ok(reachedChecker > 50, `only ${reachedChecker} mutants got past the parser`);
});

test.run();
