import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * /work/shared, found relative to this file (packages/data/test → ../../../../shared), or MRISEG_SHARED.
 * Missing = failure, never a skip.
 */
const override = process.env.MRISEG_SHARED;
export const SHARED = override
  ? `${override.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../../../shared/', import.meta.url));
export const SAMPLE = `${SHARED}data/sample/kaggle_3m`;
export const GOLDEN = `${SHARED}golden/preprocess`;

export function requireShared(): void {
  if (!existsSync(SAMPLE) || !existsSync(GOLDEN)) {
    throw new Error(`shared fixtures missing: expected ${SAMPLE} and ${GOLDEN}`);
  }
}
