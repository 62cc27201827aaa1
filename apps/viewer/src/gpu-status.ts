/** What the page says about WebGPU: the adapter in use, or why there is none and what to do. */
import type { AdapterReport } from '@mriseg/tensor-wgsl';

export interface GpuStatus {
  ok: boolean;
  message: string;
  details?: string;
}

export function statusFromReport(report: AdapterReport): GpuStatus {
  const name =
    [report.vendor, report.architecture, report.description].filter(Boolean).join(' ') || 'unnamed adapter';
  return {
    ok: true,
    message: `WebGPU adapter: ${name}${report.isCpu ? ' (software renderer: inference will be slow)' : ''}`,
    details: `features: ${report.features.join(', ') || 'none'}\nmax storage binding: ${
      (report.limits.maxStorageBufferBindingSize ?? 0) / 2 ** 20
    } MiB`,
  };
}

export function statusFromError(error: unknown, hasNavigatorGpu: boolean): GpuStatus {
  const reason = error instanceof Error ? error.message : String(error);
  return {
    ok: false,
    message: hasNavigatorGpu
      ? `WebGPU is present but no adapter could be used: ${reason}`
      : 'This browser has no WebGPU. Use Chrome or Edge 113+ (or enable WebGPU in Firefox/Safari) to run models here.',
  };
}
