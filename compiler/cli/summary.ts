/** @file `nnc summary` (not implemented yet). */
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("nnc summary: not implemented yet\n");
  return 2;
}
