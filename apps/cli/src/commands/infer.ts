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
  makeSplit,
  preprocess,
  type RawPatient,
  restoreMask,
  type SplitSpec,
  tumourVolumes,
  type Volume,
} from '@mriseg/data';
import {
  binarize,
  binaryVolume,
  countForeground,
  evaluateCases,
  METRIC_NAMES,
  type MetricsReport,
  parsePostprocess,
  volume,
} from '@mriseg/metrics';
import { initDevice } from '@mriseg/tensor-wgsl';
import { parse, UsageError } from '../args.js';
import { parseSplitSpec, type TrainConfig } from '../config.js';
import { makePool } from '../env.js';
import { loadVolumes } from '../lib/data.js';
import { ensembleProbabilities, type LoadedCheckpoint, openCheckpoint } from '../lib/infer.js';

const COMMON = {
  checkpoint: { type: 'string', multiple: true },
  postprocess: { type: 'string' },
  tta: { type: 'string', default: 'none' },
  'batch-size': { type: 'string', default: '16' },
  'image-size': { type: 'string' },
  threshold: { type: 'string', default: '0.5' },
  workers: { type: 'string', default: '-1' },
  out: { type: 'string' },
} as const;

interface Common {
  checkpoints: string[];
  tta: 'none' | 'hflip' | 'hvflip';
  batchSize: number;
  imageSize: number | null;
  threshold: number;
  workers: number;
  postprocess: string;
  out: string | null;
}

function common(values: Record<string, unknown>, minCheckpoints: number): Common {
  const checkpoints = (values.checkpoint as string[] | undefined) ?? [];
  if (checkpoints.length < minCheckpoints)
    throw new UsageError(
      `give ${minCheckpoints > 1 ? `at least ${minCheckpoints} --checkpoint files` : '--checkpoint FILE'}`,
    );
  const tta = values.tta as string;
  if (!['none', 'hflip', 'hvflip'].includes(tta))
    throw new UsageError(`--tta must be none, hflip or hvflip, not "${tta}"`);
  const int = (k: string, min: number) => {
    const n = Number(values[k]);
    if (!Number.isInteger(n) || n < min)
      throw new UsageError(`--${k} must be an integer ≥ ${min}, not "${values[k]}"`);
    return n;
  };
  const threshold = Number(values.threshold);
  if (!(threshold > 0 && threshold < 1))
    throw new UsageError(`--threshold must be in (0, 1), not "${values.threshold}"`);
  // Unset: the training run's --postprocess, else the reference's largest component (filled in by withRunDefaults).
  const postprocess = (values.postprocess as string | undefined) ?? '';
  if (postprocess !== 'none' && postprocess !== '') {
    try {
      parsePostprocess(postprocess);
    } catch (e) {
      throw new UsageError(`--postprocess: ${(e as Error).message}`);
    }
  }
  return {
    checkpoints,
    tta: tta as Common['tta'],
    batchSize: int('batch-size', 1),
    imageSize: values['image-size'] === undefined ? null : int('image-size', 16),
    threshold,
    workers: int('workers', -1),
    postprocess,
    out: (values.out as string | undefined) ?? null,
  };
}

function openAll(paths: string[]): {
  loaded: LoadedCheckpoint[];
  train: TrainConfig | null;
  imageSize: number;
} {
  const loaded = paths.map((p) => openCheckpoint(resolve(p)));
  const train = loaded.find((l) => l.train)?.train?.config ?? null;
  const sizes = new Set(loaded.map((l) => l.train?.config['image-size']).filter((s) => s !== undefined));
  if (sizes.size > 1)
    throw new UsageError(`the checkpoints were trained at different image sizes (${[...sizes].join(', ')})`);
  return { loaded, train, imageSize: train?.['image-size'] ?? 256 };
}

/** Fills in what the options left to the checkpoint's run (the post-processing). */
function withRunDefaults(o: Common, train: TrainConfig | null): Common {
  return o.postprocess ? o : { ...o, postprocess: train?.postprocess || 'lcc3d' };
}

const postOf = (spec: string) => (spec === 'none' ? null : parsePostprocess(spec));

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

