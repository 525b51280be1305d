/**
 * @file Printers for `nnc build --emit wgsl|plan`: every kernel's WGSL under a header naming
 * its plan, primitive, `.nn` location, workgroup size and grid; and a plan's buffers (role,
 * size, what they hold), kernels (bindings, grid), outputs, updates and a memory summary.
 * Deterministic text, so it serves debugging and golden tests alike.
 */
import type { KernelPlan, PlanBuffer } from "../../runtime/plan.js";
import { type ModelProgram, namedPlans } from "../../runtime/program.js";

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Bytes as `512 B`, `1.5 KiB`, `3.2 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Every kernel of every plan, each under a `//` header. */
export function printWgsl(program: ModelProgram): string {
  const out: string[] = [];
  for (const { name, plan } of namedPlans(program)) {
    plan.kernels.forEach((k, i) => {
      out.push(
        `// ${name} kernel ${i}: ${k.name} (${k.op} at ${k.location}), workgroup ` +
          `${shapeText(k.workgroupSize)}, dispatch ${shapeText(k.dispatch)}`,
      );
      out.push(k.wgsl.endsWith("\n") ? k.wgsl : `${k.wgsl}\n`);
    });
  }
  return out.join("\n");
}

function bufferContents(plan: KernelPlan): Map<number, string[]> {
  const what = new Map<number, string[]>();
  const add = (id: number, s: string) => what.set(id, [...(what.get(id) ?? []), s]);
  for (const v of plan.variables) add(v.buffer, `${v.kind} ${v.name} ${shapeText(v.shape)}`);
  for (const i of plan.inputs) add(i.buffer, `input ${i.name} ${shapeText(i.shape)}`);
  for (const o of plan.outputs) add(o.buffer, `output ${o.name} ${shapeText(o.shape)}`);
  for (const u of plan.updates) add(u.buffer, `update of ${u.variable}`);
  return what;
}

/** One plan (see `namedPlans`): buffers, kernels, outputs, updates, and bytes per buffer role. */
export function printPlan(program: ModelProgram, name: string): string {
  const named = namedPlans(program).find((p) => p.name === name);
  if (!named) throw new Error(`program ${program.model} has no plan '${name}'`);
  const { plan, batch } = named;
  const contents = bufferContents(plan);
  const byRole = new Map<PlanBuffer["role"], number>();
  for (const b of plan.buffers) byRole.set(b.role, (byRole.get(b.role) ?? 0) + b.size);
  const total = plan.buffers.reduce((a, b) => a + b.size, 0);
  const dispatches = plan.kernels.reduce(
    (a, k) => a + k.dispatch[0] * k.dispatch[1] * k.dispatch[2],
    0,
  );
  const lines = [
    `plan ${name} (batch ${batch}): ${plan.buffers.length} buffers, ` +
      `${plan.kernels.length} kernels, ${dispatches} workgroups in all`,
    `memory: ${formatBytes(total)} (` +
      [...byRole.entries()].map(([r, n]) => `${r} ${formatBytes(n)}`).join(", ") +
      ")",
  ];
  if (plan.memory) {
    const m = plan.memory;
    lines.push(
      `peak ${formatBytes(m.totalBytes)} against a lower bound of ${formatBytes(m.lowerBoundBytes)} ` +
        `(parameters, gradients, optimizer state and the largest set of live activations): ` +
        `ratio ${(m.totalBytes / Math.max(1, m.lowerBoundBytes)).toFixed(2)}`,
    );
  }
  lines.push("buffers:");
  for (const b of plan.buffers) {
    const fill = b.fill !== undefined ? ` fill ${b.fill}` : "";
    const held = contents.get(b.id)?.join("; ") ?? "";
    lines.push(
      `  b${b.id} ${b.role} ${formatBytes(b.size)}${fill}${held ? `  ${held}` : ""}`.trimEnd(),
    );
  }
  lines.push("kernels:");
  plan.kernels.forEach((k, i) => {
    const reads = k.bindings.filter((b) => b.access === "read").map((b) => `b${b.buffer}`);
    const writes = k.bindings.filter((b) => b.access !== "read").map((b) => `b${b.buffer}`);
    lines.push(
      `  k${i} ${k.name} (${k.op} at ${k.location}) workgroup ${shapeText(k.workgroupSize)} ` +
        `dispatch ${shapeText(k.dispatch)} reads ${reads.join(",") || "-"} writes ${writes.join(",") || "-"}`,
    );
  });
  for (const o of plan.outputs)
    lines.push(`output ${o.name} <- b${o.buffer} ${shapeText(o.shape)}`);
  for (const u of plan.updates) lines.push(`update ${u.variable} <- b${u.buffer}`);
  return lines.join("\n") + "\n";
}

/** Every plan of the program, then the variables. */
export function printProgram(program: ModelProgram): string {
  const vars = program.variables.map(
    (v) =>
      `  ${v.name} ${v.kind} ${shapeText(v.shape)} ${v.dtype} ${v.role}` +
      (v.trainable ? " trainable" : ""),
  );
  return (
    `program ${program.model} (train ${program.run}, ${program.source}): input ` +
    program.inputs.map((i) => `${i.name} ${shapeText(i.shape)}`).join(", ") +
    (program.output ? `, output ${shapeText(program.output.shape)}` : "") +
    `, ${program.classes} classes\n` +
    `variables:\n${vars.join("\n")}\n\n` +
    namedPlans(program)
      .map((n) => printPlan(program, n.name))
      .join("\n")
  );
}
