/**
 * @file A small, strict command-line parser shared by the nnc commands. Flags are declared with
 * their kind; unknown flags, missing values and bad numbers are usage errors (exit 2) with a
 * one-line message, never an exception reaching the user.
 */

export type FlagKind = "boolean" | "string" | "int" | "number";

export interface FlagSpec {
  readonly kind: FlagKind;
  readonly alias?: string;
  readonly help: string;
  /** The smallest value an `int` or `number` flag accepts (a smaller one is a usage error). */
  readonly min?: number;
}

export interface ParsedArgs {
  readonly flags: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly positionals: readonly string[];
}

export class UsageError extends Error {}

export function parseArgs(
  args: readonly string[],
  specs: Readonly<Record<string, FlagSpec>>,
): ParsedArgs {
  const flags: Record<string, string | number | boolean | undefined> = {};
  const positionals: string[] = [];
  const byAlias = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.alias) byAlias.set(spec.alias, name);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else {
      name = byAlias.get(arg.slice(1)) ?? arg.slice(1);
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option '${arg}'`);
    if (spec.kind === "boolean") {
      if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    if (spec.kind === "string") flags[name] = value;
    else {
      const n = Number(value);
      if (
        value.trim() === "" ||
        !Number.isFinite(n) ||
        (spec.kind === "int" && !Number.isInteger(n))
      ) {
        throw new UsageError(
          `option --${name} needs ${spec.kind === "int" ? "an integer" : "a number"}, got '${value}'`,
        );
      }
      if (spec.min !== undefined && n < spec.min) {
        throw new UsageError(
          `option --${name} needs ${spec.kind === "int" ? "an integer" : "a number"} of at least ${spec.min}, got '${value}'`,
        );
      }
      flags[name] = n;
    }
  }
  return { flags, positionals };
}

export function usage(
  command: string,
  synopsis: string,
  specs: Readonly<Record<string, FlagSpec>>,
): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const flag = `${s.alias ? `-${s.alias}, ` : ""}--${name}${s.kind === "boolean" ? "" : ` ${s.kind === "string" ? "VALUE" : "N"}`}`;
    return `  ${flag.padEnd(26)} ${s.help}`;
  });
  return [`Usage: nnc ${command} ${synopsis}`, "", "Options:", ...rows].join("\n");
}

/** The help line of `--dim`, shared by the commands that compile. */
export const dimFlag: FlagSpec = {
  kind: "string",
  help: "sizes of symbolic dimensions of the model's inputs, e.g. T=100 (several: T=100,U=8)",
};

/** Parses `--dim T=100,U=8` into `{ T: 100, U: 8 }` (undefined: none); a bad value is a usage error. */
export function parseDims(value: unknown): Record<string, number> | undefined {
  if (value === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const part of String(value).split(",")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([0-9]+)\s*$/.exec(part);
    if (!m || Number(m[2]) < 1) {
      throw new UsageError(
        `option --dim needs NAME=N with N a positive integer (several: T=100,U=8), got '${part}'`,
      );
    }
    out[m[1]!] = Number(m[2]);
  }
  return out;
}
