import { mergeConfig } from 'vitest/config';
import { packageTestConfig } from '../../vitest.shared.js';

// Tests run in Vite's SSR environment, whose resolver does not take the shared `resolve.conditions`: without this,
// workspace packages (the safetensors reader) resolve to their unbuilt dist/ instead of their sources.
export default mergeConfig(packageTestConfig(), { ssr: { resolve: { conditions: ['source'] } } });
