/**
 * The one way to write a kernel: a description that names its storage bindings and its uniform parameters and
 * carries an explicit cache key. The WGSL declarations (bindings in the listed order, a uniform struct), the
 * uniform layout that values are packed into, the explicit bind-group layout and the pipeline all follow from the
 * description, once per key. A dispatch then binds buffers by name and passes uniforms by name; nothing at
 * dispatch time builds, hashes or parses WGSL.
 *
 * The uniform struct is bound with a dynamic offset into the runtime's uniform arena (device.ts), so a bind group
 * depends only on the storage buffers bound and is cached by them.
 */

/** A storage buffer of a kernel: an array of `type` (default f32), read-only unless `access` is read_write. */
export interface StorageDecl {
  name: string;
  type?: 'f32' | 'i32' | 'u32';
  access?: 'read' | 'read_write';
}

type Scalar = 'u32' | 'i32' | 'f32';
/** A uniform: a scalar, or `T[n]`, an array of n scalars (stored as ⌈n/4⌉ vec4s, read through `<name>At(i)`). */
export type UniformType = Scalar | `${Scalar}[${number}]`;

export interface KernelSpec {
  /** The op's name: pipeline label, profile row and error messages. */
  name: string;
  /** Storage bindings, bound at 0, 1, … in this order. */
  storage: readonly StorageDecl[];
  /** Uniform parameters by name, in layout order; read in WGSL as `params.<name>` (arrays: `<name>At(i)`). */
  uniforms?: Readonly<Record<string, UniformType>>;
  /** Threads of a workgroup (x, y, z). */
  workgroupSize: number | readonly [number, number?, number?];
  /**
   * The shader after the declarations: module-scope helpers and `fn main(...)` with the builtins it needs (the
   * `@compute @workgroup_size` attribute is added).
   */
  code: string;
}

/** Uniform values by name: numbers, or array-likes for array uniforms. */
export type UniformValues = Readonly<Record<string, number | ArrayLike<number>>>;

/** Buffers by binding name. */
export type Bindings = Readonly<Record<string, GPUBuffer>>;

enum Kind {
  U32 = 0,
  I32 = 1,
  F32 = 2,
}

/** Where one uniform lives in the packed words. */
interface UniformSlot {
  name: string;
  kind: Kind;
  /** Word offset in the struct. */
  at: number;
  /** Array length (0: a scalar). */
  length: number;
}

const KINDS: Record<Scalar, Kind> = { u32: Kind.U32, i32: Kind.I32, f32: Kind.F32 };

