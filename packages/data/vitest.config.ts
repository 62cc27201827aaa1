import { mergeConfig } from 'vitest/config';
import { packageTestConfig } from '../../vitest.shared.js';

// Vite 7 resolves server-side (SSR) imports with `ssr.resolve.conditions`, not `resolve.conditions`: without
// this, workspace packages resolve to their (unbuilt) dist files.
export default mergeConfig(packageTestConfig(), {
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
});
