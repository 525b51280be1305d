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
  /** The largest value an `int` or `number` flag accepts (a larger one is a usage error). */
  readonly max?: number;
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
    else flags[name] = numberFlag(name, spec, value);
  }
  return { flags, positionals };
}

/**
 * The value of a numeric flag, from its `min` to its `max`: an `int` takes plain decimal digits
 * only (`1e3`, `0x10` and `1.0` are usage errors), and no more digits than a number holds
 * exactly (within Number.MAX_SAFE_INTEGER) where it has no `min` or `max`.
 */
function numberFlag(name: string, spec: FlagSpec, value: string): number {
  const int = spec.kind === "int";
  const n = Number(value);
  const what = int ? "an integer" : "a number";
  if (value.trim() === "" || !Number.isFinite(n) || (int && !/^[+-]?[0-9]+$/.test(value))) {
    throw new UsageError(`option --${name} needs ${what}, got '${value}'`);
  }
  const min = spec.min ?? (int ? Number.MIN_SAFE_INTEGER : -Infinity);
  const max = spec.max ?? (int ? Number.MAX_SAFE_INTEGER : Infinity);
  if (n < min || n > max) {
    const range =
      spec.min !== undefined && spec.max !== undefined
        ? `from ${min} to ${max}`
        : n < min
          ? `of at least ${min}`
          : `of at most ${max}`;
    throw new UsageError(`option --${name} needs ${what} ${range}, got '${value}'`);
  }
  return n;
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

/**
 * Parses `--dim T=100,U=8` into `{ T: 100, U: 8 }` (undefined: none); a bad value, or a name
 * given twice, is a usage error.
 */
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
    if (m[1]! in out) {
      throw new UsageError(`option --dim gives ${m[1]} twice, in '${String(value)}'`);
    }
    out[m[1]!] = Number(m[2]);
  }
  return out;
}
