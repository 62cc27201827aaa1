/**
 * `evaluate`, `predict` and `ensemble`: one or several checkpoints (probabilities averaged) applied to
 * preprocessed volumes; a per-patient metrics table, or masks written back in the original frame.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  decodeImageFile,
  encodePng,
  encodeTiff,
  type PreprocessOptions,
  preprocess,
  type RawPatient,
  restoreMask,
  type Volume,
} from '@mriseg/data';
import {
  binaryVolume,
  countForeground,
  evaluateCases,
  METRIC_NAMES,
  type MetricsReport,
  volume,
} from '@mriseg/metrics';
import { preprocessOptionsOf } from '@mriseg/models';
import { initDevice } from '@mriseg/tensor-wgsl';
import { makePool } from '../env.js';
import { CliError, UsageError } from '../errors.js';
import { checkDataFolder, loadVolumes } from '../lib/data.js';
import {
  checkCheckpointFile,
  ensembleProbabilities,
  type LoadedCheckpoint,
  openCheckpoint,
} from '../lib/infer.js';
import { shownPath } from '../lib/paths.js';
import { imageOf, pipelineOf } from '../lib/pipeline.js';
import { runStamp } from '../lib/run-dir.js';
import { selectSplit } from '../lib/split.js';
import { plural } from '../lib/words.js';
import type { TtaMode } from '../options/commands.js';
import type { Value } from '../options/schema.js';

/** The settings the models run with: each given option, else what the checkpoints record. */
export interface RunSettings {
  tta: TtaMode;
  batchSize: number;
  imageSize: number;
  /** Options of the data package's `preprocess()` (size included). */
  preprocess: PreprocessOptions;
  threshold: number;
  /** Post-processing steps, or 'none'. */
  postprocess: string;
}

/** The checkpoints of the command line (one, or two or more for ensemble), checked to exist before any work. */
function checkpointPaths(v: Record<string, Value>, command: string): string[] {
  const paths = Array.isArray(v.checkpoint)
    ? v.checkpoint
    : typeof v.checkpoint === 'string'
      ? [v.checkpoint]
      : [];
  if (command === 'ensemble' && paths.length < 2)
    throw new UsageError(`give two or more --checkpoint FILE (got ${paths.length})`, command);
  for (const p of paths) checkCheckpointFile(p);
  return paths;
}

/**
 * What to run with: the options given, else the checkpoints' recorded settings. The models of an ensemble must
 * agree on their input (size and preprocessing); a threshold or post-processing they disagree on is taken from the
 * first, said in a note.
 */
export function settle(
  loaded: readonly LoadedCheckpoint[],
  v: Record<string, Value>,
  log: (s: string) => void,
): RunSettings {
  const specs = loaded.map((l) => l.inference.spec);
  for (const l of loaded) if (l.inference.note) log(`note: ${l.inference.note}`);
  const [first] = specs;
  const sizes = new Set(specs.map((s) => s.inputSize));
  if (v['image-size'] === null && sizes.size > 1)
    throw new CliError(
      `the checkpoints were trained at different input sizes (${[...sizes].join(', ')} px); give --image-size to run them all at one`,
    );
  const pre = new Set(specs.map((s) => JSON.stringify(s.preprocess)));
  if (pre.size > 1) throw new CliError('the checkpoints were trained with different preprocessing');
  const differs = (k: 'threshold' | 'postprocess') => new Set(specs.map((s) => s[k])).size > 1;
  for (const k of ['threshold', 'postprocess'] as const)
    if (v[k] === null && differs(k))
      log(`note: the checkpoints record different ${k}s; using the first's (${first[k]})`);
  const imageSize = (v['image-size'] as number | null) ?? first.inputSize;
  let preprocess: PreprocessOptions;
  try {
    preprocess = { ...preprocessOptionsOf(first), size: imageSize } as PreprocessOptions;
  } catch (e) {
    throw new CliError(`${shownPath(loaded[0].path)}: ${(e as Error).message}`);
  }
  // --bias-correct / --skull-strip (and their --no- forms) override what the checkpoints record.
  for (const [flag, key] of [
    ['bias-correct', 'biasCorrect'],
    ['skull-strip', 'skullStrip'],
  ] as const) {
    const given = v[flag] as boolean | null | undefined;
    if (given === true) preprocess[key] = true;
    else if (given === false) delete preprocess[key];
  }
  return {
    tta: v.tta as RunSettings['tta'],
    batchSize: v['batch-size'] as number,
    imageSize,
    preprocess,
    threshold: (v.threshold as number | null) ?? first.threshold,
    postprocess: (v.postprocess as string | null) ?? (first.postprocess || 'none'),
  };
}

