/**
 * @file Output folders and writes (runtime/fs-node.ts): folders are created level by level, a
 * file in the way or a folder that cannot be made is NN5003 naming the path (below /proc,
 * where Node 20's recursive mkdir never returns, too), and a failed write is NN5002.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ensureDir, missingDirs, writeOrFail } from "../../runtime/fs-node.js";
import { fails } from "../util/errors.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-fs-"));

test("ensureDir creates every missing level and accepts an existing folder", () => {
  const deep = join(dir, "a", "b", "c");
  assert.equal(missingDirs(deep), [join(dir, "a"), join(dir, "a", "b"), deep]);
  ensureDir(deep);
  assert.ok(statSync(deep).isDirectory());
  assert.equal(missingDirs(deep), []);
  ensureDir(deep);
});

test("a file in the way is NN5003 naming the file, from the path or from below it", () => {
  const file = join(dir, "afile");
  writeFileSync(file, "x");
  for (const target of [file, join(file, "sub"), join(file, "sub", "deeper")]) {
    const e = fails(() => ensureDir(target));
    assert.is(e.code, "NN5003");
    assert.is(e.location.file, file);
    assert.match(e.message, "a file of that name exists");
  }
  assert.not.ok(existsSync(join(file, "sub")));
});

test("a folder the system refuses is NN5003, not a hang", () => {
  if (!existsSync("/proc/self")) return; // Linux only
  const e = fails(() => ensureDir("/proc/nnc-no-such-folder/x"));
  assert.is(e.code, "NN5003");
  assert.match(e.message, "cannot create the folder");
});

test("writeOrFail names the file it could not write", () => {
  const target = join(dir, "no-such-folder", "metrics.jsonl");
  const e = fails(() => writeOrFail(target, () => writeFileSync(target, "")));
  assert.is(e.code, "NN5002");
  assert.is(e.location.file, target);
  assert.match(e.message, "no such file or directory");
  assert.throws(
    () =>
      writeOrFail(target, () => {
        throw new TypeError("not a file system error");
      }),
    TypeError,
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
