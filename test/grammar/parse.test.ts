/**
 * @file Parsing each construct of the `.nn` language into the expected AST: kinds, names,
 * values and spans (as line:col-line:col), plus the check that grammar/cst.d.ts is what
 * grammar/gen-cst-dts.ts generates from the parser today.
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type * as ast from "../../compiler/ast.js";
import { SourceFile, type Span } from "../../compiler/source.js";
import { cstDts, cstDtsPath } from "../../grammar/gen-cst-dts.js";
import { parseModule } from "../../grammar/index.js";

function parse(text: string): { m: ast.Module; file: SourceFile } {
  const file = new SourceFile("t.nn", text);
  const r = parseModule(file);
  assert.equal(
    r.diagnostics.map((d) => d.message),
    [],
  );
  return { m: r.module, file };
}

/** `line:col-line:col` of a span (end exclusive). */
function at(file: SourceFile, s: Span): string {
  const a = file.position(s.start);
  const b = file.position(s.end);
  return `${a.line}:${a.column}-${b.line}:${b.column}`;
}

/** The body result of the first item (a model or block). */
function result(text: string): { e: ast.Expr; file: SourceFile } {
  const { m, file } = parse(text);
  const item = m.items[0] as ast.ModelDecl;
  return { e: item.body.result!, file };
}

test("model header, params with types, result type, body", () => {
  const { m, file } = parse("model Mnist(image: [28, 28, 1], n: int = 3) -> [10] {\n  image\n}\n");
  const model = m.items[0] as ast.ModelDecl;
  assert.is(model.kind, "Model");
  assert.is(model.name.name, "Mnist");
  assert.is(at(file, model.name.span), "1:7-1:12");
  assert.is(at(file, model.span), "1:1-3:2");
  const [image, n] = model.params;
  assert.is(image!.name.name, "image");
  assert.is(at(file, image!.span), "1:13-1:31");
  const tt = image!.type as ast.TensorTypeExpr;
  assert.is(tt.kind, "TensorType");
  assert.equal(
    tt.dims.map((d) => (d as ast.NumberLit).value),
    [28, 28, 1],
  );
  assert.is(n!.type!.kind, "ScalarType");
  assert.is((n!.default as ast.NumberLit).value, 3);
  assert.is(at(file, model.result!.span), "1:48-1:52");
  assert.is(model.body.kind, "Body");
  assert.is(at(file, model.body.span), "1:53-3:2");
  assert.is((model.body.result as ast.Ident).name, "image");
});

test("blocks and losses; param, state, let and assignment statements", () => {
  const { m, file } = parse(
    [
      "block dense(x: [..., n], units: int) -> [..., units] {",
      "  param w: [n, units] = glorot_uniform",
      "  state s: [units] int",
      "  let y = x @ w",
      "  s = s",
      "  y",
      "}",
      "loss mse(p: [n], t: [n]) { p - t }",
    ].join("\n"),
  );
  const dense = m.items[0] as ast.BlockDecl;
  assert.is(dense.role, "block");
  const x = dense.params[0]!.type as ast.TensorTypeExpr;
  assert.is(x.dims[0]!.kind, "Ellipsis");
  assert.is(at(file, x.dims[0]!.span), "1:17-1:20");
  const [param, state, let_, assign] = dense.body.stmts;
  assert.is(param!.kind, "Param");
  assert.is(at(file, param!.span), "2:3-2:39");
  assert.is(((param as ast.ParamDecl).init as ast.Ident).name, "glorot_uniform");
  assert.is(state!.kind, "State");
  assert.is((state as ast.StateDecl).type.dtype!.name, "int");
  assert.is((state as ast.StateDecl).init, null);
  assert.is(let_!.kind, "Let");
  assert.is(assign!.kind, "Assign");
  assert.is(at(file, assign!.span), "5:3-5:8");
  const mse = m.items[1] as ast.BlockDecl;
  assert.is(mse.role, "loss");
  assert.is(mse.name.name, "mse");
});

