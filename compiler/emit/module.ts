/**
 * @file The module emitter: a ModelProgram -> the TypeScript module `nnc build` writes. The
 * module embeds the program (its distinct WGSL kernels as a readable table of template
 * literals, the rest as JSON) and exports a class named after the model with a static async
 * `create`, typed, documented `trainStep`/`fit`/`evaluate`/`predict`/`saveWeights`/
 * `loadWeights`/`dispose` that delegate to the runtime's ModelRunner, and the per-sample shapes
 * of the `.nn` signature as tuple types. It imports one runtime entry and nothing else. The
 * same description of the class also yields the `.d.ts` of a `--standalone` build, whose
 * runtime types are spelled out so it needs no package at all. Output is plain text; the
 * caller formats it with Prettier (see format.ts).
 */
import { packProgram } from "../../runtime/embedded.js";
import { numelOf } from "../../runtime/plan.js";
import { isRegression, type ModelProgram } from "../../runtime/program.js";

export interface EmitOptions {
  /** What `predict` returns, from lowering (softmax probabilities when the loss took logits). */
  readonly predictOutput?: "probabilities" | "output" | null;
  /** The import specifier of the runtime entry (default `nnc/runtime/embed`). */
  readonly runtime?: string;
  /** Shown in the header, e.g. `0.1.0`. */
  readonly version?: string;
  /**
   * Kernels without indentation, blank lines or comments (`--standalone --minify`: esbuild
   * leaves the text of template literals as it is).
   */
  readonly compactWgsl?: boolean;
}

/** WGSL with each line's indentation, blank lines and whole-line comments removed. */
export function compactWgsl(wgsl: string): string {
  return wgsl
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("//"))
    .join("\n");
}

export interface ModuleNames {
  /** The exported class (the model's name unless that would shadow something). */
  readonly className: string;
  /** The predict parameter (the model input's name, made a safe identifier). */
  readonly inputParam: string;
}

/** Words that cannot name a class or a parameter, and globals the module itself uses. */
const reserved = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends " +
    "false finally for function if import in instanceof new null return super switch this throw " +
    "true try typeof var void while with as implements interface let package private protected " +
    "public static yield any boolean constructor declare get module require number set string " +
    "symbol type from of async await arguments eval undefined never unknown object bigint " +
    "Promise Float32Array Uint8Array Int32Array ArrayBuffer ArrayLike JSON Object Array Number " +
    "String Error GPUDevice AbortSignal Math Readonly program packed kernels createRunner " +
    "unpackProgram CreateOptions EpochResult Evaluation FitOptions InputArray ModelProgram " +
    "ModelRunner PackedProgram StepResult TrainingBatch TrainingData SampleBatch SampleData count " +
    "NncError isNncError " +
    "opts data batch bytes"
  ).split(" "),
);

function safeIdent(name: string, suffix: string): string {
  const ident = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)
    ? name
    : name.replace(/[^A-Za-z0-9_$]/g, "_");
  const start = /^[0-9]/.test(ident) ? `_${ident}` : ident;
  return reserved.has(start) ? `${start}${suffix}` : start;
}

