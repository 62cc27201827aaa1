import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { doctorReport, formatDoctor } from '../src/commands/doctor.js';
import {
  DEMO_DEFAULTS,
  parseTrainArgs,
  REFERENCE_DEFAULTS,
  TRAIN_KEYS,
  type TrainConfig,
} from '../src/config.js';
import { main } from '../src/main.js';
import { TRAIN } from '../src/options/commands.js';
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
    expect(err.join('\n')).toContain("unknown command 'frobnicate'");
    expect(await main(['doctor', '--colour'])).toBe(2);
    expect(err.join('\n')).toMatch(/unknown option '--colour'/);
    expect(await main([])).toBe(2);
  });

  it('the version matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
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
        model: 'unet++',
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
      model: 'unet++',
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
      model: 'unet++',
      'deep-supervision': true,
      split: 'kfold:5:1',
    });
    // The same file's deep supervision with a model without heads is refused, as the flag is.
    expect(() => parseTrainArgs(['--config', file, '--model', 'unet'])).toThrow(
      /--deep-supervision: unet has no deep-supervision heads/,
    );
    writeFileSync(file, JSON.stringify({ lr: 'fast' }));
    expect(() => parseTrainArgs(['--config', file])).toThrow(/lr must be a number/);
    writeFileSync(file, JSON.stringify({ colour: 'blue' }));
    expect(() => parseTrainArgs(['--config', file])).toThrow(/unknown key "colour"/);
    writeFileSync(file, JSON.stringify({ resume: 'runs/x' }));
    expect(() => parseTrainArgs(['--config', file])).toThrow(/unknown key "resume"/);
    // Every option a config file may hold takes its own default back: the file and the flags share one schema.
    const { config: _c, resume: _r, ...rest } = { ...REFERENCE_DEFAULTS, config: 0, resume: 0 };
    writeFileSync(file, JSON.stringify(rest));
    expect(parseTrainArgs(['--config', file]).config).toEqual(REFERENCE_DEFAULTS);
  });

  it('the defaults are those the schema declares, the demo ones on top without --data', () => {
    expect(TRAIN_KEYS).toEqual(TRAIN.options.filter((o) => o.config !== false).map((o) => o.name));
    for (const o of TRAIN.options) {
      if (o.config === false) continue;
      expect(REFERENCE_DEFAULTS[o.name as keyof TrainConfig], o.name).toEqual(o.default ?? null);
      if (o.demo !== undefined) expect(DEMO_DEFAULTS[o.name as keyof TrainConfig], o.name).toEqual(o.demo);
    }
    expect(Object.keys(DEMO_DEFAULTS).sort()).toEqual(
      ['batch-size', 'epochs', 'features', 'image-size', 'lr', 'split', 'val-batch-size'].sort(),
    );
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
