/**
 * vitest global setup: drops Dawn's two notes about lavapipe's limits ("maxDynamic…PerPipelineLayout artificially
 * reduced …") from the test output. Dawn prints them from C++ once a process. The runtime filters them itself where
 * stderr is a terminal, a pipe or an appended file (packages/tensor-wgsl/src/gpu-provider.ts), but vitest's worker
 * processes write to a socket that the parent copies to its own stderr, so they are dropped here, in the parent.
 */
const NOTE =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\n/gm;

export function setup(): void {
  const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return write(chunk, ...rest);
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (!text.includes('artificially reduced')) return write(chunk, ...rest);
    const kept = text.replace(NOTE, '');
    return kept.length > 0 ? write(kept, ...rest) : true;
  }) as typeof process.stderr.write;
}
