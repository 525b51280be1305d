/**
 * @file `nnc build`: the command's light entry (the body is compiler/emit/command.ts). The
 * build does not re-run itself to hide Dawn's stderr noise: only its kernel validator process
 * (compiler/emit/validator.ts) touches Dawn, and that process's stderr is filtered.
 */
export async function run(args: string[]): Promise<number> {
  const { buildCommand } = await import("../emit/command.js");
  return buildCommand(args);
}
