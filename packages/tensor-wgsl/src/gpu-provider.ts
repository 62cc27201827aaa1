/**
 * Where the `GPU` object comes from: `navigator.gpu` in browsers, the `webgpu` npm package (Dawn) in Node.
 * This is the only place that differs between the two.
 */

/** Options passed to Dawn's `create()` in Node, e.g. `['backend=vulkan', 'enable-dawn-features=allow_unsafe_apis']`. */
export type DawnOptions = string[];

// Dawn aborts the process if the object create() returned is garbage-collected while a device lives, so the
// module keeps it for the life of the process.
let keptAlive: GPU | null = null;
let keptOptions = '';

const ICD_DIRS = [
  '/usr/share/vulkan/icd.d',
  '/etc/vulkan/icd.d',
  '/usr/local/share/vulkan/icd.d',
  '/usr/local/nvidia/share/vulkan/icd.d',
];

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(
      `mriseg: no WebGPU adapter (${detail}). ` +
        (isNode
          ? 'Dawn (npm "webgpu") needs a Vulkan driver and the Vulkan loader. With a GPU: its driver with Vulkan ' +
            "support and the loader (Debian/Ubuntu: apt-get install libvulkan1; NVIDIA: the driver's Vulkan ICD). " +
            'Without one: Mesa >= 25 lavapipe, a Vulkan CPU driver (Debian 12: apt-get install libvulkan1 ' +
            'mesa-vulkan-drivers from bookworm-backports; the Mesa 22 of Debian 12 itself is too old for Dawn), or ' +
            'point VK_ICD_FILENAMES at an ICD json. In a clone of the mriseg repository, bash ' +
            'scripts/setup-webgpu.sh installs a private lavapipe. `mriseg doctor` shows the adapter found.'
          : 'Use a browser with WebGPU enabled (Chrome/Edge 113+, or Firefox/Safari with WebGPU turned on).'),
    );
    this.name = 'NoAdapterError';
  }
}

/** The private lavapipe ICD written by scripts/setup-webgpu.sh. */
function privateIcdPath(
  env: Record<string, string | undefined>,
  home: string,
  join: (...p: string[]) => string,
) {
  return join(env.MRISEG_VULKAN_DIR ?? join(home, '.cache/mriseg/vulkan'), 'lvp_icd.json');
}

async function nodeGpu(dawnOptions: DawnOptions): Promise<GPU> {
  if (keptAlive) {
    // Dawn's options (toggles such as robustness) are fixed when it is created, once a process.
    if (JSON.stringify(dawnOptions) !== keptOptions)
      throw new Error(
        `mriseg: Dawn was created in this process with the options ${keptOptions} and cannot be created again with ${JSON.stringify(dawnOptions)}; start a new process to change them`,
      );
    return keptAlive;
  }
  // Module names in variables keep browser bundlers from trying to resolve Node-only modules.
  const fsName = 'node:fs';
  const pathName = 'node:path';
  const osName = 'node:os';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
  const path = (await import(/* @vite-ignore */ pathName)) as typeof import('node:path');
  const os = (await import(/* @vite-ignore */ osName)) as typeof import('node:os');
  const env = process.env;
  if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES) {
    const icd = privateIcdPath(env, os.homedir(), path.join);
    if (fs.existsSync(icd)) {
      // The Vulkan loader reads this when Dawn creates its instance. Real GPU drivers installed on the system stay
      // in the list (the high-performance adapter wins); the system's own CPU drivers, too old for Dawn, do not.
      const real: string[] = [];
      for (const dir of ICD_DIRS) {
        let names: string[] = [];
        try {
          names = fs.readdirSync(dir);
        } catch {
          continue;
        }
        for (const n of names)
          if (n.endsWith('.json') && !/lvp|lavapipe|swiftshader/i.test(n)) real.push(path.join(dir, n));
      }
      env.VK_ICD_FILENAMES = [icd, ...real].join(':');
    }
  }
  if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = os.tmpdir();
  const webgpuName = 'webgpu';
  let mod: { create: (o: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await import(/* @vite-ignore */ webgpuName)) as typeof mod;
  } catch (e) {
    throw new NoAdapterError(`the npm package "webgpu" could not be loaded: ${(e as Error).message}`);
  }
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create(dawnOptions);
  keptAlive = gpu;
  keptOptions = JSON.stringify(dawnOptions);
  // Dawn lists the adapters (once a process) inside the first requestAdapter() call, synchronously; that is when
  // it prints its notes about the adapters' limits. Doing it here, with those notes filtered out, leaves later
  // calls silent. The adapter asked for here is dropped; the runtime asks again with its own options.
  const first = withoutDawnLimitNotes(fs, os, path, () => gpu.requestAdapter());
  await first.catch(() => null);
  return keptAlive;
}

