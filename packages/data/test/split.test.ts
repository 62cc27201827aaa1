import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSplit, REFERENCE_VALIDATION_IDS, tumourVolumes, writeSplitManifest } from '../src/split.js';
import { tempDir } from './helpers.js';

const OTHERS = Array.from({ length: 100 }, (_, i) => `TCGA_ZZ_${String(i).padStart(4, '0')}_20000101`);
const ALL = [...OTHERS, ...REFERENCE_VALIDATION_IDS];

describe('splits by patient', () => {
  it('reference: the 10 documented IDs', () => {
    const s = makeSplit(ALL, { kind: 'reference' });
    expect(s.validation).toEqual([...REFERENCE_VALIDATION_IDS].sort());
    expect(s.train).toHaveLength(100);
    expect(s.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(() => makeSplit(OTHERS, { kind: 'reference' })).toThrow(/10 of its 10 validation patients/);
    expect(
      makeSplit([...OTHERS, REFERENCE_VALIDATION_IDS[0]], { kind: 'reference', partial: true }).validation,
    ).toEqual([REFERENCE_VALIDATION_IDS[0]]);
  });

  it('random: seeded, deterministic, disjoint', () => {
    const a = makeSplit(ALL, { kind: 'random', validation: 12, seed: 5 });
    const b = makeSplit(ALL, { kind: 'random', validation: 12, seed: 5 });
    const c = makeSplit(ALL, { kind: 'random', validation: 12, seed: 6 });
    expect(a.validation).toEqual(b.validation);
    expect(a.hash).toBe(b.hash);
    expect(a.validation).not.toEqual(c.validation);
    expect(a.validation).toHaveLength(12);
    expect(new Set([...a.train, ...a.validation]).size).toBe(110);
  });

  it('k-fold: every patient validates exactly once; stratified folds balance tumour volume', () => {
    const volumes = Object.fromEntries(ALL.map((id, i) => [id, (i * 7919) % 1000]));
    for (const stratified of [false, true]) {
      const seen = new Map<string, number>();
      const means: number[] = [];
      for (let fold = 0; fold < 5; fold++) {
        const s = makeSplit(ALL, {
          kind: 'kfold',
          k: 5,
          fold,
          seed: 1,
          volumes: stratified ? volumes : undefined,
        });
        expect(s.validation).toHaveLength(22);
        for (const id of s.validation) seen.set(id, (seen.get(id) ?? 0) + 1);
        means.push(s.validation.reduce((a, id) => a + volumes[id], 0) / 22);
      }
      expect(seen.size).toBe(110);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      if (stratified) expect(Math.max(...means) - Math.min(...means)).toBeLessThan(40);
    }
    expect(() => makeSplit(ALL, { kind: 'kfold', k: 5, fold: 5, seed: 1 })).toThrow(/fold 5/);
    expect(tumourVolumes([{ id: 'a', mask: Uint8Array.from([0, 1, 1, 0, 1]) }])).toEqual({ a: 3 });
  });

  it('from a file of IDs, and a manifest round trip', () => {
    const { dir, cleanup } = tempDir('split');
    try {
      const list = join(dir, 'val.txt');
      writeFileSync(list, `# validation\n${OTHERS[3]}\n\n${OTHERS[7]}  # comment\n`);
      const s = makeSplit(ALL, { kind: 'file', path: list });
      expect(s.validation).toEqual([OTHERS[3], OTHERS[7]]);
      const manifest = join(dir, 'split.json');
      writeSplitManifest(manifest, s);
      const m = JSON.parse(readFileSync(manifest, 'utf8'));
      expect(m.hash).toBe(s.hash);
      expect(makeSplit(ALL, { kind: 'file', path: manifest }).hash).toBe(s.hash);
      writeFileSync(list, 'TCGA_NOPE_1\n');
      expect(() => makeSplit(ALL, { kind: 'file', path: list })).toThrow(
        /val.txt: patient TCGA_NOPE_1 is not in the data/,
      );
    } finally {
      cleanup();
    }
  });
});
