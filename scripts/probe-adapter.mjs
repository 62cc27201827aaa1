// Prints the WebGPU adapter this project would use and exits 0, or prints why there is none and exits 1.
// Used by setup-webgpu.sh; the same ICD fallback as the runtime (packages/tensor-wgsl/src/gpu-node.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

const icd = join(process.env.MRISEG_VULKAN_DIR ?? join(homedir(), '.cache/mriseg/vulkan'), 'lvp_icd.json');
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(icd))
  process.env.VK_ICD_FILENAMES = icd;
// webgpu is a dependency of @mriseg/tensor-wgsl, so it resolves from that package.
const require = createRequire(new URL('../packages/tensor-wgsl/package.json', import.meta.url));
const { create, globals } = require('webgpu');
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error('no WebGPU adapter');
  process.exit(1);
}
const info = adapter.info;
console.log(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`.trim());
globalThis.__keepGpu = gpu;
