/**
 * @file Kernel parameters for the heavy kernels (matmul, convolutions) and the measured search
 * that picks them per adapter. Emitters ask `tuned(op, key, limits)` for a configuration: the
 * winner of an earlier search on the active adapter when one is cached, else a heuristic that
 * was measured best on llvmpipe (so code generation works, and is deterministic, without a
 * device). `autotune` runs the search: for each matmul/conv shape of a graph it compiles every
 * candidate, times a few submissions of each on the device, keeps the fastest, and caches the
 * winners per (adapter description, op, shape) in a JSON file (`.nnc-cache/tune.json` under
 * the working directory, or NNC_TUNE_CACHE).
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensureDir } from "../../runtime/fs-node.js";
import type { DeviceLimitsLike, KernelPlan, PlanBuffer } from "../../runtime/plan.js";
import type { NncDevice } from "../../runtime/device-core.js";
import { Executor } from "../../runtime/executor.js";
import type { EmitCtx, Emitter } from "./context.js";
import type { Graph } from "../ir/graph.js";
import type { OpKind } from "../primitives.js";
import { numelOf } from "../../runtime/plan.js";
import {
  clampWorkgroup,
  itemsHead,
  type KernelSource,
  u32,
  type WrapSpec,
  wrapKernel,
} from "./wgsl.js";

/** Register blocking of the matmul kernel: each invocation computes a BM x BN output block. */
export interface MatmulConfig {
  /** Rows per invocation: 1 to 16. */
  readonly bm: number;
  /** Columns per invocation, a multiple of 4: 4 to 16. */
  readonly bn: number;
  /** Invocations per workgroup. */
  readonly wg: number;
}

/** Register blocking of direct convolutions: output pixels x channels per invocation. */
export interface ConvConfig {
  /** Output pixels (along the width) per invocation. */
  readonly px: number;
  /** Output channels per invocation (rounded up to a multiple of 4 when vec4 applies). */
  readonly ch: number;
  readonly wg: number;
}

/** conv2d_grad_filter: taps x filters per invocation (partial sums over rows of the batch). */
export interface GradFilterConfig {
  /** Filter taps (kh, kw) per invocation. */
  readonly bt: number;
  /** Filters per invocation (a multiple of 4 when F is). */
  readonly bf: number;
  readonly wg: number;
}

export interface TuneConfigs {
  readonly conv2d_grad_filter: GradFilterConfig;
  readonly matmul: MatmulConfig;
  readonly conv2d: ConvConfig;
  readonly conv2d_grad_input: ConvConfig;
}
export type TunedOp = keyof TuneConfigs;

/**
 * A cache of winners: adapter description -> "op shape-key" -> configuration. The entry
 * `"@devices"` maps a device choice (`auto`, `gpu`, ...) to the adapter description it last
 * gave, so a command that makes no device (`nnc build`) can still pick that adapter's winners.
 */
export type TuneTable = Record<string, Record<string, unknown>>;
const devicesKey = "@devices";

let active: { adapter: string; table: TuneTable } | undefined;

/** Makes `table` (winners per adapter) the source of tuned configurations for `adapter`. */
export function useTuning(adapter: string | undefined, table: TuneTable = {}): void {
  active = adapter === undefined ? undefined : { adapter, table };
}

/**
 * The configuration for `op` at `key`: a cached winner on the active adapter (an entry
 * `"${op} *"` applies to every shape), else `fallback` (also when the cached winner is the
 * heuristic itself, `{ heuristic: true }`, or lacks one of the fallback's fields as a positive
 * number: a hand-edited cache must not make an invalid kernel).
 */
export function tuned<K extends TunedOp>(
  op: K,
  key: string,
  fallback: TuneConfigs[K],
): TuneConfigs[K] {
  const t = active?.table[active.adapter];
  const hit = (t?.[`${op} ${key}`] ?? t?.[`${op} *`]) as Record<string, unknown> | undefined;
  if (!hit || hit.heuristic) return fallback;
  const valid = Object.keys(fallback).every((f) => {
    const v = hit[f];
    return typeof v === "number" && Number.isFinite(v) && v >= 1;
  });
  return valid ? (hit as unknown as TuneConfigs[K]) : fallback;
}