test("optimizer with state lines and an update rule", () => {
  const { m, file } = parse(
    "optimizer adam(lr = 0.001) {\n  state m = zeros, v = zeros\n  state k = ones\n  update(p, g, t) {\n    m = m * 0.9\n    p - lr * m\n  }\n}",
  );
  const o = m.items[0] as ast.OptimizerDecl;
  assert.is(o.kind, "Optimizer");
  assert.equal(
    o.state.map((s) => s.name.name),
    ["m", "v", "k"],
  );
  assert.is(at(file, o.state[1]!.span), "2:20-2:29");
  assert.equal(
    o.update.params.map((p) => p.name),
    ["p", "g", "t"],
  );
  assert.is(o.update.body.stmts.length, 1);
  assert.is(o.update.body.result!.kind, "Binary");
  assert.is(at(file, o.update.span), "4:3-7:4");
  assert.is(at(file, o.span), "1:1-8:2");
});

test("train with a model, settings (keywords as keys), noise and step entries", () => {
  const { m, file } = parse(
    "train Gan: G {\n  loss = mse; optimizer = adam(lr: 2e-4)\n  noise z: [64] = normal\n  step d { loss = 1 updates = D }\n  batch = search [32, 64]\n}",
  );
  const tr = m.items[0] as ast.TrainDecl;
  assert.is(tr.name.name, "Gan");
  assert.is(tr.model!.name, "G");
  assert.equal(
    tr.entries.map((e) => e.kind),
    ["Setting", "Setting", "Noise", "Step", "Setting"],
  );
  const opt = tr.entries[1] as ast.Setting;
  assert.is(opt.key.name, "optimizer");
  assert.is(at(file, opt.span), "2:15-2:41");
  const call = opt.value as ast.Call;
  assert.is(call.args[0]!.name!.name, "lr");
  assert.is((call.args[0]!.value as ast.NumberLit).value, 2e-4);
  const noise = tr.entries[2] as ast.NoiseDecl;
  assert.is(noise.type.dims.length, 1);
  const step = tr.entries[3] as ast.StepDecl;
  assert.equal(
    step.entries.map((s) => s.key.name),
    ["loss", "updates"],
  );
  const search = (tr.entries[4] as ast.Setting).value as ast.Search;
  assert.is(search.kind, "Search");
  assert.is(search.options.items.length, 2);
  assert.is(at(file, search.span), "5:11-5:26");
});

test("imports", () => {
  const { m, file } = parse('import "lib/layers.nn"');
  const imp = m.items[0] as ast.Import;
  assert.is(imp.kind, "Import");
  assert.is(imp.path.value, "lib/layers.nn");
  assert.is(at(file, imp.span), "1:1-1:23");
});

test("pipes: x |> f |> g(a) nests left, spans cover callee to ')'", () => {
  const { e, file } = result("model M(x: [1]) { x |> f |> g(a, k: 2) }");
  const outer = e as ast.Pipe;
  assert.is(outer.kind, "Pipe");
  assert.is(outer.right.kind, "Call");
  assert.is(at(file, outer.right.span), "1:29-1:39");
  assert.is(at(file, outer.span), "1:19-1:39");
  const inner = outer.left as ast.Pipe;
  assert.is(inner.kind, "Pipe");
  assert.is((inner.right as ast.Ident).name, "f");
  assert.is((inner.left as ast.Ident).name, "x");
});

test("precedence: compare < additive < multiplicative (@) < unary < power (right assoc)", () => {
  const { e, file } = result("model M(x: [1]) { a + b * c @ d < -e ^ f ^ g }");
  const cmp = e as ast.Binary;
  assert.is(cmp.op, "<");
  assert.is(at(file, cmp.opSpan), "1:33-1:34");
  const add = cmp.left as ast.Binary;
  assert.is(add.op, "+");
  const mul = add.right as ast.Binary;
  assert.is(mul.op, "@");
  assert.is((mul.left as ast.Binary).op, "*");
  const neg = cmp.right as ast.Unary;
  assert.is(neg.op, "-");
  const pow = neg.operand as ast.Binary;
  assert.is(pow.op, "^");
  assert.is((pow.left as ast.Ident).name, "e");
  assert.is((pow.right as ast.Binary).op, "^");
  assert.is(at(file, neg.span), "1:35-1:45");
});

