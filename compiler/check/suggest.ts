/**
 * @file Spelling suggestions for diagnostics: the closest known name by Damerau-Levenshtein edit
 * distance (a swap of two neighbours counts as one edit), ignoring case for the comparison.
 * A suggestion is made only when the distance is small relative to the name's length, so that
 * "did you mean" hints stay helpful rather than random.
 */

export function editDistance(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  const d: number[][] = Array.from({ length: n + 1 }, (_, i) =>
    Array.from({ length: m + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[n]![m]!;
}

/** The candidate closest to `name`, or undefined when none is close enough. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    const folded = editDistance(lower, c.toLowerCase());
    // Case differences cost less than other edits, but more than none.
    const dist =
      c.toLowerCase() === lower ? 0.5 : folded + (editDistance(name, c) > folded ? 0.25 : 0);
    if (dist < bestDist || (dist === bestDist && best !== undefined && c < best)) {
      best = c;
      bestDist = dist;
    }
  }
  return bestDist <= limit ? best : undefined;
}

/** "; did you mean 'x'?" or "" — appended to messages whose template ends in `{hint}`. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c === undefined ? "" : `; did you mean '${c}'?`;
}
