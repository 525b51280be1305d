/** @file `nnc build` (not implemented yet). */
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("nnc build: not implemented yet\n");
  return 2;
}
