/**
 * @file The training progress display. On a TTY it keeps one line up to date, redrawn at most
 * every `redrawMs` (100 ms):
 * `epoch 1/10 [=====>    ] 312/937 loss 0.2134 acc 93.1% 1,234 img/s ETA 0:42`;
 * elsewhere (a log file, CI) it prints the same text without the bar as plain lines, at most
 * one every `plainIntervalMs` (10 s), never per step. Each epoch ends with one summary line,
 * validation metrics included. Output goes to any `{ write }` stream (stderr by default) and
 * time comes from an injectable clock, so the exact output is testable. No Node imports.
 */

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  /** Samples per epoch, for exact img/s with a partial last batch (default steps * batch). */
  readonly samplesPerEpoch?: number;
  /** Default: process.stderr in Node, else the console. */
  readonly stream?: ProgressStream;
  /** Force TTY or plain output (default: the stream's isTTY). */
  readonly tty?: boolean;
  /** Milliseconds, monotonic (default performance.now). */
  readonly now?: () => number;
  readonly redrawMs?: number;
  readonly plainIntervalMs?: number;
  /** Bar width in characters (default 20; narrower when the terminal is). */
  readonly barWidth?: number;
}

export interface StepMetrics {
  readonly loss?: number;
  /** In [0, 1]. */
  readonly accuracy?: number;
  /** Named losses shown after `loss` (a multi-step run's, e.g. `loss_generator`). */
  readonly losses?: Readonly<Record<string, number>>;
}

export interface EpochMetrics extends StepMetrics {
  readonly valLoss?: number;
  readonly valAccuracy?: number;
}

function defaultStream(): ProgressStream {
  const proc = (globalThis as { process?: { stderr?: ProgressStream } }).process;
  if (proc?.stderr) return proc.stderr;
  return { write: (text: string) => console.log(text.replace(/\n$/, "")), isTTY: false };
}

/** 1234567 -> "1,234,567" (no locale dependence). */
export function groupThousands(n: number): string {
  const s = String(Math.round(Math.abs(n)));
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return n < 0 ? `-${grouped}` : grouped;
}

/** Seconds as m:ss, or h:mm:ss from an hour on. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export function formatLoss(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  return Math.abs(x) >= 1e4 ? x.toExponential(3) : x.toFixed(4);
}

export function formatPercent(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "nan%";
}

export function progressBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const pos = Math.floor(f * width);
  const body =
    pos >= width ? "=".repeat(width) : "=".repeat(pos) + ">" + " ".repeat(width - pos - 1);
  return `[${body}]`;
}

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private epoch = 0;
  private epochStart = 0;
  private lastDraw = -Infinity;
  private lastPlain = 0;
  private done = 0;
  private metrics: StepMetrics = {};
  /** Whether an unfinished TTY line is on screen. */
  private drawn = false;

  constructor(readonly options: ProgressOptions) {
    this.stream = options.stream ?? defaultStream();
    this.tty = options.tty ?? this.stream.isTTY === true;
    this.now =
      options.now ?? (() => (globalThis.performance ? globalThis.performance.now() : Date.now()));
  }

  /** Starts epoch `epoch` (0-based; shown 1-based). */
  startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.epochStart = this.now();
    this.lastPlain = this.epochStart;
    this.lastDraw = -Infinity;
    this.done = 0;
    this.metrics = {};
  }

  /** Reports `done` steps finished in this epoch, with the latest metrics if known. */
  step(done: number, metrics?: StepMetrics): void {
    this.done = done;
    if (metrics) this.metrics = { ...this.metrics, ...metrics };
    const t = this.now();
    if (this.tty) {
      if (t - this.lastDraw < (this.options.redrawMs ?? 100)) return;
      this.lastDraw = t;
      this.stream.write(`\r${this.line(t, true)}\x1b[K`);
      this.drawn = true;
    } else {
      if (done >= this.options.stepsPerEpoch) return; // the summary follows
      if (t - this.lastPlain < (this.options.plainIntervalMs ?? 10_000)) return;
      this.lastPlain = t;
      this.stream.write(`${this.line(t, false)}\n`);
    }
  }

  /** Prints a line of text without garbling the progress line. */
  message(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
    this.lastDraw = -Infinity;
  }

  /** Ends the epoch with its summary line. */
  endEpoch(metrics: EpochMetrics = {}): void {
    const t = this.now();
    const m = { ...this.metrics, ...metrics };
    const seconds = (t - this.epochStart) / 1000;
    const parts = [`epoch ${this.epoch + 1}/${this.options.epochs}`];
    if (m.loss !== undefined) parts.push(`loss ${formatLoss(m.loss)}`);
    for (const [k, v] of Object.entries(m.losses ?? {})) parts.push(`${k} ${formatLoss(v)}`);
    if (m.accuracy !== undefined) parts.push(`acc ${formatPercent(m.accuracy)}`);
    if (m.valLoss !== undefined) parts.push(`val_loss ${formatLoss(m.valLoss)}`);
    if (m.valAccuracy !== undefined) parts.push(`val_acc ${formatPercent(m.valAccuracy)}`);
    parts.push(`${formatDuration(seconds)}`);
    const samples = this.samples(this.done);
    if (seconds > 0) parts.push(`${groupThousands(samples / seconds)} img/s`);
    this.clear();
    this.stream.write(`${parts.join(" ")}\n`);
  }

  /** Leaves the terminal on a fresh line. */
  finish(): void {
    this.clear();
  }

  private clear(): void {
    if (this.drawn) {
      this.stream.write("\r\x1b[K");
      this.drawn = false;
    }
  }

  private samples(done: number): number {
    const full = done * this.options.batchSize;
    return this.options.samplesPerEpoch === undefined
      ? full
      : Math.min(full, this.options.samplesPerEpoch);
  }

  /** The progress text at time `t`, with or without the bar, fitted to the terminal width. */
  line(t: number, withBar: boolean): string {
    const { stepsPerEpoch } = this.options;
    const elapsed = (t - this.epochStart) / 1000;
    const done = this.done;
    const head = `epoch ${this.epoch + 1}/${this.options.epochs}`;
    const parts = [`${done}/${stepsPerEpoch}`];
    if (this.metrics.loss !== undefined) parts.push(`loss ${formatLoss(this.metrics.loss)}`);
    for (const [k, v] of Object.entries(this.metrics.losses ?? {}))
      parts.push(`${k} ${formatLoss(v)}`);
    if (this.metrics.accuracy !== undefined)
      parts.push(`acc ${formatPercent(this.metrics.accuracy)}`);
    if (elapsed > 0) parts.push(`${groupThousands(this.samples(done) / elapsed)} img/s`);
    if (done > 0) parts.push(`ETA ${formatDuration((elapsed / done) * (stepsPerEpoch - done))}`);
    const tail = parts.join(" ");
    if (!withBar) return `${head} ${tail}`;
    const columns = this.stream.columns;
    let width = this.options.barWidth ?? 20;
    if (columns !== undefined) {
      const room = columns - 1 - (head.length + tail.length + 4);
      width = Math.max(5, Math.min(width, room));
    }
    const text = `${head} ${progressBar(done / stepsPerEpoch, width)} ${tail}`;
    return columns !== undefined && text.length > columns - 1 ? text.slice(0, columns - 1) : text;
  }
}
