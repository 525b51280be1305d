/**
 * @file Golden-file helpers. `expectGolden(path, actual)` compares `actual` with the file at
 * `path` (relative to the repository root) and fails with a line-numbered diff; with
 * NNC_ACCEPT=1 it writes the file instead. Test sources are compiled to dist/test, so paths are
 * resolved against the repository root, not the compiled file.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as assert from "uvu/assert";

/** The repository root (two levels above dist/test/util). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export function fromRoot(...parts: string[]): string {
  return join(repoRoot, ...parts);
}

function diff(expected: string, actual: string): string {
  const e = expected.split("\n");
  const a = actual.split("\n");
  const out: string[] = [];
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    if (e[i] !== a[i]) {
      if (e[i] !== undefined) out.push(`${String(i + 1).padStart(4)} - ${e[i]}`);
      if (a[i] !== undefined) out.push(`${String(i + 1).padStart(4)} + ${a[i]}`);
    }
  }
  return out.join("\n");
}

export function expectGolden(relPath: string, actual: string): void {
  const path = fromRoot(relPath);
  if (process.env.NNC_ACCEPT === "1") {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) {
    assert.unreachable(`missing golden file ${relPath}; run with NNC_ACCEPT=1 to create it`);
  }
  const expected = readFileSync(path, "utf8");
  if (expected !== actual) {
    assert.unreachable(`${relPath} differs (- expected, + actual):\n${diff(expected, actual)}`);
  }
}

/** Case directories under a golden suite, e.g. goldenCases("test/golden/check"). */
export function goldenCases(relDir: string): string[] {
  const dir = fromRoot(relDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}
