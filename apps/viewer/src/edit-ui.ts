/**
 * The page's "Correct" panel: maps pointer and key events on the slice canvases onto the MaskEditor (edit.ts),
 * draws the corrections over a rendered slice, and exports them (edit-export.ts). main.ts calls the few hooks
 * below (reset on a new volume, pointer and key events, the overlay, the polygon preview); the rest stays here.
 */
import type { Volume } from '@mriseg/data/browser';
import {
  canvasToImage,
  type EditTool,
  editKey,
  fillPolygon,
  floodFill,
  MaskEditor,
  type Point,
  paintDisc,
  paintStroke,
  stepBrush,
} from './edit.js';
import { combinedMask, kaggleMaskFiles, type MaskFormat, scanMaskFile, zipFiles } from './edit-export.js';
import type { LoadedPatient } from './files.js';
import './edit.css';

/** What the editor needs from the page. */
export interface EditHost {
  volume(): Volume | null;
  patient(): LoadedPatient | null;
  /** The displayed prediction mask (threshold and post-processing applied), or null before inference. */
  prediction(): Uint8Array | null;
  slice(): number;
  dropsEnds(): boolean;
  /** Where the image is drawn on a canvas (canvas pixels). */
  imageRect(canvas: HTMLCanvasElement): { x: number; y: number; w: number; h: number };
  redraw(): void;
  download(bytes: Uint8Array, name: string, type: string): void;
  showError(e: unknown): void;
  /** Called after every change of the corrections (fine-tuning reads them). */
  changed(): void;
}

/** Corrections are drawn cyan: apart from the truth's green, the prediction's red and the error colours. */
const CORRECTION: readonly [number, number, number] = [0, 220, 230];

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

export class EditPanel {
  editor: MaskEditor | null = null;
  tool: EditTool = 'view';
  radius = 4;
  visible = true;
  private polygon: Point[] = [];
  private stroking: { last: Point; value: 0 | 1 } | null = null;
  private readonly ui = {
    tools: [...document.querySelectorAll<HTMLButtonElement>('[data-tool]')],
    size: $<HTMLInputElement>('brush-size'),
    sizeValue: $<HTMLOutputElement>('brush-size-value'),
    show: $<HTMLInputElement>('show-edits'),
    undo: $<HTMLButtonElement>('undo'),
    redo: $<HTMLButtonElement>('redo'),
    accept: $<HTMLButtonElement>('accept-pred'),
    clear: $<HTMLButtonElement>('clear-slice'),
    format: $<HTMLSelectElement>('edit-format'),
    exportSlice: $<HTMLButtonElement>('export-edit-slice'),
    exportAll: $<HTMLButtonElement>('export-edit-all'),
    info: $('edit-info'),
  };

  constructor(private readonly host: EditHost) {
    for (const b of this.ui.tools)
      b.addEventListener('click', () => this.setTool(b.dataset.tool as EditTool));
    this.ui.size.addEventListener('input', () => {
      this.radius = Number(this.ui.size.value);
      this.sync();
    });
    this.ui.show.addEventListener('change', () => {
      this.visible = this.ui.show.checked;
      host.redraw();
    });
    this.ui.undo.addEventListener('click', () => this.undo());
    this.ui.redo.addEventListener('click', () => this.redo());
    this.ui.accept.addEventListener('click', () => this.accept());
    this.ui.clear.addEventListener('click', () => this.clear());
    this.ui.exportSlice.addEventListener('click', () => this.export(false));
    this.ui.exportAll.addEventListener('click', () => this.export(true));
    this.sync();
  }

  /** A new volume: an empty set of corrections of its size. */
  reset(volume: Volume | null): void {
    this.editor = volume ? new MaskEditor(volume.depth, volume.height, volume.width) : null;
    this.polygon = [];
    this.stroking = null;
    this.sync();
    this.host.changed();
  }

  setTool(tool: EditTool): void {
    this.tool = tool;
    this.polygon = [];
    this.sync();
    this.host.redraw();
  }

  /** Whether the canvas takes pointer input for editing (else it pans and sets window/level). */
  get editing(): boolean {
    return this.tool !== 'view' && this.editor !== null;
  }

