/**
 * The page's "Fine-tune" panel: trains the open checkpoint's model on the corrected slices in the model worker
 * (model-client.ts), draws the loss curve, refreshes the watched slice's prediction while it trains and the whole
 * volume's when it stops, scores the corrected slices before and after, and downloads the fine-tuned checkpoint.
 */
import type { Volume } from '@mriseg/data/browser';
import type { MaskEditor } from './edit.js';
import { buildTrainingSet, dscAt, type TrainingSet, trainingSlices } from './finetune.js';
import type { ModelChoice } from './model.js';
import type { ModelWorker } from './model-client.js';
import type { FinetuneOptions, LoadResult } from './model-protocol.js';

export interface FinetuneHost {
  volume(): Volume | null;
  editor(): MaskEditor | null;
  /** The displayed prediction mask (neighbour slices' targets), or null before inference. */
  prediction(): Uint8Array | null;
  slice(): number;
  checkpoint(): { bytes: Uint8Array; name: string } | null;
  choice(): ModelChoice;
  /** The tab's model worker (shared with "Run model"). */
  worker(): ModelWorker;
  /** New probabilities for one slice (during training) or for the whole volume (after it). */
  setSliceProbability(z: number, prob: Float32Array): void;
  setProbability(prob: Float32Array): void;
  download(bytes: Uint8Array, name: string, type: string): void;
  showError(e: unknown): void;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

export class FinetunePanel {
  private info: LoadResult | null = null;
  private running = false;
  /** The corrections changed since the last run: the next run starts Adam again on the new set. */
  private dirty = true;
  private hasRun = false;
  private losses: number[] = [];
  private before: number | null = null;
  private after: number | null = null;
  private readonly ui = {
    steps: $<HTMLInputElement>('ft-steps'),
    lr: $<HTMLInputElement>('ft-lr'),
    batch: $<HTMLInputElement>('ft-batch'),
    neighbours: $<HTMLInputElement>('ft-neighbours'),
    augment: $<HTMLInputElement>('ft-augment'),
    loss: $<HTMLSelectElement>('ft-loss'),
    start: $<HTMLButtonElement>('ft-start'),
    stop: $<HTMLButtonElement>('ft-stop'),
    save: $<HTMLButtonElement>('ft-save'),
    bench: $<HTMLButtonElement>('ft-bench'),
    curve: $<HTMLCanvasElement>('loss-curve'),
    status: $('ft-status'),
    dsc: $('ft-dsc'),
    benchOut: $('ft-bench-out'),
  };

  constructor(private readonly host: FinetuneHost) {
    this.ui.start.addEventListener('click', () => void this.run());
    this.ui.stop.addEventListener('click', () => void this.host.worker().stop());
    this.ui.save.addEventListener('click', () => void this.save());
    this.ui.bench.addEventListener('click', () => void this.bench());
    this.sync();
  }

  /** The corrections or the volume changed. */
  changed(): void {
    this.dirty = true;
    this.sync();
  }

  /** A new checkpoint was opened, or the model rebuilt from it: the run starts from it again. */
  checkpointChanged(): void {
    this.hasRun = false;
    this.losses = [];
    this.before = null;
    this.after = null;
    this.dirty = true;
    this.drawCurve();
    this.sync();
  }

  private options(): FinetuneOptions {
    const int = (el: HTMLInputElement, lo: number, hi: number, d: number) => {
      const v = Number.parseInt(el.value, 10);
      return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : d;
    };
    const lr = Number(this.ui.lr.value);
    if (!(lr > 0 && lr < 1))
      throw new Error(`learning rate ${this.ui.lr.value}: give a number between 0 and 1`);
    return {
      steps: int(this.ui.steps, 1, 100_000, 30),
      lr,
      batchSize: int(this.ui.batch, 1, 64, 4),
      seed: 1,
      loss: this.ui.loss.value === 'bce-dice' ? 'bce-dice' : 'dice',
      augment: this.ui.augment.checked,
      previewEvery: 5,
    };
  }

