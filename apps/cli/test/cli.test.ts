import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { doctorReport, formatDoctor } from '../src/commands/doctor.js';
import { DEMO_DEFAULTS, parseTrainArgs, REFERENCE_DEFAULTS, type TrainConfig } from '../src/config.js';
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

  it('bad train, evaluate and predict arguments are usage errors with exit code 2', async () => {
    const bad = [
      ['train', '--epochs', 'many'],
      ['train', '--epochs', '0'],
      ['train', '--lr=-1'],
      ['train', '--frobnicate'],
      ['train', '--loss', 'hinge'],
      ['train', '--model', 'vgg'],
      ['train', '--optimizer', 'lbfgs'],
      ['train', '--aug', 'extreme'],
      ['train', '--split', 'kfold:5:5'],
      ['train', '--split', 'random:x'],
      ['train', '--schedule', 'cosine:abc'],
      ['train', '--postprocess', 'lcc3d,nope'],
      ['train', '--image-size', '100'],
      ['train', '--autotune', 'maybe'],
      ['train', '--config', '/nonexistent/config.json'],
      ['train', 'extra-positional'],
      ['evaluate'],
      ['evaluate', '--checkpoint', 'x.safetensors', '--tta', 'rotate'],
      ['predict', '--checkpoint', 'x.safetensors'],
      ['ensemble', '--checkpoint', 'x.safetensors', '--data', '/x'],
    ];
    for (const argv of bad) {
      err = [];
      expect(await main(argv), argv.join(' ')).toBe(2);
      expect(err.join('\n'), argv.join(' ')).toMatch(/^mriseg: [\s\S]+\n\nmriseg \d/);
    }
  });

  it('train options: reference defaults with --data, demo defaults without, a config file, flags override it', () => {
    const withData = parseTrainArgs(['--data', '/some/kaggle_3m']).config;
    expect(withData).toMatchObject({
      model: 'unet',
      features: 32,
      'image-size': 256,
      'batch-size': 16,
      optimizer: 'adam',
      lr: 1e-4,
      'weight-decay': 0,
      loss: 'dice',
      aug: 'reference',
      sampler: 'reference',
      split: 'reference',
      epochs: 100,
      schedule: 'none',
    });
    expect(parseTrainArgs([]).config).toMatchObject({ ...REFERENCE_DEFAULTS, ...DEMO_DEFAULTS });
    const dir = mkdtempSync(join(tmpdir(), 'mriseg-cfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(
      file,
      JSON.stringify({
        data: '/d',
        lr: 0.001,
        loss: 'bce-dice',
        'bce-weight': 0.3,
        epochs: 7,
        'deep-supervision': true,
      }),
    );
    const p = parseTrainArgs(['--config', file, '--lr', '0.02', '--split', 'kfold:5:1']);
    expect(p.config).toMatchObject({
      data: '/d',
      lr: 0.02,
      loss: 'bce-dice',
      'bce-weight': 0.3,
      epochs: 7,
      'deep-supervision': true,
      split: 'kfold:5:1',
      features: 32,
    });
    expect(p.explicit).toEqual({
      data: '/d',
      lr: 0.02,
      loss: 'bce-dice',
      'bce-weight': 0.3,
      epochs: 7,
      'deep-supervision': true,
      split: 'kfold:5:1',
    });
    writeFileSync(file, JSON.stringify({ lr: 'fast' }));
    expect(() => parseTrainArgs(['--config', file])).toThrow(/lr must be a number/);
    writeFileSync(file, JSON.stringify({ colour: 'blue' }));
    expect(() => parseTrainArgs(['--config', file])).toThrow(/unknown key "colour"/);
  });

  it('a stored run configuration from before a key existed resumes with that key at its default', () => {
    const stored = { ...parseTrainArgs(['--data', '/d']).config } as Partial<TrainConfig>;
    delete stored.autotune;
    const resumed = parseTrainArgs(['--epochs', '3'], stored as TrainConfig).config;
    expect(resumed.autotune).toBe('auto');
    expect(resumed.epochs).toBe(3);
    expect(parseTrainArgs(['--autotune', 'off']).config.autotune).toBe('off');
  });
});