function parseUniform(kernel: string, name: string, type: UniformType): { scalar: Scalar; length: number } {
  const m = /^(u32|i32|f32)(?:\[(\d+)\])?$/.exec(type);
  if (!m || (m[2] !== undefined && Number(m[2]) < 1))
    throw new Error(`kernel ${kernel}: uniform ${name} has the unknown type '${type}'`);
  return { scalar: m[1] as Scalar, length: m[2] === undefined ? 0 : Number(m[2]) };
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A kernel description compiled into its WGSL and uniform layout; the runtime attaches its pipeline. */
export class Kernel {
  private static nextId = 1;
  /** A small integer naming this kernel in bind-group keys and recordings. */
  readonly id = Kernel.nextId++;
  readonly name: string;
  readonly wgsl: string;
  /** Storage binding names in binding order. */
  readonly storageNames: readonly string[];
  readonly storage: readonly Required<StorageDecl>[];
  readonly uniformSlots: readonly UniformSlot[];
  /** Bytes of the uniform struct (a multiple of 16; 0 without uniforms). */
  readonly uniformBytes: number;
  /** Threads a workgroup. */
  readonly threads: number;
  /** Set by the runtime: the pipeline and its bind groups on the device it was compiled for. */
  compiled: unknown = null;

  constructor(
    /** The explicit cache key this kernel is registered under. */
    readonly key: string,
    spec: KernelSpec,
  ) {
    this.name = spec.name;
    this.storage = spec.storage.map((s) => ({
      name: s.name,
      type: s.type ?? 'f32',
      access: s.access ?? 'read',
    }));
    this.storageNames = this.storage.map((s) => s.name);
    const names = new Set<string>();
    for (const n of [...this.storageNames, ...Object.keys(spec.uniforms ?? {})]) {
      if (!IDENT.test(n)) throw new Error(`kernel ${spec.name}: '${n}' is not a WGSL identifier`);
      if (names.has(n)) throw new Error(`kernel ${spec.name}: the name '${n}' is declared twice`);
      names.add(n);
    }
    if (/@binding|@group|var<uniform>/.test(spec.code))
      throw new Error(`kernel ${spec.name}: its code declares bindings itself; list them in the description`);
    const slots: UniformSlot[] = [];
    const fields: string[] = [];
    const accessors: string[] = [];
    let words = 0;
    for (const [name, type] of Object.entries(spec.uniforms ?? {})) {
      const { scalar, length } = parseUniform(spec.name, name, type);
      if (length === 0) {
        slots.push({ name, kind: KINDS[scalar], at: words, length: 0 });
        fields.push(`  ${name}: ${scalar},`);
        words += 1;
      } else {
        // Arrays in the uniform address space need a 16-byte stride: vec4s, aligned to 16 bytes.
        words = Math.ceil(words / 4) * 4;
        const vecs = Math.ceil(length / 4);
        slots.push({ name, kind: KINDS[scalar], at: words, length });
        fields.push(`  ${name}: array<vec4<${scalar}>, ${vecs}>,`);
        accessors.push(`fn ${name}At(i: u32) -> ${scalar} { return params.${name}[i >> 2u][i & 3u]; }`);
        words += 4 * vecs;
      }
    }
    this.uniformSlots = slots;
    this.uniformBytes = slots.length ? Math.ceil(words / 4) * 16 : 0;
    const ws = typeof spec.workgroupSize === 'number' ? [spec.workgroupSize] : spec.workgroupSize;
    const [x, y = 1, z = 1] = ws;
    this.threads = x * (y ?? 1) * (z ?? 1);
    const decls = this.storage.map(
      (s, i) => `@group(0) @binding(${i}) var<storage, ${s.access}> ${s.name}: array<${s.type}>;`,
    );
    if (slots.length) {
      decls.push(`struct Params {\n${fields.join('\n')}\n}`);
      decls.push(`@group(0) @binding(${this.storage.length}) var<uniform> params: Params;`);
      decls.push(...accessors);
    }
    const entry = /(^|\n)\s*fn main\(/.exec(spec.code);
    if (!entry) throw new Error(`kernel ${spec.name}: its code has no fn main(...)`);
    const at = entry.index + entry[1].length;
    const attribute = `@compute @workgroup_size(${x}, ${y ?? 1}, ${z ?? 1})\n`;
    this.wgsl = `${decls.join('\n')}\n${spec.code.slice(0, at)}${attribute}${spec.code.slice(at).trimStart()}`;
  }

  /**
   * Packs `values` into `u32`/`i32`/`f32` (three views of the same words) at word `base`. Throws naming the
   * kernel and the uniform when one is missing or of the wrong kind.
   */
  packUniforms(
    values: UniformValues,
    u32: Uint32Array,
    i32: Int32Array,
    f32: Float32Array,
    base: number,
  ): void {
    for (const s of this.uniformSlots) {
      const v = values[s.name];
      if (s.length === 0) {
        if (typeof v !== 'number') throw this.badUniform(s, v);
        const at = base + s.at;
        if (s.kind === Kind.F32) f32[at] = v;
        else if (s.kind === Kind.I32) i32[at] = v;
        else u32[at] = v;
      } else {
        if (v === undefined || typeof v === 'number' || v.length > s.length) throw this.badUniform(s, v);
        const at = base + s.at;
        const view = s.kind === Kind.F32 ? f32 : s.kind === Kind.I32 ? i32 : u32;
        for (let i = 0; i < v.length; i++) view[at + i] = v[i];
        for (let i = v.length; i < s.length; i++) view[at + i] = 0;
      }
    }
  }

  /** Checks that `values` names exactly this kernel's uniforms (done once per kernel: a typo fails loudly). */
  checkUniformNames(values: UniformValues): void {
    const expected = new Set(this.uniformSlots.map((s) => s.name));
    for (const k of Object.keys(values))
      if (!expected.has(k)) throw new Error(`kernel ${this.name}: it has no uniform '${k}'`);
  }

  private badUniform(s: UniformSlot, v: unknown): Error {
    const want = s.length ? `up to ${s.length} numbers` : 'a number';
    return new Error(
      `kernel ${this.name}: uniform ${s.name} needs ${want}, got ${v === undefined ? 'nothing' : typeof v === 'number' ? v : `${(v as ArrayLike<number>).length} values`}`,
    );
  }
}

const registry = new Map<string, Kernel>();

/**
 * The kernel registered under `key`, made from `make()` the first time. Keys are explicit and namespaced by the
 * caller (e.g. `reduce.row|sum`); everything the generated code depends on must be part of the key.
 */
export function kernel(key: string, make: () => KernelSpec): Kernel {
  let k = registry.get(key);
  if (!k) {
    k = new Kernel(key, make());
    registry.set(key, k);
  }
  return k;
}

/** A kernel without variants, defined once at module scope and compiled when first dispatched. */
export function defineKernel(key: string, spec: KernelSpec): Kernel {
  return kernel(key, () => spec);
}

/** Every kernel registered so far (for audits and tests). */
export function registeredKernels(): Kernel[] {
  return [...registry.values()];
}
