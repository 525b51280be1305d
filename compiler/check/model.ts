/**
 * @file Instantiating a model on fresh inputs: each tensor parameter of the model becomes an
 * `input` source node of shape `[batch, ...per-sample shape]`; names in the shapes that are not
 * bound (`T` in `tokens: [T] int`) become symbolic dimensions, replaced by numbers when
 * lowering binds them. Hyper-parameters (non-tensor parameters) come from the arguments of a
 * partial model call (`model = Mlp(hidden: 64)`) or their defaults. The body is then elaborated
 * like any block call, recording the model's top-level layer rows.
 */
import type * as ast from "../ast.js";
import type { Shape } from "../dims.js";
import type { DType } from "../primitives.js";
import type { Span } from "../source.js";
import { type Elab, type LayerRow, Scope } from "./elaborate.js";
import { type ArgValue, type BoundArgs, type Value, noArgs } from "./values.js";

export interface ModelInput {
  readonly name: string;
  readonly node: number;
  readonly shape: Shape; // per sample
  readonly dtype: DType;
}

export interface ModelRun {
  readonly inputs: readonly ModelInput[];
  readonly output: Value;
  readonly rows: readonly LayerRow[];
}

/**
 * Runs a model on new input nodes (named after its parameters, or `inputName(param)`).
 * `args` holds hyper-parameters already given; `feed` may supply tensors for inputs.
 */
export function runModel(
  e: Elab,
  decl: ast.ModelDecl,
  args: BoundArgs = noArgs,
  span: Span = decl.name.span,
  feed: ReadonlyMap<string, Value> = new Map(),
): ModelRun {
  const file = e.program.fileOf.get(decl)!;
  const scope = new Scope(null, file);
  const bound = new Map<string, ArgValue>();
  args.positional.forEach((a, i) => {
    const p = decl.params[i];
    if (p) bound.set(p.name.name, a);
  });
  for (const [k, v] of args.named) bound.set(k, v);
  const inputs: ModelInput[] = [];
  let ok = true;
  for (const p of decl.params) {
    if (bound.has(p.name.name)) continue;
    const fed = feed.get(p.name.name);
    if (fed) {
      bound.set(p.name.name, { value: fed, span: p.name.span });
      continue;
    }
    if (p.type?.kind === "TensorType") {
      // The per-sample shape; names not bound become symbolic dimensions.
      const shape = e.evalShape(p.type, scope, "a model input", "a model input", true);
      if (!shape) {
        ok = false;
        continue;
      }
      const dtype: DType = p.type.dtype?.name === "int" ? "i32" : "f32";
      const node = e.b.source("input", p.name.name, { shape: [e.batch, ...shape], dtype }, p.span);
      inputs.push({ name: p.name.name, node, shape, dtype });
      bound.set(p.name.name, { value: { kind: "tensor", node, batched: true }, span: p.name.span });
    } else if (!p.default) {
      e.report("NN2030", p.name.span, { name: p.name.name });
      ok = false;
    }
  }
  const rows: LayerRow[] = [];
  if (!ok) return { inputs, output: { kind: "error" }, rows };
  const output = e.callBlock(decl, bound, span, rows);
  return { inputs, output, rows };
}
