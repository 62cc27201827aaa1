/**
 * Mask editing: pure operations on one slice's 0/1 plane (brush, eraser, polygon, flood fill, clear) and the
 * `MaskEditor`, which holds the corrected mask of a volume, which slices the user corrected, and an undo/redo
 * history of whole-slice changes. Nothing here touches the DOM; main.ts maps pointer and key events onto it.
 */

export type Point = readonly [x: number, y: number];

export type EditTool = 'view' | 'brush' | 'eraser' | 'fill' | 'polygon';

export const MIN_BRUSH = 1;
export const MAX_BRUSH = 64;

/**
 * Sets every pixel whose centre lies within `radius` of (cx, cy) to `value`. Radius 0.5 paints the one pixel
 * under the point. Returns the number of pixels changed.
 */
export function paintDisc(
  plane: Uint8Array,
  w: number,
  h: number,
  cx: number,
  cy: number,
  radius: number,
  value: 0 | 1,
): number {
  const r = Math.max(0.5, radius);
  const r2 = r * r;
  let changed = 0;
  const y0 = Math.max(0, Math.ceil(cy - r - 0.5));
  const y1 = Math.min(h - 1, Math.floor(cy + r - 0.5));
  const x0 = Math.max(0, Math.ceil(cx - r - 0.5));
  const x1 = Math.min(w - 1, Math.floor(cx + r - 0.5));
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy > r2) continue;
      const i = y * w + x;
      if (plane[i] !== value) {
        plane[i] = value;
        changed++;
      }
    }
  }
  return changed;
}

/** A brush stroke segment: discs along the line from `a` to `b`, close enough that no gap is left. */
export function paintStroke(
  plane: Uint8Array,
  w: number,
  h: number,
  a: Point,
  b: Point,
  radius: number,
  value: 0 | 1,
): number {
  const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
  const step = Math.max(0.25, Math.min(0.5, radius / 2));
  const n = Math.max(1, Math.ceil(len / step));
  let changed = 0;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    changed += paintDisc(plane, w, h, a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, radius, value);
  }
  return changed;
}

/**
 * Fills the polygon (vertices in pixel coordinates, pixel (x, y) spanning [x, x+1)×[y, y+1)) by the even-odd rule
 * on pixel centres, as a scanline fill. Fewer than 3 vertices fill nothing. Returns the pixels changed.
 */
export function fillPolygon(
  plane: Uint8Array,
  w: number,
  h: number,
  points: readonly Point[],
  value: 0 | 1,
): number {
  if (points.length < 3) return 0;
  let changed = 0;
  const xs: number[] = [];
  for (let y = 0; y < h; y++) {
    const cy = y + 0.5;
    xs.length = 0;
    for (let i = 0; i < points.length; i++) {
      const [ax, ay] = points[i];
      const [bx, by] = points[(i + 1) % points.length];
      // Half-open in y so a vertex shared by two edges is counted once.
      if (ay <= cy === by <= cy) continue;
      xs.push(ax + ((cy - ay) / (by - ay)) * (bx - ax));
    }
    xs.sort((p, q) => p - q);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixels whose centre x + 0.5 lies in [xs[k], xs[k+1]).
      const from = Math.max(0, Math.ceil(xs[k] - 0.5));
      const to = Math.min(w - 1, Math.ceil(xs[k + 1] - 0.5) - 1);
      for (let x = from; x <= to; x++) {
        const i = y * w + x;
        if (plane[i] !== value) {
          plane[i] = value;
          changed++;
        }
      }
    }
  }
  return changed;
}

/**
 * Flood fill: the 4-connected region of pixels equal to the one at (x, y) becomes `value` (filling a hole inside a
 * drawn outline, or emptying one component). Returns the pixels changed (0 outside the plane or when the region
 * already has that value).
 */
