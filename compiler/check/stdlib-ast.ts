/**
 * @file The stdlib's syntax trees, saved. Every command parses all of `stdlib/*.nn` before the
 * user's files: about 13 KB of source, yet a tenth of a second of a short `nnc build`, as the
 * parser is still cold. `npm run build` (scripts/bundle.ts) writes `dist/stdlib-ast.json` with
 * each stdlib file's name, the SHA-1 of its text and its AST, and a fingerprint of the parser
 * (the SHA-1 of the compiled grammar files). `readStdlibAst` gives the saved trees only when the
 * fingerprint and every file's hash match, so an edited stdlib file or grammar is parsed as
 * before, never answered from a stale tree. Only files that parsed without a diagnostic are
 * saved. Imports only Node built-ins and types.
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Module } from "../ast.js";

/** Where the saved trees live (this file is dist/compiler/check/stdlib-ast.js). */
export const stdlibAstPath = fileURLToPath(new URL("../../stdlib-ast.json", import.meta.url));

/** The compiled files that make a tree from a `.nn` text. */
const grammarFiles = ["index.js", "parser.js", "to-ast.js", "tokens.js"].map((f) =>
  fileURLToPath(new URL(`../../grammar/${f}`, import.meta.url)),
);

interface SavedFile {
  readonly name: string;
  readonly sha1: string;
  readonly module: Module;
}

interface SavedStdlib {
  readonly version: 1;
  readonly parser: string;
  readonly files: readonly SavedFile[];
}

function sha1(text: string | Uint8Array): string {
  return createHash("sha1").update(text).digest("hex");
}

/** The SHA-1 of the compiled grammar files, or undefined when one cannot be read. */
export function parserFingerprint(): string | undefined {
  const h = createHash("sha1");
  try {
    for (const f of grammarFiles) h.update(readFileSync(f)).update("\0");
  } catch {
    return undefined;
  }
  return h.digest("hex");
}

/** One stdlib file: its name in stdlib/ and its text. */
export interface StdlibText {
  readonly name: string;
  readonly text: string;
}

/**
 * The saved trees of `files` (in their order), or undefined unless the save in `path` was made
 * by this parser from exactly these texts.
 */
export function readStdlibAst(
  files: readonly StdlibText[],
  path = stdlibAstPath,
): Module[] | undefined {
  let saved: SavedStdlib;
  try {
    saved = JSON.parse(readFileSync(path, "utf8")) as SavedStdlib;
  } catch {
    return undefined;
  }
  if (saved.version !== 1 || saved.parser !== parserFingerprint()) return undefined;
  const byName = new Map(saved.files.map((f) => [f.name, f]));
  const out: Module[] = [];
  for (const f of files) {
    const s = byName.get(f.name);
    if (!s || s.sha1 !== sha1(f.text)) return undefined;
    out.push(s.module);
  }
  return out;
}

/**
 * Saves the trees of `files` to `path` (through a temporary file and a rename), the ones that
 * parsed without diagnostics; returns how many were saved.
 */
export function writeStdlibAst(
  files: readonly (StdlibText & { module: Module; diagnostics: readonly unknown[] })[],
  path = stdlibAstPath,
): number {
  const parser = parserFingerprint();
  if (parser === undefined) throw new Error("the compiled grammar files are missing");
  const kept = files.filter((f) => f.diagnostics.length === 0);
  const data: SavedStdlib = {
    version: 1,
    parser,
    files: kept.map((f) => ({ name: f.name, sha1: sha1(f.text), module: f.module })),
  };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data));
  renameSync(tmp, path);
  return kept.length;
}
