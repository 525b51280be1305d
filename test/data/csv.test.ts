import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { renderNncError } from "../../runtime/errors.js";
import { parseCsv } from "../../runtime/data/csv.js";
import { readCsvFile } from "../../runtime/data/node.js";
import { fails } from "../util/errors.js";

const iris = [
  "sepal_length,sepal_width,species",
  "5.1,3.5,setosa",
  "7.0,3.2,versicolor",
  "",
  "6.3,3.3,virginica",
  "4.9,3.0,setosa",
  "",
].join("\n");

test("features, labels and sorted class names", () => {
  const ds = parseCsv(iris, "iris.csv", { label: "species" });
  assert.is(ds.count, 4);
  assert.equal(ds.sampleShape, [2]);
  assert.equal(ds.classNames, ["setosa", "versicolor", "virginica"]);
  assert.is(ds.classes, 3);
  assert.equal([...ds.labels], [0, 1, 2, 0]);
  assert.equal([...ds.inputs], [5.1, 3.5, 7.0, 3.2, 6.3, 3.3, 4.9, 3.0].map(Math.fround));
});

test("the label column may be anywhere; numeric labels sort as numbers", () => {
  const text = "y,a,b\r\n10,1,2\r\n2,3,4\r\n9,-5e-1,+.5\r\n";
  const ds = parseCsv(text, "n.csv", { label: "y" });
  assert.equal(ds.classNames, ["2", "9", "10"]);
  assert.equal([...ds.labels], [2, 0, 1]);
  assert.equal([...ds.inputs], [1, 2, 3, 4, -0.5, 0.5]);
});

test("explicit classes, chosen features, quotes, a BOM and another delimiter", () => {
  const text = '\ufeffid;"x, quoted";label;z\n1;"2";"b";3\n4;" 5 ";a;6\n';
  const ds = parseCsv(text, "q.csv", {
    label: "label",
    classes: ["b", "a"],
    features: ["z", "x, quoted"],
    delimiter: ";",
  });
  assert.equal([...ds.labels], [0, 1]);
  assert.equal([...ds.inputs], [3, 2, 6, 5]);
  const escaped = parseCsv('a,"l"\n1,"say ""hi"""\n', "e.csv", { label: "l" });
  assert.equal(escaped.classNames, ['say "hi"']);
});

test("a quoted field may span lines; later positions stay right", () => {
  const text = 'a,l\n1,"two\nlines"\nx,ok\n';
  const e = fails(() => parseCsv(text, "m.csv", { label: "l" }));
  assert.is(e.message, "m.csv:4:1: 'x' in column 'a' is not a number");
});

test("errors name file:line:column", () => {
  const cases: [string, string, string][] = [
    [
      "",
      "NN5201",
      "t.csv:1:1: the file is empty; a CSV file starts with a header row naming the columns",
    ],
    ["a,label\n", "NN5201", "t.csv:2:1: the file has a header but no data rows"],
    ["a,b\n1,2\n", "NN5202", "t.csv:1:1: no column named 'label' in the header (columns: a, b)"],
    ["a,label\n1,x\n2,y,3\n", "NN5203", "t.csv:3:5: row has 3 fields but the header has 2"],
    ["a,b,label\n1,2,x\n3\n", "NN5203", "t.csv:3:2: row has 1 fields but the header has 3"],
    ["a,label\n1,x\n1.2.3,y\n", "NN5204", "t.csv:3:1: '1.2.3' in column 'a' is not a number"],
    ["label,a\nx,1\ny,\n", "NN5204", "t.csv:3:3: an empty value in column 'a' is not a number"],
    [
      'a,label\n1,x\n2,"y\n',
      "NN5206",
      "t.csv:3:3: unterminated quoted field (the quote opened here is never closed)",
    ],
    [
      'a,label\n"1"2,x\n',
      "NN5201",
      't.csv:2:4: unexpected "2" after a closing quote; a quoted field ends at the quote',
    ],
    [
      "a,label,a\n1,x,2\n",
      "NN5201",
      "t.csv:1:9: column 'a' appears twice in the header (columns 1 and 3)",
    ],
  ];
  for (const [text, code, message] of cases) {
    const e = fails(() => parseCsv(text, "t.csv", { label: "label" }));
    assert.is(e.message, message, JSON.stringify(text));
    assert.is(e.code, code, JSON.stringify(text));
  }
  const c = fails(() =>
    parseCsv("a,label\n1,x\n2,z\n", "t.csv", { label: "label", classes: ["x", "y"] }),
  );
  assert.is(c.message, "t.csv:3:3: label 'z' in column 'label' is not one of the classes [x, y]");
  assert.is(
    renderNncError(c),
    "t.csv:3:3: error NN5205: label 'z' in column 'label' is not one of the classes [x, y]",
  );
  const f = fails(() => parseCsv("a,label\n1,x\n", "t.csv", { label: "label", features: ["b"] }));
  assert.is(f.code, "NN5202");
});

