/**
 * The command line as a user (or a batch scheduler) meets it (issue 18, items 1, 5, 6, 7, 11): predictions never
 * in the input tree nor over existing files, run folders owned by one process, kills at random points during
 * training followed by `--resume` to a consistent run, full and read-only disks, damaged run files.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '@mriseg/nn/node';
import { PATIENT, phantomData } from '../fixtures/dataset.js';
import { cliPath, trainedCheckpoint } from '../fixtures/model.js';
import type { CaseContext, CaseTools, FaultCase, RunningProcess, Summary } from '../types.js';
import { trainArgs } from './cli.js';

const env = (ctx: CaseContext) => ({ MRISEG_CACHE: join(ctx.work, 'home-cache') });
const model = (ctx: CaseContext) => join(ctx.work, 'model.safetensors');
const run = (ctx: CaseContext) => join(ctx.work, 'run');
const patientDir = (ctx: CaseContext) => join(ctx.input, PATIENT);

/** Two phantom patients as input and the fixture model in the work folder. */
function dataAndModel(ctx: CaseContext): void {
  phantomData(ctx.input, 2);
  trainedCheckpoint(model(ctx));
}

/** The names under a folder, recursively ('' when it does not exist). */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

const predict = (ctx: CaseContext, input: string, out: string, extra: string[] = []) => ({
  args: ['predict', '--checkpoint', model(ctx), '--input', input, '--out', out, ...extra],
  env: env(ctx),
});

/** Accepts exit 0 (and whatever `also` says). */
const succeeds =
  (also: (s: Summary, ctx: CaseContext) => string | null = () => null) =>
  (s: Summary, ctx: CaseContext) =>
    s.exitCode === 0 ? also(s, ctx) : `exit ${s.exitCode}: ${String(s.stderr).slice(-300)}`;

// ------------------------------------------------------------------------------------------------- predict

