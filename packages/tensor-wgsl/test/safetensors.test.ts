import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  entryToFloat32,
  floatToHalf,
  halfToFloat,
  initDevice,
  parseSafetensors,
  SafetensorsError,
  type SafetensorsWriteEntry,
  serializeSafetensors,
} from '../src/index.js';
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from '../src/node.js';

let dir = '';

beforeAll(async () => {
  await initDevice();
  dir = mkdtempSync(join(tmpdir(), 'mriseg-st-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function headerOf(bytes: Uint8Array): { length: number; json: string } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, json: new TextDecoder().decode(bytes.subarray(8, 8 + length)) };
}

/** A file built by hand: header JSON (unpadded) and data bytes. */
function handMade(header: unknown, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const ENTRIES: [string, SafetensorsWriteEntry][] = [
  ['w.f32', { shape: [2, 3], data: new Float32Array([1.5, -2, 3.25, 0, -0, 1e-30]) }],
  ['x.f64', { shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
  ['a.i32', { shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) }],
  ['b.i16', { shape: [2], data: new Int16Array([-32768, 12]) }],
  ['c.i8', { shape: [1, 2], data: new Int8Array([-128, 127]) }],
  ['d.u8', { shape: [3], data: new Uint8Array([0, 128, 255]) }],
  ['e.u16', { shape: [1], data: new Uint16Array([65535]) }],
  ['f.u32', { shape: [1], data: new Uint32Array([4294967295]) }],
  ['g.i64', { shape: [2], data: new BigInt64Array([-5n, 1234567890123n]) }],
  ['h.u64', { shape: [1], data: new BigUint64Array([42n]) }],
  ['half', { dtype: 'F16', shape: [5], data: new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001, 0x3555]) }],
  ['brain', { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xc040]) }],
  ['mask', { dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) }],
  ['empty', { shape: [0, 3], data: new Float32Array(0) }],
];

