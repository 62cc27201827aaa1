/**
 * What the page says while the model runs. Slices go through the GPU in batches and a batch's results come back
 * together, so the count moves a batch at a time; the text says which slices are running meanwhile. The first
 * batch also compiles the GPU pipelines, so the time a slice takes is measured on the batches after it.
 */
export interface InferenceProgress {
  done: number;
  total: number;
  batchSize: number;
  /** Since the run started. */
  elapsedMs: number;
  /** When the first batch came back (null before). */
  firstBatchMs: number | null;
}

const seconds = (ms: number) => (ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`);

export function inferenceProgress(p: InferenceProgress): string {
  const { done, total, batchSize } = p;
  const running = (from: number) => {
    const to = Math.min(from + batchSize - 1, total);
    return from === to ? `slice ${from}` : `slices ${from}–${to}`;
  };
  if (done === 0)
    return `Running the model on ${running(1)} of ${total} (the first batch also prepares the GPU pipelines)…`;
  if (done >= total) return `All ${total} slices done in ${seconds(p.elapsedMs)}.`;
  // Per-slice time from the batches after the first (which included compiling); from the first alone until then.
  const first = p.firstBatchMs ?? p.elapsedMs;
  const firstDone = Math.min(batchSize, total);
  const perSlice = done > firstDone ? (p.elapsedMs - first) / (done - firstDone) : p.elapsedMs / done;
  return (
    `${done} of ${total} slices done, ${seconds(perSlice)} a slice, about ${seconds(perSlice * (total - done))} left; ` +
    `running ${running(done + 1)}…`
  );
}