const PREDICT_CASES: FaultCase[] = [
  {
    id: 'process/predict-out-is-input',
    category: 'process',
    title: 'predict --input D --out D (the masks would replace the ground truth)',
    item: 1,
    setup: dataAndModel,
    cli: (ctx) => predict(ctx, ctx.input, ctx.input),
    expect: {
      problem: /is inside --input .*: predictions are never written into the input tree/,
      file: (ctx) => ctx.input,
      exitCode: 2,
    },
  },
  {
    id: 'process/predict-patient-into-data-root',
    category: 'process',
    title: 'predict --input D/PATIENT --out D (its masks would land in its own folder)',
    item: 1,
    setup: dataAndModel,
    cli: (ctx) => predict(ctx, patientDir(ctx), ctx.input),
    expect: {
      problem: /lies inside --out .*: the masks would be written among the inputs/,
      file: patientDir,
      exitCode: 2,
    },
  },
  {
    id: 'process/predict-out-through-link-into-input',
    category: 'process',
    title: '--out reached through a symbolic link into a patient folder',
    item: 1,
    setup: (ctx) => {
      dataAndModel(ctx);
      symlinkSync(patientDir(ctx), join(ctx.work, 'link'));
    },
    cli: (ctx) => predict(ctx, ctx.input, join(ctx.work, 'link', 'masks')),
    expect: {
      problem:
        /\(it resolves to .*\) is inside --input .*: predictions are never written into the input tree/,
      file: (ctx) => join(ctx.work, 'link', 'masks'),
      exitCode: 2,
    },
  },
  {
    id: 'process/predict-existing-masks-kept',
    category: 'process',
    title: 'predict into an --out that already holds masks (no --force)',
    item: 1,
    setup: (ctx) => {
      dataAndModel(ctx);
      mkdirSync(join(ctx.work, 'out', PATIENT), { recursive: true });
      writeFileSync(join(ctx.work, 'out', PATIENT, `${PATIENT}_3_mask.png`), 'an earlier mask');
    },
    cli: (ctx) => predict(ctx, ctx.input, join(ctx.work, 'out')),
    after: (ctx) => {
      const left = tree(join(ctx.work, 'out'));
      if (left.join() !== [PATIENT, `${PATIENT}/${PATIENT}_3_mask.png`].join())
        return `--out now holds ${left.join(', ')}`;
      const kept = readFileSync(join(ctx.work, 'out', PATIENT, `${PATIENT}_3_mask.png`), 'utf8');
      return kept === 'an earlier mask' ? null : 'the earlier mask was overwritten';
    },
    expect: {
      problem: /would be overwritten: predict never replaces existing files unless given --force/,
      file: () => `${PATIENT}_3_mask.png`,
      exitCode: 1,
    },
  },
  {
    id: 'process/predict-unsafe-prefix',
    category: 'process',
    title: 'slices whose prefix is not a safe file name ("x y:z"): written under a safe name inside --out',
    item: 1,
    setup: (ctx) => {
      dataAndModel(ctx);
      const dir = join(ctx.input, 'odd');
      mkdirSync(dir);
      for (const n of readdirSync(patientDir(ctx)))
        if (!n.includes('_mask'))
          writeFileSync(join(dir, n.replace(PATIENT, 'x y:z')), readFileSync(join(patientDir(ctx), n)));
    },
    cli: (ctx) => predict(ctx, join(ctx.input, 'odd'), join(ctx.work, 'out')),
    after: (ctx) => {
      const outside = readdirSync(ctx.work).filter(
        (n) => !['out', 'model.safetensors', 'home-cache'].includes(n),
      );
      if (outside.length > 0) return `wrote outside --out: ${outside.join(', ')}`;
      const made = tree(join(ctx.work, 'out'));
      return made[0] === 'x_y_z' && made.length === 1 + 3 * 5
        ? null
        : `--out holds ${made.slice(0, 4).join(', ')}`;
    },
    expect: {
      accept: succeeds((s) =>
        /written as x_y_z/.test(String(s.stdout)) ? null : 'no note of the safe name',
      ),
    },
  },
  {
    id: 'process/predict-two-prefixes',
    category: 'process',
    title: "predict on a folder holding two patients' slices",
    item: 1,
    setup: (ctx) => {
      dataAndModel(ctx);
      const other = join(ctx.input, 'TCGA_PH_0002_20000101', 'TCGA_PH_0002_20000101_1.tif');
      writeFileSync(join(patientDir(ctx), 'TCGA_PH_0002_20000101_1.tif'), readFileSync(other));
    },
    cli: (ctx) => predict(ctx, patientDir(ctx), join(ctx.work, 'out')),
    after: (ctx) => (existsSync(join(ctx.work, 'out')) ? '--out was made for a refused input' : null),
    expect: {
      problem: /belongs to patient "TCGA_PH_0002_20000101", not "TCGA_PH_0001_20000101"/,
      file: (ctx) => join(patientDir(ctx), 'TCGA_PH_0002_20000101_1.tif'),
      exitCode: 1,
    },
  },
  {
    id: 'process/predict-slice-gap',
    category: 'process',
    title: 'predict on a patient with a gap in its slice numbers',
    item: 1,
    setup: (ctx) => {
      dataAndModel(ctx);
      renameSync(join(patientDir(ctx), `${PATIENT}_5.tif`), join(patientDir(ctx), `${PATIENT}_9.tif`));
      renameSync(
        join(patientDir(ctx), `${PATIENT}_5_mask.tif`),
        join(patientDir(ctx), `${PATIENT}_9_mask.tif`),
      );
    },
    cli: (ctx) => predict(ctx, patientDir(ctx), join(ctx.work, 'out')),
    expect: {
      problem: /slice numbers jump from 4 to 9/,
      file: (ctx) => `${patientDir(ctx)}/${PATIENT}_9.tif`,
      exitCode: 1,
    },
  },
  {
    id: 'process/predict-huge-slice-number',
    category: 'process',
    title: 'predict on a slice numbered 99999999999999999999',
    item: 1,
    setup: (ctx) => {
      dataAndModel(ctx);
      renameSync(
        join(patientDir(ctx), `${PATIENT}_5.tif`),
        join(patientDir(ctx), `${PATIENT}_99999999999999999999.tif`),
      );
    },
    cli: (ctx) => predict(ctx, patientDir(ctx), join(ctx.work, 'out')),
    expect: {
      problem: /slice number 99999999999999999999 is too large/,
      file: () => `${PATIENT}_99999999999999999999.tif`,
      exitCode: 1,
    },
  },
];

