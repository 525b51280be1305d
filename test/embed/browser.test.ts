/**
 * @file A built module in a browser: `nnc build --standalone` writes one ES module; Node trains
 * it a few steps on the local device and saves the weights; headless Chromium (Debian's
 * `chromium`, WebGPU on SwiftShader, driven by playwright-core) loads the same file from a
 * local HTTP server on 127.0.0.1, creates the model on `navigator.gpu`'s device, loads the
 * weights and predicts; the outputs must match Node's within 1e-4. Skipped, with the reason
 * printed, when /usr/bin/chromium is absent (install it with `apt-get install -y chromium`).
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { acquireDevice } from "../../runtime/device.js";
import { maxDiff, mnistTest, mnistTrain, nnc, scratch } from "./util.js";

const chromium = process.env.NNC_CHROMIUM ?? "/usr/bin/chromium";
const count = 50;

interface BuiltModel {
  predict(x: Uint8Array, count?: number): Promise<Float32Array>;
  trainStep(b: { inputs: Uint8Array; labels: ArrayLike<number> }): Promise<{ loss: number }>;
  saveWeights(): Promise<Uint8Array>;
  dispose(): void;
}
interface BuiltClass {
  create(opts?: { device?: GPUDevice; seed?: number }): Promise<BuiltModel>;
  readonly batchSize: number;
}

/** Serves `files` (URL path -> bytes) and the files of `dir` on 127.0.0.1. */
function serve(dir: string, files: Map<string, Uint8Array>): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const path = url === "/" ? "/index.html" : url;
    const types: Record<string, string> = {
      ".js": "text/javascript",
      ".html": "text/html",
    };
    const type = types[/\.[a-z]+$/.exec(path)?.[0] ?? ""] ?? "application/octet-stream";
    let body = files.get(path);
    if (!body && !path.includes("..")) {
      const file = normalize(join(dir, path));
      if (file.startsWith(dir) && existsSync(file)) body = readFileSync(file);
    }
    if (!body) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader("content-type", type);
    res.end(body);
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

test("a standalone module predicts in Chromium what it predicts in Node", async () => {
  if (!existsSync(chromium)) {
    console.log(
      `  skipped: ${chromium} is not installed (apt-get install -y chromium); ` +
        "the browser test of built modules did not run",
    );
    return;
  }
  const space = scratch("embed-browser");
  let server: Server | undefined;
  let browser: import("playwright-core").Browser | undefined;
  try {
    const built = await nnc([
      "build",
      "examples/mnist.nn",
      "--standalone",
      "--minify",
      "-o",
      space.dir,
      "--quiet",
    ]);
    assert.is(built.code, 0, built.stderr);
    const source = readFileSync(join(space.dir, "Mnist.js"), "utf8");
    assert.not.match(source, /^\s*import\s/m, "a standalone module imports nothing statically");

    // Node: a few training steps on the local device, then the weights and predictions.
    const { Mnist } = (await import(pathToFileURL(join(space.dir, "Mnist.js")).href)) as {
      Mnist: BuiltClass;
    };
    const dev = await acquireDevice();
    let weights: Uint8Array;
    let nodeOut: Float32Array;
    const { images } = await mnistTest(count);
    try {
      const m = await Mnist.create({ device: dev.device, seed: 2 });
      const n = Mnist.batchSize;
      const train = await mnistTrain(4 * n);
      for (let s = 0; s < 4; s++) {
        await m.trainStep({
          inputs: train.images.subarray(s * n * 784, (s + 1) * n * 784),
          labels: train.labels.subarray(s * n, (s + 1) * n),
        });
      }
      weights = await m.saveWeights();
      nodeOut = await m.predict(images);
      m.dispose();
    } finally {
      dev.destroy();
    }

    server = await serve(
      space.dir,
      new Map([
        ["/index.html", new TextEncoder().encode("<!doctype html><title>nnc</title>")],
        ["/weights.safetensors", weights],
        ["/images.bin", images],
      ]),
    );
    const port = (server.address() as AddressInfo).port;
    const { chromium: launcher } = await import("playwright-core");
    browser = await launcher.launch({
      executablePath: chromium,
      headless: true,
      args: [
        "--no-sandbox",
        "--enable-unsafe-webgpu",
        "--enable-features=Vulkan",
        "--use-webgpu-adapter=swiftshader",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        // Playwright gives every launch a fresh --user-data-dir of its own.
      ],
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    const result = await page.evaluate(async (n: number) => {
      const url = "/Mnist.js";
      const { Mnist } = (await import(url)) as { Mnist: BuiltClass };
      const m = await Mnist.create();
      const w = new Uint8Array(await (await fetch("/weights.safetensors")).arrayBuffer());
      (m as unknown as { loadWeights(b: Uint8Array): void }).loadWeights(w);
      const x = new Uint8Array(await (await fetch("/images.bin")).arrayBuffer());
      const out = await m.predict(x, n);
      m.dispose();
      let disposed = "";
      try {
        await m.predict(x, n);
      } catch (e) {
        disposed = (e as Error).message;
      }
      const adapter = await navigator.gpu.requestAdapter();
      return { out: Array.from(out), disposed, adapter: adapter?.info.architecture ?? "" };
    }, count);
    assert.is(result.adapter, "swiftshader");
    assert.is(result.out.length, count * 10);
    const d = maxDiff(result.out, nodeOut);
    assert.ok(d < 1e-4, `Chromium and Node differ by ${d}`);
    assert.is(
      result.disposed,
      "Mnist.predict(): this model was disposed; create a new one with Mnist.create()",
    );
  } finally {
    await browser?.close();
    server?.close();
    space.cleanup();
  }
});

test.run();
