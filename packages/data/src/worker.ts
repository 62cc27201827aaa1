// Entry of the decode/preprocess/augment worker threads (built as dist/worker.js).
import { parentPort } from 'node:worker_threads';
import { serializeError } from './pool.js';
import { runTask, type Task, TaskState } from './tasks.js';

const state = new TaskState();
const port = parentPort;
if (!port) throw new Error('@mriseg/data worker.js must run in a worker thread');
port.on('message', (msg: { id: number; task: Task }) => {
  try {
    const { result, transfer } = runTask(msg.task, state);
    port.postMessage({ id: msg.id, ok: true, result }, transfer);
  } catch (e) {
    port.postMessage({ id: msg.id, ok: false, error: serializeError(e) });
  }
});
