/**
 * @file Runs a KernelPlan on an NncDevice. The Executor creates the plan's buffers once,
 * compiles each kernel's pipeline once (asynchronously; cached by WGSL text across executors on
 * the same device) and builds every bind group once. `run` records all kernels, the copies of
 * the requested outputs into staging buffers and then the variable updates into one command
 * buffer and submits it; `record`/`submit` run several steps in one submission when inputs
 * are already on the device. Variables get their first values on the host from a seeded
 * counter-based PRNG (the same PCG hash the kernels use). A WGSL compile error is rethrown
 * with `[line:col] message`, the numbered shader and the kernel's `.nn` location.
 */
import { type NncDevice, DeviceError, deviceError } from "./device-core.js";
import type {
  KernelPlan,
  PlanBinding,
  PlanBuffer,
  PlanDType,
  PlanInit,
  PlanKernel,
  PlanVariable,
} from "./plan.js";
import { numelOf } from "./plan.js";
import type { KernelProfile, ProfileTarget } from "./profile.js";

export type HostArray = Float32Array | Int32Array;

// ---------------------------------------------------------------------------------------------
// Host random numbers (the PCG-RXS-M-XS counter-based generator of compiler/primitives.ts)

export function pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** uniform(i) in [0, 1), bit-identical to the device's `random_uniform`. */
export function hostUniform(i: number, counter: number, stream: number): number {
  const h = pcg((pcg((pcg(i) + (counter >>> 0)) >>> 0) + (stream >>> 0)) >>> 0);
  return (h >>> 8) / 16777216;
}

/** normal(i) as the device's `random_normal` defines it, in float64. */
export function hostNormal(i: number, counter: number, stream: number): number {
  const u1 = hostUniform((2 * i) >>> 0, counter, stream);
  const u2 = hostUniform((2 * i + 1) >>> 0, counter, stream);
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

/** FNV-1a of a name: the PRNG stream of a variable, so each variable's values are its own. */
export function nameStream(name: string): number {
  let h = 2166136261;
  for (let k = 0; k < name.length; k++) {
    h ^= name.charCodeAt(k);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h >>> 0;
}

/** The first values of a variable, drawn deterministically from (seed, name). */
export function initialValues(
  v: {
    readonly name: string;
    readonly shape: readonly number[];
    readonly dtype: PlanDType;
    readonly init: PlanInit;
  },
  seed: number,
): HostArray {
  const n = v.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const stream = nameStream(v.name);
  const init = v.init;
  for (let i = 0; i < n; i++) {
    switch (init.dist) {
      case "constant":
        out[i] = init.value;
        break;
      case "uniform":
        out[i] = init.lo + (init.hi - init.lo) * hostUniform(i, seed, stream);
        break;
      case "normal":
        out[i] = init.mean + init.std * hostNormal(i, seed, stream);
        break;
      case "truncated_normal": {
        let z = hostNormal(i, seed, stream);
        for (let a = 1; Math.abs(z) > 2 && a < 64; a++) z = hostNormal(i + a * n, seed, stream);
        out[i] = init.mean + init.std * (Math.abs(z) > 2 ? 0 : z);
        break;
      }
    }
  }
  return v.dtype === "i32" ? Int32Array.from(out, (x) => Math.round(x)) : Float32Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// Pipelines, cached per device by WGSL text

const pipelineCaches = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();
const layoutCaches = new WeakMap<GPUDevice, Map<string, GPUBindGroupLayout>>();

/** How many distinct pipelines were compiled on this device (for tests and profiles). */
export function pipelineCount(dev: NncDevice): number {
  return pipelineCaches.get(dev.device)?.size ?? 0;
}

/** The buffer binding type of each access a plan binding may have. */
const bufferTypes = {
  read: "read-only-storage",
  read_write: "storage",
  uniform: "uniform",
} as const satisfies Record<PlanBinding["access"], GPUBufferBindingType>;

function layoutKey(k: PlanKernel): string {
  return k.bindings.map((b) => b.access).join(",");
}

/** The bind group layout of `k` (one per pattern of binding kinds, cached per device). */
export function layoutFor(device: GPUDevice, k: PlanKernel): GPUBindGroupLayout {
  let cache = layoutCaches.get(device);
  if (!cache) layoutCaches.set(device, (cache = new Map()));
  const key = layoutKey(k);
  let layout = cache.get(key);
  if (!layout) {
    layout = device.createBindGroupLayout({
      label: `nnc layout ${key}`,
      entries: k.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: bufferTypes[b.access] },
      })),
    });
    cache.set(key, layout);
  }
  return layout;
}

