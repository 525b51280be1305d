/**
 * @file Checker fuzzing: a few thousand seeded mutations of every example and stdlib file,
 * at the level of tokens (delete, duplicate, swap, insert) and of meaning (another name, another
 * number, a line dropped). Each case goes through the whole front end (`checkFile`, prelude
 * included): it must return, quickly, with either no diagnostics or diagnostics that each carry
 * a catalog code and a span inside a known file; and wherever the case parses, formatting it must
 * give the same AST back. A handful of cases also go through the CLI to check exit codes.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkFile } from "../../compiler/index.js";
import { SourceFile } from "../../compiler/source.js";
import { formatModule } from "../../grammar/format.js";
import { parseModule } from "../../grammar/index.js";
import { nnLexer } from "../../grammar/tokens.js";
import { fromRoot } from "../util/golden.js";

const CASES = 2500;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const corpus: { name: string; text: string }[] = [];
for (const dir of ["examples", "stdlib"]) {
  for (const f of readdirSync(fromRoot(dir))
    .filter((f) => f.endsWith(".nn"))
    .sort()) {
    corpus.push({ name: `${dir}-${f}`, text: readFileSync(fromRoot(dir, f), "utf8") });
  }
}

const names = [...new Set(corpus.flatMap((c) => c.text.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []))];
const numbers = [
  "0",
  "1",
  "-1",
  "2",
  "3",
  "7",
  "0.5",
  "1e-3",
  "1e9",
  "100000",
  "28",
  "10deg",
  "64",
];
const junk = [
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  ",",
  ":",
  "=",
  "|>",
  "->",
  "...",
  "@",
  "^",
  "*",
  "-",
  "+",
  "\n",
];

function mutate(text: string, r: () => number): string {
  const toks = nnLexer.tokenize(text).tokens;
  if (toks.length === 0) return text;
  const n = 1 + Math.floor(r() * 3);
  let out = text;
  for (let k = 0; k < n; k++) {
    const ts = nnLexer.tokenize(out).tokens;
    if (ts.length === 0) break;
    const t = ts[Math.floor(r() * ts.length)]!;
    const s = t.startOffset;
    const e = t.endOffset! + 1;
    const pickFrom = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    switch (Math.floor(r() * 8)) {
      case 0: // another name in place of a name
      case 1:
        out = /^[A-Za-z_]/.test(t.image) ? out.slice(0, s) + pickFrom(names) + out.slice(e) : out;
        break;
      case 2: // another number in place of a number
        out = /^[0-9]/.test(t.image)
          ? out.slice(0, s) + pickFrom(numbers) + out.slice(e)
          : out.slice(0, s) + out.slice(e);
        break;
      case 3: // delete a token
        out = out.slice(0, s) + out.slice(e);
        break;
      case 4: // duplicate a token
        out = out.slice(0, e) + " " + t.image + out.slice(e);
        break;
      case 5: // insert junk
        out = out.slice(0, s) + pickFrom(junk) + " " + out.slice(s);
        break;
      case 6: {
        // drop the line holding the token
        const ls = out.lastIndexOf("\n", s - 1) + 1;
        const le = out.indexOf("\n", s);
        out = out.slice(0, ls) + (le < 0 ? "" : out.slice(le + 1));
        break;
      }
      default: {
        // swap with another token
        const u = ts[Math.floor(r() * ts.length)]!;
        if (u.startOffset > e) {
          out =
            out.slice(0, s) +
            u.image +
            out.slice(e, u.startOffset) +
            t.image +
            out.slice(u.endOffset! + 1);
        }
      }
    }
  }
  return out;
}

/** The AST without spans (and without the file path), to compare parses of different texts. */
function shape(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(shape);
  if (x && typeof x === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x))
      if (k !== "span" && k !== "opSpan" && k !== "path") o[k] = shape(v);
    return o;
  }
  return x;
}

test(`${CASES} mutations through the whole front end`, () => {
  const r = rng(20261128);
  let clean = 0;
  let roundTrips = 0;
  let slowest = 0;
  for (let i = 0; i < CASES; i++) {
    const base = corpus[i % corpus.length]!;
    const text = mutate(base.text, r);
    const path = `fuzz/${base.name}`;
    const t0 = performance.now();
    let result: ReturnType<typeof checkFile>;
    try {
      result = checkFile(path, { text });
    } catch (e) {
      throw new Error(
        `case ${i} (${base.name}) threw: ${(e as Error).stack}\n--- input ---\n${text}`,
      );
    }
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    assert.ok(ms < 5000, `case ${i} took ${ms.toFixed(0)} ms`);
    if (result.diagnostics.length === 0) clean++;
    for (const d of result.diagnostics) {
      assert.match(d.code, /^NN\d{4}$/);
      assert.ok(d.message.length > 0);
      const file = result.sources.get(d.span.file);
      assert.ok(file, `case ${i}: diagnostic ${d.code} in unknown file ${d.span.file}`);
      assert.ok(
        d.span.start >= 0 && d.span.start <= d.span.end && d.span.end <= file!.text.length,
        `case ${i}: span out of range`,
      );
    }
    // Formatting round trip wherever the case parses.
    const parsed = parseModule(new SourceFile(path, text));
    if (parsed.diagnostics.length === 0) {
      const f = formatModule(text, path);
      assert.ok("text" in f, `case ${i}: format refused a file that parses`);
      if ("text" in f) {
        const again = parseModule(new SourceFile(path, f.text));
        assert.is(
          again.diagnostics.length,
          0,
          `case ${i}: formatted text does not parse:\n${f.text}`,
        );
        assert.equal(
          shape(again.module),
          shape(parsed.module),
          `case ${i}: format changed the AST`,
        );
        roundTrips++;
      }
    }
  }
  assert.ok(clean < CASES, "some mutations must be wrong");
  assert.ok(roundTrips > CASES / 10, `only ${roundTrips} cases parsed`);
  console.log(
    `  fuzz: ${CASES} cases, ${clean} clean, ${roundTrips} format round trips, slowest ${slowest.toFixed(0)} ms`,
  );
});

test("the CLI answers mutated files with exit 0 or 1, positioned diagnostics, no stack trace", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-fuzz-"));
  try {
    const r = rng(7);
    const files: string[] = [];
    for (let i = 0; i < 24; i++) {
      const base = corpus[i % corpus.length]!;
      const f = join(dir, `case${i}.nn`);
      writeFileSync(f, mutate(base.text, r));
      files.push(f);
    }
    for (const f of files) {
      const p = spawnSync(process.execPath, [fromRoot("dist/bin/nnc.js"), "check", f], {
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.ok(p.status === 0 || p.status === 1, `exit ${p.status} for ${f}: ${p.stderr}`);
      assert.not.match(p.stderr, /\n\s+at /);
      if (p.status === 1)
        assert.match(p.stderr, new RegExp(`case\\d+\\.nn:\\d+:\\d+: error NN\\d{4}: `));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