// ------------------------------------------------------------------------------------------ evaluate, train

const evaluate = (ctx: CaseContext, extra: string[]) => ({
  args: [
    'evaluate',
    '--checkpoint',
    model(ctx),
    '--data',
    ctx.input,
    '--split',
    'all',
    '--workers',
    '0',
    ...extra,
  ],
  env: env(ctx),
});

const OUTPUT_CASES: FaultCase[] = [
  {
    id: 'process/evaluate-out-in-patient-folder',
    category: 'process',
    title: 'evaluate --out inside a patient folder of --data',
    item: 6,
    setup: dataAndModel,
    cli: (ctx) => evaluate(ctx, ['--out', join(patientDir(ctx), 'eval')]),
    expect: {
      problem: /must not be inside the source data .*: source data are only ever read/,
      file: (ctx) => join(patientDir(ctx), 'eval'),
      exitCode: 1,
    },
  },
  {
    id: 'process/evaluate-cache-disk-full',
    category: 'process',
    title: 'evaluate with its cache on a full disk: a warning, not an abort',
    item: 11,
    setup: (ctx) => {
      dataAndModel(ctx);
      mkdirSync(join(ctx.work, 'cache'));
    },
    cli: (ctx) => ({
      ...evaluate(ctx, ['--out', join(ctx.work, 'eval'), '--cache', join(ctx.work, 'cache', 'volumes')]),
      mounts: [{ path: join(ctx.work, 'cache'), size: '4k' }],
    }),
    after: (ctx) => (existsSync(join(ctx.work, 'eval', 'summary.csv')) ? null : 'no summary.csv'),
    expect: {
      accept: succeeds((s) =>
        /mriseg: warning: .*cache.*(no space left on device|ENOSPC)/i.test(String(s.stderr))
          ? null
          : `no warning naming the cache: ${String(s.stderr).slice(0, 200)}`,
      ),
    },
  },
  {
    id: 'process/train-out-is-data-root',
    category: 'process',
    title: 'train --out at the data root',
    item: 6,
    setup: (ctx) => void phantomData(ctx.input, 2),
    cli: (ctx) => ({ args: [...trainArgs(ctx), '--out', ctx.input], env: env(ctx) }),
    expect: {
      problem: /run folder \(--out\) must not be inside the source data/,
      file: (ctx) => ctx.input,
      exitCode: 1,
    },
  },
  {
    id: 'process/train-out-through-link-into-patient',
    category: 'process',
    title: 'train --out through a symbolic link into a patient folder',
    item: 6,
    setup: (ctx) => {
      phantomData(ctx.input, 2);
      symlinkSync(patientDir(ctx), join(ctx.work, 'link'));
    },
    cli: (ctx) => ({ args: [...trainArgs(ctx), '--out', join(ctx.work, 'link', 'run')], env: env(ctx) }),
    expect: {
      problem: /run folder \(--out\) must not be inside the source data .*\(it resolves to /,
      file: (ctx) => join(ctx.work, 'link', 'run'),
      exitCode: 1,
    },
  },
];

/**
 * A command run with a private tmpfs at `<work>/<folder>`: a small one that fills up, or a read-only one (the mount
 * is gone with the command; what it held is judged through the message and the exit).
 */
function onTmpfs(
  id: string,
  title: string,
  setup: (ctx: CaseContext) => void,
  disk: { folder: string; size: string; readOnly?: boolean },
  cli: (ctx: CaseContext) => { args: string[]; env: Record<string, string> },
  problem: RegExp,
  file: (ctx: CaseContext) => string,
): FaultCase {
  return {
    id: `process/${id}`,
    category: 'process',
    title,
    item: 11,
    setup: (ctx) => {
      setup(ctx);
      mkdirSync(join(ctx.work, disk.folder), { recursive: true });
    },
    cli: (ctx) => ({
      ...cli(ctx),
      mounts: [{ path: join(ctx.work, disk.folder), size: disk.size, readOnly: disk.readOnly }],
    }),
    expect: { problem, file, exitCode: 1 },
  };
}

const inputOnly = (ctx: CaseContext) => void phantomData(ctx.input, 2);
const READ_ONLY = /cannot make the folder \(the file system is read-only, EROFS\)/;
const DISK_FULL = 'cannot write \\(no space left on the device, ENOSPC\\)';

const DISK_CASES: FaultCase[] = [
  onTmpfs(
    'predict-disk-full',
    'predict onto a disk that fills up (a 48 KiB tmpfs)',
    dataAndModel,
    { folder: 'out', size: '48k' },
    (ctx) => predict(ctx, ctx.input, join(ctx.work, 'out')),
    new RegExp(`${DISK_FULL}; nothing of patient TCGA_PH_000\\d_20000101 was kept`),
    (ctx) => join(ctx.work, 'out'),
  ),
  onTmpfs(
    'predict-read-only-out',
    'predict with --out on a read-only file system',
    dataAndModel,
    { folder: 'ro', size: '64k', readOnly: true },
    (ctx) => predict(ctx, ctx.input, join(ctx.work, 'ro', 'masks')),
    READ_ONLY,
    (ctx) => join(ctx.work, 'ro', 'masks'),
  ),
  onTmpfs(
    'train-read-only-out',
    'train --out on a read-only file system (said as such, not ENOENT)',
    inputOnly,
    { folder: 'ro', size: '64k', readOnly: true },
    (ctx) => ({ args: [...trainArgs(ctx), '--out', join(ctx.work, 'ro', 'runs', 'a')], env: env(ctx) }),
    READ_ONLY,
    (ctx) => join(ctx.work, 'ro', 'runs', 'a'),
  ),
  onTmpfs(
    'train-disk-full-at-checkpoint',
    'train onto a disk that fills up at the first checkpoint (a 96 KiB tmpfs)',
    inputOnly,
    { folder: 'run', size: '96k' },
    (ctx) => ({ args: [...trainArgs(ctx), '--batch-size', '2'], env: env(ctx) }),
    new RegExp(`last\\.safetensors: ${DISK_FULL}`),
    run,
  ),
];

// ------------------------------------------------------------------------------------ run folder ownership

/**
 * `train` for the process cases: one step an epoch at 32², f2, lr 0.01 (with the reference's 1e-4 the validation
 * DSC of these phantoms improves only once, so `best` would be written once; at 0.01 it is written at epochs 1, 3
 * and 4 of the kill cases' run).
 */
function runArgs(ctx: CaseContext, epochs = 3): string[] {
  return [...trainArgs(ctx), '--epochs', String(epochs), '--batch-size', '2', '--lr', '0.01'];
}

/** Trains the case's run to its end during setup (the state a second command then meets). */
function trainInSetup(ctx: CaseContext, epochs = 2): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cliPath(), ...runArgs(ctx, epochs)], {
      env: { ...process.env, ...env(ctx) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`setup train: exit ${code}: ${err.slice(-300)}`)),
    );
  });
}