export function floodFill(
  plane: Uint8Array,
  w: number,
  h: number,
  x: number,
  y: number,
  value: 0 | 1,
): number {
  const px = Math.floor(x);
  const py = Math.floor(y);
  if (px < 0 || py < 0 || px >= w || py >= h) return 0;
  const from = plane[py * w + px];
  if (from === value) return 0;
  const stack = [py * w + px];
  plane[py * w + px] = value;
  let changed = 1;
  while (stack.length > 0) {
    const i = stack.pop()!;
    const cx = i % w;
    const neighbours = [
      cx > 0 ? i - 1 : -1,
      cx < w - 1 ? i + 1 : -1,
      i >= w ? i - w : -1,
      i + w < w * h ? i + w : -1,
    ];
    for (const j of neighbours) {
      if (j >= 0 && plane[j] === from) {
        plane[j] = value;
        changed++;
        stack.push(j);
      }
    }
  }
  return changed;
}

/** A canvas point (client pixels relative to the canvas box) in image pixel coordinates. */
export function canvasToImage(
  px: number,
  py: number,
  box: { width: number; height: number },
  canvas: { width: number; height: number },
  rect: { x: number; y: number; w: number; h: number },
  image: { width: number; height: number },
): Point {
  const cx = (px / box.width) * canvas.width;
  const cy = (py / box.height) * canvas.height;
  return [((cx - rect.x) / rect.w) * image.width, ((cy - rect.y) / rect.h) * image.height];
}

interface HistoryEntry {
  slice: number;
  before: Uint8Array;
  after: Uint8Array;
  editedBefore: boolean;
}

/**
 * The corrected mask of one volume (slices × height × width, 0/1) and its history. A slice counts as corrected
 * once the user drew on it, cleared it or accepted the prediction for it; only corrected slices are exported as
 * corrections and used for fine-tuning. Every change is one history entry of the slice before and after, so undo
 * and redo restore the pixels and the "corrected" flag together.
 */
export class MaskEditor {
  readonly mask: Uint8Array;
  private readonly edited = new Set<number>();
  private undoStack: HistoryEntry[] = [];
  private redoStack: HistoryEntry[] = [];
  private pending: { slice: number; before: Uint8Array; editedBefore: boolean } | null = null;

  constructor(
    readonly depth: number,
    readonly height: number,
    readonly width: number,
    /** Entries kept for undo (each two slice copies). */
    readonly historyLimit = 200,
  ) {
    this.mask = new Uint8Array(depth * height * width);
  }

  get plane(): number {
    return this.height * this.width;
  }

  /** The slice's plane (a view into `mask`: changes made outside begin/end are not in the history). */
  slice(z: number): Uint8Array {
    this.checkSlice(z);
    return this.mask.subarray(z * this.plane, (z + 1) * this.plane);
  }

  isCorrected(z: number): boolean {
    return this.edited.has(z);
  }