  /** The worker, with the checkpoint's model built there unless it holds it already. */
  private async ensureModel(): Promise<ModelWorker> {
    const ck = this.host.checkpoint();
    if (!ck) throw new Error('open a checkpoint first');
    const worker = this.host.worker();
    this.say('Loading the model in the worker…');
    this.info = await worker.ensure(ck, this.host.choice());
    return worker;
  }

  private say(text: string): void {
    this.ui.status.textContent = text;
  }

  /**
   * DSC on the corrected slices against the corrections, pooled. `prob` holds the volume's probabilities, or
   * (`perSample`) one plane for each of the set's first samples (the corrected slices come first).
   */
  private scoreCorrected(
    prob: Float32Array,
    set: TrainingSet,
    threshold: number,
    perSample: boolean,
  ): number {
    const plane = set.height * set.width;
    const n = set.slices.filter((s) => s.target === 'correction').length;
    const p = new Float32Array(n * plane);
    for (let i = 0; i < n; i++) {
      const z = perSample ? i : set.slices[i].z;
      p.set(prob.subarray(z * plane, (z + 1) * plane), i * plane);
    }
    return dscAt(p, set.masks.subarray(0, n * plane), threshold);
  }

  private async run(): Promise<void> {
    const v = this.host.volume();
    const ed = this.host.editor();
    if (this.running || !v || !ed) return;
    this.running = true;
    this.sync();
    try {
      const o = this.options();
      if (ed.corrected().length === 0)
        throw new Error('correct at least one slice first (draw, or accept the prediction)');
      const worker = await this.ensureModel();
      if (this.info!.inputSize !== v.width) {
        throw new Error(
          `the model takes ${this.info!.inputSize}² slices, the volume is ${v.width}²: press "Run model" first`,
        );
      }
      const neighbours = Number.parseInt(this.ui.neighbours.value, 10) || 0;
      const pred = this.host.prediction();
      const set = buildTrainingSet(
        v,
        ed.mask,
        pred,
        trainingSlices(ed.corrected(), v.depth, neighbours, pred !== null),
      );
      const plane = v.width * v.height;
      const threshold = this.info!.inference.threshold;
      const restart = this.dirty || !this.hasRun;
      if (restart) {
        this.say('Scoring the corrected slices before fine-tuning…');
        const n = ed.corrected().length;
        const before = await worker.predict(
          set.images.subarray(0, n * 3 * plane),
          [n, 3, v.height, v.width],
          4,
        );
        this.before = this.scoreCorrected(before, set, threshold, true);
        this.after = null;
        this.losses = [];
      }
      const z = this.host.slice();
      const preview = v.image.slice(z * 3 * plane, (z + 1) * 3 * plane);
      const t0 = performance.now();
      let done = 0;
      this.say(`Fine-tuning on ${set.count} slice(s)…`);
      const r = await worker.train(set, o, restart, preview, {
        step: (step, loss) => {
          this.losses.push(loss);
          done++;
          const sec = (performance.now() - t0) / 1000;
          this.say(
            `Step ${step}: loss ${loss.toFixed(4)} · ${(done / Math.max(sec, 1e-3)).toFixed(2)} steps/s`,
          );
          this.drawCurve();
          document.body.dataset.ftStep = String(step);
        },
        preview: (_step, prob) => this.host.setSliceProbability(z, prob),
      });
      this.hasRun = true;
      this.dirty = false;
      this.say(
        `${r.stopped ? 'Stopped' : 'Done'} at step ${r.step}; predicting the volume with the fine-tuned model…`,
      );
      const prob = await worker.predict(v.image, [v.depth, 3, v.height, v.width], 4);
      this.after = this.scoreCorrected(prob, set, threshold, false);
      this.host.setProbability(prob);
      this.say(
        `${r.stopped ? 'Stopped' : 'Done'} at step ${r.step} (${r.stepsThisCall} steps in ${r.seconds.toFixed(1)} s, ` +
          `${(r.stepsThisCall / r.seconds).toFixed(2)} steps/s); the prediction shown is the fine-tuned model's.`,
      );
      document.body.dataset.finetune = 'done';
    } catch (e) {
      this.host.showError(e);
      this.say('Fine-tuning failed.');
      document.body.dataset.finetune = 'failed';
    } finally {
      this.running = false;
      this.sync();
    }
  }

