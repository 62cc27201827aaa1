import { describe, expect, it } from 'vitest';
import { statusFromError, statusFromReport } from '../src/gpu-status.js';

const report = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: '',
  description: 'H100',
  isCpu: false,
  features: ['subgroups', 'timestamp-query'],
  limits: { maxStorageBufferBindingSize: 2 ** 31 },
};

describe('gpu status text', () => {
  it('names the adapter, warns on software renderers and lists features', () => {
    const s = statusFromReport(report);
    expect(s.ok).toBe(true);
    expect(s.message).toBe('WebGPU adapter: nvidia hopper H100');
    expect(s.details).toContain('subgroups, timestamp-query');
    expect(s.details).toContain('2048 MiB');
    expect(statusFromReport({ ...report, isCpu: true }).message).toMatch(/software renderer/);
  });

  it('tells a browser without WebGPU what to do, and reports a failing adapter', () => {
    expect(statusFromError(new Error('x'), false).message).toMatch(/no WebGPU.*Chrome or Edge 113/);
    const s = statusFromError(new Error('adapter lost'), true);
    expect(s.ok).toBe(false);
    expect(s.message).toContain('adapter lost');
  });
});
