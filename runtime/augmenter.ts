/**
 * @file Where the runtime finds its augmentation code. runtime/augment.ts installs it when it
 * is loaded; the model, the gather and the Batcher reach it only through `augmenter()`, and only
 * for a run that augments. So a module built for a run without `augment` (the common case, in a
 * browser bundle) leaves those 4 KB out, and one whose run augments imports
 * `nnc/runtime/augment` (`nnc build` writes that import). No Node imports.
 */
import type { AugmentRanges, AugmentSpec, Augmentation } from "./augment.js";
import { nncError } from "./errors.js";

export interface Augmenter {
  /** A program's augmentation list read into ranges (a bad one is an NncError). */
  ranges(list: readonly Augmentation[]): AugmentRanges;
  /** The WGSL declarations of the augmenting gather (`load` reads element `e` into `v`). */
  wgsl(spec: AugmentSpec, load: string): string;
  /**
   * Writes sample `r` of the batch of `step`, augmented: read from index `src` through `value`,
   * written to `out` at `dst`.
   */
  warp(
    spec: AugmentSpec,
    step: number,
    r: number,
    value: (index: number) => number,
    src: number,
    out: Float32Array,
    dst: number,
  ): void;
}

let installed: Augmenter | undefined;

export function installAugmenter(a: Augmenter): void {
  installed = a;
}

/** The augmentation code; an NncError when the run augments but nothing loaded it. */
export function augmenter(): Augmenter {
  return (
    installed ??
    (() => {
      throw nncError("NN5501", {
        detail:
          'this run augments its images, but the augmentation code is not loaded: import "nnc/runtime/augment" once',
      });
    })()
  );
}

/** Whether `r` changes anything (an empty list, or zero ranges, augments nothing). */
export function augments(r: AugmentRanges): boolean {
  return r.shift > 0 || r.rotate > 0 || r.zoom > 0 || r.flip;
}

/** Image height, width and channels of a per-sample shape [H, W, C] or [H, W]; else null. */
export function imageDims(shape: readonly number[]): [number, number, number] | null {
  if (shape.length === 2) return [shape[0]!, shape[1]!, 1];
  if (shape.length === 3) return [shape[0]!, shape[1]!, shape[2]!];
  return null;
}
