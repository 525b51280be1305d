/** @file `nnc train` (not implemented yet). */
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("nnc train: not implemented yet\n");
  return 2;
}
