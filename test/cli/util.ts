/**
 * @file What the CLI tests share: running `nnc` as a user runs it, in a folder, to the end.
 */
import { spawnSync } from "node:child_process";
import { fromRoot } from "../util/golden.js";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `node dist/bin/nnc.js ARGS` in `cwd`, with heuristic kernel parameters (NNC_TUNE=0, so no
 * test waits for a kernel search) and `env` on top of this process's environment.
 */
export function nncIn(
  cwd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): CliResult {
  const r = spawnSync(process.execPath, [fromRoot("dist/bin/nnc.js"), ...args], {
    cwd,
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, NNC_TUNE: "0", ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
