/**
 * `evaluate`, `predict` and `ensemble`: one or several checkpoints (probabilities averaged) applied to
 * preprocessed volumes; a per-patient metrics table, or masks written back in the original frame.
 */
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  assertOutsideSource,
  DataError,
  decodeImageFile,
  encodePng,
  encodeTiff,
  type PreprocessOptions,
  parseSliceName,
  preprocess,
  type RawPatient,
  readTruth,
  restoreMask,
  type SliceFolder,
  scanDataset,
  scanSliceFolder,
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
import { type FoundPlan, isCvFolder, PLAN_FILE, planOfCheckpoint, readPlan } from '../lib/cv-files.js';
import { checkDataFolder, ensureDemoData, loadVolumes } from '../lib/data.js';
import { prepareOutputFolder, writeFileSafe } from '../lib/files.js';
import {
  checkCheckpointFile,
  checkInputSize,
  ensembleProbabilities,
  type LoadedCheckpoint,
  openCheckpoint,
} from '../lib/infer.js';
import { shownPath } from '../lib/paths.js';
import { imageOf, pipelineOf } from '../lib/pipeline.js';
import {
  checkOutsideInput,
  type PatientOutput,
  planOutputs,
  refuseOverwrites,
  removeStalePartials,
  writePatientOutputs,
} from '../lib/predict-output.js';
import { runStamp } from '../lib/run-dir.js';
import {
  channelOption,
  isScanInput,
  maskAsSeg,
  maskNiftiFile,
  predictScanCase,
  readCase,
  scanOutputs,
  scoreScanCase,
} from '../lib/scan.js';
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

/**
 * The checkpoints of the command line (one, or two or more for ensemble), checked to exist before any work. A
 * cross-validation folder (one holding plan.json) stands for its fold checkpoints; it, or a fold checkpoint of
 * one, brings the plan's threshold and post-processing as the defaults (`withPlan`).
 */
function checkpointPaths(
  v: Record<string, Value>,
  command: string,
): { paths: string[]; plan: FoundPlan | null; cv: boolean } {
  const given = Array.isArray(v.checkpoint)
    ? v.checkpoint
    : typeof v.checkpoint === 'string'
      ? [v.checkpoint]
      : [];
  let plan: FoundPlan | null = null;
  let cv = false;
  const paths = given.flatMap((p) => {
    if (!isCvFolder(p)) return [p];
    const found = readPlan(p);
    plan ??= found;
    cv = true;
    return found.checkpoints;
  });
  if (command === 'ensemble' && paths.length < 2)
    throw new UsageError(
      `give two or more --checkpoint FILE (got ${paths.length}), or one cv folder`,
      command,
    );
  for (const p of paths) checkCheckpointFile(p);
  if (!plan && paths.length > 0) plan = planOfCheckpoint(paths[0]);
  return { paths, plan, cv };
}

