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
  assert.is(c.message, "t.csv:3:3: label 'z' is not one of the classes [x, y]");
  assert.is(
    renderNncError(c),
    "t.csv:3:3: error NN5205: label 'z' is not one of the classes [x, y]",
  );
  const f = fails(() => parseCsv("a,label\n1,x\n", "t.csv", { label: "label", features: ["b"] }));
  assert.is(f.code, "NN5202");
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
