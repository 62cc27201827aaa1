/** `doctor`: what this machine offers mriseg — adapter, features, limits, versions. */
import { initDevice } from '@mriseg/tensor-wgsl';
import { VERSION } from '../version.js';

export interface DoctorReport {
  mriseg: string;
  node: string;
  platform: string;
  adapter: string;
  isCpu: boolean;
  features: string[];
  limits: Record<string, number>;
  vulkanIcd: string | null;
}

export async function doctorReport(): Promise<DoctorReport> {
  const rt = await initDevice();
  const r = rt.report;
  return {
    mriseg: VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    adapter: [r.vendor, r.architecture, r.device, r.description].filter(Boolean).join(' ').trim(),
    isCpu: r.isCpu,
    features: r.features,
    limits: r.limits,
    vulkanIcd: process.env.VK_ICD_FILENAMES ?? null,
  };
}

export function formatDoctor(d: DoctorReport): string {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    `mriseg ${d.mriseg} on Node ${d.node} (${d.platform})`,
    `adapter: ${d.adapter}${d.isCpu ? '  [CPU driver: fine for tests, far too slow to train]' : ''}`,
    `features: ${d.features.join(', ') || '(none)'}`,
    'limits:',
    ...Object.entries(d.limits).map(
      ([k, v]) => `  ${k.padEnd(36)} ${k.endsWith('Size') && v >= 2 ** 20 ? mib(v) : v}`,
    ),
  ];
  if (d.vulkanIcd) lines.push(`Vulkan ICD: ${d.vulkanIcd}`);
  return lines.join('\n');
}

export async function doctor(args: { json?: boolean }): Promise<number> {
  const d = await doctorReport();
  console.log(args.json ? JSON.stringify(d, null, 2) : formatDoctor(d));
  return 0;
}