/** Where the cache lives: NNC_TUNE_CACHE, else `.nnc-cache/tune.json` in the working directory. */
export function tuneCachePath(): string {
  return process.env.NNC_TUNE_CACHE ?? join(process.cwd(), ".nnc-cache", "tune.json");
}

/**
 * The search runs unless NNC_TUNE is `0`, `false`, `off` or `no` (then cached winners are not
 * used either: every kernel takes its heuristic, as without a device).
 */
export function tuneEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.NNC_TUNE ?? "").trim().toLowerCase();
  return !["0", "false", "off", "no"].includes(v);
}

/** Where warnings about the cache go (stderr unless a caller says otherwise). */
export type Warn = (message: string) => void;
const stderrWarn: Warn = (m) => process.stderr.write(`nnc: warning: ${m}\n`);

/**
 * The cached winners in `path`: {} when the file is missing. A file that is not JSON, or not
 * an object of per-adapter objects, is ignored with a warning (the cache is only a speed-up;
 * the next search rewrites it), never an error.
 */
export function readTuneCache(path = tuneCachePath(), warn: Warn = stderrWarn): TuneTable {
  if (!existsSync(path)) return {};
  let t: unknown;
  try {
    t = JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (e) {
    warn(`ignoring the kernel tuning cache ${path}: ${(e as Error).message}`);
    return {};
  }
  if (!isObject(t)) {
    warn(`ignoring the kernel tuning cache ${path}: not a JSON object`);
    return {};
  }
  const table: TuneTable = {};
  for (const [adapter, entries] of Object.entries(t)) {
    if (!isObject(entries)) continue;
    const keep = adapter === devicesKey ? (v: unknown) => typeof v === "string" : isObject;
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entries)) if (keep(v)) clean[k] = v;
    table[adapter] = clean;
  }
  return table;
}

/**
 * The generation of each op's candidate space. A cached winner records the generation it was
 * searched in (`space`, absent for 1); one of another generation still applies, but the next
 * search measures its shape again among today's candidates (and replaces it). Matmul is at 2
 * since blocks of up to 16 x 16 joined the candidates.
 */
const searchSpace: { readonly [K in TunedOp]: number } = {
  matmul: 2,
  conv2d: 1,
  conv2d_grad_input: 1,
  conv2d_grad_filter: 1,
};

/** The cached winner of `op` at shape `key` when it was searched in the op's current space. */
function currentEntry(
  mine: Record<string, unknown>,
  op: TunedOp,
  key: string,
): Record<string, unknown> | undefined {
  const e = mine[`${op} ${key}`];
  if (!isObject(e)) return undefined;
  return (e.space ?? 1) === searchSpace[op] ? e : undefined;
}

/** The device choice a command's device comes from: NNC_DEVICE wins, as in acquireDevice. */
export function deviceChoice(flag: string | undefined, env = process.env): string {
  return env.NNC_DEVICE || flag || "auto";
}

/**
 * The adapter whose winners apply to `choice` without making a device: the one a device of
 * that choice last gave, else the only adapter in the table.
 */
export function cachedAdapter(table: TuneTable, choice: string): string | undefined {
  const known = table[devicesKey]?.[choice];
  if (typeof known === "string") return known;
  const adapters = Object.keys(table).filter((a) => a !== devicesKey);
  return adapters.length === 1 ? adapters[0] : undefined;
}

