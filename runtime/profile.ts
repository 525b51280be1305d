/**
 * @file Per-kernel times of a plan, for `NNC_DEBUG` (issue 5: where the time of a training step
 * goes). An Executor made while NNC_DEBUG is set (or with `{ profile: true }`) owns a
 * KernelProfiler. Where the device has the `timestamp-query` feature (acquireDevice requests it
 * only when profiling), every step it records runs each kernel in its own compute pass with
 * timestamp writes, resolved into a small buffer that is mapped after the step was submitted,
 * so the times come from the real training steps at no host round trip. Where the adapter has
 * no timestamp queries (llvmpipe through OpenGL), nothing changes during training; `report()`
 * then times each kernel on the host afterwards: a submission of N dispatches of one kernel,
 * awaited with onSubmittedWorkDone, with the variables the kernels write in place saved before
 * and restored after. Without profiling none of this exists: no feature, no extra passes.
 * Loading this module installs the profiler into the executor (device.ts loads it); browser
 * bundles leave it out. No Node imports.
 */
import { dispatchStep, installProfiler, type KernelSwaps } from "./executor.js";
import type { KernelPlan, PlanKernel } from "./plan.js";

/** True when NNC_DEBUG is set to a non-empty value (read where a `process` exists). */
export function profilingRequested(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  const v = env?.NNC_DEBUG;
  return v !== undefined && v !== "";
}

/** One kernel as the executor records it. */
export interface ProfiledStep {
  readonly kernel: PlanKernel;
  readonly bindGroup: GPUBindGroup;
  readonly pipeline?: GPUComputePipeline;
}

/** What the profiler needs from its executor (shared, not copied: pipelines arrive later). */
export interface ProfileTarget {
  readonly device: GPUDevice;
  readonly plan: KernelPlan;
  readonly steps: readonly ProfiledStep[];
  readonly buffers: readonly GPUBuffer[];
}

export interface KernelTiming {
  readonly name: string;
  readonly op: string;
  readonly location: string;
  /** Workgroups dispatched in x, y, z. */
  readonly dispatch: readonly [number, number, number];
  readonly workgroupSize: readonly [number, number, number];
  /** Mean milliseconds per step (0 for a kernel with an empty dispatch, which never runs). */
  readonly ms: number;
  /** `ms` over the sum of every kernel's `ms`, in [0, 1]. */
  readonly share: number;
}

export interface KernelProfile {
  /** `timestamp-query`: GPU timestamps around each kernel's pass during the real steps;
   * `host-timed`: wall time of submissions of one kernel, measured after the fact. */
  readonly method: "timestamp-query" | "host-timed";
  /** Steps whose timestamps were read (timestamp-query), or dispatches per submission (host). */
  readonly samples: number;
  /** Sum of every kernel's mean milliseconds. */
  readonly kernelMs: number;
  /** Timestamp-query: mean span from the first kernel's start to the last one's end; host:
   * the whole step's kernels submitted together, per step. */
  readonly stepMs: number;
  /** In the plan's order. */
  readonly kernels: readonly KernelTiming[];
}

/** Steps whose timestamps may be in flight at once; steps beyond that go unsampled. */
const MAX_SLOTS = 8;
/** WebGPU's limit on queries in one query set. */
const MAX_QUERIES = 4096;

interface Slot {
  readonly querySet: GPUQuerySet;
  readonly resolve: GPUBuffer;
  readonly staging: GPUBuffer;
  state: "free" | "recorded" | "mapping";
  encoder?: GPUCommandEncoder;
  done?: Promise<void>;
}

const registry = new WeakMap<KernelPlan, KernelProfiler>();

/**
 * The profile of the latest profiled executor made for `plan` (the very object, e.g. a
 * ModelProgram's `step`), or undefined when none was made with profiling on.
 */
export function kernelProfileOf(plan: KernelPlan): Promise<KernelProfile> | undefined {
  return registry.get(plan)?.report();
}