test("values a 32-bit float cannot hold are errors at their field, as 'nan' is", () => {
  const cases: [string, string, string][] = [
    ["a,y\n1,0\n1e999,1\n", "NN5207", "t.csv:3:1: '1e999' in column 'a' is out of the range"],
    ["a,y\n-4e38,0\n", "NN5207", "t.csv:2:1: '-4e38' in column 'a' is out of the range"],
    ["a,y\nnan,0\n", "NN5204", "t.csv:2:1: 'nan' in column 'a' is not a number"],
    ["a,y\n1,inf\n", "NN5204", "t.csv:2:3: 'inf' in column 'y' is not a number"],
  ];
  for (const [text, code, message] of cases) {
    const e = fails(() => parseCsv(text, "t.csv", { label: "y", regression: true }));
    assert.is(e.code, code, text);
    assert.ok(e.message.startsWith(message), e.message);
  }
  const e = fails(() => parseCsv("a,y\n1e39,0\n", "t.csv", { label: "y" }));
  assert.is(
    renderNncError(e),
    "t.csv:2:1: error NN5207: '1e39' in column 'a' is out of the range of 32-bit floats (about ±3.4e38)",
  );
  assert.is(parseCsv("a,y\n3.4e38,0\n", "t.csv", { label: "y" }).inputs[0], Math.fround(3.4e38));
});

test("regression: the label column's numbers are the targets, one per sample", () => {
  const ds = parseCsv("a,y,b\n1,0.5,2\n3,-2e1,4\n", "r.csv", { label: "y", regression: true });
  assert.is(ds.classes, 1);
  assert.equal([...ds.targets!], [0.5, -20]);
  assert.equal([...ds.labels], [0, 0]);
  assert.equal([...ds.inputs], [1, 2, 3, 4]);
  assert.is(ds.classNames, undefined);
  const e = fails(() => parseCsv("a,y\n1,0.5\n2,up\n", "r.csv", { label: "y", regression: true }));
  assert.is(renderNncError(e), "r.csv:3:3: error NN5204: 'up' in column 'y' is not a number");
});

test("a number of classes: numeric labels are the indices, names may be no more", () => {
  const ds = parseCsv("a,y\n1,1\n2,0\n3,1.0\n", "c.csv", { label: "y", classes: 3 });
  assert.equal([...ds.labels], [1, 0, 1]);
  assert.is(ds.classes, 3);
  const bad: [string, string][] = [
    [
      "5",
      "c.csv:3:3: error NN5205: label 5 in column 'y' is not a class index 0 to 1 (classes: 2)",
    ],
    [
      "-1",
      "c.csv:3:3: error NN5205: label -1 in column 'y' is not a class index 0 to 1 (classes: 2)",
    ],
    [
      "0.5",
      "c.csv:3:3: error NN5205: label 0.5 in column 'y' is not a class index 0 to 1 (classes: 2)",
    ],
  ];
  for (const [label, message] of bad) {
    const e = fails(() => parseCsv(`a,y\n1,1\n2,${label}\n`, "c.csv", { label: "y", classes: 2 }));
    assert.is(renderNncError(e), message);
  }
  const names = parseCsv("a,y\n1,pos\n2,neg\n", "n.csv", { label: "y", classes: 2 });
  assert.equal([...names.labels], [1, 0]);
  assert.equal(names.classNames, ["neg", "pos"]);
  const e = fails(() => parseCsv("a,y\n1,b\n2,c\n3,a\n", "n.csv", { label: "y", classes: 2 }));
  assert.is(
    renderNncError(e),
    "n.csv:3:3: error NN5205: label 'c' in column 'y' is not a class: the column holds 3 distinct labels (a, b, c), more than the 2 classes",
  );
});

test("ids of an integer input are checked where they are: whole, and below the bound", () => {
  const integers = { name: "tokens", below: 10 };
  const ok = parseCsv("t0,t1,y\n0,9,1\n", "s.csv", { label: "y", classes: 2, integers });
  assert.equal([...ok.inputs], [0, 9]);
  const cases: [string, string][] = [
    [
      "3,10",
      "s.csv:3:3: error NN5602: 10 in column 't1' is out of range; input tokens takes ids 0 to 9",
    ],
    [
      "-7,1",
      "s.csv:3:1: error NN5602: -7 in column 't0' is out of range; input tokens takes ids 0 to 9",
    ],
    [
      "1.5,1",
      "s.csv:3:1: error NN5602: 1.5 in column 't0' is not a whole number; input tokens takes integer ids",
    ],
  ];
  for (const [row, message] of cases) {
    const text = `t0,t1,y\n1,2,0\n${row},1\n`;
    const e = fails(() => parseCsv(text, "s.csv", { label: "y", classes: 2, integers }));
    assert.is(renderNncError(e), message);
  }
  const unbounded = parseCsv("t,y\n-3,0\n", "s.csv", { label: "y", integers: { name: "t" } });
  assert.equal([...unbounded.inputs], [-3]);
});

test("readCsvFile reads from disk and names missing files", () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-csv-"));
  try {
    const path = join(dir, "iris.csv");
    writeFileSync(path, iris);
    assert.is(readCsvFile(path, { label: "species" }).count, 4);
    const e = fails(() => readCsvFile(join(dir, "none.csv"), { label: "species" }));
    assert.is(
      e.message,
      `${join(dir, "none.csv")}: cannot read the file: no such file or directory`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