const describeSettings = (o: RunSettings) =>
  `input ${o.imageSize} px${o.preprocess.biasCorrect ? ', bias-corrected' : ''}${o.preprocess.skullStrip ? ', skull-stripped' : ''}, threshold ${o.threshold}, post-processing ${o.postprocess}, tta ${o.tta}`;

// ---------------------------------------------------------------------------------------------------- evaluate

export interface EvaluateResult {
  report: MetricsReport;
  csv: string;
  summaryCsv: string;
  patients: string[];
}

function csvTable(
  report: MetricsReport,
  volumes: Map<string, { slices: number; truth: number; pred: number }>,
): string {
  const head = [
    'patient',
    'slices',
    'reference_dsc',
    'raw_dsc',
    'dice',
    'iou',
    'precision',
    'recall',
    'hd95',
    'assd',
    'true_volume',
    'pred_volume',
  ];
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(6) : String(v));
  const rows = report.rows.map((r) => {
    const v = volumes.get(r.id)!;
    return [
      r.id,
      v.slices,
      f(r.referenceDsc),
      f(r.dscNoLcc),
      f(r.dice),
      f(r.iou),
      f(r.precision),
      f(r.recall),
      f(r.hd95),
      f(r.assd),
      v.truth,
      v.pred,
    ].join(',');
  });
  return `${[head.join(','), ...rows].join('\n')}\n`;
}

function summaryTable(report: MetricsReport): string {
  const stats = ['mean', 'std', 'min', 'q1', 'median', 'q3', 'iqr', 'max'] as const;
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(6) : String(v));
  const lines = [['metric', ...stats].join(',')];
  for (const m of METRIC_NAMES) lines.push([m, ...stats.map((s) => f(report.summary[m][s]))].join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * `evaluate` (one checkpoint) and `ensemble` without --input (several, probabilities averaged): the per-patient
 * metrics of the chosen patients, written as patients.csv and summary.csv.
 */
async function evaluateCommand(v: Record<string, Value>, command: 'evaluate' | 'ensemble'): Promise<number> {
  const log = (s: string) => console.log(s);
  const paths = checkpointPaths(v, command);
  if (typeof v.data === 'string') checkDataFolder('--data', v.data);
  await initDevice();
  const loaded: LoadedCheckpoint[] = [];
  const pool = makePool(v.workers as number);
  try {
    for (const p of paths) loaded.push(openCheckpoint(p));
    const o = settle(loaded, v, log);
    const train = loaded.find((l) => l.train)?.train?.config ?? null;
    const data = await loadVolumes((v.data as string | null) ?? train?.data ?? null, {
      preprocess: o.preprocess,
      cache: (v.cache as string | null) ?? train?.cache ?? null,
      pool,
      demoPatients: train?.['demo-patients'] ?? 12,
      log,
    });
    // Which patients: --split all, another split, or (default) the validation patients of the checkpoint's run.
    const splitText = (v.split as string | null) ?? train?.split ?? 'all';
    const vols =
      splitText === 'all'
        ? data.volumes
        : selectSplit(splitText, data.volumes, data.root, command).validation;
    const r = await evaluateVolumes(loaded, vols, o);
    const out =
      (v.out as string | null) ??
      (command === 'ensemble'
        ? join('runs', `${runStamp()}-ensemble`)
        : join(dirname(paths[0]), 'evaluation'));
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'patients.csv'), r.csv);
    writeFileSync(join(out, 'summary.csv'), r.summaryCsv);
    if (command === 'ensemble') writeEnsembleManifest(out, paths, o);
    const s = r.report.summary.referenceDsc;
    log(
      `${command}: ${plural(loaded.length, 'model')} on ${plural(vols.length, 'patient')} of ${shownPath(data.root)} (split ${splitText}; ${describeSettings(o)})`,
    );
    const postprocessed = o.postprocess !== 'lcc3d' || o.threshold !== 0.5;
    for (const row of r.report.rows)
      log(
        `  ${row.id.padEnd(24)} DSC ${row.referenceDsc.toFixed(4)}  raw ${row.dscNoLcc.toFixed(4)}${postprocessed ? `  post-processed ${row.dice.toFixed(4)}` : ''}  HD95 ${row.hd95.toFixed(2)}`,
      );
    log(
      `Mean DSC (reference metric): ${s.mean.toFixed(4)}  median ${s.median.toFixed(4)}  IQR ${s.iqr.toFixed(4)} (${s.q1.toFixed(4)}–${s.q3.toFixed(4)})`,
    );
    if (postprocessed) {
      const d = r.report.summary.dice;
      log(
        `Mean DSC after threshold ${o.threshold} and ${o.postprocess}: ${d.mean.toFixed(4)} ± ${d.std.toFixed(4)}  median ${d.median.toFixed(4)}  HD95 ${r.report.summary.hd95.mean.toFixed(2)}`,
      );
    }
    log(`wrote ${shownPath(join(out, 'patients.csv'))} and ${shownPath(join(out, 'summary.csv'))}`);
    return 0;
  } finally {
    for (const l of loaded) l.model.dispose();
    await pool.close();
  }
}

