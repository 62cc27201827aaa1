/**
 * The viewer page: loading (demo, Kaggle-layout folders and slices, NIfTI files, DICOM folders, drag and drop,
 * checkpoint), inference on WebGPU with progress, mask export (PNG slices; NIfTI and DICOM SEG on a scanner case's
 * own grid), and the wiring of controls to the pure view state (state.ts), rendering (render.ts) and scores
 * (analysis.ts).
 */
import { DataError, encodePng, preprocess, type Volume } from '@mriseg/data/browser';
import { listPostprocessSteps, parsePostprocess } from '@mriseg/metrics';
import { initDevice } from '@mriseg/models';
import { parseCheckpoint } from '@mriseg/nn';
import { type Analysis, analyse, volumeReferenceDsc } from './analysis.js';
import { downloadProgress, MODEL_NOTES, type ModelSource, referenceModelBytes } from './builtin-models.js';
import { decodePatient, decodeScan } from './decode.js';
import { EditPanel } from './edit-ui.js';
import { isSliceName, type LoadedPatient, type NamedBytes } from './files.js';
import { FinetunePanel } from './finetune-ui.js';
import { statusFromError, statusFromReport } from './gpu-status.js';
import { type ModelChoice, type ModelPlan, planModel } from './model.js';
import { ModelWorker } from './model-client.js';
import { inferenceProgress } from './progress.js';
import { drawOutlines, imageRect, type PanelLayers, renderSlice, type SliceData } from './render.js';
import {
  describeScan,
  exportFormats,
  isScanFile,
  maskNiftiFile,
  maskSegFile,
  predictionOnSource,
  sourceSlice,
} from './scan.js';
import {
  autoWindow,
  type Channel,
  type ColourMode,
  initialState,
  keyAction,
  type Layout,
  type OverlayStyle,
  panBy,
  resetView,
  setChannel,
  setLayout,
  setMode,
  setOverlay,
  setPostprocess,
  setSlice,
  setStyle,
  setThreshold,
  setWindowLevel,
  stepSlice,
  type ViewState,
  wheelSteps,
  withVolume,
  worstSlice,
  zoomAt,
} from './state.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

const ui = {
  gpuStatus: $('gpu-status'),
  gpuMore: $<HTMLDetailsElement>('gpu-more'),
  gpuDetails: $('gpu-details'),
  loadDemo: $<HTMLButtonElement>('load-demo'),
  run: $<HTMLButtonElement>('run'),
  dirInput: $<HTMLInputElement>('dir-input'),
  fileInput: $<HTMLInputElement>('file-input'),
  ckptInput: $<HTMLInputElement>('ckpt-input'),
  modelSource: $<HTMLSelectElement>('model-source'),
  modelNote: $('model-note'),
  channels: $<HTMLInputElement>('channels'),
  arch: $<HTMLSelectElement>('arch'),
  features: $<HTMLInputElement>('features'),
  inputSize: $<HTMLSelectElement>('input-size'),
  progress: $<HTMLProgressElement>('progress'),
  message: $('message'),
  error: $('error'),
  channel: $<HTMLSelectElement>('channel'),
  window: $<HTMLInputElement>('window'),
  level: $<HTMLInputElement>('level'),
  layout: $<HTMLSelectElement>('layout'),
  resetView: $<HTMLButtonElement>('reset-view'),
  showTruth: $<HTMLInputElement>('show-truth'),
  truthOpacity: $<HTMLInputElement>('truth-opacity'),
  showPred: $<HTMLInputElement>('show-pred'),
  predOpacity: $<HTMLInputElement>('pred-opacity'),
  style: $<HTMLSelectElement>('style'),
  mode: $<HTMLSelectElement>('mode'),
  legend: $('legend'),
  threshold: $<HTMLInputElement>('threshold'),
  thresholdValue: $<HTMLOutputElement>('threshold-value'),
  post: $<HTMLInputElement>('post'),
  postPresets: $<HTMLDataListElement>('post-presets'),
  postHelp: $('post-help'),
  exportSlice: $<HTMLButtonElement>('export-slice'),
  exportAll: $<HTMLButtonElement>('export-all'),
  exportNifti: $<HTMLButtonElement>('export-nifti'),
  exportSeg: $<HTMLButtonElement>('export-seg'),
  views: $('views'),
  view: $<HTMLCanvasElement>('view'),
  viewRight: $<HTMLCanvasElement>('view-right'),
  rightFigure: $('right-figure'),
  captionLeft: $('caption-left'),
  dropHint: $('drop-hint'),
  slice: $<HTMLInputElement>('slice'),
  sliceValue: $<HTMLOutputElement>('slice-value'),
  strip: $<HTMLCanvasElement>('strip'),
  worst: $<HTMLButtonElement>('worst'),
  refDsc: $('ref-dsc'),
  dsc: $('dsc'),
  sliceDsc: $('slice-dsc'),
  sliceArea: $('slice-area'),
  volumeInfo: $('volume-info'),
  modelInfo: $('model-info'),
};