  private point(e: PointerEvent | MouseEvent, canvas: HTMLCanvasElement): Point {
    const v = this.host.volume()!;
    const box = canvas.getBoundingClientRect();
    return canvasToImage(
      e.clientX - box.left,
      e.clientY - box.top,
      box,
      canvas,
      this.host.imageRect(canvas),
      v,
    );
  }

  /** Pointer down on a canvas; true when the editor took it. */
  pointerDown(e: PointerEvent, canvas: HTMLCanvasElement): boolean {
    if (!this.editing || e.shiftKey || e.button !== 0) return false;
    const ed = this.editor!;
    const z = this.host.slice();
    const [w, h] = [ed.width, ed.height];
    const p = this.point(e, canvas);
    if (this.tool === 'brush' || this.tool === 'eraser') {
      const value = this.tool === 'brush' ? 1 : 0;
      paintDisc(ed.begin(z), w, h, p[0], p[1], this.radius, value);
      this.stroking = { last: p, value };
      canvas.setPointerCapture(e.pointerId);
    } else if (this.tool === 'fill') {
      // Alt+click empties the region instead (removing one component).
      if (ed.apply(z, (plane) => floodFill(plane, w, h, p[0], p[1], e.altKey ? 0 : 1))) this.afterChange();
    } else if (this.tool === 'polygon') {
      const first = this.polygon[0];
      const scale = this.host.imageRect(canvas).w / w;
      if (first && this.polygon.length >= 3 && Math.hypot(p[0] - first[0], p[1] - first[1]) * scale < 8) {
        this.closePolygon();
      } else {
        this.polygon.push(p);
      }
    }
    this.host.redraw();
    return true;
  }

  pointerMove(e: PointerEvent, canvas: HTMLCanvasElement): boolean {
    if (!this.stroking) return false;
    const ed = this.editor!;
    const p = this.point(e, canvas);
    paintStroke(
      ed.slice(this.host.slice()),
      ed.width,
      ed.height,
      this.stroking.last,
      p,
      this.radius,
      this.stroking.value,
    );
    this.stroking.last = p;
    this.host.redraw();
    return true;
  }

  pointerUp(): boolean {
    if (!this.stroking) return false;
    this.stroking = null;
    if (this.editor!.end()) this.afterChange();
    return true;
  }

  /** Double-click closes a polygon. */
  doubleClick(): boolean {
    if (this.tool !== 'polygon' || this.polygon.length < 3) return false;
    this.closePolygon();
    return true;
  }

  private closePolygon(): void {
    const ed = this.editor!;
    const pts = this.polygon;
    this.polygon = [];
    if (ed.apply(this.host.slice(), (plane) => fillPolygon(plane, ed.width, ed.height, pts, 1)))
      this.afterChange();
    this.host.redraw();
  }

  /** A key on the canvas; true when it was an editor shortcut. */
  key(e: KeyboardEvent): boolean {
    if (!this.editor) return false;
    const c = editKey(e.key, { ctrl: e.ctrlKey || e.metaKey, shift: e.shiftKey });
    if (!c) return false;
    switch (c.kind) {
      case 'tool':
        this.setTool(c.tool);
        break;
      case 'size':
        this.radius = stepBrush(this.radius, c.delta);
        this.sync();
        break;
      case 'undo':
        this.undo();
        break;
      case 'redo':
        this.redo();
        break;
      case 'accept':
        this.accept();
        break;
      case 'clear':
        this.clear();
        break;
      case 'close-polygon':
        if (this.polygon.length >= 3) this.closePolygon();
        break;
      case 'cancel':
        if (this.polygon.length > 0) this.polygon = [];
        else this.setTool('view');
        this.host.redraw();
        break;
    }
    return true;
  }

  undo(): void {
    const z = this.editor?.undo();
    if (z !== null && z !== undefined) this.afterChange();
  }

  redo(): void {
    const z = this.editor?.redo();
    if (z !== null && z !== undefined) this.afterChange();
  }

  /** The prediction of this slice becomes its correction (to be refined), or an empty one before inference. */
  accept(): void {
    const ed = this.editor;
    if (!ed) return;
    const z = this.host.slice();
    const pred = this.host.prediction();
    const plane = pred ? pred.subarray(z * ed.plane, (z + 1) * ed.plane) : new Uint8Array(ed.plane);
    if (ed.acceptPrediction(z, plane)) this.afterChange();
  }