/** ensemble.json: which checkpoints were averaged, with what settings (the CSVs beside it say the result). */
function writeEnsembleManifest(out: string, paths: string[], o: RunSettings): void {
  writeFileSync(
    join(out, 'ensemble.json'),
    `${JSON.stringify({ checkpoints: paths.map((p) => resolve(p)), settings: o }, null, 2)}\n`,
  );
}

/** Scores preprocessed volumes with the (averaged) models: the per-patient table and its CSV forms. */
export async function evaluateVolumes(
  loaded: readonly LoadedCheckpoint[],
  vols: readonly Volume[],
  o: Pick<RunSettings, 'batchSize' | 'tta' | 'threshold' | 'postprocess'>,
): Promise<EvaluateResult> {
  const post = pipelineOf(o.postprocess);
  const cases = [];
  const sizes = new Map<string, { slices: number; truth: number; pred: number }>();
  for (const v of vols) {
    const probs = await ensembleProbabilities(
      loaded.map((l) => l.model),
      v,
      { batchSize: o.batchSize, tta: o.tta },
    );
    const shape = [v.depth, v.height, v.width];
    const prob = volume(probs, shape);
    const truth = binaryVolume(v.mask, shape);
    const image = imageOf(v);
    cases.push({ id: v.id, prob, truth, image });
    sizes.set(v.id, {
      slices: v.depth,
      truth: countForeground(truth),
      pred: countForeground(post.fromProbabilities(prob, o.threshold, image)),
    });
  }
  const report = evaluateCases(cases, { threshold: o.threshold, postprocess: post });
  return {
    report,
    csv: csvTable(report, sizes),
    summaryCsv: summaryTable(report),
    patients: vols.map((v) => v.id),
  };
}

// ----------------------------------------------------------------------------------------------------- predict

const IMAGE_NAME = /^(.+)_(\d+)\.(tif|tiff|png)$/i;