interface Meta {
  state: { epoch: number; batch: number; bestEpoch: number; bestDsc: number };
}

/**
 * A finished run folder as it must be after any kill and a resume: one metrics line per epoch, `last` at the end,
 * `best` the epoch `last` names, which is the first epoch of the highest validation DSC, the report saying so,
 * and no temporary file or lock left.
 */
export function checkFinishedRun(dir: string, epochs: number): string | null {
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean);
  const records = lines.map((l) => JSON.parse(l) as { epoch: number; valMeanDsc: number });
  const want = Array.from({ length: epochs }, (_, i) => i + 1);
  if (records.map((r) => r.epoch).join() !== want.join())
    return `metrics.jsonl holds epochs ${records.map((r) => r.epoch).join(',')}, ${want.join(',')} expected`;
  const last = JSON.parse(loadCheckpoint(join(dir, 'last.safetensors')).rawMetadata['mriseg.train']) as Meta;
  if (last.state.epoch !== epochs || last.state.batch !== 0)
    return `last is at epoch ${last.state.epoch}, batch ${last.state.batch}`;
  const top = Math.max(...records.map((r) => r.valMeanDsc));
  const bestEpoch = records.find((r) => r.valMeanDsc === top)!.epoch;
  if (last.state.bestEpoch !== bestEpoch)
    return `last names epoch ${last.state.bestEpoch} as best, metrics say ${bestEpoch}`;
  const best = loadCheckpoint(join(dir, 'best.safetensors')).metadata.epoch;
  if (best !== bestEpoch) return `best.safetensors is of epoch ${best}, last and metrics say ${bestEpoch}`;
  const report = readFileSync(join(dir, 'report.md'), 'utf8');
  if (!report.includes(`Best validation mean DSC: ${top.toFixed(4)}** (epoch ${bestEpoch} of ${epochs};`))
    return `report.md does not give epoch ${bestEpoch} of ${epochs} with ${top.toFixed(4)}`;
  const left = readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.includes('.lock') || n === 'run.lock');
  return left.length > 0 ? `left behind: ${left.join(', ')}` : null;
}