  clear(): void {
    if (this.editor?.clear(this.host.slice())) this.afterChange();
  }

  private afterChange(): void {
    this.sync();
    this.host.redraw();
    this.host.changed();
  }

  /** Blends this slice's corrections (fill and outline) into rendered RGBA pixels. */
  overlay(out: Uint8ClampedArray, z: number): void {
    const ed = this.editor;
    if (!ed || !this.visible || !ed.isCorrected(z)) return;
    const m = ed.slice(z);
    const [w, h] = [ed.width, ed.height];
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        if (!m[i]) continue;
        const edge =
          x === 0 ||
          !m[i - 1] ||
          x === w - 1 ||
          !m[i + 1] ||
          y === 0 ||
          !m[i - w] ||
          y === h - 1 ||
          !m[i + w];
        const a = edge ? 0.9 : 0.35;
        const o = i * 4;
        out[o] = out[o] * (1 - a) + CORRECTION[0] * a;
        out[o + 1] = out[o + 1] * (1 - a) + CORRECTION[1] * a;
        out[o + 2] = out[o + 2] * (1 - a) + CORRECTION[2] * a;
      }
    }
  }

  /** Draws the polygon being built and the brush size hint on the canvas (after the image). */
  decorate(ctx: CanvasRenderingContext2D, canvas: HTMLCanvasElement): void {
    if (this.polygon.length === 0 || !this.editor) return;
    const r = this.host.imageRect(canvas);
    const k = r.w / this.editor.width;
    ctx.strokeStyle = 'rgb(0, 220, 230)';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (const [x, y] of this.polygon) ctx.lineTo(r.x + x * k, r.y + y * k);
    ctx.stroke();
    for (const [x, y] of this.polygon) ctx.fillRect(r.x + x * k - 2, r.y + y * k - 2, 4, 4);
  }

  private export(all: boolean): void {
    const ed = this.editor;
    const v = this.host.volume();
    const p = this.host.patient();
    if (!ed || !v || !p) return;
    try {
      const mask = combinedMask(ed, this.host.prediction());
      if (p.scan) {
        const f = scanMaskFile(mask, v, p, this.host.dropsEnds());
        this.host.download(
          f.bytes,
          f.name.replace(/_mask\.nii\.gz$/, '_corrected_mask.nii.gz'),
          'application/gzip',
        );
        return;
      }
      const format = this.ui.format.value as MaskFormat;
      const type = format === 'png' ? 'image/png' : 'image/tiff';
      if (!all) {
        const [f] = kaggleMaskFiles(mask, v, p, this.host.dropsEnds(), format, [this.host.slice()]);
        this.host.download(f.bytes, f.name, type);
        return;
      }
      const files = kaggleMaskFiles(mask, v, p, this.host.dropsEnds(), format, null);
      this.host.download(zipFiles(files), `${p.raw.id}_masks.zip`, 'application/zip');
    } catch (e) {
      this.host.showError(e);
    }
  }

  /** Buttons and labels from the editor's state. */
  sync(): void {
    const ed = this.editor;
    for (const b of this.ui.tools) b.setAttribute('aria-pressed', String(b.dataset.tool === this.tool));
    this.ui.size.value = String(this.radius);
    this.ui.sizeValue.textContent = `${this.radius} px`;
    this.ui.undo.disabled = !ed?.canUndo;
    this.ui.redo.disabled = !ed?.canRedo;
    for (const b of [this.ui.accept, this.ui.clear, this.ui.exportSlice, this.ui.exportAll]) b.disabled = !ed;
    for (const b of this.ui.tools) b.disabled = !ed;
    const scan = this.host.patient()?.scan !== undefined;
    this.ui.format.disabled = scan;
    this.ui.exportSlice.hidden = scan;
    this.ui.exportAll.textContent = scan ? 'Export corrected mask (NIfTI)' : 'Export all (zip)';
    const n = ed?.corrected().length ?? 0;
    this.ui.info.textContent = ed
      ? `${n} corrected slice${n === 1 ? '' : 's'}${ed.isCorrected(this.host.slice()) ? ' (this one included)' : ''}`
      : 'Open a volume to correct its masks.';
    document.body.dataset.corrected = String(n);
  }
}
