/**
 * @file `nnc build`: the command's light entry. A build that validates kernels uses the Dawn
 * device, so the command first re-runs itself with Dawn's stderr noise filtered, and only then
 * loads the compiler (compiler/emit/command.ts), so the filtering parent stays small and quick.
 * Printing a phase (`--emit`) or the help needs no device and runs in process.
 */
import { relaunchQuietly } from "../../runtime/quiet.js";

export async function run(args: string[]): Promise<number> {
  const printsOnly = args.some((a) => /^(-h|--help|--emit(=.*)?)$/.test(a));
  if (!printsOnly) {
    const quiet = await relaunchQuietly();
    if (quiet !== undefined) return quiet;
  }
  const { buildCommand } = await import("../emit/command.js");
  return buildCommand(args);
}