/** Runs `train --resume` on the case's run (or, killed before its first checkpoint, the run again with --force). */
async function resumeToEnd(ctx: CaseContext, tools: CaseTools, epochs: number): Promise<string | null> {
  const started = existsSync(join(run(ctx), 'last.safetensors'));
  const r = started
    ? await tools.cli(['train', '--resume', run(ctx)], env(ctx))
    : await tools.cli([...runArgs(ctx, epochs), '--force'], env(ctx));
  if (r.code !== 0) return `${started ? 'resume' : 'rerun'}: exit ${r.code}: ${r.stderr.slice(-300)}`;
  return checkFinishedRun(run(ctx), epochs);
}

/** A case on a run trained to its end during setup (2 epochs), which `damage` then alters. */
function onFinishedRun(
  id: string,
  title: string,
  item: number,
  damage: (ctx: CaseContext) => void | Promise<void>,
  rest: Pick<FaultCase, 'cli' | 'after' | 'expect'>,
): FaultCase {
  return {
    id: `process/${id}`,
    category: 'process',
    title,
    item,
    timeoutSeconds: 120,
    setup: async (ctx) => {
      phantomData(ctx.input, 2);
      await trainInSetup(ctx);
      await damage(ctx);
    },
    ...rest,
  };
}

const SECOND: Record<string, { code: number | null; stderr: string; pid: number }> = {};

