/**
 * @file The exhaustive table of WGSL emitters, one per primitive. Sources (inputs, parameters,
 * state, constants) need no kernel; reshape is a view of its input's buffer; everything else
 * produces one or more kernels (see the modules each entry comes from).
 */
import type { OpKind } from "../primitives.js";
import type { Emitted, Emitter } from "./context.js";
import {
  avgpoolEmitter,
  avgpoolGradEmitter,
  conv2dEmitter,
  conv2dGradFilterEmitter,
  conv2dGradInputEmitter,
  maxpoolEmitter,
  maxpoolGradEmitter,
} from "./conv.js";
import {
  binaryEmitter,
  castEmitter,
  randomEmitter,
  unaryEmitter,
  whereEmitter,
} from "./elementwise.js";
import {
  broadcastToEmitter,
  concatEmitter,
  gatherEmitter,
  padEmitter,
  scatterAddEmitter,
  sliceEmitter,
  transposeEmitter,
} from "./layout.js";
import { matmulEmitter } from "./matmul.js";
import { argmaxEmitter, reduceMaxEmitter, reduceSumEmitter } from "./reduce.js";

const source = (): Emitted => ({ kind: "source" });

export const emitters: { readonly [K in OpKind]: Emitter<K> } = {
  input: source,
  param: source,
  state: source,
  constant: source,
  random_uniform: randomEmitter("uniform"),
  random_normal: randomEmitter("normal"),
  neg: unaryEmitter("neg"),
  exp: unaryEmitter("exp"),
  log: unaryEmitter("log"),
  sqrt: unaryEmitter("sqrt"),
  rsqrt: unaryEmitter("rsqrt"),
  tanh: unaryEmitter("tanh"),
  sigmoid: unaryEmitter("sigmoid"),
  relu: unaryEmitter("relu"),
  abs: unaryEmitter("abs"),
  sign: unaryEmitter("sign"),
  sin: unaryEmitter("sin"),
  cos: unaryEmitter("cos"),
  floor: unaryEmitter("floor"),
  square: unaryEmitter("square"),
  reciprocal: unaryEmitter("reciprocal"),
  add: binaryEmitter("add"),
  sub: binaryEmitter("sub"),
  mul: binaryEmitter("mul"),
  div: binaryEmitter("div"),
  pow: binaryEmitter("pow"),
  max: binaryEmitter("max"),
  min: binaryEmitter("min"),
  greater: binaryEmitter("greater"),
  greater_equal: binaryEmitter("greater_equal"),
  less: binaryEmitter("less"),
  less_equal: binaryEmitter("less_equal"),
  equal: binaryEmitter("equal"),
  not_equal: binaryEmitter("not_equal"),
  where: whereEmitter,
  cast: castEmitter,
  reduce_sum: reduceSumEmitter,
  reduce_max: reduceMaxEmitter,
  argmax: argmaxEmitter,
  reshape: () => ({ kind: "view" }),
  transpose: transposeEmitter,
  broadcast_to: broadcastToEmitter,
  slice: sliceEmitter,
  pad: padEmitter,
  concat: concatEmitter,
  matmul: matmulEmitter,
  conv2d: conv2dEmitter,
  conv2d_grad_input: conv2dGradInputEmitter,
  conv2d_grad_filter: conv2dGradFilterEmitter,
  maxpool2d: maxpoolEmitter,
  maxpool2d_grad: maxpoolGradEmitter,
  avgpool2d: avgpoolEmitter,
  avgpool2d_grad: avgpoolGradEmitter,
  gather: gatherEmitter,
  scatter_add: scatterAddEmitter,
};
