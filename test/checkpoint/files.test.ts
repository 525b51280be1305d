import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeSafetensors, type NamedTensor } from "../../runtime/checkpoint.js";
import { readCheckpoint, writeCheckpoint } from "../../runtime/checkpoint-node.js";
import { fails } from "../util/errors.js";

const dir = mkdtempSync(join(tmpdir(), "nnc-ckpt-"));
const here = dirname(fileURLToPath(import.meta.url));
const checkpointNode = resolve(here, "../../runtime/checkpoint-node.js");

function python(code: string, ...args: string[]) {
  return spawnSync("python3", ["-c", code, ...args], { encoding: "utf8", timeout: 60_000 });
}

/** Whether python3 can import safetensors and numpy, installing them once if not; else why not. */
function pythonSafetensors(): true | string {
  const probe = "import safetensors.numpy, numpy";
  if (python(probe).status === 0) return true;
  const pip = spawnSync(
    "python3",
    [
      "-m",
      "pip",
      "install",
      "--no-index",
      "--find-links",
      "/opt/pypi/files",
      "safetensors",
      "numpy",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  const again = python(probe);
  if (again.status === 0) return true;
  return `python3 cannot import safetensors (${(again.stderr || again.error?.message || "").trim().split("\n").pop()}); pip said: ${(pip.stderr || pip.error?.message || "").trim().split("\n").pop()}`;
}

const tensors: NamedTensor[] = [
  {
    name: "conv.w",
    dtype: "F32",
    shape: [3, 3, 1, 2],
    data: Float32Array.from({ length: 18 }, (_, i) => i / 7 - 1),
  },
  {
    name: "dense.b",
    dtype: "F32",
    shape: [10],
    data: Float32Array.from({ length: 10 }, (_, i) => -i * 0.5),
  },
  { name: "step", dtype: "I32", shape: [2], data: new Int32Array([2147483647, -3]) },
];

test("write and read a checkpoint file", () => {
  const path = join(dir, "model.safetensors");
  writeCheckpoint(path, tensors, { epoch: "3" });
  const back = readCheckpoint(
    path,
    tensors.map(({ name, shape }) => ({ name, shape })),
  );
  assert.equal(back.metadata, { epoch: "3" });
  assert.equal(
    back.tensors.map((t) => [...t.data]),
    tensors.map((t) => [...t.data]),
  );
  assert.equal(readdirSync(dir), ["model.safetensors"]);
});

test("Python's safetensors reads our file, and we read Python's", () => {
  const ready = pythonSafetensors();
  if (ready !== true) {
    console.log(`  skipped the Python interoperability test: ${ready}`);
    return;
  }
  const ours = join(dir, "ours.safetensors");
  writeCheckpoint(ours, tensors, { format: "nnc" });
  const read = python(
    [
      "import json, sys",
      "from safetensors.numpy import load_file",
      "from safetensors import safe_open",
      "t = load_file(sys.argv[1])",
      "meta = safe_open(sys.argv[1], 'np').metadata()",
      "print(json.dumps({'meta': meta, 'tensors': {k: [str(v.dtype), list(v.shape), v.ravel().tolist()] for k, v in t.items()}}))",
    ].join("\n"),
    ours,
  );
  assert.is(read.status, 0, read.stderr);
  const got = JSON.parse(read.stdout) as {
    meta: Record<string, string>;
    tensors: Record<string, [string, number[], number[]]>;
  };
  assert.equal(got.meta, { format: "nnc" });
  assert.equal(Object.keys(got.tensors).sort(), ["conv.w", "dense.b", "step"]);
  for (const t of tensors) {
    const [dtype, shape, values] = got.tensors[t.name]!;
    assert.is(dtype, t.dtype === "F32" ? "float32" : "int32");
    assert.equal(shape, t.shape);
    assert.equal(values, [...t.data]);
  }
  // Python writes, we read (its layout: sorted names, its own padding).
  const theirs = join(dir, "theirs.safetensors");
  const write = python(
    [
      "import sys, numpy as np",
      "from safetensors.numpy import save_file",
      "save_file({'z.w': np.arange(6, dtype=np.float32).reshape(2, 3) / 4, 'a.n': np.array([5, -6, 7], dtype=np.int32)}, sys.argv[1], metadata={'by': 'python'})",
    ].join("\n"),
    theirs,
  );
  assert.is(write.status, 0, write.stderr);
  const back = readCheckpoint(theirs, [
    { name: "z.w", shape: [2, 3], dtype: "F32" },
    { name: "a.n", shape: [3], dtype: "I32" },
  ]);
  assert.equal(back.metadata, { by: "python" });
  assert.equal([...back.tensors[0]!.data], [0, 0.25, 0.5, 0.75, 1, 1.25]);
  assert.equal([...back.tensors[1]!.data], [5, -6, 7]);
});

test("a failure midway leaves the old checkpoint and no temporary file", () => {
  const path = join(dir, "keep.safetensors");
  writeCheckpoint(path, tensors.slice(0, 1));
  const before = readFileSync(path);
  const big: NamedTensor[] = [
    { name: "w", dtype: "F32", shape: [4096], data: new Float32Array(4096).fill(9) },
  ];
  let calls = 0;
  assert.throws(
    () =>
      writeCheckpoint(path, big, undefined, {
        chunkBytes: 1024,
        onProgress: () => {
          if (++calls === 3) throw new Error("disk on fire");
        },
      }),
    /disk on fire/,
  );
  assert.is(calls, 3);
  assert.equal(readFileSync(path), before);
  assert.equal(
    readdirSync(dir).filter((f) => f.includes("keep")),
    ["keep.safetensors"],
  );
});

test("a process killed midway leaves the old checkpoint intact", () => {
  const path = join(dir, "crash.safetensors");
  writeCheckpoint(path, tensors);
  const before = readFileSync(path);
  const script = `
    import { writeCheckpoint } from ${JSON.stringify(checkpointNode)};
    const data = new Float32Array(1 << 16).fill(1);
    writeCheckpoint(${JSON.stringify(path)}, [{ name: "w", dtype: "F32", shape: [data.length], data }], {}, {
      chunkBytes: 4096,
      onProgress: (written) => { if (written >= 8192) process.kill(process.pid, "SIGKILL"); },
    });
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.is(child.signal, "SIGKILL", child.stderr);
  assert.equal(readFileSync(path), before);
  assert.is(readCheckpoint(path).tensors.length, 3);
  // The crash left a partial temporary file beside it, never under the final name.
  const stray = readdirSync(dir).filter(
    (f) => f.startsWith(".crash.safetensors.") && f.endsWith(".tmp"),
  );
  assert.is(stray.length, 1);
  assert.ok(readFileSync(join(dir, stray[0]!)).length < 1 << 18);
});

test("file errors name the file", () => {
  const missing = join(dir, "none.safetensors");
  const e = fails(() => readCheckpoint(missing));
  assert.is(e.code, "NN5001");
  assert.is(e.message, `${missing}: cannot read the file: no such file or directory`);
  const nodir = join(dir, "no", "such", "dir", "x.safetensors");
  const w = fails(() => writeCheckpoint(nodir, tensors));
  assert.is(w.code, "NN5002");
  assert.is(w.message, `${nodir}: cannot write the file: no such file or directory`);
  const truncated = join(dir, "cut.safetensors");
  writeFileSync(truncated, encodeSafetensors(tensors).subarray(0, 100));
  const t = fails(() => readCheckpoint(truncated));
  assert.ok(t.message.startsWith(`${truncated}: the header length field says`), t.message);
  assert.ok(existsSync(truncated));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
