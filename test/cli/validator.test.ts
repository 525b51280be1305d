/**
 * @file `nnc build`'s kernel validator process is started with this process's node options
 * minus those that would make node run something other than the validator: `node -e` that
 * calls the CLI must build once, not start itself again in the validator's place.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { helperExecArgv } from "../../runtime/quiet.js";
import { mnistFile, nncBin, run, scratch } from "../embed/util.js";

test("options that choose the program or clash are dropped, the rest kept", () => {
  assert.equal(helperExecArgv(["-e", "code", "--cpu-prof"]), ["--cpu-prof"]);
  assert.equal(helperExecArgv(["--eval=code", "--max-old-space-size=100"]), [
    "--max-old-space-size=100",
  ]);
  assert.equal(helperExecArgv(["-p", "1", "--inspect=9229", "--require", "x.js"]), [
    "--require",
    "x.js",
  ]);
  assert.equal(helperExecArgv(["--test", "--watch", "--input-type=module", "-i"]), []);
  assert.equal(helperExecArgv([]), []);
});

test("a build started through node -e validates its kernels once and ends", async () => {
  const s = scratch("validator-eval");
  try {
    // Run again in a child (the failure this guards against), the code ends at once.
    const code =
      `if (process.env.NNC_TEST_AGAIN) process.exit(3); process.env.NNC_TEST_AGAIN = "1";` +
      `process.argv = [process.argv[0], ${JSON.stringify(nncBin)}, "build", ` +
      `${JSON.stringify(mnistFile)}, "-o", ${JSON.stringify(s.dir)}, "-q"];` +
      `await import(${JSON.stringify(new URL(`file://${nncBin}`).href)});`;
    const r = await run(process.execPath, ["--input-type=module", "-e", code], {
      timeoutMs: 60_000,
    });
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, "");
    assert.is(r.stderr, "");
  } finally {
    s.cleanup();
  }
});

test.run();