  private async save(): Promise<void> {
    if (!this.hasRun || this.running) return;
    try {
      const ck = this.host.checkpoint()!;
      const ed = this.host.editor();
      const bytes = await this.host.worker().save({
        finetuned_from: ck.name,
        finetune_slices: JSON.stringify(ed?.corrected() ?? []),
        finetune_losses: JSON.stringify(this.losses.map((l) => Number(l.toPrecision(5)))),
      });
      const base = ck.name.replace(/\.safetensors$/i, '');
      this.host.download(bytes, `${base}-finetuned.safetensors`, 'application/octet-stream');
    } catch (e) {
      this.host.showError(e);
    }
  }

  private async bench(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.sync();
    try {
      const worker = await this.ensureModel();
      const o = this.options();
      this.ui.benchOut.textContent = 'Measuring…';
      const size = this.info!.inputSize;
      const b = await worker.bench(o.batchSize, size, Math.min(o.steps, 20), 16);
      const text =
        `${b.adapter}: fine-tuning ${b.trainStepsPerSecond.toFixed(3)} steps/s (batch ${b.batchSize}, ${b.size}², ` +
        `${b.trainImagesPerSecond.toFixed(2)} img/s); inference ${b.inferSlicesPerSecond.toFixed(2)} slices/s`;
      this.ui.benchOut.textContent = text;
      document.body.dataset.bench = JSON.stringify(b);
    } catch (e) {
      this.host.showError(e);
      this.ui.benchOut.textContent = '';
    } finally {
      this.running = false;
      this.sync();
    }
  }

  private drawCurve(): void {
    const c = this.ui.curve;
    const w = c.clientWidth || 220;
    const h = c.clientHeight || 90;
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    const g = c.getContext('2d')!;
    g.clearRect(0, 0, w, h);
    const l = this.losses;
    if (l.length === 0) return;
    const max = Math.max(...l);
    const min = Math.min(...l);
    const span = max - min || 1;
    g.strokeStyle = '#4ea1ff';
    g.lineWidth = 1.5;
    g.beginPath();
    l.forEach((v, i) => {
      const x = l.length === 1 ? w / 2 : (i / (l.length - 1)) * (w - 8) + 4;
      const y = h - 6 - ((v - min) / span) * (h - 16);
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
    g.fillStyle = '#a0a0a0';
    g.font = '10px system-ui, sans-serif';
    g.fillText(`loss ${max.toFixed(3)}`, 4, 10);
    g.fillText(min.toFixed(3), 4, h - 2);
  }

  sync(): void {
    const ed = this.host.editor();
    const n = ed?.corrected().length ?? 0;
    const ready = !!this.host.volume() && !!this.host.checkpoint() && n > 0;
    this.ui.start.disabled = this.running || !ready;
    this.ui.start.textContent = this.hasRun && !this.dirty ? 'Resume' : 'Fine-tune';
    this.ui.stop.disabled = !this.running;
    this.ui.save.disabled = this.running || !this.hasRun;
    this.ui.bench.disabled = this.running || !this.host.checkpoint();
    const f = (x: number | null) => (x === null ? '–' : x.toFixed(3));
    this.ui.dsc.textContent = `DSC on the corrected slices: before ${f(this.before)} · after ${f(this.after)}`;
    if (!this.running && !ready && this.ui.status.textContent === '') {
      this.say('Correct one or more slices, then fine-tune the model on them.');
    }
  }
}
