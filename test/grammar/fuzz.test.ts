/**
 * @file Parser fuzzing: ~2000 seeded random mutations of the corpus (delete, duplicate or swap
 * tokens, insert random punctuation or characters, truncate). `parseModule` must never throw,
 * must stay fast, and every diagnostic must lie inside the file with a unique start.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SourceFile } from "../../compiler/source.js";
import { parseModule } from "../../grammar/index.js";
import { nnLexer } from "../../grammar/tokens.js";
import { corpus } from "./corpus.js";

/** mulberry32: a small seeded generator, so failures reproduce. */
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
  "^",
  "@",
  "-",
  ";",
  '"',
  "#",
  "$",
  "1e",
  "model",
  "loss",
  "let",
  "if",
  "else",
  "scan",
  "\n",
  "3",
  "x",
];

function mutate(text: string, r: () => number): string {
  const toks = nnLexer.tokenize(text).tokens.map((t) => [t.startOffset, t.endOffset! + 1] as const);
  const pick = () => toks[Math.floor(r() * toks.length)]!;
  const n = 1 + Math.floor(r() * 4);
  let s = text;
  for (let i = 0; i < n && toks.length > 0; i++) {
    const [a, b] = pick();
    if (b > s.length) continue;
    const op = Math.floor(r() * 6);
    if (op === 0) s = s.slice(0, a) + s.slice(b);
    else if (op === 1) s = s.slice(0, b) + " " + s.slice(a, b) + s.slice(b);
    else if (op === 2) {
      const [c, d] = pick();
      if (d <= a) s = s.slice(0, c) + s.slice(a, b) + s.slice(d, a) + s.slice(c, d) + s.slice(b);
    } else if (op === 3 || op === 4) {
      s = s.slice(0, a) + junk[Math.floor(r() * junk.length)]! + s.slice(a);
    } else s = s.slice(0, a + Math.floor(r() * (b - a)));
  }
  return s;
}

test("2000 mutations: never throws, fast, diagnostics inside the file", () => {
  const r = rng(20240611);
  const sources = Object.values(corpus);
  let withErrors = 0;
  let slowest = 0;
  for (let i = 0; i < 2000; i++) {
    const text = mutate(sources[i % sources.length]!, r);
    const t0 = performance.now();
    const result = parseModule(new SourceFile("f.nn", text));
    slowest = Math.max(slowest, performance.now() - t0);
    const starts = new Set<number>();
    for (const d of result.diagnostics) {
      assert.ok(d.code !== "NN1099", `internal error on mutation ${i}: ${d.message}\n${text}`);
      assert.ok(
        d.span.start >= 0 && d.span.start <= d.span.end && d.span.end <= text.length,
        `span out of file on mutation ${i}`,
      );
      assert.ok(!starts.has(d.span.start), `duplicate diagnostic on mutation ${i}`);
      starts.add(d.span.start);
      assert.ok(d.message.length > 0);
    }
    assert.is(result.module.kind, "Module");
    if (result.diagnostics.length > 0) withErrors++;
  }
  assert.ok(withErrors > 1000, `only ${withErrors} mutations produced errors`);
  assert.ok(slowest < 500, `slowest parse took ${slowest.toFixed(0)} ms`);
});

test("arbitrary bytes and pathological nesting do not throw", () => {
  const r = rng(7);
  for (let i = 0; i < 200; i++) {
    const len = Math.floor(r() * 200);
    let s = "";
    for (let j = 0; j < len; j++) s += String.fromCharCode(Math.floor(r() * 0x3000));
    parseModule(new SourceFile("b.nn", s));
  }
  const nested = (n: number) => `model M(x: [1]) { ${"(".repeat(n)}x${")".repeat(n)} }`;
  assert.equal(parseModule(new SourceFile("d.nn", nested(60))).diagnostics, []);
  // Deeper than the parser's limit (cold, `nnc check` overflowed the stack at about 200): one
  // NN1008 where it went too deep.
  assert.equal(
    parseModule(new SourceFile("d.nn", nested(300))).diagnostics.map((d) => d.code),
    ["NN1008"],
  );
  parseModule(new SourceFile("e.nn", "{".repeat(2000)));
  parseModule(new SourceFile("e.nn", ""));
});

test.run();