// ---- application state (the view state is pure; the rest holds loaded data) ----
let view: ViewState = initialState();
let patient: LoadedPatient | null = null;
let volume: Volume | null = null;
/** The preprocessing `volume` was made with (an exported mask undoes exactly this). */
let volumePreprocess: Record<string, unknown> = {};
/** Whether `volume`'s preprocessing dropped the first and last slice (the reference does). */
const dropsEnds = () => volumePreprocess.dropEnds !== false;
/** The scanner files last opened, kept so that a new channel mapping can be applied without picking them again. */
let scanFiles: NamedBytes[] | null = null;
let checkpoint: { bytes: Uint8Array; name: string } | null = null;
/** The opened checkpoint's plan (parsed without the GPU): its input size and how it is to be run. */
let checkpointPlan: ModelPlan | null = null;
/** The model the worker holds for the opened checkpoint: its plan and size (the weights live in the worker). */
let model: { plan: ModelPlan; parameters: number } | null = null;
/** One worker for the tab holds the WebGPU device and the model: inference and fine-tuning run there. */
const modelWorker = new ModelWorker();
let prob: Float32Array | null = null;
let analysis: Analysis | null = null;
let referenceDscValue: number | null = null;
let busy = false;

// Mask corrections (edit-ui.ts): the page lends the editor its volume, prediction and drawing.
const edits = new EditPanel({
  volume: () => volume,
  patient: () => patient,
  prediction: () => analysis?.prediction ?? null,
  slice: () => view.slice,
  dropsEnds,
  imageRect: (c) => imageRect(c.width, c.height, volume!.width, volume!.height, view),
  redraw: () => draw(),
  download: (bytes, name, type) => download(bytes, name, type),
  showError: (e) => showError(e),
  changed: () => finetune.changed(),
});
// Fine-tuning on the corrections (finetune-ui.ts, in the model worker).
const finetune = new FinetunePanel({
  volume: () => volume,
  editor: () => edits.editor,
  prediction: () => analysis?.prediction ?? null,
  slice: () => view.slice,
  checkpoint: () => checkpoint,
  choice: () => modelChoice(),
  worker: () => modelWorker,
  setSliceProbability: (z, p) => {
    const v = volume!;
    const plane = v.width * v.height;
    prob ??= new Float32Array(v.depth * plane);
    prob.set(p, z * plane);
    recompute();
  },
  setProbability: (p) => {
    const v = volume!;
    prob = p;
    referenceDscValue = patient?.hasMask ? volumeReferenceDsc(p, v.mask, [v.depth, v.height, v.width]) : null;
    recompute();
  },
  download: (bytes, name, type) => download(bytes, name, type),
  showError: (e) => showError(e),
});

const gpu = initDevice();
gpu.then(
  (rt) => {
    const s = statusFromReport(rt.report);
    ui.gpuStatus.textContent = s.message;
    if (s.details) {
      ui.gpuDetails.textContent = s.details;
      ui.gpuMore.hidden = false;
    }
  },
  (e: unknown) => {
    const s = statusFromError(e, 'gpu' in navigator && navigator.gpu !== undefined);
    ui.gpuStatus.textContent = s.message;
    ui.gpuStatus.classList.add('error');
  },
);

// ---- messages ----
function say(text: string): void {
  ui.message.textContent = text;
}

