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
          ? 'On a machine without a GPU run `bash scripts/setup-webgpu.sh` (installs the Vulkan loader and Mesa >= 25 ' +
            'lavapipe); with an NVIDIA GPU install its driver with Vulkan support and the Vulkan loader (libvulkan1).'
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
  keptAlive = mod.create(dawnOptions);
  keptOptions = JSON.stringify(dawnOptions);
  return keptAlive;
}

/** The platform's GPU object. */
export async function obtainGpu(dawnOptions: DawnOptions = []): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (isNode) return nodeGpu(dawnOptions);
  throw new NoAdapterError('navigator.gpu is undefined');
}