/** `[line:col] message` lines, then the shader with line numbers. */
export function formatCompileError(
  wgsl: string,
  messages: readonly GPUCompilationMessage[],
): string {
  const errs = messages.filter((m) => m.type === "error");
  const shown = errs.length > 0 ? errs : messages;
  const head = shown.map((m) => `[${m.lineNum}:${m.linePos}] ${m.message}`);
  const lines = wgsl.split("\n");
  const width = String(lines.length).length;
  const numbered = lines.map((l, k) => `${String(k + 1).padStart(width)} | ${l}`);
  return [...head, "", ...numbered].join("\n");
}

async function compile(dev: NncDevice, k: PlanKernel): Promise<GPUComputePipeline> {
  const device = dev.device;
  const layout = layoutFor(device, k);
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: k.wgsl, label: k.name });
  const scope = device.popErrorScope();
  const info = await module.getCompilationInfo();
  await scope;
  if (info.messages.some((m) => m.type === "error")) {
    throw deviceError("NN4605", {
      kernel: k.name,
      location: k.location,
      detail: formatCompileError(k.wgsl, info.messages),
    });
  }
  try {
    return await device.createComputePipelineAsync({
      label: k.name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: k.entryPoint },
    });
  } catch (e) {
    throw deviceError("NN4605", {
      kernel: k.name,
      location: k.location,
      detail: `${(e as Error).message}\n\n${formatCompileError(k.wgsl, [])}`,
    });
  }
}

