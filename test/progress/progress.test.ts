import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  formatDuration,
  groupThousands,
  Progress,
  progressBar,
  type ProgressStream,
} from "../../runtime/progress.js";

class FakeStream implements ProgressStream {
  readonly writes: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns?: number,
  ) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
  get text(): string {
    return this.writes.join("");
  }
}

function setup(tty: boolean, columns?: number) {
  const stream = new FakeStream(tty, columns);
  let t = 0;
  const progress = new Progress({
    epochs: 10,
    stepsPerEpoch: 937,
    batchSize: 64,
    stream,
    now: () => t,
  });
  return { stream, progress, at: (ms: number) => (t = ms) };
}

test("number, duration and bar formats", () => {
  assert.is(groupThousands(1234), "1,234");
  assert.is(groupThousands(1234567.6), "1,234,568");
  assert.is(groupThousands(999), "999");
  assert.is(formatDuration(42), "0:42");
  assert.is(formatDuration(600), "10:00");
  assert.is(formatDuration(3725), "1:02:05");
  assert.is(formatDuration(Infinity), "--:--");
  assert.is(progressBar(0, 10), "[>         ]");
  assert.is(progressBar(0.55, 10), "[=====>    ]");
  assert.is(progressBar(1, 10), "[==========]");
});

test("a TTY gets one line, redrawn in place", () => {
  const { stream, progress, at } = setup(true);
  progress.startEpoch(0);
  at(16_000);
  progress.step(312, { loss: 0.21344, accuracy: 0.9314 });
  assert.equal(stream.writes, [
    "\repoch 1/10 [======>             ] 312/937 loss 0.2134 acc 93.1% 1,248 img/s ETA 0:32\x1b[K",
  ]);
});

test("a TTY is redrawn at most ten times a second", () => {
  const { stream, progress, at } = setup(true);
  progress.startEpoch(0);
  for (let s = 1; s <= 937; s++) {
    at(s * 10); // 100 steps a second
    progress.step(s, { loss: 1 / s });
  }
  // 9.37 s of steps: one draw per 100 ms, the first at once.
  assert.ok(
    stream.writes.length >= 90 && stream.writes.length <= 95,
    `${stream.writes.length} draws`,
  );
  assert.ok(stream.writes.every((w) => w.startsWith("\repoch 1/10 [") && !w.includes("\n")));
  at(10_000);
  progress.endEpoch({ valLoss: 0.1, valAccuracy: 0.968 });
  const last = stream.writes.slice(-2);
  assert.equal(last, [
    "\r\x1b[K",
    "epoch 1/10 loss 0.0011 val_loss 0.1000 val_acc 96.8% 0:10 5,997 img/s\n",
  ]);
});

test("plain output: a line every 10 s at most, then the summary", () => {
  const { stream, progress, at } = setup(false);
  progress.startEpoch(2);
  for (let s = 1; s <= 937; s++) {
    at(s * 32);
    progress.step(s, { loss: 0.5, accuracy: 0.8 });
  }
  at(30_000);
  progress.endEpoch({ loss: 0.45, accuracy: 0.85, valAccuracy: 0.9 });
  assert.equal(stream.writes, [
    "epoch 3/10 313/937 loss 0.5000 acc 80.0% 2,000 img/s ETA 0:20\n",
    "epoch 3/10 626/937 loss 0.5000 acc 80.0% 2,000 img/s ETA 0:10\n",
    "epoch 3/10 loss 0.4500 acc 85.0% val_acc 90.0% 0:30 1,999 img/s\n",
  ]);
  assert.not.match(stream.text, /\r|\x1b/);
});

test("short epochs print only their summaries when not on a TTY", () => {
  const { stream, progress, at } = setup(false);
  for (let e = 0; e < 3; e++) {
    progress.startEpoch(e);
    for (let s = 1; s <= 937; s++) {
      at(e * 1000 + s);
      progress.step(s, { loss: 0.1 });
    }
    progress.endEpoch({});
  }
  assert.is(stream.writes.length, 3);
  assert.match(stream.writes[2]!, /^epoch 3\/10 loss 0\.1000 0:01 /);
});

test("messages clear the progress line first; the bar fits narrow terminals", () => {
  const { stream, progress, at } = setup(true, 60);
  progress.startEpoch(0);
  at(1000);
  progress.step(100, { loss: 2 });
  const line = stream.writes[0]!.slice(1, -3);
  assert.ok(line.length <= 59, line);
  assert.match(line, /^epoch 1\/10 \[=*>? *\] 100\/937 loss 2\.0000 6,400 img\/s ETA 0:08$/);
  progress.message("saved checkpoints/mnist.safetensors");
  assert.equal(stream.writes.slice(1), ["\r\x1b[K", "saved checkpoints/mnist.safetensors\n"]);
  progress.finish();
  assert.is(stream.writes.length, 3);
});

test("NaN and huge losses are printed, not hidden", () => {
  const { stream, progress, at } = setup(false);
  progress.startEpoch(0);
  at(5000);
  progress.endEpoch({ loss: NaN, valLoss: 123456 });
  assert.is(stream.writes[0], "epoch 1/10 loss nan val_loss 1.235e+5 0:05 0 img/s\n");
});

test.run();
