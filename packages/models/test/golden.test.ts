import { fileURLToPath } from 'node:url';
import { clearConvTilings } from '@mriseg/nn';
import { initDevice } from '@mriseg/tensor-wgsl';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkModelGolden, GOLDEN_CASES } from './golden-check.js';

const GOLDEN = fileURLToPath(new URL('../../../../shared/golden/models/', import.meta.url));

beforeAll(async () => {
  await initDevice();
});

describe('models match the PyTorch goldens (f = 4, batch 2, 32×32)', () => {
  // Pinned tilings must not outlive their test, failed or not.
  afterEach(() => clearConvTilings());
  for (const [file, name, heads] of GOLDEN_CASES)
    for (const [tilings, replay] of [
      ['default', false],
      ['gpu', false],
      ['default', true],
    ] as const) {
      const title =
        tilings === 'default' ? '' : ' (GPU tilings: register-blocked, vec4, double-buffered, Winograd)';
      const how = replay ? ', replayed from a capture' : '';
      it(`${name}: logits, loss, every gradient, running stats, one Adam step, eval logits${title}${how}`, async () => {
        const r = await checkModelGolden(GOLDEN, file, name, tilings, { replay });
        expect(r.replay).toBe(replay);
        expect(r.parameters).toBe(r.expectedParameters);
        expect([r.heads, r.expectedHeads]).toEqual([heads, heads]);
        expect(r.missingGrads).toEqual([]);
        expect(r.extraGrads).toEqual([]);
        expect(r.batchesTracked.length).toBeGreaterThan(0);
        expect(r.batchesTracked.every((n) => n === 1)).toBe(true);
        if (tilings === 'gpu') {
          const pinned = r.pinned!;
          expect(pinned.gemms).toBeGreaterThan(20);
          expect(pinned.vec4).toBeGreaterThanOrEqual(3);
          expect(pinned.winograd).toBeGreaterThanOrEqual(3);
          expect(pinned.winograd4).toBeGreaterThanOrEqual(2);
          expect(pinned.double).toBeGreaterThanOrEqual(3);
        }
        // logits, loss, a gradient and an Adam step per parameter, eval logits
        expect(r.checks.length).toBe(
          2 * heads + 1 + 2 * r.checks.filter((c) => c.what.startsWith('grad.')).length,
        );
        for (const c of r.checks)
          expect(c.error, `${c.what}: ${c.metric} error ${c.error} > ${c.limit}`).toBeLessThanOrEqual(
            c.limit,
          );
      });
    }
});
