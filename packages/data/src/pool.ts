import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DataError } from './errors.js';
import { runTask, type Task, type TaskResult, TaskState } from './tasks.js';

export interface PoolOptions {
  /** Worker threads; 0 runs every task in the calling thread. Default: available cores − 1 (at least 1). */
  workers?: number;
  /** The built worker script; default `worker.js` beside this module (dist/worker.js once built). */
  workerUrl?: URL | string;
}

interface SerializedError {
  name: string;
  message: string;
  file?: string;
  problem?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof DataError) return { name: e.name, message: e.message, file: e.file, problem: e.problem };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

function reviveError(e: SerializedError): Error {
  if (e.name === 'DataError' && e.file !== undefined && e.problem !== undefined)
    return new DataError(e.file, e.problem);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/** The default worker script, or null when it does not exist (running from the TypeScript sources). */
export function defaultWorkerUrl(): URL | null {
  const url = new URL('./worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : null;
}

interface Pending {
  resolve: (r: TaskResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  pending: Map<number, Pending>;
}

/**
 * A fixed pool of worker threads running `Task`s. When the worker script cannot be found (sources run through
 * vitest or a bundler that did not copy it) the pool runs tasks in the calling thread instead and says so in
 * `mode`; results are the same, only slower.
 */
export class WorkerPool {
  readonly mode: 'workers' | 'in-process';
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: { id: number; task: Task; pending: Pending }[] = [];
  private readonly local = new TaskState();
  /** The id of the task each busy worker runs (broadcasts do not make a worker busy). */
  private readonly running = new Map<Slot, number>();
  private nextId = 1;
  private closed = false;

  constructor(options: PoolOptions = {}) {
    const want = options.workers ?? Math.max(1, availableParallelism() - 1);
    const url = options.workerUrl ?? defaultWorkerUrl();
    if (want <= 0 || url === null) {
      this.mode = 'in-process';
      this.size = 1;
      return;
    }
    this.mode = 'workers';
    this.size = want;
    for (let i = 0; i < want; i++) {
      const worker = new Worker(url);
      const slot: Slot = { worker, busy: false, pending: new Map() };
      worker.on(
        'message',
        (msg: { id: number; ok: boolean; result?: TaskResult; error?: SerializedError }) => {
          const p = slot.pending.get(msg.id);
          if (!p) return;
          slot.pending.delete(msg.id);
          if (msg.ok) p.resolve(msg.result ?? null);
          else p.reject(reviveError(msg.error!));
          if (this.running.get(slot) === msg.id) this.release(slot);
          else if (!slot.busy && slot.pending.size === 0) slot.worker.unref();
        },
      );
      worker.on('error', (e) => this.fail(slot, e));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(slot, new Error(`data worker exited with code ${code}`));
      });
      worker.unref();
      this.slots.push(slot);
    }
  }

  private release(slot: Slot): void {
    slot.busy = false;
    this.running.delete(slot);
    this.pump();
  }

  private fail(slot: Slot, e: Error): void {
    for (const p of slot.pending.values()) p.reject(e);
    slot.pending.clear();
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (this.slots.length === 0) for (const q of this.queue.splice(0)) q.pending.reject(e);
    else this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (slot.busy) continue;
      const job = this.queue.shift()!;
      slot.busy = true;
      this.running.set(slot, job.id);
      slot.pending.set(job.id, job.pending);
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, task: job.task });
    }
    for (const slot of this.slots) if (!slot.busy && slot.pending.size === 0) slot.worker.unref();
  }

  /** Runs a task on the next free worker. */
  run<R extends TaskResult>(task: Task): Promise<R> {
    if (this.closed) return Promise.reject(new Error('WorkerPool is closed'));
    if (this.mode === 'in-process') {
      // Yield first so that callers' prefetching interleaves with their own work as it would with threads.
      return new Promise((resolve, reject) => {
        setImmediate(() => {
          try {
            resolve(runTask(task, this.local).result as R);
          } catch (e) {
            reject(e);
          }
        });
      });
    }
    return new Promise<TaskResult>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, pending: { resolve, reject } });
      this.pump();
    }) as Promise<R>;
  }

  /** Sends a task to every worker (e.g. registering shared volumes); resolves when all have run it. */
  async broadcast(task: Task): Promise<void> {
    if (this.mode === 'in-process') {
      runTask(task, this.local);
      return;
    }
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<TaskResult>((resolve, reject) => {
            const id = this.nextId++;
            slot.pending.set(id, { resolve, reject });
            slot.worker.ref();
            slot.worker.postMessage({ id, task });
          }),
      ),
    );
    this.pump();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queue.splice(0)) q.pending.reject(new Error('WorkerPool closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
