/**
 * @file The gather fused into the kernels that read the batch. Where a dataset is resident on
 * the device (runtime/feeder.ts), a plan's kernels that read the model's input or the one-hot
 * labels can read the dataset itself instead: each such kernel is rewritten so that its input
 * binding holds the dataset's words and every load of it goes through an accessor, which finds
 * the sample's row through a small uniform (the batch's sample indices, written once per step),
 * turns bytes into f32 (`f32(b) * BYTE_SCALE`, the host's BYTE_TABLE value exactly: one correctly
 * rounded multiplication) and makes one-hot labels from class indices. The batch is then never
 * written to memory and the step has no gather kernel: one dispatch and a pass over the batch
 * fewer per step.
 *
 * The rewrite works on the WGSL text nnc's code generator writes: an input is a binding
 * `var<storage, read> NAME: array<vec4<f32>>` (labels: `array<f32>`) that the kernel only
 * indexes, `NAME[expr]`. A kernel that uses it any other way, reads the input one value at a
 * time, or whose samples are not whole vec4s, is not rewritten, and its plan keeps the gather
 * kernel (runtime/feeder.ts). No Node imports: browsers use this too.
 */
import { BYTE_SCALE } from "./data/dataset.js";
import type { PlanBinding, PlanKernel } from "./plan.js";

/** The shape of a plan's batch. */
export interface FeedShape {
  /** Samples per batch (the plan's batch size). */
  readonly batch: number;
  /** Values per sample of the model's input. */
  readonly per: number;
  /** Columns of the one-hot label input. */
  readonly classes: number;
}

/** What the fused loads read: the batch's shape and how the dataset stores inputs. */
export interface FeedLayout extends FeedShape {
  /** Whether the dataset stores inputs as bytes (packed four to a word) or as f32 words. */
  readonly bytes: boolean;
}

/** Which of a kernel's bindings hold the batch's input and its one-hot labels. */
export interface FeedReads {
  readonly x: readonly number[];
  readonly y: readonly number[];
}

/**
 * The per-step uniform the feed and the gather read (runtime/feeder.ts): samples in this batch,
 * the word where the labels start, the step counter, the augmentation seed, then the batch's
 * sample indices, one per vec4 (in `.x`). Uniform arrays have a 16-byte stride; four indices to
 * a vec4 would need a component picked by a computed index, which made the MLP's fused matmuls
 * 10-25% slower on llvmpipe.
 */
export function feedParamsBytes(batch: number): number {
  return 16 + 16 * batch;
}

/** The largest batch whose uniform fits `bindingBytes` (the inverse of feedParamsBytes). */
export function maxFeedBatch(bindingBytes: number): number {
  return Math.floor((bindingBytes - 16) / 16);
}

/**
 * The WGSL declarations of that uniform for batches of `batch`, at `@binding(binding)`, of
 * `nnc_feed_row(r)`, the dataset index of the batch's sample `r` (the last for rows past it),
 * and of `nnc_feed_bytes(w)`, the four bytes of word `w` as values (shifts and masks, not
 * `unpack4xU8`, which not every WebGPU implementation has).
 */
export const feedDecls = (batch: number, binding: number): string => `struct NncFeed {
  count: u32,
  labels: u32,
  step: u32,
  seed: u32,
  rows: array<vec4<u32>, ${batch}>,
}

@group(0) @binding(${binding}) var<uniform> nnc_feed: NncFeed;

fn nnc_feed_row(r: u32) -> u32 {
  return nnc_feed.rows[min(r, ${batch - 1}u)].x;
}

fn nnc_feed_bytes(w: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(255u)) * ${BYTE_SCALE}f;
}
`;

const declaration =
  /^@group\(0\) @binding\((\d+)\) var<storage, read> (\w+): array<(f32|vec4<f32>)>;$/gm;

/**
 * `kernel` rewritten to read the batch from the dataset, its bindings `reads.x` and `reads.y`
 * to take the dataset's buffer and a new last binding the per-step uniform; or null where it
 * cannot be (nothing to rewrite, an input used other than by indexing or not read-only, an input
 * read one value at a time or whose sample is not whole vec4s, labels read as vec4).
 */
