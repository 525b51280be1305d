/**
 * @file Loading a program: the entry file, the files it imports (paths relative to the
 * importing file; a missing file or a cycle is a diagnostic at the import's string), and the
 * stdlib prelude (every `stdlib/*.nn`). It builds the global name tables: a file sees its own
 * items, then the items of the files it imports, then the stdlib; the stdlib sees itself.
 * A name defined twice in one file, or in a file and a file it imports, is an error; user code
 * may shadow stdlib names. Paths in spans are shown relative to `displayRoot` (the working
 * directory by default); stdlib files are shown as `stdlib/<name>.nn`. With `stdlibAst` the
 * stdlib's trees come from the parse saved at build time when it matches (stdlib-ast.ts).
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BlockDecl, Item, ModelDecl, Module, OptimizerDecl, TrainDecl } from "../ast.js";
import { type Diagnostic, SourceMap } from "../diagnostics.js";
import { diag } from "../messages.js";
import { SourceFile } from "../source.js";
import { readStdlibAst } from "./stdlib-ast.js";

export type Decl = BlockDecl | ModelDecl | OptimizerDecl;

export interface LoadedFile {
  readonly path: string; // as shown in diagnostics
  readonly abs: string;
  readonly source: SourceFile;
  readonly module: Module;
  readonly stdlib: boolean;
  readonly imports: readonly string[]; // absolute paths
}

export type ParseFn = (file: SourceFile) => {
  module: Module;
  diagnostics: readonly Diagnostic[];
};

export interface Program {
  readonly entry: LoadedFile;
  /** User files in load order (entry first), then stdlib files. */
  readonly files: readonly LoadedFile[];
  readonly sources: SourceMap;
  /** Names visible at module level in each file (by absolute path). */
  readonly globals: ReadonlyMap<string, ReadonlyMap<string, Decl>>;
  /** The file each declaration lives in. */
  readonly fileOf: ReadonlyMap<Decl | TrainDecl, LoadedFile>;
  /** Train runs visible from the entry file (its own and its imports'). */
  readonly trains: ReadonlyMap<string, TrainDecl>;
}

export const stdlibDir = fileURLToPath(new URL("../../../stdlib/", import.meta.url));

function isDecl(item: Item): item is Decl {
  return item.kind === "Block" || item.kind === "Model" || item.kind === "Optimizer";
}

let stdlibCache:
  { parse: ParseFn; saved: boolean; files: LoadedFile[]; diagnostics: Diagnostic[] } | undefined;

/** The stdlib's files, parsed with `parse`, or their saved trees when `saved` and they match. */
function loadStdlib(
  parse: ParseFn,
  saved: boolean,
): { files: LoadedFile[]; diagnostics: Diagnostic[] } {
  if (stdlibCache && stdlibCache.parse === parse && stdlibCache.saved === saved) return stdlibCache;
  const names = existsSync(stdlibDir)
    ? readdirSync(stdlibDir)
        .filter((n) => n.endsWith(".nn"))
        .sort()
    : [];
  const texts = names.map((name) => ({
    name,
    text: readFileSync(resolve(stdlibDir, name), "utf8"),
  }));
  const trees = saved ? readStdlibAst(texts) : undefined;
  const files: LoadedFile[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const [i, { name, text }] of texts.entries()) {
    const source = new SourceFile(`stdlib/${name}`, text);
    let module = trees?.[i];
    if (!module) {
      const r = parse(source);
      diagnostics.push(...r.diagnostics);
      module = r.module;
    }
    const abs = resolve(stdlibDir, name);
    files.push({ path: source.path, abs, source, module, stdlib: true, imports: [] });
  }
  stdlibCache = { parse, saved, files, diagnostics };
  return stdlibCache;
}

export interface LoadOptions {
  readonly parse: ParseFn;
  /**
   * Take the stdlib's trees from the parse saved at build time when it matches the stdlib and
   * the compiled grammar (only when `parse` is the grammar's parseModule).
   */
  readonly stdlibAst?: boolean;
  /** Paths in diagnostics are relative to this directory (default: the working directory). */
  readonly displayRoot?: string;
  /** Source text to use for the entry file instead of reading it. */
  readonly text?: string;
}

