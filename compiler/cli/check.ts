/** @file `nnc check` (not implemented yet). */
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("nnc check: not implemented yet\n");
  return 2;
}