const OWNERSHIP_CASES: FaultCase[] = [
  {
    id: 'process/train-second-into-running-run',
    category: 'process',
    title: 'a second train --out into a run folder while the first is running',
    item: 5,
    timeoutSeconds: 120,
    setup: (ctx) => void phantomData(ctx.input, 2),
    cli: (ctx) => ({ args: runArgs(ctx, 6), env: env(ctx) }),
    during: async (proc, ctx) => {
      await waitFor(() => existsSync(join(run(ctx), 'run.lock')), proc);
      const second = spawn(process.execPath, [cliPath(), ...runArgs(ctx, 6)], {
        env: { ...process.env, ...env(ctx) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      second.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const code = await new Promise<number | null>((ok) => second.on('close', ok));
      SECOND[ctx.root] = { code, stderr, pid: proc.pid };
    },
    after: (ctx) => {
      const s = SECOND[ctx.root];
      if (!s) return 'the second train did not run';
      if (s.code !== 1 || !new RegExp(`run: another mriseg process \\(pid ${s.pid}, since`).test(s.stderr))
        return `second train: exit ${s.code}: ${s.stderr.trim().slice(-300)}`;
      return checkFinishedRun(run(ctx), 6);
    },
    expect: { accept: succeeds() },
  },
  onFinishedRun(
    'train-into-finished-run',
    'train --out into a finished run without --resume (its metrics and checkpoints kept)',
    5,
    (ctx) => {
      writeFileSync(join(ctx.root, 'metrics.before'), readFileSync(join(run(ctx), 'metrics.jsonl')));
    },
    {
      cli: (ctx) => ({ args: runArgs(ctx, 2), env: env(ctx) }),
      after: (ctx) =>
        readFileSync(join(run(ctx), 'metrics.jsonl'), 'utf8') ===
        readFileSync(join(ctx.root, 'metrics.before'), 'utf8')
          ? checkFinishedRun(run(ctx), 2)
          : 'metrics.jsonl changed',
      expect: {
        problem: /already holds a run \(.*\); continue it with --resume .*, start it anew with --force/,
        file: run,
        exitCode: 1,
      },
    },
  ),
  onFinishedRun(
    'train-stale-lock-taken-over',
    'train --resume on a run whose lock is left by a process that no longer runs',
    5,
    (ctx) => {
      const owner = {
        pid: 2 ** 22 + 7,
        host: hostname(),
        since: 'then',
        procStart: null,
        token: 'gone',
        command: 'train',
      };
      writeFileSync(join(run(ctx), 'run.lock'), JSON.stringify(owner));
    },
    {
      cli: (ctx) => ({ args: ['train', '--resume', run(ctx), '--epochs', '3'], env: env(ctx) }),
      after: (ctx) => checkFinishedRun(run(ctx), 3),
      expect: {
        accept: succeeds((s) =>
          /took over the lock of pid 4194311 .*no longer runs/.test(String(s.stdout))
            ? null
            : 'no note of the lock taken over',
        ),
      },
    },
  ),
  onFinishedRun(
    'resume-corrupt-metrics',
    'train --resume with a damaged line in metrics.jsonl',
    11,
    (ctx) => {
      const path = join(run(ctx), 'metrics.jsonl');
      writeFileSync(path, `{"epoch": 1, "trainLoss": oops}\n${readFileSync(path, 'utf8')}`);
    },
    {
      cli: (ctx) => ({ args: ['train', '--resume', run(ctx), '--epochs', '3'], env: env(ctx) }),
      expect: {
        problem: /metrics\.jsonl:1: not a JSON record .*repair or delete that line/,
        file: (ctx) => join(run(ctx), 'metrics.jsonl'),
        exitCode: 1,
      },
    },
  ),
  onFinishedRun(
    'resume-corrupt-split',
    'train --resume with a damaged split.json',
    11,
    (ctx) => {
      writeFileSync(join(run(ctx), 'split.json'), '{"hash": "ab');
    },
    {
      cli: (ctx) => ({ args: ['train', '--resume', run(ctx), '--epochs', '3'], env: env(ctx) }),
      expect: {
        problem: /split\.json: not valid JSON .*delete it to have it written again/,
        file: (ctx) => join(run(ctx), 'split.json'),
        exitCode: 1,
      },
    },
  ),
  onFinishedRun(
    'resume-other-architecture',
    'train --resume … --model resunet (weights of a U-Net)',
    11,
    () => {},
    {
      cli: (ctx) => ({ args: ['train', '--resume', run(ctx), '--model', 'resunet'], env: env(ctx) }),
      expect: {
        problem: /--model resunet: the run in .* was trained with model unet, and a resumed run keeps it/,
        file: run,
        exitCode: 2,
      },
    },
  ),
];

// --------------------------------------------------------------------------------------- kills and signals

async function waitFor(ready: () => boolean, proc: RunningProcess): Promise<boolean> {
  let ended = false;
  void proc.ended.then(() => {
    ended = true;
  });
  while (!ready()) {
    if (ended) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/**
 * Sends `signal` at the k-th change the training makes in its run folder (a checkpoint's temporary file made,
 * written, renamed; a metrics line; config files), as inotify reports them: points inside and between checkpoint
 * writes, spread over the whole run.
 */
function signalAtWrite(k: number, signal: NodeJS.Signals) {
  return async (proc: RunningProcess, ctx: CaseContext) => {
    if (!(await waitFor(() => existsSync(run(ctx)), proc))) return;
    let seen = 0;
    const w = watch(run(ctx), (_event, name) => {
      if (!name || name.includes('lock')) return;
      if (++seen === k) proc.kill(signal);
    });
    await proc.ended;
    w.close();
  };
}

const KILL_EPOCHS = 4;

/**
 * Kill points: the k-th write event of a run of about 63 (1–15 the run's files before training: split, config,
 * environment, an empty metrics.jsonl; then a metrics line, `last` and, at epochs 1, 3 and 4, `best` — each a
 * temporary file made, written, renamed; 48–63 the report). The first CI_KILLS SIGKILLs and the first SIGTERM run
 * in `pnpm test` (a line past the checkpoint, `best` being written after `last`, a kill at the rename of `best`; a
 * SIGTERM at the end of an epoch), all 17 SIGKILLs (the count) and 4 SIGTERMs in scripts/fault-suite.sh.
 */
const SIGKILL_POINTS = [16, 22, 37, 3, 8, 14, 18, 20, 23, 26, 29, 33, 36, 41, 45, 50, 58];
const SIGTERM_POINTS = [25, 10, 40, 50];
const CI_KILLS = 3;

/** Whether a case's run had finished every epoch when its command ended (before any resume). */
const FINISHED = new Map<string, boolean>();

function killCase(signal: 'SIGKILL' | 'SIGTERM', k: number, slow: boolean): FaultCase {
  return {
    id: `process/${signal.toLowerCase()}-at-write-${k}`,
    category: 'process',
    title: `${signal} at the ${k}th write into the run folder, then train --resume`,
    item: 7,
    slow,
    timeoutSeconds: 150,
    setup: (ctx) => void phantomData(ctx.input, 2),
    cli: (ctx) => ({ args: runArgs(ctx, KILL_EPOCHS), env: env(ctx) }),
    during: signalAtWrite(k, signal),
    after: (ctx, tools) => {
      FINISHED.set(ctx.root, existsSync(join(run(ctx), 'report.md')));
      return resumeToEnd(ctx, tools, KILL_EPOCHS);
    },
    expect: {
      accept: (s, ctx) => {
        if (signal === 'SIGKILL')
          return s.signal === 'SIGKILL' ? null : `not killed (exit ${s.exitCode}): too few writes?`;
        // SIGTERM: a resumable checkpoint and 143 (or at once 143 outside the epochs). One that arrives while the
        // last epoch's checkpoint is written lets the run finish: exit 0, the run whole (checked by the resume).
        if (s.exitCode === 143) return null;
        if (s.exitCode === 0 && FINISHED.get(ctx.root)) return null;
        return `exit ${s.exitCode} ${s.signal ?? ''} after SIGTERM, 143 expected: ${String(s.stderr).slice(-200)}`;
      },
    },
  };
}

const KILL_CASES: FaultCase[] = [
  ...SIGKILL_POINTS.map((k, i) => killCase('SIGKILL', k, i >= CI_KILLS)),
  ...SIGTERM_POINTS.map((k, i) => killCase('SIGTERM', k, i >= 1)),
];

export const PROCESS_CASES: FaultCase[] = [
  ...PREDICT_CASES,
  ...OUTPUT_CASES,
  ...DISK_CASES,
  ...OWNERSHIP_CASES,
  ...KILL_CASES,
];
