/**
 * @file The static memory plan. Every temporary value (a kernel's result read only by later
 * kernels, a group's scratch buffer) has a lifetime known at compile time: from the first
 * kernel that binds it to the last. Values whose lifetimes do not overlap share a buffer:
 * largest first, each into the smallest existing buffer free for its whole lifetime, else a
 * new one. Lifetimes are closed intervals, so a kernel never reads and writes one buffer
 * through two bindings. The lower bound is the most bytes of values live at any one kernel.
 */

export interface Lifetime {
  readonly key: string;
  readonly bytes: number;
  /** First and last kernel index that binds the value. */
  readonly first: number;
  readonly last: number;
}

export interface Allocation {
  /** Slot of each value. */
  readonly slotOf: ReadonlyMap<string, number>;
  /** Bytes of each slot (the largest value it holds). */
  readonly slots: readonly number[];
}

export function allocate(values: readonly Lifetime[]): Allocation {
  const order = [...values].sort((a, b) => b.bytes - a.bytes || a.first - b.first);
  const slots: { bytes: number; used: [number, number][] }[] = [];
  const slotOf = new Map<string, number>();
  for (const v of order) {
    let best = -1;
    for (let s = 0; s < slots.length; s++) {
      const slot = slots[s]!;
      if (slot.used.some(([a, b]) => a <= v.last && v.first <= b)) continue;
      if (best < 0 || slot.bytes < slots[best]!.bytes) best = s;
    }
    if (best < 0) {
      best = slots.length;
      slots.push({ bytes: v.bytes, used: [] });
    }
    slots[best]!.used.push([v.first, v.last]);
    slotOf.set(v.key, best);
  }
  return { slotOf, slots: slots.map((s) => s.bytes) };
}

/** The most bytes of values live during any one kernel. */
export function peakLive(values: readonly Lifetime[]): number {
  const events: [number, number][] = [];
  for (const v of values) {
    events.push([v.first, v.bytes]);
    events.push([v.last + 1, -v.bytes]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let peak = 0;
  for (const [, d] of events) {
    live += d;
    peak = Math.max(peak, live);
  }
  return peak;
}
