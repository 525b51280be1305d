/**
 * @file The stderr filter for Dawn's native noise: known lines (and the blank line after them)
 * are dropped, everything else passes in order; end to end, a process that acquires a device
 * through `relaunchQuietly` prints none of Dawn's warnings, and prints them with NNC_DEBUG; a
 * child killed by SIGINT is reported.
 */
import { spawnSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { filterNoise, isNoise } from "../../runtime/quiet.js";
import { fromRoot } from "../util/golden.js";

const noisy = [
  "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory",
  "    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)",
  "",
  "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.",
  "error: XDG_RUNTIME_DIR is invalid or not set in the environment.",
];

test("known lines are noise, user messages are not", () => {
  for (const l of noisy.filter((l) => l !== "")) assert.ok(isNoise(l), l);
  for (const l of [
    "model.nn:3:4: error NN2001: unknown name 'x'",
    "Warning: your loss is NaN",
    "epoch 1/3",
  ]) {
    assert.not.ok(isNoise(l), l);
  }
});

test("filterNoise drops noise and keeps everything else in order", async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = "";
  output.on("data", (c: Buffer) => (text += c.toString()));
  const done = filterNoise(input, output, 5);
  input.write("before\n" + noisy.join("\n").slice(0, 40));
  input.write(noisy.join("\n").slice(40) + "\nafter 1\n\nafter 2\npartial");
  input.end();
  await done;
  assert.is(text, "before\nafter 1\n\nafter 2\npartial");
});

test("a quiet relaunch hides Dawn's warnings; NNC_DEBUG shows them", () => {
  const script = fromRoot("dist/test/device/fixtures/acquire.js");
  const env = { ...process.env, NNC_DEBUG: "", NNC_QUIET_CHILD: "" };
  const quiet = spawnSync(process.execPath, [script], { env, encoding: "utf8" });
  assert.is(quiet.status, 0, quiet.stderr);
  assert.match(quiet.stdout, /device: /);
  assert.match(quiet.stderr, "user message");
  assert.not.match(quiet.stderr, "artificially reduced");
  const loud = spawnSync(process.execPath, [script], {
    env: { ...env, NNC_DEBUG: "1" },
    encoding: "utf8",
  });
  assert.is(loud.status, 0, loud.stderr);
  assert.match(loud.stderr, "artificially reduced");
});

test("a child killed by Ctrl-C is reported, exit 130", () => {
  const script = fromRoot("dist/test/device/fixtures/interrupted.js");
  const env = { ...process.env, NNC_DEBUG: "", NNC_QUIET_CHILD: "" };
  const r = spawnSync(process.execPath, [script], { env, encoding: "utf8", timeout: 30_000 });
  assert.is(r.status, 130);
  assert.is(r.stderr, "working\nnnc: interrupted (SIGINT)\n");
});

test.run();
