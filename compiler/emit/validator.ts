/**
 * @file The parent side of `nnc build`'s kernel validation. `startValidator` starts the
 * validator process (validate-child.ts) right away, so Dawn creates its devices while this
 * process parses and compiles the `.nn` file, and Dawn's stderr noise is filtered without
 * re-running the whole command in a child. `compile` hands it the kernels; this process can
 * format the module meanwhile, since the kernels compile in the other process.
 */
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { helperExecArgv, spawnQuiet, type QuietChild } from "../../runtime/quiet.js";
import type { KernelSource } from "./kernel-compile.js";
import { replyMarker, type ValidatorReply } from "./validator-protocol.js";

const childScript = fileURLToPath(new URL("./validate-child.js", import.meta.url));

export interface Validator {
  /** Compiles `kernels` in the validator process; resolves to its reply. Call at most once. */
  compile(kernels: readonly KernelSource[]): Promise<ValidatorReply>;
  /** Ends the validator process when no reply is wanted (or no longer wanted). */
  cancel(): void;
}

/** Starts the validator process for `nnc build --device CHOICE` (undefined: the default). */
export function startValidator(choice: string | undefined): Validator {
  const quiet: QuietChild = spawnQuiet([childScript, choice ?? ""], {
    stdin: "pipe",
    stdout: "pipe",
    forwardSignals: false,
    execArgv: helperExecArgv(),
  });
  const { child } = quiet;
  let stdout = "";
  // The reply line, or undefined when the process ended without one.
  let replied: (line: string | undefined) => void = () => {};
  const reply = new Promise<string | undefined>((resolve) => (replied = resolve));
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    stdout += chunk;
    const at = stdout.indexOf(replyMarker);
    const end = stdout.indexOf("\n", at);
    if (at >= 0 && end > at) replied(stdout.slice(at + replyMarker.length, end));
  });
  void quiet.exit.then(() => replied(undefined));
  // A validator whose parent is gone has nothing left to do.
  child.stdin!.on("error", () => {});
  const onExit = () => child.kill();
  process.once("exit", onExit);
  let done = false;
  const finish = () => {
    done = true;
    process.off("exit", onExit);
  };
  return {
    async compile(kernels) {
      child.stdin!.end(JSON.stringify({ kernels }));
      const line = await reply;
      finish();
      // The reply is all this process wants: it need not wait for Dawn's teardown to end. What
      // the validator still writes goes to the pipes, never to the terminal.
      if (line !== undefined) {
        child.unref();
        for (const pipe of [child.stdout, child.stderr]) (pipe as Socket | null)?.unref();
      }
      if (line === undefined) {
        throw new Error(`the kernel validator exited with code ${await quiet.exit}`);
      }
      return JSON.parse(line) as ValidatorReply;
    },
    cancel() {
      if (done) return;
      finish();
      child.kill();
    },
  };
}
