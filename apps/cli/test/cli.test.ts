import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { doctorReport, formatDoctor } from '../src/commands/doctor.js';
import { main } from '../src/main.js';
import { VERSION } from '../src/version.js';

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

describe('cli', () => {
  it('doctor reports the adapter and the limits the runtime requested', async () => {
    const d = await doctorReport();
    expect(d.adapter.length).toBeGreaterThan(0);
    expect(d.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(d.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    const text = formatDoctor(d);
    expect(text).toContain(`adapter: ${d.adapter}`);
    expect(text).toMatch(/maxStorageBufferBindingSize\s+\d+ MiB/);
    expect(await main(['doctor', '--json'])).toBe(0);
    expect(JSON.parse(out.join('\n')).adapter).toBe(d.adapter);
  });

  it('an unknown command or flag is a usage error with exit code 2', async () => {
    expect(await main(['frobnicate'])).toBe(2);
    expect(err.join('\n')).toContain('unknown command "frobnicate"');
    expect(await main(['doctor', '--colour'])).toBe(2);
    expect(err.join('\n')).toMatch(/Unknown option '--colour'/);
    expect(await main([])).toBe(2);
  });

  it('the version matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  });
});