describe('safetensors bytes', () => {
  it('round-trips every dtype with metadata', () => {
    const bytes = serializeSafetensors(ENTRIES, { framework: 'mriseg', epoch: '3' });
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ framework: 'mriseg', epoch: '3' });
    expect([...file.tensors.keys()].sort()).toEqual(ENTRIES.map(([n]) => n).sort());
    for (const [name, e] of ENTRIES) {
      const got = file.tensors.get(name)!;
      expect(got.shape).toEqual(e.shape);
      const raw = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      expect(Array.from(got.bytes)).toEqual(Array.from(raw));
    }
    const f32 = (n: string) => Array.from(entryToFloat32(file.tensors.get(n)!));
    expect(file.tensors.get('x.f64')!.dtype).toBe('F64');
    expect(file.tensors.get('g.i64')!.dtype).toBe('I64');
    expect(f32('w.f32')).toEqual([1.5, -2, 3.25, 0, -0, Math.fround(1e-30)]);
    expect(f32('x.f64')).toEqual([Math.fround(Math.PI), Number.NEGATIVE_INFINITY]);
    expect(f32('a.i32')).toEqual([-2147483648, 0, 2147483647].map(Math.fround));
    expect(f32('b.i16')).toEqual([-32768, 12]);
    expect(f32('c.i8')).toEqual([-128, 127]);
    expect(f32('d.u8')).toEqual([0, 128, 255]);
    expect(f32('e.u16')).toEqual([65535]);
    expect(f32('f.u32')).toEqual([4294967296]);
    expect(f32('g.i64')).toEqual([-5, Math.fround(1234567890123)]);
    expect(f32('h.u64')).toEqual([42]);
    expect(f32('half')).toEqual([1, -2, Number.POSITIVE_INFINITY, 2 ** -24, Math.fround(0.333251953125)]);
    expect(f32('brain')).toEqual([1, -3]);
    expect(f32('mask')).toEqual([1, 0, 0, 1]);
    expect(f32('empty')).toEqual([]);
  });

  it('sorts names by default (as the Python writer does) and keeps the given order otherwise', () => {
    const entries: [string, SafetensorsWriteEntry][] = [
      ['z', { shape: [1], data: new Float32Array([1]) }],
      ['a', { shape: [1], data: new Float32Array([2]) }],
    ];
    const sorted = JSON.parse(headerOf(serializeSafetensors(entries)).json);
    expect(sorted.a.data_offsets).toEqual([0, 4]);
    expect(sorted.z.data_offsets).toEqual([4, 8]);
    const kept = JSON.parse(headerOf(serializeSafetensors(entries, undefined, false)).json);
    expect(kept.z.data_offsets).toEqual([0, 4]);
    const noMeta = JSON.parse(headerOf(serializeSafetensors(entries, {})).json);
    expect('__metadata__' in noMeta).toBe(false);
  });

  it('pads the header with spaces to a multiple of 8 so the data is aligned', () => {
    for (let len = 1; len <= 9; len++) {
      const bytes = serializeSafetensors([['n'.repeat(len), { shape: [1], data: new Float64Array([len]) }]]);
      const { length, json } = headerOf(bytes);
      expect(length % 8).toBe(0);
      expect(json.trimEnd().length).toBeLessThanOrEqual(length);
      expect(/^ *$/.test(json.slice(json.trimEnd().length))).toBe(true);
      const file = parseSafetensors(bytes);
      expect(entryToFloat32(file.tensors.get('n'.repeat(len))!)[0]).toBe(len);
      expect(bytes.byteLength).toBe(8 + length + 8);
    }
  });

  it('refuses data whose size does not match shape and dtype when writing', () => {
    expect(() => serializeSafetensors([['w', { shape: [2, 2], data: new Float32Array(3) }]])).toThrow(
      SafetensorsError,
    );
    expect(() =>
      serializeSafetensors([['w', { shape: [2], dtype: 'F64', data: new Float32Array(2) }]]),
    ).toThrow(/w: shape \[2\] as F64 needs 16 bytes, data has 8/);
  });

  const good = () => serializeSafetensors([['t', { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]);
  const CORRUPT: [string, () => Uint8Array, RegExp][] = [
    ['shorter than the length field', () => new Uint8Array(5), /5 bytes, too short/],
    [
      'truncated inside the data',
      () => good().subarray(0, good().length - 3),
      /ends at byte 16 of a 13-byte data section/,
    ],
    ['truncated inside the header', () => good().subarray(0, 20), /header length \d+ runs past the end/],
    ['header that is not JSON', () => handMade('{"t": {"dtype": '), /not valid JSON/],
    ['header that is a JSON array', () => handMade([1, 2]), /not a JSON object/],
    [
      'unknown dtype',
      () => handMade({ t: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      /unknown dtype "F8"/,
    ],
    [
      'negative dimension',
      () => handMade({ t: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      /invalid shape/,
    ],
    [
      'reversed offsets',
      () => handMade({ t: { dtype: 'U8', shape: [1], data_offsets: [1, 0] } }, new Uint8Array(1)),
      /invalid data_offsets/,
    ],
    [
      'offsets past the end',
      () => handMade({ t: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(8)),
      /ends at byte 12 of a 8-byte data section/,
    ],
    [
      'shape/size mismatch',
      () => handMade({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /F32\[3\] needs 12 bytes but data_offsets span 8/,
    ],
    [
      'metadata that is not an object',
      () => handMade({ __metadata__: 'x' }),
      /__metadata__ is a string \("x"\), not an object of strings/,
    ],
    ['metadata that is an array', () => handMade({ __metadata__: ['a'] }), /__metadata__ is an array/],
    [
      'a metadata value that is not a string',
      () => handMade({ __metadata__: { epoch: 3 } }),
      /__metadata__\."epoch" is a number \(3\), not a string/,
    ],
    [
      'overlapping data_offsets',
      () =>
        handMade(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          new Uint8Array(12),
        ),
      /tensors "a" and "b" overlap \(bytes 4\.\.8/,
    ],
    [
      'bytes that belong to no tensor',
      () => handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /bytes 0\.\.4 of the data section belong to no tensor/,
    ],
    [
      'trailing bytes after the last tensor',
      () => {
        const g = good();
        const out = new Uint8Array(g.length + 5);
        out.set(g);
        return out;
      },
      /5 bytes follow the last tensor/,
    ],
  ];
  for (const [what, make, message] of CORRUPT) {
    it(`gives a SafetensorsError naming the source for: ${what}`, () => {
      let err: unknown;
      try {
        parseSafetensors(make(), 'model.safetensors');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SafetensorsError);
      expect((err as Error).message).toMatch(/^safetensors model\.safetensors: /);
      expect((err as Error).message).toMatch(message);
    });
  }
});

describe('safetensors files', () => {
  it('writeSafetensorsFile / readSafetensorsFile round trip', () => {
    const path = join(dir, 'model.safetensors');
    writeSafetensorsFile(path, ENTRIES, { note: 'x' });
    const file = readSafetensorsFile(path);
    expect(file.metadata).toEqual({ note: 'x' });
    expect(Array.from(entryToFloat32(file.tensors.get('w.f32')!))).toEqual([
      1.5,
      -2,
      3.25,
      0,
      -0,
      Math.fround(1e-30),
    ]);
  });

  it('readSafetensorsFile names the path for a missing or corrupt file', () => {
    expect(() => readSafetensorsFile(join(dir, 'missing.safetensors'))).toThrow(
      /missing\.safetensors: cannot read/,
    );
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, new Uint8Array(3));
    expect(() => readSafetensorsFile(bad)).toThrow(SafetensorsError);
    expect(() => readSafetensorsFile(bad)).toThrow(/bad\.safetensors/);
  });

  it('writeFileAtomic replaces the file by rename and leaves no temporary file', () => {
    const sub = join(dir, 'atomic');
    mkdirSync(sub);
    const path = join(sub, 'ckpt.bin');
    writeFileSync(path, 'old contents');
    const oldIno = statSync(path).ino;
    const payload = new Uint8Array(300_000).map((_, i) => i % 251);
    writeFileAtomic(path, payload);
    expect(readdirSync(sub)).toEqual(['ckpt.bin']);
    expect(Buffer.compare(readFileSync(path), Buffer.from(payload))).toBe(0);
    // A new inode: the old file was replaced as a whole, never rewritten in place.
    expect(statSync(path).ino).not.toBe(oldIno);
  });

  it('writeFileAtomic cleans up its temporary file when the final rename fails', () => {
    const sub = join(dir, 'fail');
    mkdirSync(sub);
    const target = join(sub, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    expect(() => writeFileAtomic(target, new Uint8Array([1, 2, 3]))).toThrow();
    expect(readdirSync(sub)).toEqual(['taken']);
    expect(() => writeFileAtomic(join(dir, 'no-such-dir', 'f'), new Uint8Array(1))).toThrow(/ENOENT/);
  });
});

describe('half precision', () => {
  it('round-trips every half bit pattern and rounds to nearest, ties to even', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x)) expect(Number.isNaN(halfToFloat(floatToHalf(x)))).toBe(true);
      else expect(floatToHalf(x)).toBe(h);
    }
    // Midpoints between neighbours (exact in f32) go to the one with an even mantissa, above it to the upper one.
    for (const h of [0x0000, 0x0001, 0x03fe, 0x03ff, 0x3c00, 0x3c01, 0x7bfe, 0x8001, 0xbc00]) {
      const mid = (halfToFloat(h) + halfToFloat(h + 1)) / 2;
      expect(floatToHalf(mid)).toBe(h & 1 ? h + 1 : h);
      expect(floatToHalf(Math.fround(mid + (halfToFloat(h + 1) - mid) * 1e-3))).toBe(h + 1);
    }
    expect(floatToHalf(65520)).toBe(0x7c00); // half-way past the largest half: rounds up to +Inf
    expect(floatToHalf(65519)).toBe(0x7bff);
    expect(floatToHalf(-1e9)).toBe(0xfc00);
    expect(floatToHalf(2 ** -25)).toBe(0); // a tie with zero goes to zero
    expect(floatToHalf(2 ** -25 * 1.0001)).toBe(1);
    expect(floatToHalf(-0)).toBe(0x8000);
  });

  it('gives the nearest half to random floats over the whole range', () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rand() - 0.5) * 2 ** (rand() * 41 - 25));
      const got = halfToFloat(floatToHalf(x));
      const err = Math.abs(got - x);
      // No half on either side of `got` is nearer.
      for (const d of [-1, 1]) {
        const other = halfToFloat(floatToHalf(got) + d);
        if (Number.isFinite(other) && Math.sign(other) === Math.sign(got))
          expect(err).toBeLessThanOrEqual(Math.abs(other - x));
      }
    }
  });
});