/** The options with the plan's threshold and post-processing where none is given (said in a note). */
function withPlan(
  v: Record<string, Value>,
  plan: FoundPlan | null,
  log: (s: string) => void,
): Record<string, Value> {
  if (!plan) return v;
  const out = { ...v };
  if (out.threshold === null) out.threshold = plan.plan.threshold;
  if (out.postprocess === null) out.postprocess = plan.plan.postprocess;
  log(
    `note: the cross-validation plan ${shownPath(join(plan.dir, PLAN_FILE))} (chosen out of fold): threshold ${out.threshold === plan.plan.threshold ? plan.plan.threshold : `${out.threshold} (given)`}, post-processing ${out.postprocess === plan.plan.postprocess ? plan.plan.postprocess : `${out.postprocess} (given)`}`,
  );
  return out;
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
  // A size the checkpoint records must be one the models can run, unless --image-size replaces it.
  if (v['image-size'] === null) for (const l of loaded) checkInputSize(l.inference.spec.inputSize, l.path);
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

/**
 * patients.csv: one row a patient. `distance_unit` says what HD95 and ASSD (and the surface Dice's 1-unit
 * tolerance) are measured in: `mm` on a NIfTI/DICOM case's own grid, `voxel` in the preprocessed slices of a
 * Kaggle-layout patient (whose files carry no spacing).
 */
function csvTable(
  report: MetricsReport,
  volumes: Map<string, { slices: number; truth: number; pred: number }>,
  unit: 'mm' | 'voxel' = 'voxel',
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
    'surface_dice',
    'distance_unit',
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
      f(r.surfaceDice),
      unit,
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
async function evaluateCommand(
  given: Record<string, Value>,
  command: 'evaluate' | 'ensemble',
): Promise<number> {
  const log = (s: string) => console.log(s);
  const { paths, plan, cv } = checkpointPaths(given, command);
  const v = withPlan(given, plan, log);
  if (command === 'evaluate' && (v.input !== null || v.channels !== null)) return evaluateScan(v, paths, log);
  if (typeof v.data === 'string') checkDataFolder('--data', v.data);
  await initDevice();
  const loaded: LoadedCheckpoint[] = [];
  const pool = makePool(v.workers as number);
  try {
    for (const p of paths) loaded.push(openCheckpoint(p));
    const o = settle(loaded, v, log);
    const train = loaded.find((l) => l.train)?.train?.config ?? null;
    const dataDir = (v.data as string | null) ?? train?.data ?? null;
    const out =
      (v.out as string | null) ??
      (command === 'ensemble'
        ? join('runs', `${runStamp()}-ensemble`)
        : cv && plan
          ? join(plan.dir, 'evaluation')
          : join(dirname(paths[0]), 'evaluation'));
    // Before the work: the results go outside the data tree, into a folder that can be written.
    if (dataDir !== null) checkDataFolder('--data', dataDir);
    const root = dataDir ?? ensureDemoData(train?.['demo-patients'] ?? 12, log);
    assertOutsideSource(out, [root, ...scanDataset(root).map((f) => f.dir)], 'output folder (--out)');
    prepareOutputFolder('--out', out);
    const data = await loadVolumes(dataDir, {
      preprocess: o.preprocess,
      cache: (v.cache as string | null) ?? train?.cache ?? null,
      pool,
      demoPatients: train?.['demo-patients'] ?? 12,
      log,
    });
    // Which patients: --split all, another split, or (default) the validation patients of the checkpoint's run;
    // for a cv folder all of them (its folds trained on all but one fold of its own data: in-sample there).
    const splitText = (v.split as string | null) ?? (cv ? 'all' : (train?.split ?? 'all'));
    if (cv && v.data === null)
      log(
        'note: the fold ensemble on the data of its own cross-validation: every patient trained all folds but one (in-sample); its honest figure is the out-of-fold one in oof-summary.csv',
      );
    const vols =
      splitText === 'all'
        ? data.volumes
        : selectSplit(splitText, data.volumes, data.root, command).validation;
    const r = await evaluateVolumes(loaded, vols, o);
    writeFileSafe(join(out, 'patients.csv'), r.csv);
    writeFileSafe(join(out, 'summary.csv'), r.summaryCsv);
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
  writeFileSafe(
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

/** Whether a folder holds slice images (a mask alone does not make a patient folder). */
function holdsSlices(dir: string): boolean {
  return readdirSync(dir).some((n) => !n.startsWith('.') && parseSliceName(n)?.mask === false);
}

/**
 * Patient folders under `input`: the folder itself when it holds slice images, else its sub-folders that do.
 * Each is listed by the data package's rules (`scanSliceFolder`): one patient's slices a folder (two prefixes are
 * an error), slice numbers that are exact integers without gaps or repeats, one format, masks for all or none.
 */
export function findPatients(input: string): SliceFolder[] {
  if (holdsSlices(input)) return [scanSliceFolder(input)];
  return readdirSync(input)
    .filter(
      (n) => !n.startsWith('.') && statSync(join(input, n)).isDirectory() && holdsSlices(join(input, n)),
    )
    .sort()
    .map((n) => scanSliceFolder(join(input, n)));
}

/** Reads one patient's slice images (masks, if present, are not needed), in slice-number order. */
export function readImages(folder: SliceFolder): RawPatient {
  const { dir } = folder;
  const slices = folder.slices.map((s) => ({ file: s.image.path, num: s.number }));
  if (slices.length < 3)
    throw new CliError(
      `${dir}: ${slices.length} slice images; at least 3 are needed (the first and last are dropped)`,
    );
  let h = 0;
  let w = 0;
  let image = new Uint8Array(0);
  slices.forEach((s, z) => {
    const r = decodeImageFile(s.file, folder.format);
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
    id: folder.id,
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

/**
 * The files of one patient: `<name>_<n>_mask.png`, `<name>_<n>_mask.tif` (0/255, as the Kaggle masks) and
 * `<name>_<n>_overlay.png`, by file name (in the order of `o.files`).
 */
export function patientMaskFiles(
  o: PatientOutput,
  raw: RawPatient,
  mask: Uint8Array,
): Map<string, Uint8Array> {
  const plane = raw.height * raw.width;
  const files = new Map<string, Uint8Array>();
  for (let z = 0; z < raw.depth; z++) {
    const m = new Uint8Array(plane);
    for (let i = 0; i < plane; i++) m[i] = mask[z * plane + i] ? 255 : 0;
    const grey = { width: raw.width, height: raw.height, channels: 1, data: m };
    const [png, tif, ov] = o.files.slice(3 * z, 3 * z + 3);
    files.set(png, encodePng(grey));
    files.set(tif, encodeTiff(grey, { rowsPerStrip: 32 }));
    files.set(
      ov,
      encodePng({ width: raw.width, height: raw.height, channels: 3, data: overlay(raw, z, mask) }),
    );
  }
  return files;
}

/** `predict` (one checkpoint) and `ensemble --input` (several): masks and overlays of each patient under --out. */
async function predictCommand(
  given: Record<string, Value>,
  command: 'predict' | 'ensemble',
): Promise<number> {
  let v = given;
  const input = v.input as string | null;
  const out = v.out as string | null;
  const channels = channelOption((v.channels as string | null) ?? null, command);
  if (input === null && channels === null)
    throw new UsageError(
      'give --input (a patient folder, a NIfTI file or a DICOM folder) or --channels',
      command,
    );
  if (out === null) throw new UsageError('--out DIR is required with --input', command);
  const { paths, plan } = checkpointPaths(given, command);
  // The plan's threshold and post-processing where none is given (input, output and channels are not the plan's).
  v = withPlan(given, plan, (s) => console.log(s));
  if (channels !== null || isScanInput(input!)) return predictScan(v, paths, input, channels, out, command);
  checkDataFolder('--input', input!);
  // Outputs never touch inputs: --out outside the input tree (real paths), before the patients are even listed.
  checkOutsideInput(out, input!, [], command);
  const patients = findPatients(input!);
  if (patients.length === 0)
    throw new CliError(
      `--input ${input}: no slice images (<patient>_<n>.tif|png) in it or in its sub-folders`,
    );
  checkOutsideInput(out, input!, patients, command);
  const outputs = planOutputs(out, patients, (s) => console.log(s));
  refuseOverwrites(
    [
      ...outputs.flatMap((o) => o.files.map((f) => join(o.dir, f))),
      ...(command === 'ensemble' ? [join(out, 'ensemble.json')] : []),
    ],
    v.force === true,
    command,
  );
  prepareOutputFolder('--out', out);
  removeStalePartials(out);
  await initDevice();
  const loaded: LoadedCheckpoint[] = [];
  try {
    for (const p of paths) loaded.push(openCheckpoint(p));
    const o = settle(loaded, v, (s) => console.log(s));
    let slices = 0;
    for (const [i, p] of patients.entries()) {
      const raw = readImages(p);
      const { mask } = await predictPatient(loaded, raw, o);
      writePatientOutputs(outputs[i], out, patientMaskFiles(outputs[i], raw, mask));
      slices += raw.depth;
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

/** `ensemble`: several checkpoints, probabilities averaged; evaluates, or predicts with --input or --channels. */
export function ensemble(v: Record<string, Value>): Promise<number> {
  if (v.input !== null || v.channels !== null) {
    for (const k of ['data', 'split'] as const)
      if (v[k] !== null)
        throw new UsageError(
          `--${k} evaluates; it does not go with --input or --channels (which predict)`,
          'ensemble',
        );
    return predictCommand(v, 'ensemble');
  }
  return evaluateCommand(v, 'ensemble');
}

// ------------------------------------------------------------------------------------------ NIfTI and DICOM

/** Writes `bytes` to `path` through a temporary file and a rename, so a killed run leaves no half-written mask. */
function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** Every input file or folder of a case, as given (to keep outputs out of them). */
function caseSources(input: string | null, channels: Record<string, string> | null): string[] {
  if (input !== null) return [input];
  return Object.values(channels ?? {});
}

/**
 * `predict` on a NIfTI or DICOM case: the mask on the source grid as `<id>_mask.nii.gz` (the input's NIfTI header,
 * or one made from a DICOM series' geometry) and, for DICOM, `<id>_seg.dcm` referencing the source series.
 */
async function predictScan(
  v: Record<string, Value>,
  paths: string[],
  input: string | null,
  channels: Record<string, string> | null,
  out: string,
  command: 'predict' | 'ensemble',
): Promise<number> {
  const c = readCase(input, channels, command);
  const sources = caseSources(input, channels).filter((p) => statSync(p).isDirectory());
  assertOutsideSource(out, sources, 'output folder');
  for (const src of sources) checkOutsideInput(out, src, [], command);
  const files = scanOutputs(out, c);
  for (const f of [files.nifti, files.seg])
    if (f !== null && caseSources(input, channels).some((s) => resolve(s) === resolve(f)))
      throw new UsageError(`--out ${out} would overwrite the input ${f}`, command);
  refuseOverwrites(
    [files.nifti, files.seg, command === 'ensemble' ? join(out, 'ensemble.json') : null].filter(
      (f): f is string => f !== null,
    ),
    v.force === true,
    command,
  );
  for (const n of c.notes) console.log(`note: ${n}`);
  await initDevice();
  const loaded: LoadedCheckpoint[] = [];
  try {
    for (const p of paths) loaded.push(openCheckpoint(p));
    const o = settle(loaded, v, (s) => console.log(s));
    const p = await predictScanCase(loaded, c, o);
    for (const n of p.notes.slice(c.notes.length)) console.log(`note: ${n}`);
    mkdirSync(out, { recursive: true });
    writeAtomic(files.nifti, maskNiftiFile(p.mask, c.reference));
    if (files.seg) writeAtomic(files.seg, maskAsSeg(p.mask, c.reference));
    if (command === 'ensemble') writeEnsembleManifest(out, paths, o);
    let fg = 0;
    for (const m of p.mask) fg += m;
    const [sx, sy, sz] = c.reference.spacing;
    const ml = (fg * sx * sy * sz) / 1000;
    console.log(
      `  ${c.id}: ${c.reference.dims.join('×')} voxels of ${[sx, sy, sz].map((s) => s.toFixed(2)).join('×')} mm, ${plural(fg, 'tumour voxel')} (${ml.toFixed(2)} mL)`,
    );
    console.log(
      `wrote ${[files.nifti, files.seg]
        .filter((f) => f !== null)
        .map((f) => shownPath(f!))
        .join(' and ')} (${plural(loaded.length, 'model')}; ${describeSettings(o)})`,
    );
    return 0;
  } finally {
    for (const l of loaded) l.model.dispose();
  }
}

/** `evaluate` on a NIfTI or DICOM case with --truth (NIfTI mask or DICOM SEG): metrics on the source grid, in mm. */
async function evaluateScan(
  v: Record<string, Value>,
  paths: string[],
  log: (s: string) => void,
): Promise<number> {
  const truthPath = v.truth as string | null;
  if (truthPath === null)
    throw new UsageError(
      '--truth FILE (a NIfTI mask or a DICOM SEG) is required with --input or --channels',
      'evaluate',
    );
  for (const k of ['data', 'split'] as const)
    if (v[k] !== null)
      throw new UsageError(`--${k} goes with Kaggle-layout data, not with --input/--channels`, 'evaluate');
  const input = v.input as string | null;
  const channels = channelOption((v.channels as string | null) ?? null, 'evaluate');
  const c = readCase(input, channels, 'evaluate');
  let truth: Uint8Array;
  try {
    truth = readTruth(truthPath, c.reference);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new CliError(`${truthPath}: ${(e as Error).message}`);
  }
  for (const n of c.notes) log(`note: ${n}`);
  await initDevice();
  const loaded: LoadedCheckpoint[] = [];
  try {
    for (const p of paths) loaded.push(openCheckpoint(p));
    const o = settle(loaded, v, log);
    const p = await predictScanCase(loaded, c, o);
    for (const n of p.notes.slice(c.notes.length)) log(`note: ${n}`);
    const full = scoreScanCase(c.id, p, truth, c.reference, o);
    const [row] = full.rows;
    let truthCount = 0;
    for (const t of truth) truthCount += t;
    let predCount = 0;
    for (const m of p.mask) predCount += m;
    const out = (v.out as string | null) ?? join(dirname(paths[0]), 'evaluation');
    mkdirSync(out, { recursive: true });
    const sizes = new Map([[row.id, { slices: c.reference.dims[2], truth: truthCount, pred: predCount }]]);
    writeFileSync(join(out, 'patients.csv'), csvTable(full, sizes, 'mm'));
    writeFileSync(join(out, 'summary.csv'), summaryTable(full));
    log(`evaluate: ${c.id} against ${shownPath(truthPath)} on its own grid (${describeSettings(o)})`);
    log(
      `  ${row.id.padEnd(24)} DSC ${row.referenceDsc.toFixed(4)}  Dice ${row.dice.toFixed(4)}  HD95 ${row.hd95.toFixed(2)} mm  ASSD ${row.assd.toFixed(2)} mm`,
    );
    log(`wrote ${shownPath(join(out, 'patients.csv'))} and ${shownPath(join(out, 'summary.csv'))}`);
    return 0;
  } finally {
    for (const l of loaded) l.model.dispose();
  }
}
