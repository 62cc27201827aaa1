import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import UTIF from 'utif';
import { describe, expect, it } from 'vitest';
import { DataError } from '../src/errors.js';
import { DEFAULT_DECODE_LIMITS, resolveLimits } from '../src/limits.js';
import { decodePng, encodePng } from '../src/png.js';
import { decodeTiff, encodeTiff } from '../src/tiff.js';
import { requireShared, SAMPLE } from './paths.js';

function utifDecode(bytes: Uint8Array): Uint8Array {
  const ifds = UTIF.decode(bytes);
  UTIF.decodeImage(bytes, ifds[0]);
  return ifds[0].data!;
}

function raster(channels: number, w = 37, h = 23) {
  const data = new Uint8Array(w * h * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 255;
  return { width: w, height: h, channels, data };
}

describe('TIFF writer and reader', () => {
  for (const channels of [1, 3]) {
    for (const rps of [1, 11, 23, 100]) {
      it(`round-trips ${channels} channel(s), ${rps} rows a strip, and utif reads it`, () => {
        const r = raster(channels);
        const bytes = encodeTiff(r, { rowsPerStrip: rps });
        const back = decodeTiff(bytes, 'x.tif');
        expect(back.width).toBe(37);
        expect(back.height).toBe(23);
        expect(back.channels).toBe(channels);
        expect(Array.from(back.data)).toEqual(Array.from(r.data));
        const ifds = UTIF.decode(bytes);
        UTIF.decodeImage(bytes, ifds[0]);
        expect(ifds[0].t277?.[0] ?? 1).toBe(channels);
        expect(ifds[0].t262?.[0]).toBe(channels === 3 ? 2 : 1);
        expect(Array.from(ifds[0].data!.subarray(0, r.data.length))).toEqual(Array.from(r.data));
      });
    }
  }

  it('decodes from a pooled Buffer view (not its .buffer)', () => {
    const r = raster(3);
    const bytes = encodeTiff(r, { rowsPerStrip: 5 });
    const pooled = Buffer.alloc(bytes.length + 100);
    pooled.set(bytes, 50);
    const view = pooled.subarray(50, 50 + bytes.length);
    expect(Array.from(decodeTiff(view, 'v.tif').data)).toEqual(Array.from(r.data));
  });
});

describe('compressed strips (LZW, Deflate, PackBits; predictor 2) decode as utif decodes them', () => {
  // Smooth ramps, runs and noise: LZW's table fills and resets, PackBits mixes repeat and literal records.
  function mixed(channels: number, w: number, h: number) {
    const data = new Uint8Array(w * h * channels);
    for (let i = 0; i < data.length; i++) {
      const y = Math.floor(i / (w * channels));
      data[i] = y % 7 === 0 ? 40 : y % 5 === 0 ? (i * 2654435761) >>> 24 : (i >> 3) & 255;
    }
    return { width: w, height: h, channels, data };
  }
  for (const compression of [5, 8, 32773] as const) {
    for (const predictor of [1, 2] as const) {
      for (const channels of [1, 3]) {
        it(`compression ${compression}, predictor ${predictor}, ${channels} channel(s)`, () => {
          const r = mixed(channels, 150, 97);
          const bytes = encodeTiff(r, { compression, predictor, rowsPerStrip: 40 });
          const back = decodeTiff(bytes, 'c.tif');
          expect(Buffer.from(back.data).equals(Buffer.from(r.data))).toBe(true);
          expect(Buffer.from(utifDecode(bytes).subarray(0, r.data.length)).equals(Buffer.from(r.data))).toBe(
            true,
          );
        });
      }
    }
  }

  it('an LZW strip of one long run (every string one longer than the last) and a 4096-entry table reset', () => {
    const r = { width: 512, height: 64, channels: 1, data: new Uint8Array(512 * 64).fill(200) };
    for (let i = 0; i < r.data.length; i += 97) r.data[i] = i & 255;
    const bytes = encodeTiff(r, { compression: 5 });
    expect(Buffer.from(decodeTiff(bytes, 'run.tif').data).equals(Buffer.from(r.data))).toBe(true);
  });

  it('every file of the four sample patients decodes exactly as utif decodes it', () => {
    requireShared();
    let files = 0;
    for (const patient of readdirSync(SAMPLE).filter((n) => n.startsWith('TCGA_'))) {
      for (const name of readdirSync(join(SAMPLE, patient))) {
        const bytes = readFileSync(join(SAMPLE, patient, name));
        const ours = decodeTiff(bytes, name);
        const theirs = utifDecode(bytes);
        expect(Buffer.from(theirs.subarray(0, ours.data.length)).equals(Buffer.from(ours.data)), name).toBe(
          true,
        );
        files++;
      }
    }
    expect(files).toBe(2 * (20 + 20 + 20 + 28));
  });
});

describe('decode limits', () => {
  it('are checked on the declared size, before any decoding', () => {
    const r = { width: 64, height: 48, channels: 1, data: new Uint8Array(64 * 48) };
    const tight = resolveLimits({ maxSide: 63 });
    expect(() => decodeTiff(encodeTiff(r), 'big.tif', tight)).toThrow(
      /declares 64×48 pixels, more than the decode limit/,
    );
    expect(() => decodePng(encodePng(r), 'big.png', resolveLimits({ maxPixels: 1000 }))).toThrow(
      /PNG declares 64×48 pixels/,
    );
    expect(decodeTiff(encodeTiff(r), 'ok.tif', DEFAULT_DECODE_LIMITS).width).toBe(64);
  });

  it('a TIFF whose chain of image directories loops is refused at once', () => {
    const r = { width: 8, height: 8, channels: 1, data: new Uint8Array(64) };
    const bytes = encodeTiff(r);
    const dv = new DataView(bytes.buffer);
    const ifd = dv.getUint32(4, true);
    // Point the next-IFD field at the same directory: a loop of one.
    dv.setUint32(ifd + 2 + 12 * dv.getUint16(ifd, true), ifd, true);
    const err = (() => {
      try {
        decodeTiff(bytes, 'loop.tif');
      } catch (e) {
        return e as DataError;
      }
    })();
    expect(err).toBeInstanceOf(DataError);
    expect(err!.problem).toMatch(/loops back to byte/);
  });
});

describe('PNG', () => {
  it('round-trips grey and RGB', () => {
    for (const c of [1, 3]) {
      const r = raster(c);
      const back = decodePng(encodePng(r), 'x.png');
      expect(back.channels).toBe(c);
      expect(Array.from(back.data)).toEqual(Array.from(r.data));
    }
  });
});
