/** @file Lowering a checked train run to graphs with concrete shapes (in progress). */
export interface LoweredTrain {
  readonly name: string;
}
export interface LowerOptions {
  readonly batch: number;
}
export function lowerTrain(): LoweredTrain {
  return { name: "" };
}