/** Patient folders under `input`: the folder itself when it holds slice images, else its sub-folders that do. */
export function findPatients(input: string): { id: string; dir: string }[] {
  const hasImages = (dir: string) =>
    readdirSync(dir).some((n) => IMAGE_NAME.test(n) && !/_mask\.[a-z]+$/i.test(n));
  if (hasImages(input)) return [{ id: basename(resolve(input)), dir: input }];
  return readdirSync(input)
    .filter((n) => !n.startsWith('.') && statSync(join(input, n)).isDirectory() && hasImages(join(input, n)))
    .sort()
    .map((n) => ({ id: n, dir: join(input, n) }));
}

/** Reads one patient's slice images (masks, if present, are not needed), in slice-number order. */
export function readImages(id: string, dir: string): RawPatient {
  const slices = readdirSync(dir)
    .map((n) => ({ n, m: IMAGE_NAME.exec(n) }))
    .filter((e) => e.m && !/_mask$/i.test(e.m[1]))
    .map((e) => ({ file: join(dir, e.n), num: Number(e.m![2]), prefix: e.m![1], ext: e.m![3].toLowerCase() }))
    .sort((a, b) => a.num - b.num);
  if (slices.length < 3)
    throw new CliError(
      `${dir}: ${slices.length} slice images; at least 3 are needed (the first and last are dropped)`,
    );
  let h = 0;
  let w = 0;
  let image = new Uint8Array(0);
  slices.forEach((s, z) => {
    const r = decodeImageFile(s.file, s.ext === 'png' ? 'png' : 'tif');
    if (z === 0) {
      h = r.height;
      w = r.width;
      image = new Uint8Array(slices.length * h * w * 3);
    } else if (r.height !== h || r.width !== w)
      throw new CliError(`${s.file}: ${r.width}×${r.height}, the first slice is ${w}×${h}`);
    const o = z * h * w * 3;
    if (r.channels === 3) image.set(r.data.subarray(0, h * w * 3), o);
    else if (r.channels === 1)
      for (let i = 0; i < h * w; i++) image.fill(r.data[i], o + 3 * i, o + 3 * i + 3);
    else
      throw new CliError(
        `${s.file}: ${r.channels} channels; RGB (pre-contrast, FLAIR, post-contrast) expected`,
      );
  });
  return {
    id: slices[0].prefix === id ? id : slices[0].prefix,
    sliceNumbers: slices.map((s) => s.num),
    depth: slices.length,
    height: h,
    width: w,
    image,
    mask: new Uint8Array(slices.length * h * w),
  };
}

/** The FLAIR channel in grey with the mask's outline (foreground pixels with a background 4-neighbour) in red. */
export function overlay(raw: RawPatient, z: number, mask: Uint8Array): Uint8Array {
  const { height: h, width: w } = raw;
  const out = new Uint8Array(h * w * 3);
  const img = raw.image.subarray(z * h * w * 3, (z + 1) * h * w * 3);
  const m = mask.subarray(z * h * w, (z + 1) * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const g = img[3 * i + 1];
      const edge =
        m[i] &&
        (x === 0 ||
          y === 0 ||
          x === w - 1 ||
          y === h - 1 ||
          !m[i - 1] ||
          !m[i + 1] ||
          !m[i - w] ||
          !m[i + w]);
      out[3 * i] = edge ? 255 : g;
      out[3 * i + 1] = edge ? 0 : g;
      out[3 * i + 2] = edge ? 0 : g;
    }
  }
  return out;
}

/** Masks of one patient in the original frame (depth × H × W, 0/1), from the models' averaged probabilities. */
export async function predictPatient(
  loaded: readonly LoadedCheckpoint[],
  raw: RawPatient,
  o: Pick<RunSettings, 'batchSize' | 'tta' | 'threshold' | 'postprocess' | 'preprocess'>,
): Promise<{ mask: Uint8Array; volume: Volume }> {
  const v = preprocess(raw, o.preprocess);
  const probs = await ensembleProbabilities(
    loaded.map((l) => l.model),
    v,
    { batchSize: o.batchSize, tta: o.tta },
  );
  const cleaned = pipelineOf(o.postprocess).fromProbabilities(
    volume(probs, [v.depth, v.height, v.width]),
    o.threshold,
    imageOf(v),
  );
  return { mask: restoreMask(cleaned.data, v, raw), volume: v };
}

