import UTIF from 'utif';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '../src/png.js';
import { decodeTiff, encodeTiff } from '../src/tiff.js';

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
