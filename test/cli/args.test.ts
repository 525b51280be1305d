/**
 * @file The command-line parser the nnc commands share: integer options take plain decimal
 * integers only (not `1e3`, `0x10` or `1.0`), within their range (`--seed` from 0 to
 * 4294967295, the runtime's 32-bit seeds); `--dim` refuses a name given twice. Each is a usage
 * error naming the option, exit 2 before anything compiles.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { parseArgs, parseDims, UsageError, type FlagSpec } from "../../compiler/cli/args.js";
import { fromRoot } from "../util/golden.js";

const specs: Record<string, FlagSpec> = {
  seed: { kind: "int", min: 0, max: 4294967295, help: "" },
  epochs: { kind: "int", min: 1, help: "" },
  shift: { kind: "int", help: "" },
  rate: { kind: "number", help: "" },
};

function usageError(args: string[]): string {
  try {
    parseArgs(args, specs);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  assert.unreachable(`${args.join(" ")} was accepted`);
  return "";
}

test("integer options take plain decimal integers only", () => {
  for (const value of ["1e3", "0x10", "1.0", "1.5", "0b1", " 7", "", "12abc", "Infinity"]) {
    assert.is(
      usageError(["--shift", value]),
      `option --shift needs an integer, got '${value}'`,
      value,
    );
  }
  assert.equal(parseArgs(["--shift", "-12", "--epochs=007"], specs).flags, {
    shift: -12,
    epochs: 7,
  });
  // A number option still takes any number.
  assert.equal(parseArgs(["--rate", "1e-3"], specs).flags, { rate: 0.001 });
});

test("integer options stay within their range, and within exact integers", () => {
  for (const value of ["-1", "4294967296", "99999999999999999999"]) {
    assert.is(
      usageError(["--seed", value]),
      `option --seed needs an integer from 0 to 4294967295, got '${value}'`,
    );
  }
  assert.equal(parseArgs(["--seed", "4294967295"], specs).flags, { seed: 4294967295 });
  assert.equal(parseArgs(["--seed", "0"], specs).flags, { seed: 0 });
  assert.is(
    usageError(["--epochs", "0"]),
    "option --epochs needs an integer of at least 1, got '0'",
  );
  assert.is(
    usageError(["--epochs", "9007199254740993"]),
    "option --epochs needs an integer of at most 9007199254740991, got '9007199254740993'",
  );
  assert.is(
    usageError(["--shift", "-99999999999999999999"]),
    "option --shift needs an integer of at least -9007199254740991, got '-99999999999999999999'",
  );
});

test("--dim refuses a name given twice", () => {
  assert.equal(parseDims("T=10,U=3"), { T: 10, U: 3 });
  assert.throws(
    () => parseDims("T=10,T=11"),
    (e: Error) =>
      e instanceof UsageError && e.message === "option --dim gives T twice, in 'T=10,T=11'",
  );
});

test("nnc train: a bad --seed or --dim is a usage error, exit 2, naming the option", () => {
  for (const [args, message] of [
    [["--seed", "1e3"], "nnc train: option --seed needs an integer, got '1e3'"],
    [
      ["--seed", "99999999999999999999"],
      "nnc train: option --seed needs an integer from 0 to 4294967295, got '99999999999999999999'",
    ],
    [["--dim", "T=10,T=11"], "nnc train: option --dim gives T twice, in 'T=10,T=11'"],
  ] as const) {
    const r = spawnSync(
      process.execPath,
      [fromRoot("dist/bin/nnc.js"), "train", fromRoot("examples/mlp.nn"), ...args],
      { encoding: "utf8", env: { ...process.env, NNC_TUNE: "0" } },
    );
    assert.is(r.status, 2, r.stderr);
    assert.is(r.stderr, `${message} (see nnc train --help)\n`);
  }
});

test.run();