/** Records in the cache file that `choice` gave `adapter` (see `cachedAdapter`). */
export function rememberAdapter(
  choice: string,
  adapter: string,
  path = tuneCachePath(),
  warn: Warn = stderrWarn,
): void {
  const table = readTuneCache(path, () => {});
  if (table[devicesKey]?.[choice] === adapter) return;
  table[devicesKey] = { ...table[devicesKey], [choice]: adapter };
  writeTuneCache(table, path, warn);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Writes `table` to `path` atomically (a temp file in the same folder, then a rename), so a
 * reader, a concurrent writer or a crash never leaves half a file. A cache that cannot be
 * written is a warning: the winners still apply to this run.
 */
export function writeTuneCache(
  table: TuneTable,
  path = tuneCachePath(),
  warn: Warn = stderrWarn,
): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    ensureDir(dirname(path));
    writeFileSync(tmp, JSON.stringify(table, null, 2) + "\n");
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Nothing was written there either.
    }
    warn(`could not write the kernel tuning cache ${path}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel wrappers with an explicit workgroup size

/** Invocations per workgroup for `n` independent items: at least 4 workgroups when it can. */
export function itemsWorkgroup(n: number, most = 64): number {
  let wg = most;
  while (wg > 8 && Math.ceil(n / wg) < 4) wg /= 2;
  return wg;
}

/** One invocation per item: the body sees `i: u32` in [0, total) (and `lid`). */
export function itemsKernel(
  spec: WrapSpec & { readonly total: number },
  limits: DeviceLimitsLike,
): KernelSource {
  const wg = clampWorkgroup(spec.wg, limits);
  return wrapKernel(spec, wg, Math.ceil(spec.total / wg), limits, itemsHead(spec.total, wg));
}

/**
 * One workgroup per group: the body sees the workgroup-uniform `g: u32` in [0, groups) and
 * `lid` in [0, wg), so it may use workgroup barriers. `wg` is not clamped (the body's shared
 * arrays depend on it): callers clamp it with `clampWorkgroup` first.
 */
export function groupKernel(
  spec: WrapSpec & { readonly groups: number },
  limits: DeviceLimitsLike,
): KernelSource {
  return wrapKernel(spec, spec.wg, spec.groups, limits, (flat) => {
    const folded = flat !== "wid.x";
    return folded
      ? [`let g = ${flat};`, `if (g >= ${u32(spec.groups)}) {`, "  return;", "}"]
      : ["let g = wid.x;"];
  });
}

// ---------------------------------------------------------------------------------------------
// Measuring

/**
 * Wall milliseconds per run of kernel `k` on `dev`, its bindings backed by zero-filled buffers
 * of `bytes[b]` bytes (the output last): the fastest of `trials` submissions of `reps` runs
 * each, after one warm-up submission (the fastest, not the median: on a shared machine other
 * processes only ever add time). With `cutoff`, a kernel whose first trial is slower than
 * `cutoff` ms per run is not timed further (it cannot win; slow candidates dominate a search).
 */
export async function timeKernel(
  dev: NncDevice,
  k: KernelSource,
  bytes: readonly number[],
  opts: { reps?: number; trials?: number; cutoff?: number } = {},
): Promise<number> {
  const reps = opts.reps ?? 3;
  const trials = opts.trials ?? 3;
  const buffers: PlanBuffer[] = bytes.map((size, id) => ({
    id,
    size: Math.max(4, Math.ceil(size / 4) * 4),
    role: id === bytes.length - 1 ? "output" : "input",
  }));
  const plan: KernelPlan = {
    version: 1,
    buffers,
    variables: [],
    inputs: [],
    kernels: [
      {
        name: "tune",
        wgsl: k.wgsl,
        entryPoint: "main",
        workgroupSize: k.workgroupSize,
        dispatch: k.dispatch,
        bindings: bytes.map((_, b) => ({
          binding: b,
          buffer: b,
          access: b === bytes.length - 1 ? "read_write" : "read",
        })),
        node: 0,
        op: "tune",
        location: "tune",
      },
    ],
    outputs: [],
    updates: [],
  };
  const ex = await Executor.create(dev, plan);
  try {
    await ex.submit(1);
    const times: number[] = [];
    for (let t = 0; t < trials; t++) {
      const t0 = performance.now();
      await ex.submit(reps);
      times.push((performance.now() - t0) / reps);
      if (opts.cutoff !== undefined && times[0]! > opts.cutoff) break;
    }
    return Math.min(...times);
  } finally {
    ex.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Shape keys (what a tuned configuration is cached under)

export function matmulKey(
  batch: readonly number[],
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
): string {
  return `${batch.join("x")}|${M}x${N}x${K}|${transA ? "T" : "N"}${transB ? "T" : "N"}`;
}

/** x [N, H, W, C], filters KH x KW x F, strides and pads. */
export function convKey(
  x: readonly number[],
  KH: number,
  KW: number,
  F: number,
  strides: readonly number[],
  pads: readonly number[],
): string {
  return `${x.join("x")} ${[KH, KW, F].join("x")} s${strides.join(",")} p${pads.join(",")}`;
}

// ---------------------------------------------------------------------------------------------
// The search

/**
 * Candidate configurations per op (the heuristic is always timed too). Matmul blocks cover
 * 2x4 .. 16x16 outputs per invocation: on llvmpipe, 512^3 ran ~1 GFLOP/s with one output per
 * invocation and ~5 with a 4x4 block of vec4 loads (scripts/tune-matmul.ts prints each); every
 * load there is a loop over the SIMD lanes, so bigger blocks (fewer loads per multiply-add)
 * win despite spilling accumulators: 16x16 or 16x12 on the MLP's 64x128x784 shapes, a block
 * as wide as N when N is 10 (the heuristic stays 8x8: matmul.ts says why).
 */
export const candidates: { readonly [K in TunedOp]: readonly TuneConfigs[K][] } = {
  matmul: [2, 4, 8, 16].flatMap((bm) =>
    [4, 8, 12, 16].flatMap((bn) => [32, 64].map((wg) => ({ bm, bn, wg }))),
  ),
  conv2d: [2, 4, 8, 16].flatMap((px) => [4, 8, 16].map((ch) => ({ px, ch, wg: 64 }))),
  conv2d_grad_input: [2, 4, 8].flatMap((px) => [4, 8].map((ch) => ({ px, ch, wg: 64 }))),
  conv2d_grad_filter: [1, 3, 9].flatMap((bt) =>
    [4, 8, 16].flatMap((bf) => [32, 64].map((wg) => ({ bt, bf, wg }))),
  ),
};

export interface TuneResult {
  readonly op: TunedOp;
  readonly key: string;
  /** The winner and its time (ms per run), and how many distinct kernels were timed. */
  readonly config: unknown;
  readonly ms: number;
  readonly tried: number;
  /** The time of the heuristic's kernel, for comparison. */
  readonly heuristicMs: number;
  /** True when the result came from the cache (nothing was measured). */
  readonly cached: boolean;
  /** True when the time budget ran out before this shape: not measured, not cached. */
  readonly skipped?: boolean;
}

export interface AutotuneOptions {
  /** The cache file (default tuneCachePath()); null: neither read nor written. */
  readonly cachePath?: string | null;
  /** Re-measure shapes already in the cache. */
  readonly force?: boolean;
  /** Candidates per op instead of `candidates`. */
  readonly candidates?: Partial<{ [K in TunedOp]: readonly TuneConfigs[K][] }>;
  /** Runs per timed submission and submissions per candidate (default 2 and 3). */
  readonly reps?: number;
  readonly trials?: number;
  /**
   * Milliseconds the search may take: a shape starts only when its estimated cost (from its
   * heuristic's time) fits what is left; the first always completes, so every search makes
   * progress. Shapes left over are not cached: the next search does them.
   */
  readonly budgetMs?: number;
  /** Called when a shape's measuring starts (it may still be skipped for the budget). */
  readonly onShape?: (op: TunedOp, key: string) => void;
  readonly log?: (line: string) => void;
  /** Where cache warnings go (default stderr). */
  readonly warn?: Warn;
}

/** A tunable node of a graph: its op, shape key, and what its emitter is called with. */
export interface TuneShape {
  readonly op: TunedOp;
  readonly key: string;
  readonly ctx: EmitCtx;
}

const tunedOps = new Set<string>(["matmul", "conv2d", "conv2d_grad_input", "conv2d_grad_filter"]);

/** The distinct (op, shape) pairs of `graphs` that have tuned kernels, in graph order. */
export function tuneShapes(graphs: readonly Graph[], limits: DeviceLimitsLike): TuneShape[] {
  const shapes: TuneShape[] = [];
  const seen = new Set<string>();
  for (const g of graphs) {
    for (const n of g.nodes) {
      if (!tunedOps.has(n.op)) continue;
      const ctx: EmitCtx = {
        node: n,
        attrs: n.attrs,
        shape: n.shape as number[],
        dtype: n.dtype,
        inputs: n.inputs.map((j) => ({
          shape: g.nodes[j]!.shape as number[],
          dtype: g.nodes[j]!.dtype,
        })),
        limits,
      };
      const op = n.op as TunedOp;
      const key = keyOf(ctx);
      if (seen.has(`${op} ${key}`)) continue;
      seen.add(`${op} ${key}`);
      shapes.push({ op, key, ctx });
    }
  }
  return shapes;
}

/** The shapes of `graphs` that `table` has no winner for on `adapter` (what a search measures). */
export function pendingShapes(
  adapter: string,
  graphs: readonly Graph[],
  limits: DeviceLimitsLike,
  table: TuneTable,
): TuneShape[] {
  const mine = table[adapter] ?? {};
  return tuneShapes(graphs, limits).filter((s) => !currentEntry(mine, s.op, s.key));
}

/**
 * A candidate must beat the heuristic by this factor, after both are re-timed, to replace it:
 * timings on a shared CPU jitter by a few percent, and a switch on noise would make plans
 * differ from run to run for nothing.
 */
const margin = 0.97;

/**
 * Measures the candidates of every matmul and convolution (and gradient) shape in `graphs` on
 * `dev`, caches the winners under the adapter's description, and makes them active (`tuned`),
 * so that graphs planned afterwards use them.
 */
export async function autotune(
  dev: NncDevice,
  graphs: readonly Graph[],
  opts: AutotuneOptions = {},
): Promise<TuneResult[]> {
  const started = performance.now();
  const warn = opts.warn ?? stderrWarn;
  const path = opts.cachePath === undefined ? tuneCachePath() : opts.cachePath;
  const table: TuneTable = path ? readTuneCache(path, warn) : {};
  const adapter = dev.description;
  const mine = (table[adapter] ??= {});
  const results: TuneResult[] = [];
  const shapes = tuneShapes(graphs, dev.limits);
  const todo = shapes.filter((s) => opts.force || !currentEntry(mine, s.op, s.key));
  const fresh: Record<string, unknown> = {};
  for (const s of shapes) {
    const full = `${s.op} ${s.key}`;
    const hit = currentEntry(mine, s.op, s.key) as
      { ms?: number; heuristicMs?: number } | undefined;
    if (hit && !opts.force) {
      results.push({
        op: s.op,
        key: s.key,
        config: hit,
        ms: hit.ms ?? NaN,
        tried: 0,
        heuristicMs: hit.heuristicMs ?? NaN,
        cached: true,
      });
      continue;
    }
    const index = todo.indexOf(s);
    // The first shape always completes (each search makes progress); a later one starts only
    // when its estimated cost fits what is left of the budget.
    const fits = (estimateMs: number) =>
      index === 0 ||
      opts.budgetMs === undefined ||
      performance.now() + estimateMs <= started + opts.budgetMs;
    const r = fits(0) ? await searchShape(dev, s, opts, fits) : undefined;
    if (!r) {
      results.push({
        op: s.op,
        key: s.key,
        config: undefined,
        ms: NaN,
        tried: 0,
        heuristicMs: NaN,
        cached: false,
        skipped: true,
      });
      continue;
    }
    const space = searchSpace[s.op];
    fresh[full] = mine[full] = {
      ...(r.config as object),
      ms: r.ms,
      heuristicMs: r.heuristicMs,
      ...(space > 1 ? { space } : {}),
    };
    results.push(r);
    opts.log?.(
      `${s.op} ${s.key}: ${JSON.stringify(r.config)} ${r.ms.toFixed(3)} ms (heuristic ${r.heuristicMs.toFixed(3)} ms, ${r.tried} kernels)`,
    );
  }
  if (path && Object.keys(fresh).length > 0) {
    // Another process may have written the cache meanwhile: keep its entries.
    const latest = readTuneCache(path, () => {});
    latest[adapter] = { ...latest[adapter], ...fresh };
    writeTuneCache(latest, path, warn);
  }
  useTuning(adapter, table);
  return results;
}

/**
 * Times the heuristic and every distinct candidate kernel of one shape; the winner. After the
 * heuristic, undefined when `fits` refuses the estimated cost of the rest (candidates cost
 * about a compile and 1.5 heuristic runs per timed run, as slow ones are cut after a trial).
 */
async function searchShape(
  dev: NncDevice,
  s: TuneShape,
  opts: AutotuneOptions,
  fits: (estimateMs: number) => boolean,
): Promise<TuneResult | undefined> {
  const { emitters } = await import("./emitters.js");
  const { op, key, ctx } = s;
  const full = `${op} ${key}`;
  const emit = (cfg: unknown) => {
    useTuning(cfg === undefined ? undefined : "search", { search: { [full]: cfg } });
    try {
      const e = (emitters[op] as Emitter<OpKind>)(ctx);
      return e.kind === "kernels" ? e.kernels : [];
    } finally {
      useTuning(undefined);
    }
  };
  const bytes = [...ctx.inputs.map((i) => numelOf(i.shape) * 4), numelOf(ctx.shape) * 4];
  const reps = opts.reps ?? 2;
  const trials = opts.trials ?? 3;
  const time = async (ks: readonly KernelSource[], cutoff?: number) => {
    if (ks.length !== 1 || ks[0]!.overLimit) return Infinity;
    return timeKernel(dev, ks[0]!, bytes, { reps, trials, ...(cutoff ? { cutoff } : {}) });
  };
  opts.onShape?.(s.op, s.key);
  const base = emit(undefined);
  let heuristicMs = await time(base);
  const list = (opts.candidates?.[op] ?? candidates[op]) as readonly unknown[];
  const h = Number.isFinite(heuristicMs) ? heuristicMs : 0;
  if (!fits(list.length * ((1 + reps) * 1.5 * h + 20) + 2 * trials * reps * h)) return undefined;
  const timed = new Set<string>([base.map((k) => k.wgsl).join("\n")]);
  let best: { cfg: unknown; ks: readonly KernelSource[]; ms: number } = {
    cfg: undefined,
    ks: base,
    ms: heuristicMs,
  };
  for (const cfg of list) {
    const ks = emit(cfg);
    const w = ks.map((k) => k.wgsl).join("\n");
    if (timed.has(w)) continue; // clamped to a kernel already timed
    timed.add(w);
    const ms = await time(ks, best.ms * 1.5);
    if (ms < best.ms) best = { cfg, ks, ms };
  }
  if (best.cfg !== undefined) {
    // Re-time both finalists, so one lucky sample does not decide.
    heuristicMs = Math.min(heuristicMs, await time(base));
    const ms = Math.min(best.ms, await time(best.ks));
    best =
      ms < heuristicMs * margin ? { ...best, ms } : { cfg: undefined, ks: base, ms: heuristicMs };
  }
  return {
    op,
    key,
    // `heuristic: true` makes `tuned` keep the fallback, whatever the heuristic becomes later.
    config: best.cfg ?? { heuristic: true },
    ms: best.ms,
    tried: timed.size,
    heuristicMs,
    cached: false,
  };
}

/** Activates the cached winners for `dev`'s adapter (no measuring). */
export function loadTuning(
  dev: { readonly description: string },
  path = tuneCachePath(),
  warn: Warn = stderrWarn,
): TuneTable {
  const table = readTuneCache(path, warn);
  useTuning(dev.description, table);
  return table;
}

function keyOf(ctx: EmitCtx): string {
  const a = ctx.inputs[0]!.shape;
  const b = ctx.inputs[1]!.shape;
  switch (ctx.node.op) {
    case "matmul": {
      const { transA, transB } = ctx.attrs as { transA: boolean; transB: boolean };
      const out = ctx.shape;
      const K = transA ? a[a.length - 2]! : a[a.length - 1]!;
      return matmulKey(
        out.slice(0, -2),
        out[out.length - 2]!,
        out[out.length - 1]!,
        K,
        transA,
        transB,
      );
    }
    case "conv2d": {
      const at = ctx.attrs as { strides: number[]; pads: number[] };
      return convKey(a, b[0]!, b[1]!, b[3]!, at.strides, at.pads);
    }
    case "conv2d_grad_input": {
      const at = ctx.attrs as { strides: number[]; pads: number[] };
      return convKey(ctx.shape, b[0]!, b[1]!, b[3]!, at.strides, at.pads);
    }
    default: {
      const at = ctx.attrs as { strides: number[]; pads: number[] };
      return convKey(a, ctx.shape[0]!, ctx.shape[1]!, ctx.shape[3]!, at.strides, at.pads);
    }
  }
}

export type { DeviceLimitsLike };