/** Writes `<id>_<n>_mask.png`, `<id>_<n>_mask.tif` (0/255, as the Kaggle masks) and `<id>_<n>_overlay.png`. */
export function writePatientMasks(dir: string, raw: RawPatient, mask: Uint8Array): number {
  mkdirSync(dir, { recursive: true });
  const plane = raw.height * raw.width;
  for (let z = 0; z < raw.depth; z++) {
    const m = new Uint8Array(plane);
    for (let i = 0; i < plane; i++) m[i] = mask[z * plane + i] ? 255 : 0;
    const grey = { width: raw.width, height: raw.height, channels: 1, data: m };
    const base = join(dir, `${raw.id}_${raw.sliceNumbers[z]}`);
    writeFileSync(`${base}_mask.png`, encodePng(grey));
    writeFileSync(`${base}_mask.tif`, encodeTiff(grey, { rowsPerStrip: 32 }));
    writeFileSync(
      `${base}_overlay.png`,
      encodePng({ width: raw.width, height: raw.height, channels: 3, data: overlay(raw, z, mask) }),
    );
  }
  return raw.depth;
}

/** `predict` (one checkpoint) and `ensemble --input` (several): masks and overlays of each patient under --out. */
async function predictCommand(v: Record<string, Value>, command: 'predict' | 'ensemble'): Promise<number> {
  const paths = checkpointPaths(v, command);
  const input = v.input as string;
  const out = v.out as string | null;
  if (out === null) throw new UsageError('--out DIR is required with --input', command);
  checkDataFolder('--input', input);
  const patients = findPatients(input);
  if (patients.length === 0)
    throw new CliError(
      `--input ${input}: no slice images (<patient>_<n>.tif|png) in it or in its sub-folders`,
    );
  // Outputs never overwrite inputs: a patient's masks go to <out>/<id>/, which must not be its own folder.
  for (const p of patients)
    if (resolve(out, p.id) === resolve(p.dir))
      throw new UsageError(`--out ${out} would write the masks into the input folder ${p.dir}`, command);
  await initDevice();
  const loaded: LoadedCheckpoint[] = [];
  try {
    for (const p of paths) loaded.push(openCheckpoint(p));
    const o = settle(loaded, v, (s) => console.log(s));
    let slices = 0;
    for (const p of patients) {
      const raw = readImages(p.id, p.dir);
      const { mask } = await predictPatient(loaded, raw, o);
      slices += writePatientMasks(join(out, raw.id), raw, mask);
      let fg = 0;
      for (const m of mask) fg += m;
      console.log(`  ${raw.id}: ${plural(raw.depth, 'slice')}, ${plural(fg, 'tumour pixel')}`);
    }
    if (command === 'ensemble') writeEnsembleManifest(out, paths, o);
    console.log(
      `wrote masks (PNG, TIFF) and overlays of ${plural(slices, 'slice')} of ${plural(patients.length, 'patient')} to ${shownPath(out)} (${plural(loaded.length, 'model')}; ${describeSettings(o)})`,
    );
    return 0;
  } finally {
    for (const l of loaded) l.model.dispose();
  }
}

export const evaluate = (v: Record<string, Value>) => evaluateCommand(v, 'evaluate');
export const predict = (v: Record<string, Value>) => predictCommand(v, 'predict');

/** `ensemble`: several checkpoints, probabilities averaged; evaluates, or predicts with --input. */
export function ensemble(v: Record<string, Value>): Promise<number> {
  if (v.input !== null) {
    for (const k of ['data', 'split'] as const)
      if (v[k] !== null)
        throw new UsageError(`--${k} evaluates; it does not go with --input (which predicts)`, 'ensemble');
    return predictCommand(v, 'ensemble');
  }
  return evaluateCommand(v, 'ensemble');
}