async function evaluateCommand(argv: string[], minCheckpoints: number, label: string): Promise<number> {
  const { values } = parse(argv, {
    ...COMMON,
    data: { type: 'string' },
    split: { type: 'string' },
    cache: { type: 'string' },
  });
  const o0 = common(values, minCheckpoints);
  await initDevice();
  const { loaded, train, imageSize } = openAll(o0.checkpoints);
  const o = withRunDefaults(o0, train);
  const pool = makePool(o.workers);
  try {
    const dataArg = (values.data as string | undefined) ?? train?.data ?? null;
    const data = await loadVolumes(dataArg, {
      imageSize: o.imageSize ?? imageSize,
      cache: (values.cache as string | undefined) ?? train?.cache ?? null,
      pool,
      demoPatients: train?.['demo-patients'] ?? 12,
      log: (s) => console.log(s),
    });
    // Which patients: --split all, another split, or (default) the validation patients of the checkpoint's run.
    const splitArg = (values.split as string | undefined) ?? train?.split ?? 'all';
    let vols: Volume[];
    if (splitArg === 'all') vols = data.volumes;
    else {
      let spec: SplitSpec = parseSplitSpec(splitArg);
      if (spec.kind === 'kfold') spec = { ...spec, volumes: tumourVolumes(data.volumes) };
      let ids: string[];
      try {
        ids = makeSplit(
          data.volumes.map((v) => v.id),
          spec,
        ).validation;
      } catch (e) {
        throw new UsageError(`--split ${splitArg}: ${(e as Error).message}`);
      }
      const set = new Set(ids);
      vols = data.volumes.filter((v) => set.has(v.id));
    }
    const r = await evaluateVolumes(loaded, vols, o);
    const out =
      o.out ?? join(dirname(resolve(o.checkpoints[0])), label === 'ensemble' ? 'ensemble' : 'evaluation');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'patients.csv'), r.csv);
    writeFileSync(join(out, 'summary.csv'), r.summaryCsv);
    const s = r.report.summary.referenceDsc;
    console.log(
      `${label}: ${loaded.length} model(s) on ${vols.length} patients of ${data.root} (split ${splitArg}, tta ${o.tta}, postprocess ${o.postprocess})`,
    );
    for (const row of r.report.rows)
      console.log(
        `  ${row.id.padEnd(24)} DSC ${row.referenceDsc.toFixed(4)}  raw ${row.dscNoLcc.toFixed(4)}  HD95 ${row.hd95.toFixed(2)}`,
      );
    console.log(
      `Mean DSC (reference metric): ${s.mean.toFixed(4)}  median ${s.median.toFixed(4)}  IQR ${s.iqr.toFixed(4)} (${s.q1.toFixed(4)}–${s.q3.toFixed(4)})`,
    );
    console.log(`wrote ${join(out, 'patients.csv')} and ${join(out, 'summary.csv')}`);
    return 0;
  } finally {
    for (const l of loaded) l.model.dispose();
    await pool.close();
  }
}

/** Scores preprocessed volumes with the (averaged) models: the per-patient table and its CSV forms. */
export async function evaluateVolumes(
  loaded: readonly LoadedCheckpoint[],
  vols: readonly Volume[],
  o: Pick<Common, 'batchSize' | 'tta' | 'threshold' | 'postprocess'>,
): Promise<EvaluateResult> {
  const post = postOf(o.postprocess);
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
    cases.push({ id: v.id, prob, truth });
    const mask = binarize(prob, o.threshold);
    sizes.set(v.id, {
      slices: v.depth,
      truth: countForeground(truth),
      pred: countForeground(post ? post(mask) : mask),
    });
  }
  const report = evaluateCases(cases, { threshold: o.threshold, postprocess: post ?? ((m) => m) });
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
    throw new Error(
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
      throw new Error(`${s.file}: ${r.width}×${r.height}, the first slice is ${w}×${h}`);
    const o = z * h * w * 3;
    if (r.channels === 3) image.set(r.data.subarray(0, h * w * 3), o);
    else if (r.channels === 1)
      for (let i = 0; i < h * w; i++) image.fill(r.data[i], o + 3 * i, o + 3 * i + 3);
    else
      throw new Error(`${s.file}: ${r.channels} channels; RGB (pre-contrast, FLAIR, post-contrast) expected`);
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
  o: Pick<Common, 'batchSize' | 'tta' | 'threshold' | 'postprocess'> & { imageSize: number },
): Promise<{ mask: Uint8Array; volume: Volume }> {
  const v = preprocess(raw, { size: o.imageSize });
  const probs = await ensembleProbabilities(
    loaded.map((l) => l.model),
    v,
    { batchSize: o.batchSize, tta: o.tta },
  );
  const post = postOf(o.postprocess);
  const bin = binarize(volume(probs, [v.depth, v.height, v.width]), o.threshold);
  const cleaned = post ? post(bin) : bin;
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

async function predictCommand(argv: string[], minCheckpoints: number): Promise<number> {
  const { values } = parse(argv, { ...COMMON, input: { type: 'string' } });
  const o0 = common(values, minCheckpoints);
  const input = values.input as string | undefined;
  if (!input) throw new UsageError('predict needs --input <patient folder or kaggle_3m>');
  if (!o0.out) throw new UsageError('predict needs --out <folder>');
  await initDevice();
  const { loaded, train, imageSize } = openAll(o0.checkpoints);
  const o = withRunDefaults(o0, train);
  const outDir = o0.out;
  try {
    const patients = findPatients(input);
    if (patients.length === 0) throw new Error(`${input}: no slice images (<patient>_<n>.tif|png) found`);
    let slices = 0;
    for (const p of patients) {
      const raw = readImages(p.id, p.dir);
      const { mask } = await predictPatient(loaded, raw, { ...o, imageSize: o.imageSize ?? imageSize });
      slices += writePatientMasks(join(outDir, raw.id), raw, mask);
      let fg = 0;
      for (const v of mask) fg += v;
      console.log(`  ${raw.id}: ${raw.depth} slices, ${fg} tumour pixels`);
    }
    console.log(
      `wrote masks (PNG, TIFF) and overlays of ${slices} slices of ${patients.length} patient(s) to ${o.out}`,
    );
    return 0;
  } finally {
    for (const l of loaded) l.model.dispose();
  }
}

export const evaluate = (argv: string[]) => evaluateCommand(argv, 1, 'evaluate');
export const predict = (argv: string[]) => predictCommand(argv, 1);

/** `ensemble`: several checkpoints, probabilities averaged; evaluates (--data) or predicts (--input, --out). */
export function ensemble(argv: string[]): Promise<number> {
  return argv.includes('--input') || argv.some((a) => a.startsWith('--input='))
    ? predictCommand(argv, 2)
    : evaluateCommand(argv, 2, 'ensemble');
}
