/**
 * @file A Prettier 3 plugin for `.nn` files: the language (extension `.nn`), a parser named `nn`
 * and a printer that emits the canonical text of grammar/format.ts, so that
 * `npx prettier --plugin ./dist/grammar/prettier-plugin.js --write "**\/*.nn"` formats exactly like
 * `nnc fmt`. The "AST" handed to Prettier is the already formatted text; a file with syntax errors
 * makes the parser throw an error carrying the first error's location, as Prettier expects.
 */
import { formatModule } from "./format.js";
import { SourceFile } from "../compiler/source.js";

interface NnRoot {
  readonly type: "nn-root";
  readonly formatted: string;
  readonly length: number;
}

export const languages = [
  { name: "nn", parsers: ["nn"], extensions: [".nn"], vscodeLanguageIds: ["nn"] },
];

export const parsers = {
  nn: {
    astFormat: "nn-canonical",
    parse(text: string, options?: { filepath?: string }): NnRoot {
      const path = options?.filepath ?? "<input>";
      const result = formatModule(text, path);
      if ("diagnostics" in result) {
        const file = new SourceFile(path, text);
        const first = result.diagnostics[0]!;
        const start = file.position(first.span.start);
        const end = file.position(first.span.end);
        const lines = result.diagnostics.map((d) => {
          const p = file.position(d.span.start);
          return `${p.line}:${p.column}: ${d.code}: ${d.message}`;
        });
        const err = new SyntaxError(lines.join("\n")) as SyntaxError & {
          loc: { start: { line: number; column: number }; end: { line: number; column: number } };
        };
        err.loc = { start, end };
        throw err;
      }
      return { type: "nn-root", formatted: result.text, length: text.length };
    },
    locStart: (): number => 0,
    locEnd: (node: NnRoot): number => node.length,
  },
};

export const printers = {
  "nn-canonical": {
    print(path: { node: NnRoot }): string {
      return path.node.formatted;
    },
  },
};

export default { languages, parsers, printers };
