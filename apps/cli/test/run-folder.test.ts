/**
 * The pieces that keep outputs safe (issue 18): the run folder's lock, the refusal of an existing run, the
 * reconciling of metrics.jsonl, the writes that name the file, and predict's output names and input-tree guard.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { appendLine, prepareOutputFolder, writeFileSafe } from '../src/lib/files.js';
import {
  checkOutsideInput,
  planOutputs,
  refuseOverwrites,
  removeStalePartials,
  safeName,
  writePatientOutputs,
} from '../src/lib/predict-output.js';
import type { EpochRecord } from '../src/lib/report.js';
import { ownRunFolder, readMetrics, reconcileMetrics } from '../src/lib/run-folder.js';
import { LOCK_FILE, processStart, RunLock } from '../src/lib/run-lock.js';

let dir: string;
let notes: string[];
const note = (s: string) => void notes.push(s);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mriseg-runfolder-'));
  notes = [];
});

/** The pid of a process that has ended (a child run to completion). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

function writeLock(run: string, owner: Record<string, unknown>): void {
  writeFileSync(
    join(run, LOCK_FILE),
    JSON.stringify({
      host: hostname(),
      since: '2026-01-01T00:00:00Z',
      procStart: null,
      token: 'ab',
      ...owner,
    }),
  );
}

describe('run folder lock', () => {
  it('one holder at a time; the second is told the folder and the pid', () => {
    const lock = RunLock.acquire(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    expect(() => RunLock.acquire(dir)).toThrow(
      new RegExp(`another mriseg process \\(pid ${process.pid}, since .*\\) is writing this run folder`),
    );
    lock.check();
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    RunLock.acquire(dir).release();
    // No temporary file of the taking is left behind.
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a dead process's lock is taken over with a note; a reused pid (another start time) too", () => {
    const pid = deadPid();
    writeLock(dir, { pid });
    const lock = RunLock.acquire(dir, note);
    expect(notes.join('\n')).toMatch(new RegExp(`took over the lock of pid ${pid} .*no longer runs`));
    lock.release();
    // This very pid, but recorded with another start time: the holder is gone, the pid was given to another.
    expect(processStart(process.pid)).not.toBeNull();
    writeLock(dir, { pid: process.pid, procStart: '1' });
    RunLock.acquire(dir, note).release();
    expect(notes).toHaveLength(2);
  });

  it("another host's lock is never taken over; a garbled lock file is not either", () => {
    writeLock(dir, { pid: deadPid(), host: 'elsewhere.example' });
    expect(() => RunLock.acquire(dir)).toThrow(
      /locked by pid \d+ on elsewhere\.example.*cannot check.*remove/,
    );
    writeFileSync(join(dir, LOCK_FILE), 'garbage');
    expect(() => RunLock.acquire(dir)).toThrow(/run\.lock: a lock file mriseg cannot read/);
  });

  it('a lock removed or taken while held stops the holder from writing', () => {
    const lock = RunLock.acquire(dir);
    writeLock(dir, { pid: 1, token: 'other' });
    expect(() => lock.check()).toThrow(/the lock of this run folder was taken by pid 1/);
    lock.release();
    // Not ours: left alone.
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
  });
});

describe('owning a run folder', () => {
  const run = () => join(dir, 'run');

  it('refuses an existing run without --resume; --force clears it; leftovers of a killed run are removed', () => {
    mkdirSync(run());
    writeFileSync(join(run(), 'metrics.jsonl'), '{"epoch":1,"trainLoss":1}\n');
    writeFileSync(join(run(), 'notes.txt'), 'mine');
    const o = { flag: '--out', resume: false, force: false, note };
    expect(() => ownRunFolder(run(), o)).toThrow(
      /--out .*run: already holds a run \(metrics\.jsonl\); continue it with --resume .*, start it anew with --force/,
    );
    // The refusal released the lock it took.
    expect(existsSync(join(run(), LOCK_FILE))).toBe(false);
    writeFileSync(join(run(), '.last.safetensors.0123456789ab.tmp'), 'half');
    ownRunFolder(run(), { ...o, force: true }).release();
    expect(readdirSync(run()).sort()).toEqual(['notes.txt']);
    expect(notes.join('\n')).toMatch(/--force: removed the earlier run's metrics\.jsonl/);
    expect(notes.join('\n')).toMatch(/removed 1 temporary file a killed run left/);
  });

  it('a file in the way of the folder is named', () => {
    writeFileSync(run(), 'x');
    expect(() => ownRunFolder(run(), { flag: '--out', resume: false, force: false, note })).toThrow(
      /--out .*run: not a folder \(a file is in the way\)/,
    );
    expect(() => prepareOutputFolder('--out', join(run(), 'sub'))).toThrow(
      /sub: --out: cannot make the folder \(a file is in the way where a folder is needed, ENOTDIR\)/,
    );
  });
});

describe('metrics.jsonl', () => {
  const rec = (epoch: number, extra: Partial<EpochRecord> = {}): EpochRecord => ({
    epoch,
    step: epoch * 4,
    lr: 1e-3,
    trainLoss: 1 / epoch,
    imgPerSec: 10,
    ...extra,
  });
  const path = () => join(dir, 'metrics.jsonl');
  const lines = (rs: EpochRecord[]) => rs.map((r) => `${JSON.stringify(r)}\n`).join('');

  it('appends whole lines', () => {
    appendLine(path(), JSON.stringify(rec(1)));
    appendLine(path(), JSON.stringify(rec(2)));
    expect(readMetrics(path()).records.map((r) => r.epoch)).toEqual([1, 2]);
  });

  it('keeps one record per completed epoch and nothing after the checkpoint', () => {
    // A run killed between a line and its checkpoint, an older version's repeat, and a torn append.
    writeFileSync(path(), `${lines([rec(1), rec(2), rec(2, { trainLoss: 0.4 }), rec(3)])}{"epoch":4,"tra`);
    const kept = reconcileMetrics(path(), 2, null, note);
    expect(kept.map((r) => [r.epoch, r.trainLoss])).toEqual([
      [1, 1],
      [2, 0.4],
    ]);
    expect(readFileSync(path(), 'utf8')).toBe(lines(kept));
    expect(notes.join('\n')).toMatch(
      /an incomplete last line dropped; 1 line of epochs after the checkpoint's 2 dropped; 1 repeated epoch dropped/,
    );
  });

  it("restores the checkpoint's own epoch from its copy; says which epochs are lost", () => {
    writeFileSync(path(), lines([rec(2)]));
    const kept = reconcileMetrics(path(), 3, rec(3), note);
    expect(kept.map((r) => r.epoch)).toEqual([2, 3]);
    expect(notes.join('\n')).toMatch(/epoch 3 restored from the checkpoint; no record of epoch 1 \(lost/);
  });

  it('a damaged line in the middle is an error naming the file and the line', () => {
    writeFileSync(path(), `${lines([rec(1)])}not json\n${lines([rec(2)])}`);
    expect(() => reconcileMetrics(path(), 2, null, note)).toThrow(
      /metrics\.jsonl:2: not a JSON record \(.*\); repair or delete that line/,
    );
    writeFileSync(path(), `${lines([rec(1)])}{"epoch":"two"}\n`);
    expect(() => readMetrics(path())).toThrow(/metrics\.jsonl:2: not an epoch record/);
  });

  it('a whole-file write is atomic and names the file when it fails', () => {
    writeFileSafe(join(dir, 'a.txt'), 'x');
    expect(readdirSync(dir)).toEqual(['a.txt']);
    expect(() => writeFileSafe(join(dir, 'missing', 'b.txt'), 'x')).toThrow(/missing\/b\.txt: cannot write/);
  });
});

describe('predict outputs', () => {
  const folder = (id: string, d: string, numbers = [1, 2]) => ({
    id,
    dir: d,
    format: 'tif' as const,
    hasMasks: false,
    slices: numbers.map((n) => ({ number: n, image: { path: '', size: 0, mtimeMs: 0 }, mask: null })),
  });

  it('names are one safe path component that stays inside --out', () => {
    expect(safeName('TCGA_CS_4941_19960909')).toBe('TCGA_CS_4941_19960909');
    expect(safeName('..')).toBe('_.');
    expect(safeName('a/../../b')).toBe('a_.._.._b');
    expect(safeName('x'.repeat(300))).toHaveLength(200);
    const out = join(dir, 'out');
    const [o] = planOutputs(out, [folder('..', dir)], note);
    expect(o.dir).toBe(join(out, '_.'));
    expect(o.files).toEqual([
      '_._1_mask.png',
      '_._1_mask.tif',
      '_._1_overlay.png',
      '_._2_mask.png',
      '_._2_mask.tif',
      '_._2_overlay.png',
    ]);
    expect(notes[0]).toMatch(/patient "\.\." is written as _\./);
    expect(() => planOutputs(out, [folder('a b', dir), folder('a_b', dir)], note)).toThrow(
      /patient "a_b" would be written as a_b, as "a b" is/,
    );
  });

  it('the input tree and --out never overlap, links resolved', () => {
    const input = join(dir, 'in');
    const patient = join(dir, 'elsewhere', 'P');
    mkdirSync(patient, { recursive: true });
    mkdirSync(input);
    symlinkSync(patient, join(input, 'P'));
    const p = folder('P', join(input, 'P'));
    expect(() => checkOutsideInput(join(input, 'P', 'masks'), input, [p], 'predict')).toThrow(
      /--out .*in\/P\/masks \(it resolves to .*elsewhere\/P\/masks\) is inside the patient folder .*in\/P \(it resolves to .*elsewhere\/P\)/,
    );
    expect(() => checkOutsideInput(join(dir, 'elsewhere'), input, [p], 'predict')).toThrow(
      /the patient folder .*in\/P \(it resolves to .*elsewhere\/P\) lies inside --out/,
    );
    checkOutsideInput(join(dir, 'out'), input, [p], 'predict');
  });

  it('refuses to overwrite, writes a patient all or nothing, cleans up after a failure', () => {
    const out = join(dir, 'out');
    mkdirSync(out);
    const [o] = planOutputs(out, [folder('P', dir)], note);
    const files = new Map(o.files.map((f) => [f, new Uint8Array([1, 2, 3])]));
    writePatientOutputs(o, out, files);
    expect(readdirSync(join(out, 'P')).sort()).toEqual([...o.files].sort());
    const paths = o.files.map((f) => join(o.dir, f));
    expect(() => refuseOverwrites(paths, false, 'predict')).toThrow(
      /out\/P\/P_1_mask\.png and 5 other files would be overwritten: predict never replaces existing files unless given --force/,
    );
    refuseOverwrites(paths, true, 'predict');
    writePatientOutputs(o, out, new Map(o.files.map((f) => [f, new Uint8Array([9])])));
    expect([...readFileSync(join(o.dir, o.files[0]))]).toEqual([9]);
    // A file name the file system refuses: nothing of the patient kept, no temporary folder left.
    const [q] = planOutputs(out, [folder('Q', dir)], note);
    const bad = new Map([
      [q.files[0], new Uint8Array([1])],
      [`${'y'.repeat(300)}.png`, new Uint8Array([1])],
    ]);
    expect(() => writePatientOutputs(q, out, bad)).toThrow(
      /out\/Q\/y+\.png: cannot write \(the name is too long for the file system, ENAMETOOLONG\); nothing of patient Q was kept/,
    );
    expect(readdirSync(out)).toEqual(['P']);
    // A killed predict's temporary folder is removed by the next one.
    mkdirSync(join(out, `.P.partial-${deadPid()}-0123abcd`));
    mkdirSync(join(out, `.P.partial-${process.pid}-0123abcd`));
    expect(removeStalePartials(out)).toHaveLength(1);
    expect(readdirSync(out).sort()).toEqual([`.P.partial-${process.pid}-0123abcd`, 'P']);
  });
});