function showError(e: unknown): void {
  const text =
    e instanceof DataError ? `Bad file ${e.file}: ${e.problem}` : e instanceof Error ? e.message : String(e);
  ui.error.textContent = text;
  ui.error.hidden = false;
  console.error(e);
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

const fmt = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(3);

// ---- loading ----
function modelChoice(): ModelChoice {
  const f = Number.parseInt(ui.features.value, 10);
  const size = Number.parseInt(ui.inputSize.value, 10);
  return {
    architecture: ui.arch.value,
    features: Number.isFinite(f) && f > 0 ? f : null,
    inputSize: Number.isFinite(size) ? size : null,
  };
}

/** The preprocessing of the next run: the model's, else the opened checkpoint's (input size chosen, recorded, else 256). */
function targetPreprocessing(): Record<string, unknown> & { size: number } {
  return model?.plan.preprocess ?? checkpointPlan?.preprocess ?? { size: modelChoice().inputSize ?? 256 };
}

function setPatient(p: LoadedPatient): void {
  patient = p;
  prob = null;
  analysis = null;
  referenceDscValue = null;
  preprocessPatient();
  updateButtons();
}

function preprocessPatient(): void {
  if (!patient) return;
  volumePreprocess = targetPreprocessing();
  volume = preprocess(patient.raw, volumePreprocess);
  edits.reset(volume);
  view = withVolume(view, volume.depth);
  const [w, l] = autoWindow(volume.image);
  view = setWindowLevel(view, w, l);
  const p = patient.raw;
  ui.volumeInfo.textContent = patient.scan
    ? describeScan(patient, volume)
    : `${p.id}: ${p.depth} slices of ${p.width}×${p.height}; after the reference preprocessing ` +
      `${volume.depth} slices of ${volume.width}×${volume.height}` +
      (patient.hasMask ? '' : ' (no ground-truth masks)');
  ui.slice.max = String(volume.depth - 1);
  ui.slice.disabled = false;
  ui.dropHint.hidden = true;
  recompute();
}

function setCheckpoint(bytes: Uint8Array, name: string): void {
  checkpoint = { bytes, name };
  finetune.checkpointChanged();
  disposeModel();
  planCheckpoint();
  updateButtons();
}

/**
 * Reads how the checkpoint is to be run (input size, preprocessing, threshold, post-processing) before any GPU
 * work, so the volume is preprocessed at the model's size and the controls start at its settings.
 */
function planCheckpoint(): void {
  if (!checkpoint) return;
  const { bytes, name } = checkpoint;
  const size = `${(bytes.byteLength / 1024).toFixed(0)} KiB`;
  try {
    checkpointPlan = planModel(parseCheckpoint(bytes, name), modelChoice());
  } catch (e) {
    checkpointPlan = null;
    ui.modelInfo.textContent = `${name} (${size}): ${(e as Error).message}`;
    return;
  }
  const p = checkpointPlan;
  ui.modelInfo.textContent = `${name} (${size}): ${p.summary}; input ${p.inputSize} px (${p.inputSource}); not loaded yet`;
  update(setPostprocess(setThreshold(view, p.inference.threshold), p.inference.postprocess.split(',')), true);
  if (patient && volume && volume.width !== p.inputSize) preprocessPatient();
}

function disposeModel(): void {
  modelWorker.invalidate();
  model = null;
}

/** A file's path inside a picked or dropped folder (DICOM files are told apart by their folder), else its name. */
const pathOf = (f: File): string =>
  (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;

async function readFiles(files: readonly File[]): Promise<NamedBytes[]> {
  return Promise.all(
    files.map(async (f) => ({ name: pathOf(f), bytes: new Uint8Array(await f.arrayBuffer()) })),
  );
}

function loaded(p: LoadedPatient): void {
  setPatient(p);
  say(
    (checkpoint || ui.modelSource.value !== 'file'
      ? 'Volume loaded: press "Run model".'
      : 'Volume loaded: open a checkpoint to run a model.') +
      p.warnings.map((w) => ` Note: ${w.replace(/\.$/, '')}.`).join(''),
  );
}

/** Decodes the last scanner files with the mapping now in the field (copies: the worker takes what it is given). */
async function openScan(): Promise<void> {
  if (!scanFiles) return;
  clearError();
  say(`Reading ${scanFiles.length} NIfTI/DICOM file(s)…`);
  const copies = scanFiles.map((f) => ({ name: f.name, bytes: f.bytes.slice() }));
  loaded(await decodeScan(copies, ui.channels.value));
}

async function openFiles(files: readonly File[]): Promise<void> {
  clearError();
  const ckpt = files.filter((f) => /\.safetensors$/i.test(f.name));
  const rest = files.filter((f) => !/\.safetensors$/i.test(f.name));
  try {
    if (ckpt.length > 1) throw new Error(`${ckpt.length} checkpoints given: choose one`);
    if (ckpt.length === 1) {
      setModelSource('file');
      setCheckpoint(new Uint8Array(await ckpt[0].arrayBuffer()), ckpt[0].name);
    }
    if (rest.length === 0 && ckpt.length === 1) return;
    const named = await readFiles(rest);
    if (named.some(isScanFile)) {
      scanFiles = named;
      await openScan();
      return;
    }
    scanFiles = null;
    const slices = rest.filter((f) => isSliceName(f.name));
    say(`Reading ${slices.length} slice files…`);
    loaded(await decodePatient(named));
  } catch (e) {
    showError(e);
  }
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadDemo(): Promise<void> {
  clearError();
  try {
    say('Loading the demo volume and checkpoint…');
    const manifest = (await (await fetch('demo/manifest.json')).json()) as {
      files: string[];
      checkpoint: string;
    };
    const files = await Promise.all(
      manifest.files.map(async (name) => ({ name, bytes: await fetchBytes(`demo/${name}`) })),
    );
    setModelSource('demo');
    setCheckpoint(await fetchBytes(`demo/${manifest.checkpoint}`), manifest.checkpoint);
    scanFiles = null;
    setPatient(await decodePatient(files));
    await runModel();
  } catch (e) {
    showError(e);
  }
}

/** Shows the model choice and what it is. */
function setModelSource(source: ModelSource): void {
  ui.modelSource.value = source;
  ui.modelNote.textContent = MODEL_NOTES[source];
}

/** The chosen built-in model's checkpoint: the reference model through the Cache API, or the demo's. */
async function fetchBuiltinModel(source: ModelSource): Promise<void> {
  if (source === 'unet-lgg') {
    say('Fetching the reference model…');
    const got = await referenceModelBytes((received, total) => {
      ui.progress.hidden = false;
      ui.progress.value = received / total;
      say(downloadProgress(received, total));
    });
    if (!busy) ui.progress.hidden = true;
    if (ui.modelSource.value !== source) return; // another model was chosen meanwhile
    setCheckpoint(got.bytes, got.name);
    say(
      got.from === 'cache'
        ? 'Reference model read from the browser cache (SHA-256 checked).'
        : 'Reference model downloaded (SHA-256 checked).',
    );
  } else if (source === 'demo') {
    const manifest = (await (await fetch('demo/manifest.json')).json()) as { checkpoint: string };
    const bytes = await fetchBytes(`demo/${manifest.checkpoint}`);
    if (ui.modelSource.value === source) setCheckpoint(bytes, manifest.checkpoint);
  }
}

async function runModel(): Promise<void> {
  if (!patient || busy || (!checkpoint && ui.modelSource.value === 'file')) return;
  busy = true;
  updateButtons();
  clearError();
  try {
    say('Starting WebGPU…');
    await gpu.catch((e: unknown) => {
      throw new Error(`Cannot run the model. ${statusFromError(e, 'gpu' in navigator).message}`);
    });
    if (!checkpoint) await fetchBuiltinModel(ui.modelSource.value as ModelSource);
    if (!checkpoint) return;
    // "Run model" runs the opened checkpoint: a model fine-tuned in the tab is rebuilt from it.
    disposeModel();
    finetune.checkpointChanged();
    const plan = planModel(parseCheckpoint(checkpoint.bytes, checkpoint.name), modelChoice());
    const built = await modelWorker.ensure(checkpoint, modelChoice());
    model = { plan, parameters: built.parameters };
    ui.modelInfo.textContent = `${checkpoint.name}: ${model.plan.summary}; ${model.parameters.toLocaleString('en')} parameters; input ${model.plan.inputSize} px (${model.plan.inputSource})`;
    if (!volume || volume.width !== model.plan.inputSize) preprocessPatient();
    const v = volume!;
    ui.progress.hidden = false;
    ui.progress.value = 0;
    const t0 = performance.now();
    // Slices go through the GPU in batches; a batch's results arrive together, so progress is told per batch.
    const batchSize = 4;
    let firstBatchMs: number | null = null;
    say(inferenceProgress({ done: 0, total: v.depth, batchSize, elapsedMs: 0, firstBatchMs }));
    // In the model worker (multi-output models give their last head's map there).
    const p = await modelWorker.predict(
      v.image,
      [v.depth, 3, v.height, v.width],
      batchSize,
      (done, total) => {
        const elapsedMs = performance.now() - t0;
        firstBatchMs ??= elapsedMs;
        ui.progress.value = done / total;
        say(inferenceProgress({ done, total, batchSize, elapsedMs, firstBatchMs }));
      },
    );
    prob = p;
    referenceDscValue = patient.hasMask ? volumeReferenceDsc(p, v.mask, [v.depth, v.height, v.width]) : null;
    recompute();
    say(
      `Inference done in ${((performance.now() - t0) / 1000).toFixed(1)} s` +
        (referenceDscValue !== null ? `: reference DSC ${fmt(referenceDscValue)}` : ''),
    );
    document.body.dataset.inference = 'done';
  } catch (e) {
    showError(e);
    say('Inference failed.');
  } finally {
    busy = false;
    ui.progress.hidden = true;
    updateButtons();
  }
}

// ---- analysis and drawing ----
function recompute(): void {
  computeAnalysis();
  draw();
}

function computeAnalysis(): void {
  if (volume && prob) {
    try {
      analysis = analyse(
        prob,
        patient?.hasMask ? volume.mask : null,
        [volume.depth, volume.height, volume.width],
        view.threshold,
        view.postprocess,
        { data: volume.image, shape: [volume.depth, 3, volume.height, volume.width] },
      );
    } catch (e) {
      showError(e);
    }
  } else {
    analysis = null;
  }
  updateButtons();
}

let frame = 0;
function draw(): void {
  if (frame === 0) frame = requestAnimationFrame(drawNow);
}

const offscreen = document.createElement('canvas');
const offctx = offscreen.getContext('2d')!;
let pixels: ImageData | null = null;

function sliceData(z: number): SliceData | null {
  if (!volume) return null;
  const plane = volume.width * volume.height;
  return {
    width: volume.width,
    height: volume.height,
    image: volume.image.subarray(z * 3 * plane, (z + 1) * 3 * plane),
    truth: patient?.hasMask ? volume.mask.subarray(z * plane, (z + 1) * plane) : null,
    prediction: analysis ? analysis.prediction.subarray(z * plane, (z + 1) * plane) : null,
  };
}

function drawPanel(canvas: HTMLCanvasElement, d: SliceData | null, layers: PanelLayers, s: ViewState): void {
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!d) return;
  if (!pixels || pixels.width !== d.width || pixels.height !== d.height) {
    pixels = new ImageData(d.width, d.height);
    offscreen.width = d.width;
    offscreen.height = d.height;
  }
  renderSlice(pixels.data, d, s, layers);
  edits.overlay(pixels.data, s.slice);
  offctx.putImageData(pixels, 0, 0);
  const r = imageRect(canvas.width, canvas.height, d.width, d.height, s);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(offscreen, r.x, r.y, r.w, r.h);
  drawOutlines(ctx, d, s, layers, r);
  edits.decorate(ctx, canvas);
}

function drawNow(): void {
  frame = 0;
  if (analysisStale) {
    analysisStale = false;
    computeAnalysis();
  }
  const d = sliceData(view.slice);
  const side = view.layout === 'side-by-side';
  ui.rightFigure.hidden = !side;
  const availW = ui.views.clientWidth - (side ? 12 : 0);
  const availH = window.innerHeight - 250;
  const size = Math.max(200, Math.floor(Math.min(side ? availW / 2 : availW, availH, 1000)));
  for (const c of [ui.view, ui.viewRight]) {
    if (c.width !== size) {
      c.width = size;
      c.height = size;
    }
  }
  ui.captionLeft.textContent = side ? 'Ground truth' : 'Image with overlays';
  if (side) {
    // Left: the ground truth alone; right: the prediction (or the error map).
    drawPanel(ui.view, d, { truth: true, prediction: false }, { ...view, mode: 'overlay' });
    drawPanel(ui.viewRight, d, { truth: view.mode === 'errors', prediction: true }, view);
  } else {
    drawPanel(ui.view, d, { truth: true, prediction: true }, view);
  }
  drawStrip();
  syncControls();
}

function drawStrip(): void {
  const c = ui.strip;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#181818';
  ctx.fillRect(0, 0, c.width, c.height);
  if (!volume) return;
  const D = volume.depth;
  const bw = c.width / D;
  const truthArea = analysis?.truthArea ?? [];
  const predArea = analysis?.predictionArea ?? [];
  let truthOnly: number[] = truthArea;
  if (!analysis && patient?.hasMask) {
    const plane = volume.width * volume.height;
    truthOnly = Array.from({ length: D }, (_, z) => {
      let a = 0;
      for (let i = z * plane; i < (z + 1) * plane; i++) a += volume!.mask[i];
      return a;
    });
  }
  const max = Math.max(1, ...truthOnly, ...predArea);
  const h = c.height - 6;
  for (let z = 0; z < D; z++) {
    const x = z * bw;
    if (z === view.slice) {
      ctx.fillStyle = '#3a3a3a';
      ctx.fillRect(x, 0, bw, c.height);
    }
    const t = truthOnly[z] ?? 0;
    const p = predArea[z] ?? 0;
    ctx.fillStyle = '#00e640';
    ctx.fillRect(x + 1, c.height - 3 - (t / max) * h, Math.max(1, bw / 2 - 1), (t / max) * h);
    ctx.fillStyle = '#ff2020';
    ctx.fillRect(x + bw / 2, c.height - 3 - (p / max) * h, Math.max(1, bw / 2 - 1), (p / max) * h);
  }
  ctx.strokeStyle = '#fff';
  ctx.strokeRect(view.slice * bw + 0.5, 0.5, bw - 1, c.height - 1);
}

function syncControls(): void {
  ui.channel.value = view.channel;
  ui.window.value = String(view.window);
  ui.level.value = String(view.level);
  ui.layout.value = view.layout;
  ui.showTruth.checked = view.truth.visible;
  ui.truthOpacity.value = String(view.truth.opacity);
  ui.showPred.checked = view.prediction.visible;
  ui.predOpacity.value = String(view.prediction.opacity);
  ui.style.value = view.style;
  ui.mode.value = view.mode;
  ui.legend.hidden = view.mode !== 'errors';
  $('legend-overlay').hidden = view.mode === 'errors';
  ui.threshold.value = String(view.threshold);
  ui.thresholdValue.textContent = view.threshold.toFixed(2);
  if (document.activeElement !== ui.post) ui.post.value = view.postprocess.join(',');
  if (volume) {
    ui.slice.value = String(view.slice);
    // The slice of the data it shows: a Kaggle file's number, or the index along a scanner grid's slice axis.
    const s = view.slice + (volume.info.cropZYX[0] ?? 0) + (dropsEnds() ? 1 : 0);
    let source = '';
    if (patient?.scan) {
      const at = sourceSlice(patient.scan.frame, s);
      source = ` (${at.axis} = ${at.index})`;
    } else if (patient?.raw.sliceNumbers[s] !== undefined) source = ` (file ${patient.raw.sliceNumbers[s]})`;
    ui.sliceValue.textContent = `${view.slice + 1} / ${volume.depth}${source}`;
  }
  edits.sync();
  ui.refDsc.textContent = fmt(referenceDscValue);
  ui.dsc.textContent = fmt(analysis?.dsc);
  const sd = analysis?.perSlice[view.slice];
  ui.sliceDsc.textContent =
    analysis && patient?.hasMask ? (sd === null ? 'no tumour (both empty)' : fmt(sd)) : '–';
  ui.sliceArea.textContent = analysis
    ? `truth ${patient?.hasMask ? analysis.truthArea[view.slice] : '–'} · predicted ${analysis.predictionArea[view.slice]} px`
    : '–';
}

function updateButtons(): void {
  ui.run.disabled = busy || !patient || (!checkpoint && ui.modelSource.value === 'file');
  ui.loadDemo.disabled = busy;
  ui.modelSource.disabled = busy; // a new choice would drop the model that is running
  ui.exportSlice.disabled = !analysis;
  ui.exportAll.disabled = !analysis;
  const formats = exportFormats(patient);
  ui.exportNifti.hidden = !formats.nifti;
  ui.exportSeg.hidden = !formats.seg;
  ui.exportNifti.disabled = !analysis || !formats.nifti;
  ui.exportSeg.disabled = !analysis || !formats.seg;
  ui.worst.disabled = !analysis || !patient?.hasMask;
}

let analysisStale = false;
function update(next: ViewState, recomputeMasks = false): void {
  if (next === view) return;
  view = next;
  // Slider drags fire many events: the masks are recomputed once a frame at most.
  if (recomputeMasks) analysisStale = true;
  draw();
}

// ---- export ----
function download(bytes: Uint8Array, name: string, type = 'image/png'): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function maskPng(z: number): { bytes: Uint8Array; name: string } {
  const v = volume!;
  const plane = v.width * v.height;
  const data = Uint8Array.from(analysis!.prediction.subarray(z * plane, (z + 1) * plane), (x) =>
    x ? 255 : 0,
  );
  const n = patient!.raw.sliceNumbers[z + v.info.cropZYX[0] + 1] ?? z + 1;
  return {
    bytes: encodePng({ width: v.width, height: v.height, channels: 1, data }),
    name: `${patient!.raw.id}_${n}_pred_mask.png`,
  };
}

/** The displayed prediction on the scanner case's own voxels (what `mriseg predict` writes for these settings). */
function sourceMask(): Uint8Array {
  return predictionOnSource(analysis!.prediction, volume!, patient!, dropsEnds());
}

// ---- events ----
ui.loadDemo.addEventListener('click', () => void loadDemo());
ui.run.addEventListener('click', () => void runModel());
ui.modelSource.addEventListener('change', () => {
  const source = ui.modelSource.value as ModelSource;
  setModelSource(source);
  checkpoint = null;
  checkpointPlan = null;
  disposeModel();
  updateButtons();
  if (source === 'file') {
    ui.modelInfo.textContent = 'Open a checkpoint file.';
    return;
  }
  // Fetched (or read from the cache) now, so the page can say at once how the model will be run.
  clearError();
  void fetchBuiltinModel(source).catch(showError);
});
setModelSource('unet-lgg');
ui.dirInput.addEventListener('change', () => void openFiles([...(ui.dirInput.files ?? [])]));
ui.fileInput.addEventListener('change', () => void openFiles([...(ui.fileInput.files ?? [])]));
ui.ckptInput.addEventListener('change', () => {
  const f = ui.ckptInput.files?.[0];
  if (f)
    void f.arrayBuffer().then((b) => {
      setModelSource('file');
      setCheckpoint(new Uint8Array(b), f.name);
    });
});
for (const el of [ui.arch, ui.features, ui.inputSize]) {
  el.addEventListener('change', () => {
    disposeModel();
    planCheckpoint();
    if (patient && !prob) preprocessPatient();
    updateButtons();
  });
}
ui.channel.addEventListener('change', () => update(setChannel(view, ui.channel.value as Channel)));
ui.window.addEventListener('input', () => update(setWindowLevel(view, Number(ui.window.value), view.level)));
ui.level.addEventListener('input', () => update(setWindowLevel(view, view.window, Number(ui.level.value))));
ui.layout.addEventListener('change', () => update(setLayout(view, ui.layout.value as Layout)));
ui.resetView.addEventListener('click', () => {
  const next = resetView(view);
  update(volume ? setWindowLevel(next, ...autoWindow(volume.image)) : next);
});
window.addEventListener('resize', () => draw());
ui.showTruth.addEventListener('change', () =>
  update(setOverlay(view, 'truth', { visible: ui.showTruth.checked })),
);
ui.showPred.addEventListener('change', () =>
  update(setOverlay(view, 'prediction', { visible: ui.showPred.checked })),
);
ui.truthOpacity.addEventListener('input', () =>
  update(setOverlay(view, 'truth', { opacity: Number(ui.truthOpacity.value) })),
);
ui.predOpacity.addEventListener('input', () =>
  update(setOverlay(view, 'prediction', { opacity: Number(ui.predOpacity.value) })),
);
ui.style.addEventListener('change', () => update(setStyle(view, ui.style.value as OverlayStyle)));
ui.mode.addEventListener('change', () => update(setMode(view, ui.mode.value as ColourMode)));
ui.threshold.addEventListener('input', () => update(setThreshold(view, Number(ui.threshold.value)), true));
ui.post.addEventListener('change', () => {
  try {
    const steps = ui.post.value.split(',');
    parsePostprocess(steps);
    clearError();
    update(setPostprocess(view, steps), true);
  } catch (e) {
    showError(e);
  }
});
ui.slice.addEventListener('input', () => update(setSlice(view, Number(ui.slice.value))));
ui.worst.addEventListener('click', () => {
  if (!analysis) return;
  const z = worstSlice(analysis.perSlice, analysis.truthArea, analysis.predictionArea);
  if (z !== null) update(setSlice(view, z));
});
ui.strip.addEventListener('click', (e) => {
  if (!volume) return;
  const r = ui.strip.getBoundingClientRect();
  update(setSlice(view, Math.floor(((e.clientX - r.left) / r.width) * volume.depth)));
});
ui.exportSlice.addEventListener('click', () => {
  const { bytes, name } = maskPng(view.slice);
  download(bytes, name);
});
/** Downloads the displayed mask on the scanner case's own grid, written by `write` (NIfTI or DICOM SEG). */
function exportSourceMask(write: typeof maskNiftiFile, type: string): void {
  try {
    const { bytes, name } = write(sourceMask(), patient!);
    download(bytes, name, type);
  } catch (e) {
    showError(e);
  }
}
ui.exportNifti.addEventListener('click', () => exportSourceMask(maskNiftiFile, 'application/gzip'));
ui.exportSeg.addEventListener('click', () => exportSourceMask(maskSegFile, 'application/dicom'));
ui.channels.addEventListener('change', () => void openScan().catch(showError));
ui.exportAll.addEventListener('click', () => {
  const D = volume?.depth ?? 0;
  for (let z = 0; z < D; z++) {
    setTimeout(() => {
      const { bytes, name } = maskPng(z);
      download(bytes, name);
    }, z * 200);
  }
});

for (const canvas of [ui.view, ui.viewRight]) {
  canvas.addEventListener(
    'wheel',
    (e) => {
      if (!volume) return;
      e.preventDefault();
      if (e.ctrlKey || e.metaKey) {
        const r = canvas.getBoundingClientRect();
        const cx = ((e.clientX - r.left) / r.width) * canvas.width - canvas.width / 2;
        const cy = ((e.clientY - r.top) / r.height) * canvas.height - canvas.height / 2;
        update(zoomAt(view, e.deltaY < 0 ? 1.2 : 1 / 1.2, cx, cy));
      } else {
        update(stepSlice(view, wheelSteps(e.deltaY)));
      }
    },
    { passive: false },
  );
  let drag: { x: number; y: number; shift: boolean } | null = null;
  canvas.addEventListener('pointerdown', (e) => {
    canvas.focus();
    if (volume && edits.pointerDown(e, canvas)) return;
    drag = { x: e.clientX, y: e.clientY, shift: e.shiftKey };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (edits.pointerMove(e, canvas) || !drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    drag.x = e.clientX;
    drag.y = e.clientY;
    if (drag.shift) update(setWindowLevel(view, view.window + dx * 0.02, view.level - dy * 0.02));
    else update(panBy(view, dx, dy));
  });
  canvas.addEventListener('pointerup', () => {
    edits.pointerUp();
    drag = null;
  });
  canvas.addEventListener('dblclick', () => edits.doubleClick());
  canvas.addEventListener('keydown', (e) => {
    if (edits.key(e)) {
      e.preventDefault();
      return;
    }
    const next = keyAction(view, e.key);
    if (next) {
      e.preventDefault();
      update(next);
    }
  });
}

// Drag and drop of files or a folder anywhere on the image area.
async function entryFiles(entry: FileSystemEntry): Promise<File[]> {
  if (entry.isFile) {
    return [await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej))];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
    if (batch.length === 0) break;
    all.push(...batch);
  }
  return (await Promise.all(all.map(entryFiles))).flat();
}

ui.views.addEventListener('dragover', (e) => {
  e.preventDefault();
  ui.views.classList.add('dragging');
});
ui.views.addEventListener('dragleave', () => ui.views.classList.remove('dragging'));
ui.views.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.views.classList.remove('dragging');
  const items = [...(e.dataTransfer?.items ?? [])];
  const entries = items.map((i) => i.webkitGetAsEntry()).filter((x): x is FileSystemEntry => x !== null);
  void (
    entries.length > 0
      ? Promise.all(entries.map(entryFiles)).then((f) => f.flat())
      : Promise.resolve([...(e.dataTransfer?.files ?? [])])
  ).then(openFiles, showError);
});

// Post-processing help from the metrics package.
const steps = listPostprocessSteps();
for (const preset of [
  'lcc3d',
  'lcc3d,fill-holes2d',
  'lcc2d',
  'remove-small:20',
  'crf,lcc3d',
  ...steps.map((s) => s.example),
]) {
  if ([...ui.postPresets.options].some((o) => o.value === preset)) continue;
  const o = document.createElement('option');
  o.value = preset;
  ui.postPresets.append(o);
}
ui.postHelp.textContent = `Comma-separated steps, empty for none (hover for details): ${steps.map((s) => s.name).join(', ')}`;
ui.post.title = steps.map((s) => `${s.syntax}: ${s.description}`).join('\n');

draw();
