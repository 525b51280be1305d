/**
 * @file `nnc fmt [--check] FILE...`: formats `.nn` files in place with the canonical printer
 * (grammar/format.ts), writing each changed file through a temporary file and a rename.
 * `--check` writes nothing, lists the files that would change on stderr and exits 1 if any.
 * A file with syntax errors is left alone; its diagnostics are printed and the exit code is 1.
 * Usage errors (unknown flags, missing files) print one line and exit 2.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { renderDiagnostic, SourceMap } from "../diagnostics.js";
import { SourceFile } from "../source.js";
import { formatModule } from "../../grammar/format.js";
import { unreadable } from "../../runtime/fs-node.js";

const usage = `Usage: nnc fmt [--check] FILE...

Formats .nn files in place (two-space indentation, one |> per line in pipe chains,
comments kept).

Options:
  --check     write nothing; list the files that would change and exit 1 if any
  -h, --help  show this help
`;

export async function run(args: string[]): Promise<number> {
  let check = false;
  const files: string[] = [];
  for (const a of args) {
    if (a === "--help" || a === "-h") {
      process.stdout.write(usage);
      return 0;
    } else if (a === "--check") check = true;
    else if (a.startsWith("-") && a !== "-") {
      process.stderr.write(`nnc fmt: unknown option '${a}' (see nnc fmt --help)\n`);
      return 2;
    } else files.push(a);
  }
  if (files.length === 0) {
    process.stderr.write("nnc fmt: no files given (see nnc fmt --help)\n");
    return 2;
  }
  for (const f of files) {
    const problem = unreadable(f);
    if (problem !== null) {
      process.stderr.write(`nnc fmt: ${f}: ${problem}\n`);
      return 2;
    }
  }

  let failed = false;
  const changed: string[] = [];
  for (const path of files) {
    const text = readFileSync(path, "utf8");
    const result = formatModule(text, path);
    if ("diagnostics" in result) {
      const sources = new SourceMap();
      sources.add(new SourceFile(path, text));
      for (const d of result.diagnostics) {
        process.stderr.write(renderDiagnostic(sources, d) + "\n");
      }
      failed = true;
      continue;
    }
    if (result.text === text) continue;
    changed.push(path);
    if (!check) {
      const tmp = `${path}.nnc-fmt-${process.pid}.tmp`;
      writeFileSync(tmp, result.text);
      renameSync(tmp, path);
    }
  }
  if (check) {
    for (const path of changed) process.stderr.write(`${path}\n`);
    if (changed.length > 0) {
      process.stderr.write(
        `nnc fmt: ${changed.length} file${changed.length === 1 ? "" : "s"} would be reformatted\n`,
      );
    }
  }
  return failed || (check && changed.length > 0) ? 1 : 0;
}
