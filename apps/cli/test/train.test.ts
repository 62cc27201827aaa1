import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { decodePng, decodeTiff, preprocess, restoreMask } from '@mriseg/data';
import { binarize, denseCrf, keepLargestComponent, volume } from '@mriseg/metrics';
import { predictVolume } from '@mriseg/models';
import { loadCheckpoint } from '@mriseg/nn/node';
import { initDevice } from '@mriseg/tensor-wgsl';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { findPatients, readImages } from '../src/commands/infer.js';
import { EXIT_INTERRUPTED, EXIT_NAN, EXIT_TERMINATED, train } from '../src/commands/train.js';
import { ensembleProbabilities, openCheckpoint, type TrainMeta } from '../src/lib/infer.js';
import type { EpochRecord } from '../src/lib/report.js';
import { LOCK_FILE, RunLock } from '../src/lib/run-lock.js';
import { main } from '../src/main.js';
import { tinyDataset, tinyTrainArgs } from './fixture.js';

let fx: ReturnType<typeof tinyDataset>;
let lines: string[];
const log = (s: string) => void lines.push(s);
let out: string[];
let err: string[];

beforeAll(async () => {
  await initDevice();
  fx = tinyDataset();
});
beforeEach(() => {
  lines = [];
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

/** Model and optimizer tensors of a checkpoint, as raw bytes by key. */
function tensorsOf(path: string): Map<string, Buffer> {
  const ck = loadCheckpoint(path);
  const m = new Map<string, Buffer>();
  const bytes = (d: unknown) => {
    const a = d as Float32Array;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  };
  for (const [k, t] of ck.model) m.set(k, bytes(t.data));
  for (const [k, t] of ck.optimizer?.tensors ?? []) m.set(`opt:${k}`, bytes(t.data));
  return m;
}

function expectSameTensors(a: string, b: string): void {
  const x = tensorsOf(a);
  const y = tensorsOf(b);
  expect([...y.keys()]).toEqual([...x.keys()]);
  for (const [k, v] of x) expect(y.get(k)!.equals(v), k).toBe(true);
}

const records = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EpochRecord);

describe('train', () => {
  let runA: string;

  it('trains 2 tiny epochs and writes the run folder', async () => {
    runA = join(fx.root, 'runA');
    expect(await train(tinyTrainArgs(fx.data, runA), { log })).toBe(0);
    for (const f of [
      'config.json',
      'split.json',
      'environment.json',
      'metrics.jsonl',
      'best.safetensors',
      'last.safetensors',
      'report.md',
      'loss.svg',
      'dsc.svg',
      'patients.svg',
    ])
      expect(existsSync(join(runA, f)), f).toBe(true);
    const text = lines.join('\n');
    expect(text).toMatch(/Best validation mean DSC: \d\.\d{4}/);
    const cfg = JSON.parse(readFileSync(join(runA, 'config.json'), 'utf8'));
    expect(cfg.features).toBe(2);
    expect(cfg.loss).toBe('dice');
    const split = JSON.parse(readFileSync(join(runA, 'split.json'), 'utf8'));
    expect(split.validation).toHaveLength(2);
    expect(split.train).toHaveLength(3);
    const env = JSON.parse(readFileSync(join(runA, 'environment.json'), 'utf8'));
    expect(env.adapter.length).toBeGreaterThan(0);
    expect(env.mriseg).toBe('0.1.0');
    const r = records(runA);
    expect(r.map((e) => e.epoch)).toEqual([1, 2]);
    for (const e of r) {
      expect(Number.isFinite(e.trainLoss)).toBe(true);
      expect(e.valMeanDsc).toBeGreaterThanOrEqual(0);
      expect(Object.keys(e.valDsc!).sort()).toEqual(split.validation);
    }
    // GPU memory stays flat: the same live buffers after every epoch.
    expect(r[1].liveBuffers).toBe(r[0].liveBuffers);
    const best = Math.max(...r.map((e) => e.valMeanDsc!));
    expect(text).toContain(`Best validation mean DSC: ${best.toFixed(4)}`);
    const report = readFileSync(join(runA, 'report.md'), 'utf8');
    expect(report).toContain('![loss](loss.svg)');
    expect(report).toContain(`**Best validation mean DSC: ${best.toFixed(4)}**`);
    expect(readFileSync(join(runA, 'dsc.svg'), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*<path d="M/);
    expect(readFileSync(join(runA, 'patients.svg'), 'utf8')).toContain(split.validation[0]);
    const meta = JSON.parse(
      loadCheckpoint(join(runA, 'last.safetensors')).rawMetadata['mriseg.train'],
    ) as TrainMeta;
    expect(meta.state.epoch).toBe(2);
    expect(meta.state.step).toBe(8);
    // Every checkpoint says how to run it: the input size it was trained at, preprocessing, threshold, post-processing.
    for (const f of ['best.safetensors', 'last.safetensors'])
      expect(loadCheckpoint(join(runA, f)).metadata.inference, f).toEqual({
        inputSize: 32,
        channels: ['pre-contrast', 'FLAIR', 'post-contrast'],
        preprocess: { name: 'reference', options: {} },
        output: 'logits',
        threshold: 0.5,
        postprocess: 'lcc3d',
      });
    // The progress bar shows a rate only once losses were read back from the GPU (every --log-every 3 steps).
    const bars = (vi.mocked(process.stderr.write).mock.calls as unknown[][])
      .map((c) => String(c[0]))
      .filter((l) => l.startsWith('epoch 1/2 ['));
    expect(bars[0]).toContain('0/4 … img/s ETA --:--');
    const firstRate = bars.findIndex((l) => /\d img\/s/.test(l));
    expect(bars[firstRate]).toMatch(/ [34]\/4 /);
    expect(bars.slice(0, firstRate).every((l) => l.includes('… img/s'))).toBe(true);
  });

  it('paths it prints work from where it was started: the run folder, and the evaluate command', async () => {
    const here = join(fx.root, 'from-here');
    mkdirSync(here);
    const cwd = process.cwd();
    try {
      const args = tinyTrainArgs(fx.data, 'x', ['--epochs', '1']);
      args.splice(args.indexOf('--out'), 2);
      // As `pnpm --filter cli train` runs it: in apps/cli, with -C the folder the user typed the command in.
      expect(await main(['-C', here, 'train', ...args])).toBe(0);
      const text = out.join('\n');
      const folder = /run folder: (runs\/\d{8}-\d{6}-unet) /.exec(text);
      expect(folder, text).not.toBeNull();
      expect(existsSync(join(here, folder![1], 'best.safetensors'))).toBe(true);
      const evaluate = /evaluate it: mriseg (evaluate .*)$/m.exec(text);
      expect(evaluate![1]).toBe(`evaluate --checkpoint ${folder![1]}/best.safetensors --data ${fx.data}`);
      // Pasted where the user is (the working folder is `here` now).
      expect(process.cwd()).toBe(here);
      expect(await main([...evaluate![1].split(' '), '--workers', '0'])).toBe(0);
      expect(existsSync(join(here, folder![1], 'evaluation', 'summary.csv'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('Ctrl-C writes a resumable checkpoint; resuming gives the same weights as an uninterrupted run', async () => {
    const runB = join(fx.root, 'runB');
    const code = await train(tinyTrainArgs(fx.data, runB), {
      log,
      onStep: (step) => {
        // Step 6 = the second batch of epoch 2: what a real SIGINT does, through the handler train installed.
        if (step === 6) (process.listeners('SIGINT').at(-1) as (s: string) => void)('SIGINT');
      },
    });
    expect(code).toBe(EXIT_INTERRUPTED);
    expect(lines.join('\n')).toContain(`--resume ${runB}`);
    const meta = JSON.parse(
      loadCheckpoint(join(runB, 'last.safetensors')).rawMetadata['mriseg.train'],
    ) as TrainMeta;
    expect(meta.state).toMatchObject({ epoch: 1, batch: 2, step: 6 });
    expect(records(runB)).toHaveLength(1);
    expect(await train(['--resume', runB], { log })).toBe(0);
    expectSameTensors(join(fx.root, 'runA', 'last.safetensors'), join(runB, 'last.safetensors'));
    expect(records(runB).map((r) => r.valMeanDsc)).toEqual(
      records(join(fx.root, 'runA')).map((r) => r.valMeanDsc),
    );

    // Resuming at an epoch boundary with more epochs: 1 + 1 epochs = 2 epochs.
    const runC = join(fx.root, 'runC');
    expect(await train(tinyTrainArgs(fx.data, runC, ['--epochs', '1']), { log })).toBe(0);
    cpSync(join(runC, 'last.safetensors'), join(fx.root, 'one-epoch.safetensors'));
    expect(await train(['--resume', join(runC, 'last.safetensors'), '--epochs', '2'], { log })).toBe(0);
    expectSameTensors(join(fx.root, 'runA', 'last.safetensors'), join(runC, 'last.safetensors'));
  });

  it('SIGTERM (a batch scheduler stopping the job) writes a resumable checkpoint as Ctrl-C does, exit 143', async () => {
    const runT = join(fx.root, 'runT');
    const code = await train(tinyTrainArgs(fx.data, runT), {
      log,
      onStep: (step) => {
        if (step === 2) (process.listeners('SIGTERM').at(-1) as (s: string) => void)('SIGTERM');
      },
    });
    expect(code).toBe(EXIT_TERMINATED);
    expect(lines.join('\n')).toMatch(
      /SIGTERM: wrote .*last\.safetensors \(epoch 1, batch 2\); continue with/,
    );
    const meta = JSON.parse(
      loadCheckpoint(join(runT, 'last.safetensors')).rawMetadata['mriseg.train'],
    ) as TrainMeta;
    expect(meta.state).toMatchObject({ epoch: 0, batch: 2, step: 2 });
    // The handlers and the lock are gone with the run.
    expect(existsSync(join(runT, LOCK_FILE))).toBe(false);
    expect(process.listeners('SIGTERM')).toHaveLength(0);
  });

  it('a run folder is owned: an existing run is refused without --resume or --force, a running one always', async () => {
    const runA = join(fx.root, 'runA');
    const before = readFileSync(join(runA, 'metrics.jsonl'), 'utf8');
    await expect(train(tinyTrainArgs(fx.data, runA), { log })).rejects.toThrow(
      /--out .*runA: already holds a run \(config\.json, split\.json, environment\.json, …\); continue it with --resume/,
    );
    expect(readFileSync(join(runA, 'metrics.jsonl'), 'utf8')).toBe(before);
    await expect(train(['--resume', runA, '--force'], { log })).rejects.toThrow(/give one of them/);
    // Another process holds the folder (here this one, through the lock it would take): nothing is written.
    const runF = join(fx.root, 'runF');
    mkdirSync(runF);
    const lock = RunLock.acquire(runF);
    await expect(train(tinyTrainArgs(fx.data, runF, ['--force']), { log })).rejects.toThrow(
      new RegExp(
        `runF: another mriseg process \\(pid ${process.pid}, since .*\\) is writing this run folder`,
      ),
    );
    lock.release();
    expect(readdirSync(runF)).toEqual([]);
    // A run folder inside the data is refused before anything is made.
    await expect(
      train(tinyTrainArgs(fx.data, join(fx.data, 'TCGA_PH_0001_20000101', 'run')), { log }),
    ).rejects.toThrow(/run folder \(--out\) must not be inside the source data/);
    expect(existsSync(join(fx.data, 'TCGA_PH_0001_20000101', 'run'))).toBe(false);
    // --resume cannot change the architecture: one line, not a list of missing keys.
    await expect(train(['--resume', runA, '--model', 'resunet'], { log })).rejects.toThrow(
      /--model resunet: the run in .*runA was trained with model unet, and a resumed run keeps it/,
    );
  });

  it('what a killed run leaves is repaired on resume: metrics past the checkpoint, a best behind last, .tmp files, a stale lock', async () => {
    const runK = join(fx.root, 'runK');
    expect(await train(tinyTrainArgs(fx.data, runK, ['--epochs', '1']), { log })).toBe(0);
    const one = records(runK);
    // As a SIGKILL at the end of epoch 2 can leave it: its metrics line written, then killed before its last and
    // best (or between last and best, which leaves best missing here), a checkpoint's temporary file, the lock.
    writeFileSync(
      join(runK, 'metrics.jsonl'),
      `${readFileSync(join(runK, 'metrics.jsonl'), 'utf8')}${JSON.stringify({ ...one[0], epoch: 2 })}\n{"epo`,
    );
    rmSync(join(runK, 'best.safetensors'));
    writeFileSync(join(runK, '.last.safetensors.0123456789ab.tmp'), 'half a checkpoint');
    writeFileSync(
      join(runK, LOCK_FILE),
      JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), since: 'then', procStart: null, token: 'x' }),
    );
    lines = [];
    expect(await train(['--resume', runK], { log })).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/took over the lock of pid 4194305/);
    expect(text).toMatch(/removed 1 temporary file a killed run left/);
    expect(text).toMatch(
      /metrics\.jsonl: an incomplete last line dropped; 1 line of epochs after the checkpoint's 1 dropped/,
    );
    expect(text).toMatch(
      /best\.safetensors was missing or unreadable; rewrote it from .*last\.safetensors \(epoch 1/,
    );
    expect(records(runK)).toEqual(one);
    expect(loadCheckpoint(join(runK, 'best.safetensors')).metadata.epoch).toBe(1);
    expect(readdirSync(runK).filter((n) => n.endsWith('.tmp') || n === LOCK_FILE)).toEqual([]);
    // Then on to epoch 2: the same weights as the run that was never killed.
    expect(await train(['--resume', runK, '--epochs', '2'], { log })).toBe(0);
    expectSameTensors(join(fx.root, 'runA', 'last.safetensors'), join(runK, 'last.safetensors'));
    expect(records(runK).map((r) => r.epoch)).toEqual([1, 2]);
    const best = loadCheckpoint(join(runK, 'best.safetensors'));
    const lastMeta = JSON.parse(loadCheckpoint(join(runK, 'last.safetensors')).rawMetadata['mriseg.train']);
    expect(best.metadata.epoch).toBe(lastMeta.state.bestEpoch);
    // A damaged split.json is named, with what to do.
    writeFileSync(join(runK, 'split.json'), '{"hash": ');
    await expect(train(['--resume', runK], { log })).rejects.toThrow(
      /split\.json: not valid JSON .*delete it to have it written again from the checkpoint's record/,
    );
  });

  it('a NaN loss stops the run and keeps the last good checkpoint', async () => {
    const runD = join(fx.root, 'runD');
    cpSync(join(fx.root, 'runA'), runD, { recursive: true });
    const code = await train(['--resume', runD, '--epochs', '6', '--lr', '1e38'], { log });
    expect(code).toBe(EXIT_NAN);
    const m = /NaN or infinite in epoch (\d+)[\s\S]*last\.safetensors \(epoch (\d+), kept unchanged\)/.exec(
      err.join('\n'),
    );
    expect(m).not.toBeNull();
    // The kept checkpoint is the last epoch that finished with finite losses and weights, and nothing after it.
    const kept = Number(m![2]);
    expect(Number(m![1])).toBe(kept + 1);
    expect(records(runD)).toHaveLength(kept);
    const ck = loadCheckpoint(join(runD, 'last.safetensors'));
    expect(ck.metadata.epoch).toBe(kept);
    for (const [k, t] of ck.model) expect((t.data as Float32Array).every(Number.isFinite), k).toBe(true);
  });

  it('evaluate writes the per-patient CSV and summary; its DSC is the validation DSC of the best epoch', async () => {
    const runA = join(fx.root, 'runA');
    const outDir = join(fx.root, 'eval');
    expect(
      await main([
        'evaluate',
        '--checkpoint',
        join(runA, 'best.safetensors'),
        '--out',
        outDir,
        '--workers',
        '0',
      ]),
    ).toBe(0);
    const csv = readFileSync(join(outDir, 'patients.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(
      'patient,slices,reference_dsc,raw_dsc,dice,iou,precision,recall,hd95,assd,true_volume,pred_volume,surface_dice,distance_unit',
    );
    const split = JSON.parse(readFileSync(join(runA, 'split.json'), 'utf8'));
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(split.validation);
    const r = records(runA);
    const best = r.reduce((a, b) => (b.valMeanDsc! > a.valMeanDsc! ? b : a));
    for (const line of csv.slice(1)) {
      const [id, , ref] = line.split(',');
      expect(Number(ref)).toBeCloseTo(best.valDsc![id], 5);
    }
    const summary = readFileSync(join(outDir, 'summary.csv'), 'utf8').trim().split('\n');
    expect(summary[0]).toBe('metric,mean,std,min,q1,median,q3,iqr,max');
    const refRow = summary.find((l) => l.startsWith('referenceDsc,'))!.split(',');
    expect(Number(refRow[1])).toBeCloseTo(best.valMeanDsc!, 5);
    expect(out.join('\n')).toMatch(/Mean DSC \(reference metric\): \d\.\d{4}\s+median \d\.\d{4}\s+IQR/);
  });

  it('predict writes Kaggle-named masks (PNG and TIFF) and overlays in the original frame', async () => {
    const ckpt = join(fx.root, 'runA', 'best.safetensors');
    const outDir = join(fx.root, 'pred');
    const [patient] = findPatients(fx.data);
    expect(await main(['predict', '--checkpoint', ckpt, '--input', patient.dir, '--out', outDir])).toBe(0);
    const raw = readImages(patient);
    const files = readdirSync(join(outDir, patient.id)).sort();
    const want = raw.sliceNumbers
      .flatMap((n) => [
        `${patient.id}_${n}_mask.png`,
        `${patient.id}_${n}_mask.tif`,
        `${patient.id}_${n}_overlay.png`,
      ])
      .sort();
    expect(files).toEqual(want);
    // The masks are the model's thresholded, largest-component prediction put back into the original frame.
    const { model } = openCheckpoint(ckpt);
    const v = preprocess(raw, { size: 32 });
    const probs = await predictVolume(model, { data: v.image, shape: [v.depth, 3, 32, 32] });
    const expected = restoreMask(
      keepLargestComponent(binarize(volume(probs, [v.depth, 32, 32]))).data,
      v,
      raw,
    );
    model.dispose();
    const plane = raw.height * raw.width;
    raw.sliceNumbers.forEach((n, z) => {
      const png = decodePng(readFileSync(join(outDir, patient.id, `${patient.id}_${n}_mask.png`)), 'png');
      const tif = decodeTiff(readFileSync(join(outDir, patient.id, `${patient.id}_${n}_mask.tif`)), 'tif');
      expect([png.width, png.height, png.channels]).toEqual([raw.width, raw.height, 1]);
      expect(Buffer.from(tif.data).equals(Buffer.from(png.data))).toBe(true);
      const want = Uint8Array.from(expected.subarray(z * plane, (z + 1) * plane), (b) => b * 255);
      expect(Buffer.from(png.data).equals(Buffer.from(want)), `slice ${n}`).toBe(true);
      const ov = decodePng(readFileSync(join(outDir, patient.id, `${patient.id}_${n}_overlay.png`)), 'png');
      expect([ov.width, ov.height, ov.channels]).toEqual([raw.width, raw.height, 3]);
    });
    // The first and last slices were dropped by the preprocessing: empty.
    expect(expected.subarray(0, plane).every((b) => b === 0)).toBe(true);
    expect(expected.subarray((raw.depth - 1) * plane).every((b) => b === 0)).toBe(true);
    // Run again into the same folder: refused before anything is written; --force overwrites.
    const argv = ['predict', '--checkpoint', ckpt, '--input', patient.dir, '--out', outDir];
    err = [];
    expect(await main(argv)).toBe(1);
    expect(err.join('\n')).toMatch(/_mask\.png and \d+ other files would be overwritten: .*--force/);
    expect(await main([...argv, '--force'])).toBe(0);
    expect(readdirSync(join(outDir, patient.id)).sort()).toEqual(want);
    expect(readdirSync(outDir)).toEqual([patient.id]);
  });

  it('ensemble averages the probabilities of its models', async () => {
    const a = openCheckpoint(join(fx.root, 'runA', 'last.safetensors'));
    const b = openCheckpoint(join(fx.root, 'one-epoch.safetensors'));
    const [patient] = findPatients(fx.data);
    const v = preprocess(readImages(patient), { size: 32 });
    const shape = [v.depth, 3, 32, 32] as const;
    const pa = await predictVolume(a.model, { data: v.image, shape });
    const pb = await predictVolume(b.model, { data: v.image, shape });
    const pe = await ensembleProbabilities([a.model, b.model], v);
    let maxDiff = 0;
    let modelsDiffer = 0;
    for (let i = 0; i < pe.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(pe[i] - (pa[i] + pb[i]) / 2));
      modelsDiffer = Math.max(modelsDiffer, Math.abs(pa[i] - pb[i]));
    }
    expect(modelsDiffer).toBeGreaterThan(1e-3);
    expect(maxDiff).toBeLessThan(1e-6);
    a.model.dispose();
    b.model.dispose();
    const outDir = join(fx.root, 'ens');
    const args = [
      'ensemble',
      '--checkpoint',
      join(fx.root, 'runA', 'last.safetensors'),
      '--checkpoint',
      join(fx.root, 'one-epoch.safetensors'),
    ];
    expect(await main([...args, '--out', outDir, '--workers', '0'])).toBe(0);
    expect(readFileSync(join(outDir, 'patients.csv'), 'utf8').split('\n')[0]).toContain('reference_dsc');
    expect(out.join('\n')).toContain('ensemble: 2 models on 2 patients');
    expect(JSON.parse(readFileSync(join(outDir, 'ensemble.json'), 'utf8')).checkpoints).toHaveLength(2);
    expect(await main(['ensemble', '--checkpoint', join(fx.root, 'one-epoch.safetensors')])).toBe(2);
  });
  it('bias correction, skull stripping and a CRF step: recorded in the checkpoint, applied by evaluate and predict', async () => {
    const run = join(fx.root, 'runOptions');
    const post = 'crf:sa=4:it=3,lcc3d';
    const extra = ['--epochs', '1', '--bias-correct', '--skull-strip', '--postprocess', post];
    expect(await train(tinyTrainArgs(fx.data, run, extra), { log })).toBe(0);
    const spec = loadCheckpoint(join(run, 'best.safetensors')).metadata.inference!;
    expect(spec.preprocess).toEqual({ name: 'reference', options: { biasCorrect: true, skullStrip: true } });
    expect(spec.postprocess).toBe(post);
    const [rec] = records(run);
    expect(rec.valPostMeanDsc).toBeGreaterThanOrEqual(0);
    expect(lines.join('\n')).toMatch(/val mean DSC \d\.\d{4}.*, post-processed \d\.\d{4}/);
    // evaluate preprocesses as the checkpoint records (the reference DSC is validation's) and runs its CRF.
    const outDir = join(fx.root, 'evalOptions');
    const ckpt = join(run, 'best.safetensors');
    expect(await main(['evaluate', '--checkpoint', ckpt, '--out', outDir, '--workers', '0'])).toBe(0);
    const rows = readFileSync(join(outDir, 'patients.csv'), 'utf8').trim().split('\n').slice(1);
    let diceSum = 0;
    for (const line of rows) {
      const [id, , ref, , dice] = line.split(',');
      expect(Number(ref)).toBeCloseTo(rec.valDsc![id], 5);
      diceSum += Number(dice);
    }
    expect(diceSum / rows.length).toBeCloseTo(rec.valPostMeanDsc!, 5);
    const text = out.join('\n');
    expect(text).toContain('bias-corrected, skull-stripped');
    expect(text).toMatch(/Mean DSC after threshold 0.5 and crf:sa=4:it=3,lcc3d: \d\.\d{4} ± /);
    // --no-skull-strip overrides the checkpoint.
    out.length = 0;
    expect(
      await main([
        'evaluate',
        '--checkpoint',
        ckpt,
        '--out',
        `${outDir}2`,
        '--workers',
        '0',
        '--no-skull-strip',
      ]),
    ).toBe(0);
    expect(out.join('\n')).toMatch(/input 32 px, bias-corrected, threshold/);
    // predict: the CRF on the probabilities of the bias-corrected, skull-stripped volume, then the largest component.
    const predDir = join(fx.root, 'predOptions');
    const [patient] = findPatients(fx.data);
    expect(await main(['predict', '--checkpoint', ckpt, '--input', patient.dir, '--out', predDir])).toBe(0);
    const raw = readImages(patient);
    const v = preprocess(raw, { size: 32, biasCorrect: true, skullStrip: true });
    const { model } = openCheckpoint(ckpt);
    const probs = await predictVolume(model, { data: v.image, shape: [v.depth, 3, 32, 32] });
    model.dispose();
    const refined = denseCrf(
      volume(probs, [v.depth, 32, 32]),
      { data: v.image, shape: [v.depth, 3, 32, 32] },
      { appearanceSpatial: 4, iterations: 3 },
    );
    const expected = restoreMask(keepLargestComponent(binarize(refined)).data, v, raw);
    const plane = raw.height * raw.width;
    raw.sliceNumbers.forEach((n, z) => {
      const png = decodePng(readFileSync(join(predDir, patient.id, `${patient.id}_${n}_mask.png`)), 'png');
      const want = Uint8Array.from(expected.subarray(z * plane, (z + 1) * plane), (b) => b * 255);
      expect(Buffer.from(png.data).equals(Buffer.from(want)), `slice ${n}`).toBe(true);
    });
  });
});