  /** The corrected slices, in order. */
  corrected(): number[] {
    return [...this.edited].sort((a, b) => a - b);
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** Starts a change of slice `z` (a stroke, a fill, a polygon); `end()` records it. */
  begin(z: number): Uint8Array {
    if (this.pending) this.end();
    const plane = this.slice(z);
    this.pending = { slice: z, before: plane.slice(), editedBefore: this.edited.has(z) };
    return plane;
  }

  /**
   * Ends the change begun last: records it when the pixels changed, or when the slice becomes corrected (accepting
   * an empty prediction marks a slice as "no tumour here"). Returns whether anything was recorded.
   */
  end(): boolean {
    const p = this.pending;
    if (!p) return false;
    this.pending = null;
    const after = this.slice(p.slice).slice();
    const same = after.every((v, i) => v === p.before[i]);
    if (same && p.editedBefore) return false;
    this.edited.add(p.slice);
    this.undoStack.push({ slice: p.slice, before: p.before, after, editedBefore: p.editedBefore });
    if (this.undoStack.length > this.historyLimit) this.undoStack.shift();
    this.redoStack = [];
    return true;
  }

  /** One recorded change of slice `z` made by `change` on its plane. */
  apply(z: number, change: (plane: Uint8Array) => unknown): boolean {
    change(this.begin(z));
    return this.end();
  }

  /** The slice becomes a copy of the prediction's (0/1) plane: the starting point of a correction. */
  acceptPrediction(z: number, prediction: Uint8Array): boolean {
    if (prediction.length !== this.plane)
      throw new Error(`acceptPrediction: ${prediction.length} pixels, not ${this.plane}`);
    return this.apply(z, (p) => {
      for (let i = 0; i < p.length; i++) p[i] = prediction[i] ? 1 : 0;
    });
  }

  /** Empties slice `z` (and marks it corrected: "no tumour on this slice"). */
  clear(z: number): boolean {
    return this.apply(z, (p) => p.fill(0));
  }

  /** Undoes the last change; returns its slice, or null when there is none. */
  undo(): number | null {
    if (this.pending) this.end();
    const e = this.undoStack.pop();
    if (!e) return null;
    this.slice(e.slice).set(e.before);
    if (e.editedBefore) this.edited.add(e.slice);
    else this.edited.delete(e.slice);
    this.redoStack.push(e);
    return e.slice;
  }

  /** Redoes the last undone change; returns its slice, or null when there is none. */
  redo(): number | null {
    const e = this.redoStack.pop();
    if (!e) return null;
    this.slice(e.slice).set(e.after);
    this.edited.add(e.slice);
    this.undoStack.push(e);
    return e.slice;
  }

  private checkSlice(z: number): void {
    if (!Number.isInteger(z) || z < 0 || z >= this.depth) {
      throw new RangeError(`slice ${z} is outside 0..${this.depth - 1}`);
    }
  }
}

/** What a key press means while editing, or null when it means nothing to the editor. */
export type EditCommand =
  | { kind: 'tool'; tool: EditTool }
  | { kind: 'size'; delta: number }
  | { kind: 'undo' }
  | { kind: 'redo' }
  | { kind: 'accept' }
  | { kind: 'clear' }
  | { kind: 'close-polygon' }
  | { kind: 'cancel' };

/**
 * Keyboard shortcuts of the editor (chosen not to clash with the view's keys: arrows, +/−, 0, g, p).
 * b brush · e eraser · f fill · l polygon (lasso) · v or Escape view · [ / ] brush size · Ctrl+Z undo ·
 * Ctrl+Shift+Z or Ctrl+Y redo · a accept the prediction on this slice · Delete clear the slice · Enter close polygon.
 */
export function editKey(key: string, mods: { ctrl: boolean; shift: boolean }): EditCommand | null {
  const k = key.length === 1 ? key.toLowerCase() : key;
  if (mods.ctrl) {
    if (k === 'z') return mods.shift ? { kind: 'redo' } : { kind: 'undo' };
    if (k === 'y') return { kind: 'redo' };
    return null;
  }
  switch (k) {
    case 'b':
      return { kind: 'tool', tool: 'brush' };
    case 'e':
      return { kind: 'tool', tool: 'eraser' };
    case 'f':
      return { kind: 'tool', tool: 'fill' };
    case 'l':
      return { kind: 'tool', tool: 'polygon' };
    case 'v':
      return { kind: 'tool', tool: 'view' };
    case 'Escape':
      return { kind: 'cancel' };
    case '[':
      return { kind: 'size', delta: -1 };
    case ']':
      return { kind: 'size', delta: 1 };
    case 'a':
      return { kind: 'accept' };
    case 'Delete':
    case 'Backspace':
      return { kind: 'clear' };
    case 'Enter':
      return { kind: 'close-polygon' };
    default:
      return null;
  }
}

/** Brush radius after a size step (steps of 1 px up to 8, then 25 %), within MIN_BRUSH..MAX_BRUSH. */
export function stepBrush(radius: number, delta: number): number {
  const next =
    radius < 8 || (radius === 8 && delta < 0)
      ? radius + delta
      : Math.round(radius * (delta > 0 ? 1.25 : 0.8));
  return Math.min(MAX_BRUSH, Math.max(MIN_BRUSH, next));
}

/** DSC of a 0/1 mask against the corrections on the corrected slices only (null when none is corrected). */
export function correctionDsc(
  prediction: Uint8Array,
  editor: MaskEditor,
): { dsc: number; slices: number } | null {
  const slices = editor.corrected();
  if (slices.length === 0) return null;
  let both = 0;
  let sum = 0;
  const n = editor.plane;
  for (const z of slices) {
    for (let i = z * n; i < (z + 1) * n; i++) {
      const p = prediction[i] ? 1 : 0;
      const t = editor.mask[i];
      both += p & t;
      sum += p + t;
    }
  }
  // Both empty on every corrected slice: the prediction agrees with "no tumour" exactly.
  return { dsc: sum === 0 ? 1 : (2 * both) / sum, slices: slices.length };
}