export function fuseFeedReads(
  kernel: PlanKernel,
  reads: FeedReads,
  layout: FeedLayout,
): PlanKernel | null {
  const decls = new Map<number, RegExpMatchArray>();
  for (const m of kernel.wgsl.matchAll(declaration)) decls.set(Number(m[1]), m);
  let text = kernel.wgsl;
  let accessors = "";
  for (const binding of [...reads.x, ...reads.y]) {
    const d = decls.get(binding);
    if (!d) return null;
    const [decl, , name, type] = d;
    const fn = `nnc_load_${name}`;
    const accessor = reads.x.includes(binding)
      ? inputAccessor(fn, name!, type !== "f32", layout)
      : labelAccessor(fn, name!, type !== "f32", layout);
    const at = text.indexOf(decl) + decl.length;
    const rest = indexedBy(text.slice(at), name!, fn);
    if (accessor === null || rest === null) return null;
    text = text.slice(0, at).replace(decl, decl.replace(`array<${type}>`, "array<u32>")) + rest;
    accessors += accessor;
  }
  if (!accessors) return null;
  const params = Math.max(...kernel.bindings.map((b) => b.binding)) + 1;
  // Module-scope declarations may follow their use in WGSL: the feed goes at the end.
  const wgsl = `${text}
${feedDecls(layout.batch, params)}
${accessors}`;
  const bindings: PlanBinding[] = [
    ...kernel.bindings,
    { binding: params, buffer: -1, access: "uniform" },
  ];
  return { ...kernel, name: `${kernel.name}+feed`, wgsl, bindings };
}

/**
 * `text` with every `name[...]` replaced by `fn(u32(...))` (inner ones first), or null when
 * `name` appears otherwise or a bracket is unbalanced.
 */
function indexedBy(text: string, name: string, fn: string): string | null {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(new RegExp(`(?<![.\\w])${name}\\b`, "g"))) {
    const start = m.index;
    if (start < last) continue; // inside an index already replaced
    const open = start + name.length;
    let depth = 0;
    let close = open;
    do {
      if (text[close] === "[") depth++;
      else if (text[close] === "]") depth--;
    } while (depth > 0 && ++close < text.length);
    const inner = depth === 0 ? indexedBy(text.slice(open + 1, close), name, fn) : null;
    if (text[open] !== "[" || inner === null) return null;
    out += `${text.slice(last, start)}${fn}(u32(${inner}))`;
    last = close + 1;
  }
  return out + text.slice(last);
}

/**
 * The accessor of the model's input, vec4 `i` of the batch, from the dataset; null for an input
 * read one value at a time. Such kernels (a convolution over one channel) read each value many
 * times, and unpacking it each time costs more than the gather kernel saves: reading bytes
 * itself, the seed CNN's first convolution took 5.5-5.7 ms instead of 4.7-4.9 on llvmpipe, and
 * its filter gradient 3.6-3.7 instead of 3.0, against 0.2 ms for the gather. Rows past the
 * batch's count read a valid row and yield zeros, without a branch, so the lanes of an
 * invocation group stay together.
 */
function inputAccessor(fn: string, data: string, vec4: boolean, l: FeedLayout): string | null {
  const { per } = l;
  if (!vec4 || per % 4 !== 0) return null;
  const q = per / 4;
  const value = l.bytes
    ? `nnc_feed_bytes(${data}[nnc_feed_row(r) * ${q}u + (i - r * ${q}u)])`
    : `bitcast<vec4<f32>>(vec4<u32>(${data}[e], ${data}[e + 1u], ${data}[e + 2u], ${data}[e + 3u]))`;
  const e = l.bytes ? "" : `\n  let e = nnc_feed_row(r) * ${per}u + (i - r * ${q}u) * 4u;`;
  return `fn ${fn}(i: u32) -> vec4<f32> {
  let r = i / ${q}u;${e}
  return select(vec4<f32>(0.0f), ${value}, r < nnc_feed.count);
}
`;
}

/** The accessor of the one-hot labels: entry `i` of the batch's [batch, classes] matrix. */
function labelAccessor(fn: string, data: string, vec4: boolean, l: FeedLayout): string | null {
  if (vec4) return null;
  const c = l.classes;
  return `fn ${fn}(i: u32) -> f32 {
  let r = i / ${c}u;
  let hot = ${data}[nnc_feed.labels + nnc_feed_row(r)] == i - r * ${c}u;
  return select(0.0f, 1.0f, hot && r < nnc_feed.count);
}
`;
}
