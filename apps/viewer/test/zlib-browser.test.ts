import { gzipSync as nodeGzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { constants, gunzipSync, gzipSync } from '../src/zlib-browser.js';

describe("the browser's node:zlib (pako) for .nii.gz", () => {
  // Pseudo-random 6-bit samples: a stream of a few dozen KiB, so that 4 KiB of it is a real prefix.
  let x = 1;
  const data = new Uint8Array(300_000).map(() => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 24) & 0x3f;
  });
  const gz = new Uint8Array(nodeGzip(data));

  it('gunzips what node gzips, and node-compatible output of its own gzip', () => {
    expect(gunzipSync(gz)).toEqual(data);
    expect(gunzipSync(gzipSync(data))).toEqual(data);
  });

  it('a partial stream with Z_SYNC_FLUSH gives its start; without it, an error', () => {
    const head = gunzipSync(gz.subarray(0, 4096), { finishFlush: constants.Z_SYNC_FLUSH });
    expect(head.length).toBeGreaterThan(544);
    expect(head).toEqual(data.subarray(0, head.length));
    expect(() => gunzipSync(gz.subarray(0, 4096))).toThrow();
  });

  it("maxOutputLength stops a stream that inflates to more, with node's error code", () => {
    try {
      gunzipSync(gz, { maxOutputLength: 100_000 });
      expect.unreachable();
    } catch (e) {
      expect((e as { code?: string }).code).toBe('ERR_BUFFER_TOO_LARGE');
    }
  });
});