export function moduleNames(program: ModelProgram): ModuleNames {
  return {
    className: safeIdent(program.model, "Model"),
    inputParam: safeIdent(program.inputs[0]?.name ?? "inputs", "Values"),
  };
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Text made safe inside a block comment. */
function commentText(s: string): string {
  return s.replace(/\*\//g, "*\\/");
}

function templateLiteral(s: string): string {
  return "`" + s.replace(/\\/g, "\\\\").replace(/`/g, "\\`").replace(/\$\{/g, "\\${") + "`";
}

/** Words of `text` in lines of at most `width` characters (a longer word gets its own line). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/**
 * A doc comment of paragraphs, each wrapped to fit 100 columns; a paragraph that starts with
 * `@` is a tag, and its continuation lines are indented.
 */
function doc(paragraphs: readonly string[], indent = ""): string {
  const width = 100 - indent.length - 3;
  const lines: string[] = [];
  for (const p of paragraphs) {
    const wrapped = wrap(commentText(p), width - (p.startsWith("@") ? 2 : 0));
    lines.push(...wrapped.map((l, i) => (i > 0 && p.startsWith("@") ? `  ${l}` : l)));
  }
  if (lines.length === 1 && lines[0]!.length <= width - 3) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join("\n")}\n${indent} */\n`;
}

interface Member {
  readonly doc: readonly string[];
  /** Everything up to the body, e.g. `predict(x: InputArray): Promise<Float32Array>`. */
  readonly signature: string;
  /** Statements of the body; none for a property (then `initializer` is used). */
  readonly body?: string;
  readonly initializer?: string;
  /** In the `.d.ts`, the signature when it differs (e.g. an initialised property's type). */
  readonly declaration?: string;
}

/** What a single-step run's labels are, for the doc comments: classes, or targets. */
function labelsText(program: ModelProgram): { each: string; classes: string } {
  const c = program.classes;
  if (isRegression(program.settings.data)) {
    return {
      each: `${c === 1 ? "one target value" : `${c} target values`} (a regression run)`,
      classes: "Values of each sample's regression target (a regression run has no classes).",
    };
  }
  const top = Math.max(c, 2) - 1;
  return {
    each: `one class index (0 to ${top})`,
    classes:
      c === 1
        ? "Values of each label row: one output value, the target 0 or 1 of class index 0 or 1."
        : `Classes of the labels (class indices are 0 to ${top}).`,
  };
}

/** How the samples of input `inp` are laid out and given, for the doc comments. */
function sampleLayout(inp: ModelProgram["inputs"][number]): string {
  return (
    `Each sample has shape ${shapeText(inp.shape)} (${numelOf(inp.shape)} values); samples are ` +
    "row-major, back to back, " +
    (inp.dtype === "f32"
      ? "as floats or as bytes 0..255 (scaled by 1/255, as `nnc train` scales images)."
      : "as integer ids (floats or bytes, taken as they are).")
  );
}

/** The class's members, shared by the module and the standalone `.d.ts`. */
function members(program: ModelProgram, names: ModuleNames, opts: EmitOptions): Member[] {
  if (program.steps || !program.output) return stepsMembers(program, names);
  const C = names.className;
  const common = commonMembers(program, C, false);
  const inp = program.inputs[0]!;
  const per = numelOf(inp.shape);
  const out = program.output;
  const outPer = numelOf(out.shape);
  const x = names.inputParam;
  const n = program.stepBatch;
  const what =
    opts.predictOutput === "probabilities"
      ? "class probabilities (the softmax of the logits)"
      : "output";
  const layout = sampleLayout(inp);
  const labels = labelsText(program);
  const dataParam = `@param data \`inputs\`: the samples; \`labels\`: ${labels.each} per sample. ${layout}`;
  return [
    {
      doc: [`Per-sample shape of the input \`${inp.name}\`.`],
      signature: `static readonly inputShape: ${C}InputShape`,
      initializer: shapeText(inp.shape),
    },
    {
      doc: [`Per-sample shape of the output.`],
      signature: `static readonly outputShape: ${C}OutputShape`,
      initializer: shapeText(out.shape),
    },
    {
      doc: [`Values per input sample (the product of \`inputShape\`).`],
      signature: `static readonly inputSize: ${per}`,
      initializer: String(per),
    },
    {
      doc: [`Values per output row (the product of \`outputShape\`).`],
      signature: `static readonly outputSize: ${outPer}`,
      initializer: String(outPer),
    },
    {
      doc: [labels.classes],
      signature: `static readonly classes: ${program.classes}`,
      initializer: String(program.classes),
    },
    {
      doc: [`Samples in every \`trainStep\` batch (the train run's \`batch\`).`],
      signature: `static readonly batchSize: ${n}`,
      initializer: String(n),
    },
    {
      doc: ["The compiled program: kernel plans for training, evaluation and prediction."],
      signature: "static readonly program: ModelProgram",
      initializer: "program",
    },
    ...common.head,
    {
      doc: [
        `One training step on exactly ${n} samples.`,
        `@param batch \`inputs\`: ${n} samples; \`labels\`: ${labels.each} for each. ${layout}`,
        "@returns The batch's mean loss and accuracy.",
      ],
      signature: "trainStep(batch: TrainingBatch): Promise<StepResult>",
      body: "return this.runner.trainStep(batch);",
    },
    {
      doc: [
        "Trains on `data`, shuffled each epoch (a partial last batch is dropped).",
        dataParam,
        "@param opts `epochs`, `onEpoch` (return false to stop), `onProgress`, `signal`, " +
          "`validation`, `seed`, `shuffle`.",
        "@returns One result per epoch.",
      ],
      signature: "fit(data: TrainingData, opts: FitOptions = {}): Promise<EpochResult[]>",
      declaration: "fit(data: TrainingData, opts?: FitOptions): Promise<EpochResult[]>",
      body: "return this.runner.fit(data, opts);",
    },
    {
      doc: ["Mean loss and accuracy over every sample of `data`, in evaluation mode.", dataParam],
      signature: "evaluate(data: TrainingData): Promise<Evaluation>",
      body: "return this.runner.evaluate(data);",
    },
    {
      doc: [
        `The model's ${what} for each sample.`,
        `@param ${x} \`count\` samples. ${layout}`,
        `@param count How many samples (default: \`${x}.length / ${per}\`).`,
        `@returns \`count\` rows of shape ${shapeText(out.shape)} (${outPer} values each), back to back.`,
      ],
      signature: `predict(${x}: InputArray, count?: number): Promise<Float32Array>`,
      body: `return this.runner.predict(${x}, count);`,
    },
    ...common.tail,
  ];
}

/**
 * Members every class has: the runner, its constructor, `create`, weights and `dispose`; the
 * docs speak of one model, or (`plural`, a multi-step run) of every model the class trains.
 */
function commonMembers(
  program: ModelProgram,
  C: string,
  plural: boolean,
): { head: Member[]; tail: Member[] } {
  const models = plural ? "models'" : "model's";
  return {
    head: [
      {
        doc: [],
        signature: "private readonly runner: ModelRunner",
        declaration: "private readonly runner",
      },
      {
        doc: [],
        signature: "private constructor(runner: ModelRunner)",
        declaration: "private constructor()",
        body: "this.runner = runner;",
      },
      {
        doc: [
          "Compiles the kernels on `opts.device` (a GPUDevice from `navigator.gpu` or from the " +
            "`webgpu` package), or on a default device that models share and keep for the next " +
            "one. `opts.seed` seeds the first parameter values (default: the train run's `seed`)." +
            (program.settings.init
              ? ` The run's \`init = ${JSON.stringify(program.settings.init)}\` is not read: ` +
                "pass that file's bytes to `loadWeights` after `create`."
              : ""),
        ],
        signature: `static async create(opts: CreateOptions = {}): Promise<${C}>`,
        declaration: `static create(opts?: CreateOptions): Promise<${C}>`,
        body: `return new ${C}(await createRunner(program, opts));`,
      },
    ],
    tail: [
      {
        doc: [
          `${plural ? "Every model's" : "The model's"} parameters and layer state as safetensors bytes.`,
        ],
        signature: "saveWeights(): Promise<Uint8Array>",
        body: "return this.runner.saveWeights();",
      },
      {
        doc: [
          "Loads safetensors bytes from `saveWeights` or `nnc train`; every tensor's name and " +
            `shape is checked against the ${plural ? "models" : "model"}.`,
        ],
        signature: "loadWeights(bytes: Uint8Array | ArrayBuffer): void",
        body: "this.runner.loadWeights(bytes);",
      },
      {
        doc: [
          `Frees the ${models} GPU buffers (and the default device when no other model uses it). ` +
            "Every later call throws.",
        ],
        signature: "dispose(): void",
        body: "this.runner.dispose();",
      },
    ],
  };
}

/**
 * The members of a multi-step run's class (a GAN): `trainStep` runs every step once on a
 * batch, `fit` trains epochs; there is no `evaluate` or `predict`.
 */
function stepsMembers(program: ModelProgram, names: ModuleNames): Member[] {
  const C = names.className;
  const inp = program.inputs[0]!;
  const per = numelOf(inp.shape);
  const n = program.stepBatch;
  const labelled = program.classes > 0;
  const steps = (program.steps ?? []).map((s) => s.name);
  const stepList = steps.map((s) => `\`${s}\``).join(", then ");
  const layout = sampleLayout(inp);
  const batchType = labelled ? "TrainingBatch" : "SampleBatch";
  const dataType = labelled ? "TrainingData" : "SampleData";
  const labels = labelled
    ? `; \`labels\`: one class index (0 to ${program.classes - 1}) per sample`
    : "";
  const common = commonMembers(program, C, true);
  return [
    {
      doc: [`Per-sample shape of the input \`${inp.name}\`.`],
      signature: `static readonly inputShape: ${C}InputShape`,
      initializer: shapeText(inp.shape),
    },
    {
      doc: [`Values per input sample (the product of \`inputShape\`).`],
      signature: `static readonly inputSize: ${per}`,
      initializer: String(per),
    },
    {
      doc: [`Samples in every \`trainStep\` batch (the train run's \`batch\`).`],
      signature: `static readonly batchSize: ${n}`,
      initializer: String(n),
    },
    {
      doc: ["The train run's steps, in the order each batch runs them."],
      signature: `static readonly steps: readonly string[]`,
      // As Prettier prints it (format.ts uses the skeleton as it is when Prettier would).
      initializer: `[${steps.map((s) => JSON.stringify(s)).join(", ")}]`,
    },
    {
      doc: ["The compiled program: one kernel plan per training step."],
      signature: "static readonly program: ModelProgram",
      initializer: "program",
    },
    ...common.head,
    {
      doc: [
        `One training step on exactly ${n} samples: ${stepList}, each on the same batch.`,
        `@param batch \`inputs\`: ${n} samples${labels}. ${layout}`,
        "@returns `losses`: each step's mean loss by step name; `loss`: their sum.",
      ],
      signature: `trainStep(batch: ${batchType}): Promise<StepResult>`,
      body: "return this.runner.trainStep(batch);",
    },
    {
      doc: [
        "Trains on `data`, shuffled each epoch (a partial last batch is dropped); every batch " +
          `runs ${stepList}.`,
        `@param data \`inputs\`: the samples${labels}; \`count\` (default: all). ${layout}`,
        "@param opts `epochs`, `onEpoch` (return false to stop), `onProgress`, `signal`, " +
          "`seed`, `shuffle`.",
        "@returns One result per epoch, with each step's mean loss in `losses`.",
      ],
      signature: `fit(data: ${dataType}, opts: FitOptions = {}): Promise<EpochResult[]>`,
      declaration: `fit(data: ${dataType}, opts?: FitOptions): Promise<EpochResult[]>`,
      body: "return this.runner.fit(data, opts);",
    },
    ...common.tail,
  ];
}

function header(
  program: ModelProgram,
  names: ModuleNames,
  opts: EmitOptions,
  kind: string,
): string {
  const inp = program.inputs
    .map((i) => `${i.name}: ${shapeText(i.shape)}${i.dtype === "i32" ? " int" : ""}`)
    .join(", ");
  if (program.steps || !program.output) {
    return doc([
      `@file ${names.className}: the train run \`${program.run}\` of ${program.source} ` +
        `(steps ${(program.steps ?? []).map((s) => s.name).join(", ")}, on ${inp}), compiled ` +
        `by nnc${opts.version ? ` ${opts.version}` : ""} into ${kind}. Training steps take ` +
        `batches of ${program.stepBatch}. Generated by \`nnc build\`: do not edit.`,
    ]);
  }
  return doc([
    `@file ${names.className}: the model \`${program.model}(${inp}) -> ` +
      `${shapeText(program.output.shape)}\` of ${program.source} with its train run ` +
      `\`${program.run}\`, compiled by nnc${opts.version ? ` ${opts.version}` : ""} into ${kind}. ` +
      `Training steps take batches of ${program.stepBatch}; evaluation and prediction run ` +
      `${program.inferBatch} samples at a time. Generated by \`nnc build\`: do not edit.`,
  ]);
}

function shapeTypes(program: ModelProgram, C: string): string {
  const inp = program.inputs[0]!;
  if (!program.output) {
    return (
      doc([`Per-sample shape of the input \`${inp.name}\` (the batch axis is not included).`]) +
      `export type ${C}InputShape = readonly ${shapeText(inp.shape)};\n\n`
    );
  }
  return (
    doc([`Per-sample shape of the input \`${inp.name}\` (the batch axis is not included).`]) +
    `export type ${C}InputShape = readonly ${shapeText(inp.shape)};\n\n` +
    doc(["Per-sample shape of the output."]) +
    `export type ${C}OutputShape = readonly ${shapeText(program.output.shape)};\n\n`
  );
}

function classDoc(program: ModelProgram, names: ModuleNames): string {
  const inp = program.inputs[0]!;
  if (program.steps || !program.output) {
    const models = [...new Set(program.steps?.flatMap((s) => s.updates) ?? [])];
    return doc([
      `The train run \`${program.run}\` on a WebGPU device: the models ${models.join(", ")}, ` +
        `trained by the steps ${(program.steps ?? []).map((s) => s.name).join(", ")} on input ` +
        `\`${inp.name}\` ${shapeText(inp.shape)} per sample. Create one with ` +
        `\`await ${names.className}.create()\`; \`dispose()\` it when done.`,
    ]);
  }
  return doc([
    `The model \`${program.model}\` on a WebGPU device: input \`${inp.name}\` ` +
      `${shapeText(inp.shape)} per sample, output ${shapeText(program.output.shape)}. Create ` +
      `one with \`await ${names.className}.create()\`; \`dispose()\` it when done.`,
  ]);
}

const singleTypeNames = [
  "CreateOptions",
  "EpochResult",
  "Evaluation",
  "FitOptions",
  "InputArray",
  "StepResult",
  "TrainingBatch",
  "TrainingData",
];

/** The runtime types a module re-exports (a multi-step run's unlabelled batches too). */
function typeNamesOf(program: ModelProgram): string[] {
  if (!program.steps) return singleTypeNames;
  return [...singleTypeNames, "SampleBatch", "SampleData"].sort();
}

/** A value as TypeScript: objects and arrays inline when they fit in `width`, else one per line. */
function literal(value: unknown, indent: string, width: number): string {
  const flat = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(flat).join(", ")}]`;
    if (v !== null && typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>).filter(
        ([, e]) => e !== undefined,
      );
      if (entries.length === 0) return "{}";
      return `{ ${entries.map(([k, e]) => `${key(k)}: ${flat(e)}`).join(", ")} }`;
    }
    return JSON.stringify(v) ?? "null";
  };
  const key = (k: string) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : JSON.stringify(k));
  const one = flat(value);
  if (one.length + indent.length <= width || value === null || typeof value !== "object") {
    return one;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    return `[\n${value.map((e) => `${inner}${literal(e, inner, width)},\n`).join("")}${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(
    ([, e]) => e !== undefined,
  );
  return `{\n${entries
    .map(([k, e]) => `${inner}${key(k)}: ${literal(e, inner, width - k.length - 2)},\n`)
    .join("")}${indent}}`;
}

/** The placeholders of a module skeleton and the text each stands for (see `fillHoles`). */
export interface EmittedModule {
  /** TypeScript with placeholders inside `// prettier-ignore` statements. */
  readonly skeleton: string;
  readonly holes: ReadonlyMap<string, string>;
}

/** The skeleton with every placeholder replaced: a complete module. */
export function fillHoles(text: string, holes: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [hole, value] of holes) {
    if (!out.includes(hole)) throw new Error(`emitted module lost its placeholder ${hole}`);
    out = out.replace(hole, () => value);
  }
  return out;
}

/**
 * The TypeScript module for `program`, as a skeleton plus the two data tables (the kernels and
 * the packed program). The tables sit in `// prettier-ignore` statements, so formatting the
 * skeleton and then filling the holes gives a file Prettier accepts, in a fraction of the time
 * Prettier would take over the data.
 */
export function emitModuleParts(program: ModelProgram, opts: EmitOptions = {}): EmittedModule {
  if (program.inputs.length === 0) throw new Error(`model ${program.model} has no inputs`);
  const names = moduleNames(program);
  const C = names.className;
  const runtime = opts.runtime ?? "nnc/runtime/embed";
  const { program: packed, kernels } = packProgram(program);
  const firstUse = new Map<number, string>();
  const plans = packed.steps
    ? packed.steps.map((s) => s.plan)
    : [packed.step, packed.evaluate, packed.predict];
  for (const plan of plans) {
    for (const k of plan?.kernels ?? []) {
      if (!firstUse.has(k.wgsl)) firstUse.set(k.wgsl, `${k.name}: ${k.op} at ${k.location}`);
    }
  }
  const table =
    "[\n" +
    kernels
      .map(
        (w, i) =>
          `  // ${i}. ${commentText(firstUse.get(i)!)}\n  ${templateLiteral(opts.compactWgsl ? compactWgsl(w) : w)},\n`,
      )
      .join("") +
    "]";
  const holes = new Map([
    ["__NNC_KERNELS__", table],
    ["__NNC_PROGRAM__", literal(packed, "", 100)],
  ]);
  const body = members(program, names, opts)
    .map((m) => {
      const d = m.doc.length > 0 ? doc(m.doc, "  ") : "";
      if (m.body !== undefined) return `${d}  ${m.signature} {\n    ${m.body}\n  }\n`;
      const init = m.initializer !== undefined ? ` = ${m.initializer}` : "";
      return `${d}  ${m.signature}${init};\n`;
    })
    .join("\n");
  const typeNames = typeNamesOf(program);
  const imports = [...typeNames, "ModelProgram", "ModelRunner", "PackedProgram"].sort();
  const what = program.steps
    ? `training steps (${program.steps.map((st) => `${st.name}: ${st.plan.kernels.length} dispatches`).join(", ")})`
    : `training step (${program.step.kernels.length} dispatches), evaluation (${program.evaluate?.kernels.length ?? 0}) ` +
      `and prediction (${program.predict?.kernels.length ?? 0})`;
  const plansText = program.steps
    ? "one kernel plan per training step"
    : "kernel plans for training, evaluation and prediction";
  const skeleton =
    header(program, names, opts, "a module with its WGSL kernels and training loop") +
    `import {\n  createRunner,\n  unpackProgram,\n${imports.map((t) => `  type ${t},\n`).join("")}` +
    `} from ${JSON.stringify(runtime)};\n` +
    `export { isNncError, NncError } from ${JSON.stringify(runtime)};\n` +
    // The augmentation code is loaded only by the modules whose run augments (runtime/augmenter.ts).
    ((program.settings.augment ?? []).length > 0 ? 'import "nnc/runtime/augment";\n' : "") +
    "\n" +
    `export type {\n${typeNames.map((t) => `  ${t},\n`).join("")}};\n\n` +
    shapeTypes(program, C) +
    doc([
      `The ${kernels.length} distinct WGSL compute kernels of the ${what}, each after the first ` +
        "kernel that uses it.",
    ]) +
    "// prettier-ignore\nconst kernels: readonly string[] = __NNC_KERNELS__;\n\n" +
    doc([
      `Buffers, variables, dispatches and settings of the ${program.steps ? "plans" : "three plans"}; a kernel's \`wgsl\` is its ` +
        "index in `kernels`.",
    ]) +
    "// prettier-ignore\nconst packed: PackedProgram = __NNC_PROGRAM__;\n\n" +
    doc([`The compiled program: ${plansText}.`]) +
    `export const program: ModelProgram = unpackProgram(packed, kernels);\n\n` +
    classDoc(program, names) +
    `export class ${C} {\n${body}}\n`;
  return { skeleton, holes };
}

/** The header comment of a `--standalone` bundle. */
export function standaloneBanner(program: ModelProgram, opts: EmitOptions = {}): string {
  const names = moduleNames(program);
  return header(
    program,
    names,
    opts,
    "a standalone module (runtime included; it imports nothing)",
  ).trimEnd();
}

/** The TypeScript module for `program`, unformatted. */
export function emitModule(program: ModelProgram, opts: EmitOptions = {}): string {
  const parts = emitModuleParts(program, opts);
  return fillHoles(parts.skeleton, parts.holes);
}

/** The runtime's public types, spelled out for a standalone `.d.ts` (no package to import). */
const standaloneTypes = `/** What every method throws for a bad argument, bad weights or a lost device. */
export declare class NncError extends Error {
  readonly name: "NncError";
  /** NN5501 for a bad argument, NN54xx for bad weights, NN46xx for the device. */
  readonly code: string;
  /** The message without its location. */
  readonly detail: string;
}
export declare function isNncError(e: unknown): e is NncError;
/** \`GPUDevice\` where WebGPU's types are loaded (lib.dom or @webgpu/types), else any object. */
export type GPUDeviceLike = typeof globalThis extends { GPUDevice: { prototype: infer D } } ? D : object;
/** Options of \`create\`. */
export interface CreateOptions {
  /** The device to run on; by default one from \`navigator.gpu\` (in Node, the \`webgpu\` package), shared by the models that take the default. */
  readonly device?: GPUDeviceLike | undefined;
  /** Seed of the first parameter values (default: the train run's \`seed\`). */
  readonly seed?: number | undefined;
}
/** Inputs as floats, or as bytes 0..255 (scaled by 1/255). */
export type InputArray = Float32Array | Uint8Array;
/** One full training batch: \`inputs\` packs the samples row-major; \`labels\` are class indices. */
export interface TrainingBatch {
  readonly inputs: InputArray;
  readonly labels: ArrayLike<number>;
}
/** Samples for \`fit\` and \`evaluate\`; \`count\` defaults to \`labels.length\`. */
export interface TrainingData {
  readonly inputs: InputArray;
  readonly labels: ArrayLike<number>;
  readonly count?: number;
}
/** One full batch of a run whose steps read no labels (a GAN). */
export interface SampleBatch {
  readonly inputs: InputArray;
}
/** Samples of a run whose steps read no labels; \`count\` defaults to all of \`inputs\`. */
export interface SampleData {
  readonly inputs: InputArray;
  readonly count?: number;
}
export interface StepResult {
  readonly loss: number;
  readonly accuracy: number;
  /** A multi-step run's mean loss of each step, by step name. */
  readonly losses?: Readonly<Record<string, number>>;
}
export interface EpochResult {
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly losses?: Readonly<Record<string, number>>;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}
export interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
  readonly count: number;
}
export interface FitOptions {
  readonly epochs?: number;
  readonly validation?: TrainingData;
  readonly seed?: number;
  readonly shuffle?: boolean;
  readonly onEpoch?: (result: EpochResult) => void | boolean | Promise<void | boolean>;
  readonly onProgress?: (p: {
    epoch: number;
    step: number;
    steps: number;
    loss: number;
    accuracy: number;
    losses?: Readonly<Record<string, number>>;
  }) => void;
  readonly progressMs?: number;
  readonly signal?: AbortSignal;
}
/** The compiled program (plain JSON data). */
export interface ModelProgram {
  readonly version: 1;
  readonly model: string;
  readonly run: string;
  readonly source: string;
  readonly classes: number;
  readonly stepBatch: number;
  readonly inferBatch: number;
  readonly [key: string]: unknown;
}
`;

/** The `.d.ts` of a `--standalone` module: the class and every type it uses, nothing imported. */
export function emitStandaloneDeclarations(program: ModelProgram, opts: EmitOptions = {}): string {
  const names = moduleNames(program);
  const C = names.className;
  const body = members(program, names, opts)
    .map((m) => {
      const d = m.doc.length > 0 ? doc(m.doc, "  ") : "";
      return `${d}  ${m.declaration ?? m.signature};\n`;
    })
    .join("\n");
  return (
    header(program, names, opts, "a standalone module (runtime included; it imports nothing)") +
    standaloneTypes +
    "\n" +
    shapeTypes(program, C) +
    doc(["The compiled program: kernel plans for training, evaluation and prediction."]) +
    "export declare const program: ModelProgram;\n\n" +
    classDoc(program, names) +
    `export declare class ${C} {\n${body}}\n`
  );
}