export class KernelProfiler {
  readonly method: KernelProfile["method"];
  private readonly slots: Slot[] = [];
  /** Nanoseconds per kernel, summed over the sampled steps. */
  private readonly sums: number[];
  private spanSum = 0;
  private sampled = 0;
  /** The kernels the executor last recorded in place of its own (a fused feed's). */
  private swaps: KernelSwaps | undefined;
  private disposed = false;

  constructor(private readonly target: ProfileTarget) {
    const n = target.plan.kernels.length;
    this.sums = new Array<number>(n).fill(0);
    const timestamps = target.device.features.has("timestamp-query") && 2 * n <= MAX_QUERIES;
    this.method = timestamps && n > 0 ? "timestamp-query" : "host-timed";
    registry.set(target.plan, this);
  }

  /**
   * Records the plan's kernels with timestamps into `encoder` and returns true, or returns
   * false (the caller records them as usual) when timing on the host or every slot is busy.
   * The encoder must be submitted before the next call (as NncModel and the executor do).
   */
  recordKernels(encoder: GPUCommandEncoder, swaps?: KernelSwaps): boolean {
    this.swaps = swaps;
    if (this.method !== "timestamp-query" || this.disposed) return false;
    this.collect(encoder);
    const slot = this.freeSlot();
    if (!slot) return false;
    this.target.steps.forEach((s, i) => {
      const [x, y, z] = s.kernel.dispatch;
      if (x === 0 || y === 0 || z === 0) return;
      const pass = encoder.beginComputePass({
        label: s.kernel.name,
        timestampWrites: {
          querySet: slot.querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      dispatchStep(pass, s, swaps?.get(i));
      pass.end();
    });
    const count = 2 * this.target.steps.length;
    encoder.resolveQuerySet(slot.querySet, 0, count, slot.resolve, 0);
    encoder.copyBufferToBuffer(slot.resolve, 0, slot.staging, 0, count * 8);
    slot.state = "recorded";
    slot.encoder = encoder;
    return true;
  }

  private freeSlot(): Slot | undefined {
    const free = this.slots.find((s) => s.state === "free");
    if (free || this.slots.length >= MAX_SLOTS) return free;
    const device = this.target.device;
    const count = 2 * this.target.steps.length;
    const slot: Slot = {
      querySet: device.createQuerySet({ label: "nnc profile", type: "timestamp", count }),
      resolve: device.createBuffer({
        label: "nnc profile resolve",
        size: count * 8,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      }),
      staging: device.createBuffer({
        label: "nnc profile staging",
        size: count * 8,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      }),
      state: "free",
    };
    this.slots.push(slot);
    return slot;
  }

  /** Starts mapping every slot recorded into an encoder other than `current` (submitted). */
  private collect(current?: GPUCommandEncoder): void {
    for (const slot of this.slots) {
      if (slot.state !== "recorded" || slot.encoder === current) continue;
      slot.state = "mapping";
      slot.encoder = undefined;
      slot.done = slot.staging.mapAsync(GPUMapMode.READ).then(
        () => {
          const ticks = new BigUint64Array(slot.staging.getMappedRange().slice(0));
          slot.staging.unmap();
          this.accumulate(ticks);
          slot.state = "free";
        },
        () => {
          // The device went away (destroyed or lost): the executor reports that itself.
        },
      );
    }
  }

  /** Adds one step's pass times (nanoseconds) to the sums; skips a step that never ran. */
  private accumulate(ticks: BigUint64Array): void {
    const durations: number[] = [];
    let first: bigint | undefined;
    let last: bigint | undefined;
    this.target.steps.forEach((s, i) => {
      const [x, y, z] = s.kernel.dispatch;
      if (x === 0 || y === 0 || z === 0) return (durations[i] = 0);
      const b = ticks[2 * i]!;
      const e = ticks[2 * i + 1]!;
      durations[i] = e > b ? Number(e - b) : 0;
      if (first === undefined || b < first) first = b;
      if (last === undefined || e > last) last = e;
    });
    if (first === undefined || last === undefined || last === 0n) return;
    durations.forEach((d, i) => (this.sums[i]! += d));
    this.spanSum += last > first ? Number(last - first) : 0;
    this.sampled++;
  }

  /** The times so far (timestamp-query), or measured now on the host (see the file comment). */
  async report(): Promise<KernelProfile> {
    if (this.disposed) throw new Error("the profiled executor was disposed");
    if (this.method === "timestamp-query") {
      this.collect();
      await Promise.all(this.slots.map((s) => s.done));
      if (this.sampled > 0) {
        const n = this.sampled;
        return this.profile(
          this.sums.map((ns) => ns / n / 1e6),
          this.spanSum / n / 1e6,
          n,
        );
      }
    }
    return this.hostTimed();
  }

  private profile(ms: readonly number[], stepMs: number, samples: number): KernelProfile {
    const kernelMs = ms.reduce((a, b) => a + b, 0);
    return {
      method:
        this.method === "timestamp-query" && this.sampled > 0 ? "timestamp-query" : "host-timed",
      samples,
      kernelMs,
      stepMs,
      kernels: this.target.steps.map((s, i) => ({
        name: this.swaps?.get(i)?.name ?? s.kernel.name,
        op: s.kernel.op,
        location: s.kernel.location,
        dispatch: s.kernel.dispatch,
        workgroupSize: s.kernel.workgroupSize,
        ms: ms[i]!,
        share: kernelMs > 0 ? ms[i]! / kernelMs : 0,
      })),
    };
  }

  /** Milliseconds of one submission of `record`, awaited. */
  private async timeSubmission(record: (pass: GPUComputePassEncoder) => void): Promise<number> {
    const device = this.target.device;
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    record(pass);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  }

  /**
   * Host timing: the whole step once (warm-up), then `reps` steps in one submission, then for
   * each kernel the best of three submissions of `reps` dispatches of it alone. `reps` makes a
   * submission last about 60 ms (at least 3 dispatches), so the cost of a submission is spread thin. Variables the
   * kernels update in place are copied aside first and back after, so training state is kept.
   */
  private async hostTimed(): Promise<KernelProfile> {
    const { steps } = this.target;
    for (const s of steps) {
      if (!s.pipeline) throw new Error("pipelines are still compiling; await ready() first");
    }
    // Indices of the kernels with work to do.
    const live = [...steps.keys()].filter((i) => steps[i]!.kernel.dispatch.every((d) => d > 0));
    const dispatch = (pass: GPUComputePassEncoder, i: number) =>
      dispatchStep(pass, steps[i]!, this.swaps?.get(i));
    const restore = this.saveState();
    try {
      const once = await this.timeSubmission((p) => live.forEach((s) => dispatch(p, s)));
      const again = await this.timeSubmission((p) => live.forEach((s) => dispatch(p, s)));
      const reps = Math.max(
        3,
        Math.min(100, Math.ceil(60 / Math.max(0.01, Math.min(once, again)))),
      );
      const whole =
        (await this.timeSubmission((p) => {
          for (let r = 0; r < reps; r++) live.forEach((s) => dispatch(p, s));
        })) / reps;
      const ms: number[] = [];
      for (const s of steps.keys()) {
        if (!live.includes(s)) {
          ms.push(0);
          continue;
        }
        let best = Infinity;
        for (let round = 0; round < 3; round++) {
          const t = await this.timeSubmission((p) => {
            for (let r = 0; r < reps; r++) dispatch(p, s);
          });
          best = Math.min(best, t / reps);
        }
        ms.push(best);
      }
      return this.profile(ms, whole, reps);
    } finally {
      await restore();
    }
  }

  /**
   * Copies every variable, input and constant buffer a kernel writes to scratch buffers; the
   * returned function copies them back and frees the scratch.
   */
  private saveState(): () => Promise<void> {
    const { device, plan, buffers } = this.target;
    const persistent = new Set(["variable", "input", "constant"]);
    const written = new Set<number>();
    for (const k of plan.kernels) {
      for (const b of k.bindings) {
        if (b.access === "read_write" && persistent.has(plan.buffers[b.buffer]!.role)) {
          written.add(b.buffer);
        }
      }
    }
    const saved = [...written].map((id) => {
      const size = plan.buffers[id]!.size;
      const copy = device.createBuffer({
        label: `nnc profile save ${id}`,
        size,
        usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      return { id, size, copy };
    });
    const copyAll = (back: boolean) => {
      const encoder = device.createCommandEncoder();
      for (const s of saved) {
        const [from, to] = back ? [s.copy, buffers[s.id]!] : [buffers[s.id]!, s.copy];
        encoder.copyBufferToBuffer(from, 0, to, 0, s.size);
      }
      device.queue.submit([encoder.finish()]);
    };
    copyAll(false);
    return async () => {
      copyAll(true);
      await device.queue.onSubmittedWorkDone();
      for (const s of saved) s.copy.destroy();
    };
  }

  /** Frees the query sets and buffers; the profile of this plan is gone. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (registry.get(this.target.plan) === this) registry.delete(this.target.plan);
    for (const s of this.slots) {
      s.querySet.destroy();
      s.resolve.destroy();
      s.staging.destroy();
    }
  }
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/**
 * The profile as a table for stderr: a heading saying how it was measured, then one line per
 * kernel, slowest first: mean ms per step, share of the kernels' total, dispatch grid and
 * workgroup size, the kernel's name (the ops it fuses) and its `.nn` location.
 */
export function formatProfile(p: KernelProfile, what: string): string {
  const how =
    p.method === "timestamp-query"
      ? `GPU timestamps, mean of ${p.samples} step${p.samples === 1 ? "" : "s"}; ` +
        `kernels ${p.kernelMs.toFixed(3)} ms, first start to last end ${p.stepMs.toFixed(3)} ms per step`
      : `host-timed: the adapter has no timestamp queries, so each kernel ran alone afterwards, ` +
        `${p.samples} dispatches per submission, best of 3 (submission cost included); ` +
        `kernels ${p.kernelMs.toFixed(3)} ms, whole step ${p.stepMs.toFixed(3)} ms`;
  const rows = p.kernels
    .map((k) => ({
      ms: k.ms.toFixed(3),
      share: `${(k.share * 100).toFixed(1)}%`,
      grid: `${k.dispatch.join("x")} @ ${k.workgroupSize.join("x")}`,
      name: k.name,
      location: k.location,
      sort: k.ms,
    }))
    .sort((a, b) => b.sort - a.sort);
  const head = { ms: "ms/step", share: "share", grid: "dispatch @ workgroup", name: "kernel" };
  const w = {
    ms: Math.max(head.ms.length, ...rows.map((r) => r.ms.length)),
    share: Math.max(head.share.length, ...rows.map((r) => r.share.length)),
    grid: Math.max(head.grid.length, ...rows.map((r) => r.grid.length)),
    name: Math.max(head.name.length, ...rows.map((r) => r.name.length)),
  };
  const line = (r: { ms: string; share: string; grid: string; name: string }, loc = "") =>
    `  ${pad(r.ms, w.ms, true)}  ${pad(r.share, w.share, true)}  ${pad(r.grid, w.grid)}  ${pad(r.name, w.name)}  ${loc}`.trimEnd();
  return [
    `nnc: kernel times of ${what}, ${p.kernels.length} kernels (${how})`,
    line(head),
    ...rows.map((r) => line(r, r.location)),
  ].join("\n");
}

installProfiler({ requested: profilingRequested, create: (t) => new KernelProfiler(t) });
