/**
 * @file `nnc build`: the command's light entry (the body is compiler/emit/command.ts). The
 * build does not re-run itself to hide Dawn's stderr noise: only its kernel validator process
 * (compiler/emit/validator.ts) touches Dawn, and that process's stderr is filtered. The
 * validator is started here, before the compiler loads, so Dawn sets up its device while this
 * process loads and runs the compiler.
 */
import { startValidator } from "../emit/validator.js";

/**
 * From a quick look at `args`: whether the build will validate kernels (not for `--help` or
 * `--emit`), and the `--device` value. buildCommand parses the arguments properly and starts
 * another validator when this guess was wrong, so the guess never changes what a build does.
 */
function guess(args: readonly string[]): { validate: boolean; device: string | undefined } {
  let device: string | undefined;
  for (const [i, a] of args.entries()) {
    if (a === "--") break;
    if (/^(-h|--help|--emit(=.*)?)$/.test(a)) return { validate: false, device };
    if (a === "--device") device = args[i + 1];
    else if (a.startsWith("--device=")) device = a.slice("--device=".length);
  }
  const kinds = [undefined, "auto", "gpu", "llvmpipe", "swiftshader"];
  return { validate: kinds.includes(device), device };
}

export async function run(args: string[]): Promise<number> {
  const g = guess(args);
  const early = g.validate ? { validator: startValidator(g.device), choice: g.device } : undefined;
  const { buildCommand } = await import("../emit/command.js");
  return buildCommand(args, early);
}
