import { describe, expect, it } from 'vitest';
import { firstNonZero, firstZero, lastNonZero, wordView } from '../src/scan.js';
import { rng } from './util.js';

describe('word-wise background skipping', () => {
  it('firstNonZero / lastNonZero agree with a byte scan for every range, alignment and density', () => {
    const rand = rng(17);
    const buf = new Uint8Array(64);
    for (let t = 0; t < 300; t++) {
      const offset = Math.floor(rand() * 4);
      const data = buf.subarray(offset, offset + 40 + Math.floor(rand() * 20));
      const density = rand() < 0.5 ? 0.02 : 0.3;
      for (let i = 0; i < data.length; i++) data[i] = rand() < density ? 1 + Math.floor(rand() * 255) : 0;
      const words = wordView(data);
      expect(words === null).toBe(offset !== 0);
      for (let k = 0; k < 20; k++) {
        const a = Math.floor(rand() * data.length);
        const b = a + Math.floor(rand() * (data.length - a + 1));
        let f = -1;
        for (let i = a; i < b; i++) {
          if (data[i] !== 0) {
            f = i;
            break;
          }
        }
        let l = -1;
        for (let i = b - 1; i >= a; i--) {
          if (data[i] !== 0) {
            l = i;
            break;
          }
        }
        expect(firstNonZero(data, words, a, b)).toBe(f);
        expect(lastNonZero(data, words, a, b)).toBe(l);
      }
    }
  });
});

describe('firstZero (end of a foreground run)', () => {
  it('agrees with a byte scan for every range, alignment and density', () => {
    const rand = rng(23);
    const buf = new Uint8Array(72);
    for (let t = 0; t < 300; t++) {
      const offset = Math.floor(rand() * 4);
      const data = buf.subarray(offset, offset + 40 + Math.floor(rand() * 28));
      const density = [0.5, 0.9, 0.99][t % 3];
      for (let i = 0; i < data.length; i++) data[i] = rand() < density ? 1 + Math.floor(rand() * 255) : 0;
      const words = wordView(data);
      for (let k = 0; k < 20; k++) {
        const a = Math.floor(rand() * data.length);
        const b = a + Math.floor(rand() * (data.length - a + 1));
        let z = b;
        for (let i = a; i < b; i++) {
          if (data[i] === 0) {
            z = i;
            break;
          }
        }
        expect(firstZero(data, words, a, b)).toBe(z);
        expect(firstZero(data, null, a, b)).toBe(z);
      }
    }
  });
});
