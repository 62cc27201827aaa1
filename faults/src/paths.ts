import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest folder above the working directory with pnpm-workspace.yaml. */
export function repoRoot(): string {
  let at = process.cwd();
  while (!existsSync(join(at, 'pnpm-workspace.yaml'))) {
    const up = dirname(at);
    if (up === at) throw new Error('fault suite: run it inside the mriseg repository');
    at = up;
  }
  return at;
}

/** The shared fixtures folder (../shared beside the repository, or MRISEG_SHARED), as the other tests find it. */
export function sharedRoot(): string {
  return process.env.MRISEG_SHARED?.replace(/\/$/, '') ?? join(repoRoot(), '..', 'shared');
}