test("literals: numbers with exponents and deg, strings with escapes, booleans", () => {
  const { e } = result(
    'model M(x: [1]) { [3, 0.5, 1e-3, 2.5E+4, 10deg, "a\\"b\\\\c", true, false] }',
  );
  const items = (e as ast.ListExpr).items;
  const nums = items.slice(0, 5) as ast.NumberLit[];
  assert.equal(
    nums.map((n) => [n.value, n.isInt, n.unit]),
    [
      [3, true, null],
      [0.5, false, null],
      [1e-3, false, null],
      [2.5e4, false, null],
      [10, true, "deg"],
    ],
  );
  assert.is(nums[2]!.text, "1e-3");
  assert.is((items[5] as ast.StringLit).value, 'a"b\\c');
  assert.is((items[6] as ast.BoolLit).value, true);
  assert.is((items[7] as ast.BoolLit).value, false);
});

test("records, parens, not, comparisons", () => {
  const { e, file } = result("model M(x: [1]) { { metric: val_accuracy, patience: (3) } }");
  const r = e as ast.RecordExpr;
  assert.is(r.kind, "Record");
  assert.equal(
    r.fields.map((f) => f.name.name),
    ["metric", "patience"],
  );
  assert.is(r.fields[1]!.value.kind, "Paren");
  assert.is(at(file, r.fields[1]!.value.span), "1:53-1:56");
  const { e: n } = result("model M(x: [1]) { not a != b }");
  assert.is((n as ast.Binary).op, "!=");
  assert.is(((n as ast.Binary).left as ast.Unary).op, "not");
});

test("the keyword `loss` as a record field's value is the name: early_stop's metric", () => {
  const { m, file } = parse(
    "train T: M {\n  loss = mse\n  early_stop = { metric: loss, patience: 2 }\n}\n",
  );
  const [loss, es] = (m.items[0] as ast.TrainDecl).entries as ast.Setting[];
  assert.is(loss!.key.name, "loss");
  assert.is((loss!.value as ast.Ident).name, "mse");
  const metric = (es!.value as ast.RecordExpr).fields[0]!;
  assert.is(metric.name.name, "metric");
  assert.is(metric.value.kind, "Ident");
  assert.is((metric.value as ast.Ident).name, "loss");
  assert.is(at(file, metric.value.span), "3:26-3:30");
  assert.is(at(file, metric.span), "3:18-3:30");
});

test("if / else if / else; an else-if is an else body holding the if", () => {
  const { e, file } = result(
    "model M(x: [1]) { if a { 1 } else if b { let y = 2; y } else { 3 } }",
  );
  const i = e as ast.If;
  assert.is(i.kind, "If");
  assert.is((i.cond as ast.Ident).name, "a");
  assert.is(at(file, i.then.span), "1:24-1:29");
  const inner = i.else!.result as ast.If;
  assert.is(inner.kind, "If");
  assert.equal(i.else!.span, inner.span);
  assert.is(inner.then.stmts.length, 1);
  assert.is((inner.else!.result as ast.NumberLit).value, 3);
});

test("scan with carries", () => {
  const { e, file } = result(
    "model M(x: [1]) { scan xt in x carry h = zeros([4]), c = 0 { h = xt + h; h } }",
  );
  const s = e as ast.Scan;
  assert.is(s.kind, "Scan");
  assert.is(s.item.name, "xt");
  assert.is((s.over as ast.Ident).name, "x");
  assert.equal(
    s.carries.map((c) => c.name.name),
    ["h", "c"],
  );
  assert.is(s.body.stmts[0]!.kind, "Assign");
  assert.is(at(file, s.span), "1:19-1:77");
});

test("comments come back with their spans; semicolons and trailing commas are accepted", () => {
  const file = new SourceFile("t.nn", "# one\nmodel M(x: [1],) { f(x, 2,); } # two\n");
  const r = parseModule(file);
  assert.equal(r.diagnostics, []);
  assert.equal(
    r.comments.map((c) => [c.text, at(file, c.span)]),
    [
      ["# one", "1:1-1:6"],
      ["# two", "2:32-2:37"],
    ],
  );
});

test("keywords need a word boundary: 'models', 'in_x', 'if2' are names", () => {
  const { e } = result("model M(x: [1]) { models + in_x + if2 }");
  const b = e as ast.Binary;
  assert.is(((b.left as ast.Binary).left as ast.Ident).name, "models");
  assert.is((b.right as ast.Ident).name, "if2");
});

test("grammar/cst.d.ts is generated from the current parser", async () => {
  assert.is(
    readFileSync(cstDtsPath, "utf8"),
    await cstDts(),
    "run node dist/grammar/gen-cst-dts.js",
  );
});

test.run();