/** The compiled pipeline of `k` (compiled once per device, kernel text and layout). */
export function pipelineFor(dev: NncDevice, k: PlanKernel): Promise<GPUComputePipeline> {
  let cache = pipelineCaches.get(dev.device);
  if (!cache) pipelineCaches.set(dev.device, (cache = new Map()));
  const key = `${layoutKey(k)}\n${k.entryPoint}\n${k.wgsl}`;
  let p = cache.get(key);
  if (!p) {
    p = compile(dev, k);
    p.catch(() => {}); // reported where awaited
    cache.set(key, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// The executor

/** A kernel recorded in place of one of a plan's own (see Executor.record). */
export interface KernelSwap {
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
}

/** Kernels recorded in place of a plan's own, by index in the plan. */
export type KernelSwaps = ReadonlyMap<number, KernelSwap>;

/** Records `step`'s dispatch into `pass`, through `swap`'s pipeline and bind group if given. */
export function dispatchStep(
  pass: GPUComputePassEncoder,
  step: {
    readonly kernel: PlanKernel;
    readonly pipeline?: GPUComputePipeline;
    readonly bindGroup: GPUBindGroup;
  },
  swap?: KernelSwap,
): void {
  const by = swap ?? step;
  pass.setPipeline(by.pipeline!);
  pass.setBindGroup(0, by.bindGroup);
  pass.dispatchWorkgroups(...step.kernel.dispatch);
}

interface Step {
  readonly kernel: PlanKernel;
  readonly bindGroup: GPUBindGroup;
  pipeline?: GPUComputePipeline;
}

/** A copy of the `n` values of `dtype` at byte `offset` of a mapped range. */
export function arrayFor(dtype: PlanDType, data: ArrayBuffer, n: number, offset = 0): HostArray {
  return dtype === "i32"
    ? new Int32Array(data, offset, n).slice()
    : new Float32Array(data, offset, n).slice();
}

/**
 * Buffers several executors share: a variable or input of the same name, dtype and size in
 * each of their plans is one buffer (the first executor to need it creates and owns it). The
 * steps of a multi-step run share their variables (a GAN's discriminator weights, read by both
 * steps) and their inputs (the batch, the step counter) this way.
 */
export type SharedBuffers = Map<string, GPUBuffer>;

export interface ExecutorOptions {
  /** Variables and inputs shared with other executors (see SharedBuffers); default: none. */
  readonly shared?: SharedBuffers;
  /**
   * Time every kernel (runtime/profile.ts, which must be loaded: device.ts loads it); default:
   * whether NNC_DEBUG is set.
   */
  readonly profile?: boolean;
}

/** What an executor needs of a kernel profiler (runtime/profile.ts's KernelProfiler). */
export interface Profiler {
  /** Records the kernels itself (true) or leaves them to the executor (false). */
  recordKernels(encoder: GPUCommandEncoder, swaps?: KernelSwaps): boolean;
  report(): Promise<KernelProfile>;
  dispose(): void;
}

/**
 * Installed by runtime/profile.ts when it loads, so that browser bundles, which import only the
 * executor and cannot profile (no NNC_DEBUG there), do not carry the profiler.
 */
let profilers:
  | { readonly requested: () => boolean; readonly create: (t: ProfileTarget) => Profiler }
  | undefined;

export function installProfiler(p: NonNullable<typeof profilers>): void {
  profilers = p;
}

export class Executor {
  private readonly device: GPUDevice;
  private readonly buffers: GPUBuffer[];
  /** Buffers this executor created (the others belong to an executor it shares them with). */
  private readonly owned: Set<GPUBuffer>;
  private readonly steps: Step[];
  private readonly staging = new Map<number, GPUBuffer>();
  private readonly variables = new Map<string, PlanVariable>();
  private readonly pending: Promise<void>;
  private disposed = false;
  private tail: Promise<unknown> = Promise.resolve();
  /** Per-kernel times (runtime/profile.ts); only with NNC_DEBUG or `{ profile: true }`. */
  private readonly profiler: Profiler | undefined;

  /** Creates buffers and bind groups now; pipelines compile in the background (see `ready`). */
  constructor(
    readonly nnc: NncDevice,
    readonly plan: KernelPlan,
    opts: ExecutorOptions = {},
  ) {
    if (plan.version !== 1) {
      throw deviceError("NN4606", { detail: `unsupported kernel plan version ${plan.version}` });
    }
    this.device = nnc.device;
    const device = this.device;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const sharedKeys = new Map<number, string>();
    if (opts.shared) {
      const size = (id: number) => plan.buffers[id]?.size ?? 0;
      for (const v of plan.variables)
        sharedKeys.set(v.buffer, `variable ${v.name} ${v.dtype} ${size(v.buffer)}`);
      for (const i of plan.inputs)
        sharedKeys.set(i.buffer, `input ${i.name} ${i.dtype} ${size(i.buffer)}`);
    }
    this.owned = new Set();
    this.buffers = plan.buffers.map((b: PlanBuffer) => {
      const key = sharedKeys.get(b.id);
      const known = key === undefined ? undefined : opts.shared!.get(key);
      if (known) return known;
      const buffer = device.createBuffer({ label: `nnc ${b.role} ${b.id}`, size: b.size, usage });
      this.owned.add(buffer);
      if (key !== undefined) opts.shared!.set(key, buffer);
      return buffer;
    });
    for (const b of plan.buffers) {
      if (b.role === "constant" && b.fill !== undefined && b.fill !== 0) {
        const n = b.size / 4;
        const data =
          b.dtype === "i32" ? new Int32Array(n).fill(b.fill) : new Float32Array(n).fill(b.fill);
        device.queue.writeBuffer(this.buffers[b.id]!, 0, data);
      }
    }
    for (const v of plan.variables) this.variables.set(v.name, v);
    this.steps = plan.kernels.map((k) => ({
      kernel: k,
      bindGroup: device.createBindGroup({
        label: k.name,
        layout: layoutFor(device, k),
        entries: k.bindings.map((b) => ({
          binding: b.binding,
          resource: { buffer: this.buffers[b.buffer]! },
        })),
      }),
    }));
    this.pending = Promise.all(
      this.steps.map(async (s) => {
        s.pipeline = await pipelineFor(nnc, s.kernel);
      }),
    ).then(() => undefined);
    this.pending.catch(() => {}); // reported by ready()
    if (opts.profile && !profilers) {
      throw deviceError("NN4606", { detail: "profiling needs runtime/profile.js loaded" });
    }
    this.profiler =
      profilers && (opts.profile ?? profilers.requested())
        ? profilers.create({ device, plan, steps: this.steps, buffers: this.buffers })
        : undefined;
  }

  /** An executor whose pipelines are all compiled. */
  static async create(
    nnc: NncDevice,
    plan: KernelPlan,
    opts: ExecutorOptions = {},
  ): Promise<Executor> {
    const ex = new Executor(nnc, plan, opts);
    try {
      await ex.ready();
    } catch (e) {
      ex.dispose();
      throw e;
    }
    return ex;
  }

  /** Resolves when every pipeline is compiled; rejects with the first compile error. */
  ready(): Promise<void> {
    return this.pending;
  }

  private check(): void {
    if (this.disposed) {
      throw deviceError("NN4606", { detail: "this executor was disposed; create a new one" });
    }
    const e = this.nnc.takeError();
    if (e) throw e;
    if (this.nnc.lost) throw deviceError("NN4602", { reason: "the device was destroyed" });
  }

  /** Serialises async operations that map staging buffers. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const r = this.tail.then(f, f);
    this.tail = r.catch(() => {});
    return r;
  }

  private variable(name: string): PlanVariable {
    const v = this.variables.get(name);
    if (!v) {
      const known = [...this.variables.keys()].join(", ") || "none";
      throw deviceError("NN4606", { detail: `no variable named '${name}' (variables: ${known})` });
    }
    return v;
  }

  private toHost(
    what: string,
    dtype: PlanDType,
    shape: readonly number[],
    data: ArrayLike<number>,
  ): HostArray {
    const n = numelOf(shape);
    if (data.length !== n) {
      throw deviceError("NN4606", {
        detail: `${what} has shape [${shape.join(", ")}] (${n} values) but ${data.length} values were given`,
      });
    }
    if (dtype === "f32") return data instanceof Float32Array ? data : Float32Array.from(data);
    if (data instanceof Int32Array) return data;
    if (data instanceof Float32Array || data instanceof Float64Array) {
      for (let k = 0; k < data.length; k++) {
        if (!Number.isInteger(data[k]!)) {
          throw deviceError("NN4606", {
            detail: `${what} holds integers, but value ${k} is ${data[k]}`,
          });
        }
      }
    }
    return Int32Array.from(data);
  }

  private write(buffer: number, data: HostArray): void {
    if (data.length === 0) return;
    this.device.queue.writeBuffer(
      this.buffers[buffer]!,
      0,
      data.buffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  setVariable(name: string, data: ArrayLike<number>): void {
    this.check();
    const v = this.variable(name);
    this.write(v.buffer, this.toHost(`variable ${name}`, v.dtype, v.shape, data));
  }

  /**
   * Draws every variable's first value from its InitSpec, deterministically from `seed`
   * (variables shared with another executor are left to the one that owns them).
   */
  initVariables(seed: number): void {
    this.check();
    for (const v of this.plan.variables) {
      if (this.owned.has(this.buffers[v.buffer]!)) this.write(v.buffer, initialValues(v, seed));
    }
  }

  /** Whether the plan has a variable named `name`. */
  hasVariable(name: string): boolean {
    return this.variables.has(name);
  }

  writeInput(name: string, data: ArrayLike<number>): void {
    this.check();
    const inp = this.plan.inputs.find((i) => i.name === name);
    if (!inp) {
      const known = this.plan.inputs.map((i) => i.name).join(", ") || "none";
      throw deviceError("NN4606", { detail: `no input named '${name}' (inputs: ${known})` });
    }
    this.write(inp.buffer, this.toHost(`input ${name}`, inp.dtype, inp.shape, data));
  }

  /**
   * The device buffer behind input or output `name`, for work recorded beside the plan's
   * kernels (the gather that fills inputs on the device, copies of per-batch outputs).
   */
  bufferOf(kind: "input" | "output", name: string): { buffer: GPUBuffer; dtype: PlanDType } {
    this.check();
    const list = kind === "input" ? this.plan.inputs : this.plan.outputs;
    const found = list.find((i) => i.name === name);
    if (!found) {
      const known = list.map((i) => i.name).join(", ") || "none";
      throw deviceError("NN4606", { detail: `no ${kind} named '${name}' (${kind}s: ${known})` });
    }
    return { buffer: this.buffers[found.buffer]!, dtype: found.dtype };
  }

  /** Whether the plan has an input named `name`. */
  hasInput(name: string): boolean {
    return this.plan.inputs.some((i) => i.name === name);
  }

  async getVariable(name: string): Promise<HostArray> {
    this.check();
    const v = this.variable(name);
    return this.serial(async () => {
      const [r] = await this.readBack(undefined, [
        { buffer: v.buffer, shape: v.shape, dtype: v.dtype },
      ]);
      return r!;
    });
  }

  /**
   * Records the kernels and the variable updates of `steps` steps into `encoder`; `swaps`
   * replaces kernels (by index in the plan) with others, e.g. ones that read the batch from a
   * resident dataset (runtime/feeder.ts).
   */
  record(encoder: GPUCommandEncoder, steps = 1, swaps?: KernelSwaps): void {
    this.check();
    for (const s of this.steps) {
      if (!s.pipeline) {
        throw deviceError("NN4606", {
          detail: "pipelines are still compiling; await ready() first",
        });
      }
    }
    for (let t = 0; t < steps; t++) {
      this.recordKernels(encoder, swaps);
      this.recordUpdates(encoder);
    }
  }

  private recordKernels(encoder: GPUCommandEncoder, swaps?: KernelSwaps): void {
    if (this.steps.length === 0) return;
    if (this.profiler?.recordKernels(encoder, swaps)) return;
    const pass = encoder.beginComputePass();
    this.steps.forEach((s, i) => {
      if (s.kernel.dispatch.every((d) => d > 0)) dispatchStep(pass, s, swaps?.get(i));
    });
    pass.end();
  }

  /** The buffer of the plan's buffer `id`. */
  bufferAt(id: number): GPUBuffer {
    return this.buffers[id]!;
  }

  private recordUpdates(encoder: GPUCommandEncoder): void {
    for (const u of this.plan.updates) {
      const v = this.variable(u.variable);
      const size = Math.max(4, numelOf(v.shape) * 4);
      encoder.copyBufferToBuffer(this.buffers[u.buffer]!, 0, this.buffers[v.buffer]!, 0, size);
    }
  }

  /** Runs `steps` steps in one submission, reading nothing back. */
  async submit(steps = 1): Promise<void> {
    this.check();
    await this.ready();
    const encoder = this.device.createCommandEncoder();
    this.record(encoder, steps);
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /**
   * One step: every kernel, then the requested outputs copied out, then the updates; one
   * command buffer. Returns the outputs asked for (all by default).
   */
  async run(opts: { outputs?: readonly string[] } = {}): Promise<Record<string, HostArray>> {
    this.check();
    await this.ready();
    const names = opts.outputs ?? this.plan.outputs.map((o) => o.name);
    const outs = names.map((n) => {
      const o = this.plan.outputs.find((x) => x.name === n);
      if (!o) {
        const known = this.plan.outputs.map((x) => x.name).join(", ") || "none";
        throw deviceError("NN4606", { detail: `no output named '${n}' (outputs: ${known})` });
      }
      return o;
    });
    return this.serial(async () => {
      const values = await this.readBack(
        (enc) => this.recordKernels(enc),
        outs,
        (enc) => this.recordUpdates(enc),
      );
      const result: Record<string, HostArray> = {};
      outs.forEach((o, k) => (result[o.name] = values[k]!));
      return result;
    });
  }

  private stagingFor(buffer: number, size: number): GPUBuffer {
    let s = this.staging.get(buffer);
    if (!s || s.size < size) {
      s?.destroy();
      s = this.device.createBuffer({
        label: `nnc staging ${buffer}`,
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      this.staging.set(buffer, s);
    }
    return s;
  }

  private async readBack(
    before: ((enc: GPUCommandEncoder) => void) | undefined,
    what: readonly { buffer: number; shape: readonly number[]; dtype: PlanDType }[],
    after?: (enc: GPUCommandEncoder) => void,
  ): Promise<HostArray[]> {
    this.check();
    const device = this.device;
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    const encoder = device.createCommandEncoder();
    before?.(encoder);
    const stagings = what.map((w) => {
      const size = Math.max(4, numelOf(w.shape) * 4);
      const s = this.stagingFor(w.buffer, size);
      encoder.copyBufferToBuffer(this.buffers[w.buffer]!, 0, s, 0, size);
      return s;
    });
    after?.(encoder);
    device.queue.submit([encoder.finish()]);
    const validation = device.popErrorScope();
    const oom = device.popErrorScope();
    // Distinct buffers only: two outputs may share one buffer.
    const unique = [...new Set(stagings)];
    await Promise.all(unique.map((s) => s.mapAsync(GPUMapMode.READ)));
    const ranges = new Map(unique.map((s) => [s, s.getMappedRange()] as const));
    const results = what.map((w, k) =>
      arrayFor(w.dtype, ranges.get(stagings[k]!)!, numelOf(w.shape)),
    );
    for (const s of unique) s.unmap();
    const [ve, oe] = await Promise.all([validation, oom]);
    const e = ve ?? oe;
    if (e)
      throw deviceError("NN4603", {
        kind: ve ? "validation" : "out-of-memory",
        message: e.message.trim(),
      });
    this.check();
    return results;
  }

  /** Frees every buffer; later calls throw. Pipelines stay cached on the device. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.owned) b.destroy();
    for (const s of this.staging.values()) s.destroy();
    this.staging.clear();
    this.profiler?.dispose();
  }

  /**
   * Per-kernel times of this plan (see runtime/profile.ts), or undefined when the executor was
   * made without profiling. Host-timed profiles run the kernels again; training state is kept.
   */
  async kernelProfile(): Promise<KernelProfile | undefined> {
    this.check();
    await this.ready();
    return this.profiler?.report();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

export { DeviceError };
