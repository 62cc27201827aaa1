import { initDevice } from '@mriseg/tensor-wgsl';
import { statusFromError, statusFromReport } from './gpu-status.js';

async function showGpu(): Promise<void> {
  const status = document.getElementById('gpu-status')!;
  const details = document.getElementById('gpu-details')!;
  const hasGpu = 'gpu' in navigator && navigator.gpu !== undefined;
  const s = await initDevice().then(
    (rt) => statusFromReport(rt.report),
    (e: unknown) => statusFromError(e, hasGpu),
  );
  status.textContent = s.message;
  status.classList.toggle('error', !s.ok);
  if (s.details) {
    details.textContent = s.details;
    details.hidden = false;
  }
}

void showGpu();