export function loadProgram(
  entryPath: string,
  options: LoadOptions,
): { program: Program | null; diagnostics: Diagnostic[]; sources: SourceMap } {
  const sources = new SourceMap();
  const diagnostics: Diagnostic[] = [];
  const root = options.displayRoot ?? process.cwd();
  const display = (abs: string): string => {
    const rel = relative(root, abs);
    return rel.startsWith("..") || isAbsolute(rel) ? abs : rel;
  };

  const std = loadStdlib(options.parse, options.stdlibAst === true);
  for (const f of std.files) sources.add(f.source);
  diagnostics.push(...std.diagnostics);

  const byAbs = new Map<string, LoadedFile>();
  const order: LoadedFile[] = [];

  const load = (abs: string, text: string, stack: string[]): LoadedFile => {
    const source = new SourceFile(display(abs), text);
    sources.add(source);
    const r = options.parse(source);
    diagnostics.push(...r.diagnostics);
    const imports: string[] = [];
    const file: LoadedFile = {
      path: source.path,
      abs,
      source,
      module: r.module,
      stdlib: false,
      imports,
    };
    byAbs.set(abs, file);
    order.push(file);
    for (const item of r.module.items) {
      if (item.kind !== "Import") continue;
      const target = resolve(dirname(abs), item.path.value);
      const chain = [...stack, abs];
      if (chain.includes(target)) {
        const from = chain.indexOf(target);
        const cycle = [...chain.slice(from), target].map(display).join(" -> ");
        diagnostics.push(diag("NN2020", item.path.span, { cycle }));
        continue;
      }
      if (!existsSync(target) || !statSync(target).isFile()) {
        diagnostics.push(diag("NN2019", item.path.span, { path: item.path.value }));
        continue;
      }
      imports.push(target);
      if (!byAbs.has(target)) load(target, readFileSync(target, "utf8"), chain);
    }
    return file;
  };

  const entryAbs = resolve(entryPath);
  const entry = load(entryAbs, options.text ?? readFileSync(entryAbs, "utf8"), []);

  // Global name tables.
  const fileOf = new Map<Decl | TrainDecl, LoadedFile>();
  const own = new Map<LoadedFile, Map<string, Decl>>();
  const collect = (f: LoadedFile): Map<string, Decl> => {
    const m = new Map<string, Decl>();
    for (const item of f.module.items) {
      if (item.kind === "Train") {
        fileOf.set(item, f);
        continue;
      }
      if (!isDecl(item)) continue;
      fileOf.set(item, f);
      if (m.has(item.name.name)) {
        diagnostics.push(diag("NN2016", item.name.span, { name: item.name.name }));
        continue;
      }
      m.set(item.name.name, item);
    }
    own.set(f, m);
    return m;
  };
  const stdNames = new Map<string, Decl>();
  for (const f of std.files) for (const [k, v] of collect(f)) stdNames.set(k, v);
  for (const f of order) collect(f);

  const globals = new Map<string, ReadonlyMap<string, Decl>>();
  for (const f of std.files) globals.set(f.abs, stdNames);
  for (const f of order) {
    const g = new Map(stdNames);
    for (const imp of f.imports) {
      const target = byAbs.get(imp);
      if (!target) continue;
      for (const [k, v] of own.get(target)!) g.set(k, v);
    }
    for (const [k, v] of own.get(f)!) {
      const clash = f.imports
        .map((i) => own.get(byAbs.get(i)!)?.get(k))
        .find((d) => d !== undefined);
      if (clash) diagnostics.push(diag("NN2016", v.name.span, { name: k }));
      g.set(k, v);
    }
    globals.set(f.abs, g);
  }

  const trains = new Map<string, TrainDecl>();
  for (const f of [entry, ...entry.imports.map((i) => byAbs.get(i)!).filter(Boolean)]) {
    for (const item of f.module.items) {
      if (item.kind !== "Train") continue;
      if (trains.has(item.name.name) && f === entry) {
        diagnostics.push(diag("NN2016", item.name.span, { name: item.name.name }));
      }
      if (!trains.has(item.name.name) || f === entry) trains.set(item.name.name, item);
    }
  }

  const program: Program = {
    entry,
    files: [...order, ...std.files],
    sources,
    globals,
    fileOf,
    trains,
  };
  return { program, diagnostics, sources };
}
