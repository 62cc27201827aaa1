import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync as nodeDeflate } from 'node:zlib';
import {
  DataError,
  deriveRng,
  encodePng,
  encodeTiff,
  generatePhantomPatient,
  readPatient,
  scanPatient,
} from '@mriseg/data';
import { REFERENCE_INFERENCE } from '@mriseg/models';
import type { Checkpoint } from '@mriseg/nn';
import { describe, expect, it } from 'vitest';
import { type NamedBytes, patientFromFiles } from '../src/files.js';
import { inferArchitecture, planModel } from '../src/model.js';
import { deflateSync, inflateSync } from '../src/zlib-browser.js';

/** The shared sample of the real dataset (/work/shared, or MRISEG_SHARED); missing = failure, never a skip. */
const SHARED = process.env.MRISEG_SHARED
  ? `${process.env.MRISEG_SHARED.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../../../shared/', import.meta.url));
const SAMPLE = `${SHARED}data/sample/kaggle_3m`;

const raw = generatePhantomPatient('TCGA_XX_0001_20000101', deriveRng(1, 'viewer-test'), {
  size: 16,
  slices: [5, 5],
});
const plane = raw.height * raw.width;

function folder(format: 'tif' | 'png', masks = true): NamedBytes[] {
  const enc = format === 'png' ? encodePng : encodeTiff;
  const out: NamedBytes[] = [{ name: 'README.md', bytes: new Uint8Array([35]) }];
  for (let z = 0; z < raw.depth; z++) {
    const n = raw.sliceNumbers[z];
    const image = raw.image.subarray(z * plane * 3, (z + 1) * plane * 3);
    out.push({
      name: `${raw.id}_${n}.${format}`,
      bytes: enc({ width: 16, height: 16, channels: 3, data: image }),
    });
    if (masks) {
      const mask = Uint8Array.from(raw.mask.subarray(z * plane, (z + 1) * plane), (v) => v * 255);
      out.push({
        name: `${raw.id}_${n}_mask.${format}`,
        bytes: enc({ width: 16, height: 16, channels: 1, data: mask }),
      });
    }
  }
  // Browsers list files in any order: numeric slice order must not depend on it.
  return out.reverse();
}

function problem(files: NamedBytes[]): DataError {
  try {
    patientFromFiles(files);
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('no error');
}

describe('patient from picked files', () => {
  it('reads TIFF and PNG folders exactly, in slice order, skipping other files', () => {
    for (const format of ['tif', 'png'] as const) {
      const p = patientFromFiles(folder(format));
      expect(p.hasMask).toBe(true);
      expect(p.raw.id).toBe(raw.id);
      expect(p.raw.sliceNumbers).toEqual(raw.sliceNumbers);
      expect(p.raw.image).toEqual(raw.image);
      expect(p.raw.mask).toEqual(raw.mask);
    }
  });

  it('reads a real Kaggle patient exactly as the data package reads it from disk', () => {
    const id = 'TCGA_HT_A616_19991226';
    const dir = join(SAMPLE, id);
    const files = readdirSync(dir).map((name) => ({
      name,
      bytes: new Uint8Array(readFileSync(join(dir, name))),
    }));
    const p = patientFromFiles(files);
    const ref = readPatient(scanPatient(dir, id));
    expect(p.hasMask).toBe(true);
    expect(p.raw.sliceNumbers).toEqual(ref.sliceNumbers);
    // Byte comparison: toEqual walks 17 MB element by element.
    expect(p.raw.image.length).toBe(ref.image.length);
    expect(Buffer.compare(p.raw.image as Uint8Array, ref.image)).toBe(0);
    expect(Buffer.compare(p.raw.mask, ref.mask)).toBe(0);
    expect(ref.mask.some((v) => v === 1)).toBe(true);
  });

  it("inflates zlib streams in the browser shim like node's, and refuses truncated ones", () => {
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 251);
    expect(inflateSync(nodeDeflate(data))).toEqual(data);
    expect(inflateSync(deflateSync(data))).toEqual(data);
    const z = nodeDeflate(data);
    expect(() => inflateSync(z.subarray(0, z.length >> 1))).toThrow();
  });

  it("honours maxOutputLength as node's inflateSync does (stops early, ERR_BUFFER_TOO_LARGE)", () => {
    const bomb = nodeDeflate(new Uint8Array(8 << 20));
    let err: unknown;
    try {
      inflateSync(bomb, { maxOutputLength: 1000 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect((err as { code?: string }).code).toBe('ERR_BUFFER_TOO_LARGE');
    expect(inflateSync(bomb, { maxOutputLength: 8 << 20 }).length).toBe(8 << 20);
  });

  it('accepts a folder without masks', () => {
    const p = patientFromFiles(folder('png', false));
    expect(p.hasMask).toBe(false);
    expect(p.raw.mask.every((v) => v === 0)).toBe(true);
  });

  it('names the bad file and the problem', () => {
    const files = folder('tif');
    const img = files.find((f) => f.name === `${raw.id}_3.tif`)!;
    img.bytes = img.bytes.subarray(0, 40);
    const e = problem(files);
    expect(e.file).toBe(`${raw.id}_3.tif`);
    expect(e.problem).toMatch(/truncated/);

    const missing = folder('png').filter((f) => f.name !== `${raw.id}_2_mask.png`);
    expect(problem(missing).problem).toMatch(/image without mask/);
    const mixed = [...folder('png'), { name: 'TCGA_YY_0002_20000101_1.png', bytes: new Uint8Array(1) }];
    expect(problem(mixed).problem).toMatch(/one patient's slices at a time/);
    const formats = [...folder('png'), { name: `${raw.id}_9.tif`, bytes: new Uint8Array(1) }];
    expect(problem(formats).problem).toMatch(/mixes/);
    expect(problem([{ name: 'notes.txt', bytes: new Uint8Array(1) }]).problem).toMatch(/no slices found/);
    const grey = folder('png');
    const first = grey.find((f) => f.name === `${raw.id}_4.png`)!;
    first.bytes = encodePng({ width: 16, height: 16, channels: 1, data: new Uint8Array(256) });
    expect(problem(grey).problem).toMatch(/wrong channel count 1, 3 expected/);
  });
});

function ck(keys: Record<string, number[]>, config?: unknown, raw: Record<string, string> = {}): Checkpoint {
  const model = new Map(
    Object.entries(keys).map(([k, shape]) => [
      k,
      { dtype: 'f32' as const, shape, data: new Float32Array(0) },
    ]),
  );
  return {
    model,
    optimizer: null,
    scheduler: null,
    metadata: { config },
    rawMetadata: raw,
  } as unknown as Checkpoint;
}

describe('model plan', () => {
  it('infers the architecture and width of plain PyTorch state dicts', () => {
    expect(inferArchitecture(ck({ 'encoder1.enc1conv1.weight': [8, 3, 3, 3] }).model)).toEqual({
      architecture: 'unet',
      features: 8,
    });
    expect(
      inferArchitecture(
        ck({ 'encoder1.enc1conv1.weight': [4, 3, 3, 3], 'attention4.W_g.0.weight': [1] }).model,
      ),
    ).toEqual({ architecture: 'attention-unet', features: 4 });
    expect(inferArchitecture(ck({ 'x0_0.conv1.weight': [2, 3, 3, 3] }).model)).toEqual({
      architecture: 'unet++',
      features: 2,
    });
    expect(inferArchitecture(ck({ 'fc.weight': [2] }).model)).toBeNull();
  });

  it("uses the checkpoint's config and input size, or the user's choice", () => {
    const auto = { architecture: 'auto', features: null, inputSize: null };
    const withConfig = ck({}, { architecture: 'unet', features: 4 }, { preprocess: '{"size":64}' });
    expect(planModel(withConfig, auto)).toMatchObject({ architecture: 'unet', inputSize: 64 });
    expect(planModel(withConfig, { ...auto, inputSize: 128 }).inputSize).toBe(128);
    const plain = ck({ 'encoder1.enc1conv1.weight': [16, 3, 3, 3] });
    expect(planModel(plain, auto)).toMatchObject({
      config: { architecture: 'unet', features: 16 },
      inputSize: 256,
    });
    expect(planModel(plain, { ...auto, architecture: 'resunet', features: 8 }).config).toEqual({
      architecture: 'resunet',
      features: 8,
    });
    expect(() => planModel(ck({ 'fc.weight': [2] }), auto)).toThrow(/choose one under "Model options"/);
  });

  it('runs a checkpoint as it records: input size, preprocessing, threshold and post-processing', () => {
    const auto = { architecture: 'auto', features: null, inputSize: null };
    const inference = {
      ...REFERENCE_INFERENCE,
      inputSize: 64,
      threshold: 0.35,
      postprocess: 'lcc3d,fill-holes2d',
    };
    const recorded = ck({}, { architecture: 'unet', features: 4 });
    recorded.metadata.inference = inference;
    expect(planModel(recorded, auto)).toMatchObject({
      inputSize: 64,
      inputSource: 'recorded in the checkpoint',
      inference,
      preprocess: { size: 64 },
    });
    expect(planModel(recorded, { ...auto, inputSize: 128 })).toMatchObject({
      inputSize: 128,
      inputSource: 'as chosen',
      preprocess: { size: 128 },
    });
    // A checkpoint of `mriseg train` from before the inference settings: its training options give the size.
    const older = ck(
      {},
      { architecture: 'unet', features: 4 },
      { 'mriseg.train': JSON.stringify({ config: { 'image-size': 64 } }) },
    );
    expect(planModel(older, auto)).toMatchObject({
      inputSize: 64,
      inputSource: "from the checkpoint's training options",
    });
    expect(planModel(ck({ 'encoder1.enc1conv1.weight': [16, 3, 3, 3] }), auto).inputSource).toMatch(
      /reference default/,
    );
  });
});