/**
 * Dawn clamps two limits that Vulkan CPU drivers report as unbounded (lavapipe: 1,000,000 dynamic buffers a
 * pipeline layout, to WebGPU's 16) and says so on stderr, from C++, once a process — a note for Dawn's developers
 * that has no bearing on mriseg (its kernels bind one dynamic uniform buffer each, far below 16), and that comes
 * from listing the adapters, not from the limits the runtime requests. Dawn has no switch for it, so while `run` lists the
 * adapters, file descriptor 2 points at a temporary file; afterwards everything written there except those two
 * lines is copied to the real stderr. Linux only: stderr is reopened through /proc, which gives a new open file
 * where Node cannot duplicate the old one; so only where that changes nothing (a terminal, a pipe, a file opened
 * for appending — not `2>file`, whose write position other processes share). MRISEG_DAWN_NOTES=1: no filtering.
 */
function withoutDawnLimitNotes<T>(
  fs: typeof import('node:fs'),
  os: typeof import('node:os'),
  path: typeof import('node:path'),
  run: () => T,
): T {
  if (process.platform !== 'linux' || process.env.MRISEG_DAWN_NOTES === '1' || !reopenable(fs)) return run();
  let saved: number;
  try {
    saved = fs.openSync('/proc/self/fd/2', 'a');
  } catch {
    return run();
  }
  let capture: number;
  try {
    const file = path.join(os.tmpdir(), `mriseg-stderr-${process.pid}-${Date.now()}`);
    capture = fs.openSync(file, 'w+');
    fs.unlinkSync(file);
  } catch {
    fs.closeSync(saved);
    return run();
  }
  // Closing 2 makes it the lowest free descriptor, which the next open() returns: these two lines swap it.
  fs.closeSync(2);
  const swapped = fs.openSync(`/proc/self/fd/${capture}`, 'a');
  try {
    return run();
  } finally {
    fs.closeSync(swapped);
    fs.openSync(`/proc/self/fd/${saved}`, 'a');
    fs.closeSync(saved);
    const size = fs.fstatSync(capture).size;
    const buf = Buffer.alloc(size);
    if (size > 0) fs.readSync(capture, buf, 0, size, 0);
    fs.closeSync(capture);
    const kept = buf
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0 && !DAWN_LIMIT_NOTE.test(l));
    if (kept.length > 0) fs.writeSync(2, `${kept.join('\n')}\n`);
  }
}

/** Whether reopening stderr through /proc behaves as the descriptor it replaces (see withoutDawnLimitNotes). */
function reopenable(fs: typeof import('node:fs')): boolean {
  try {
    const st = fs.fstatSync(2);
    if (st.isCharacterDevice() || st.isFIFO()) return true;
    if (!st.isFile()) return false;
    const flags = /^flags:\s*([0-7]+)/m.exec(fs.readFileSync('/proc/self/fdinfo/2', 'utf8'));
    const O_APPEND = 0o2000;
    return flags !== null && (Number.parseInt(flags[1], 8) & O_APPEND) !== 0;
  } catch {
    return false;
  }
}

const DAWN_LIMIT_NOTE =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** The platform's GPU object. */
export async function obtainGpu(dawnOptions: DawnOptions = []): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (isNode) return nodeGpu(dawnOptions);
  throw new NoAdapterError('navigator.gpu is undefined');
}
