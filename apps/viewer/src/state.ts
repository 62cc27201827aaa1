/**
 * The viewer's view state: a plain object and pure functions that return a changed copy. Nothing here touches the
 * DOM, so every rule (clamping, zoom about the cursor, key bindings) is unit-tested in Node.
 */

export const CHANNELS = ['flair', 'pre', 'post', 'rgb'] as const;
export type Channel = (typeof CHANNELS)[number];
/** Channel index of each single channel in the dataset's (pre-contrast, FLAIR, post-contrast) order. */
export const CHANNEL_INDEX: Record<Exclude<Channel, 'rgb'>, number> = { pre: 0, flair: 1, post: 2 };
export const CHANNEL_LABELS: Record<Channel, string> = {
  flair: 'FLAIR',
  pre: 'Pre-contrast',
  post: 'Post-contrast',
  rgb: 'RGB composite',
};

export type OverlayStyle = 'fill' | 'outline' | 'both';
/** 'overlay': ground truth green, prediction red; 'errors': true positives, false positives, false negatives. */
export type ColourMode = 'overlay' | 'errors';
export type Layout = 'single' | 'side-by-side';

export interface OverlayState {
  visible: boolean;
  /** 0..1 */
  opacity: number;
}

export interface ViewState {
  /** Number of slices of the loaded volume (0 when none). */
  depth: number;
  slice: number;
  channel: Channel;
  /** Window width and centre in the units of the displayed image (z-scores after the reference preprocessing). */
  window: number;
  level: number;
  /** Display scale relative to "fit"; pan in canvas pixels. */
  zoom: number;
  panX: number;
  panY: number;
  truth: OverlayState;
  prediction: OverlayState;
  style: OverlayStyle;
  mode: ColourMode;
  /** Probability above which a pixel is predicted foreground. */
  threshold: number;
  /** Post-processing steps (names understood by @mriseg/metrics' parsePostprocess), in order. */
  postprocess: string[];
  layout: Layout;
}

export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 16;
export const MIN_WINDOW = 0.05;
/** Window/level that shows about ±3 standard deviations of a z-scored channel. */
export const DEFAULT_WINDOW = 6;
export const DEFAULT_LEVEL = 0;

export function initialState(depth = 0): ViewState {
  return {
    depth,
    slice: depth > 0 ? Math.floor(depth / 2) : 0,
    channel: 'flair',
    window: DEFAULT_WINDOW,
    level: DEFAULT_LEVEL,
    zoom: 1,
    panX: 0,
    panY: 0,
    truth: { visible: true, opacity: 0.45 },
    prediction: { visible: true, opacity: 0.45 },
    style: 'both',
    mode: 'overlay',
    threshold: 0.5,
    postprocess: ['lcc3d'],
    layout: 'single',
  };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** A new volume: keeps the display choices, centres the slice. */
export function withVolume(s: ViewState, depth: number): ViewState {
  return { ...s, depth, slice: depth > 0 ? Math.floor(depth / 2) : 0 };
}

export function setSlice(s: ViewState, slice: number): ViewState {
  const z = s.depth > 0 ? clamp(Math.round(slice), 0, s.depth - 1) : 0;
  return z === s.slice ? s : { ...s, slice: z };
}

export function stepSlice(s: ViewState, delta: number): ViewState {
  return setSlice(s, s.slice + delta);
}

export function setChannel(s: ViewState, channel: Channel): ViewState {
  if (!CHANNELS.includes(channel)) throw new Error(`unknown channel "${channel}"`);
  return { ...s, channel };
}

export function setWindowLevel(s: ViewState, window: number, level: number): ViewState {
  return { ...s, window: Math.max(MIN_WINDOW, window), level };
}

/** Maps a value through the window to 0..255 (below the window black, above white). */
export function windowValue(v: number, window: number, level: number): number {
  const t = (v - (level - window / 2)) / window;
  return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
}

/**
 * A window/level from the data: from the lowest value (the zeroed background after preprocessing) to the 99.5th
 * percentile, estimated on a strided sample so it stays cheap on 256×256×80 volumes.
 */
export function autoWindow(values: ArrayLike<number>, samples = 65_536): [window: number, level: number] {
  const n = values.length;
  if (n === 0) return [DEFAULT_WINDOW, DEFAULT_LEVEL];
  const stride = Math.max(1, Math.floor(n / samples));
  const picked: number[] = [];
  for (let i = 0; i < n; i += stride) picked.push(values[i]);
  picked.sort((a, b) => a - b);
  const lo = picked[0];
  const hi = picked[Math.min(picked.length - 1, Math.floor(0.995 * (picked.length - 1)))];
  const window = Math.max(MIN_WINDOW, hi - lo);
  return [window, lo + window / 2];
}

/**
 * Zooms by `factor` keeping the canvas point (cx, cy) (relative to the canvas centre) fixed on screen.
 * The image is drawn centred at (panX, panY) scaled by zoom, so a point p maps to pan + zoom·p.
 */
export function zoomAt(s: ViewState, factor: number, cx = 0, cy = 0): ViewState {
  const zoom = clamp(s.zoom * factor, MIN_ZOOM, MAX_ZOOM);
  const k = zoom / s.zoom;
  return { ...s, zoom, panX: cx - (cx - s.panX) * k, panY: cy - (cy - s.panY) * k };
}

export function panBy(s: ViewState, dx: number, dy: number): ViewState {
  return { ...s, panX: s.panX + dx, panY: s.panY + dy };
}

/** Zoom and pan back to "fit" (the window is left alone: see autoWindow). */
export function resetView(s: ViewState): ViewState {
  return { ...s, zoom: 1, panX: 0, panY: 0 };
}

export type OverlayName = 'truth' | 'prediction';

export function setOverlay(s: ViewState, which: OverlayName, patch: Partial<OverlayState>): ViewState {
  const o = { ...s[which], ...patch };
  o.opacity = clamp(o.opacity, 0, 1);
  return { ...s, [which]: o };
}

export function toggleOverlay(s: ViewState, which: OverlayName): ViewState {
  return setOverlay(s, which, { visible: !s[which].visible });
}

export function setThreshold(s: ViewState, threshold: number): ViewState {
  return { ...s, threshold: clamp(threshold, 0, 1) };
}

export function setPostprocess(s: ViewState, steps: readonly string[]): ViewState {
  return { ...s, postprocess: steps.map((x) => x.trim()).filter((x) => x.length > 0) };
}

export function setMode(s: ViewState, mode: ColourMode): ViewState {
  return { ...s, mode };
}

export function setStyle(s: ViewState, style: OverlayStyle): ViewState {
  return { ...s, style };
}

export function setLayout(s: ViewState, layout: Layout): ViewState {
  return { ...s, layout };
}

/** The state after a key press on the image, or null when the key means nothing there. */
export function keyAction(s: ViewState, key: string): ViewState | null {
  switch (key) {
    case 'ArrowUp':
    case 'ArrowRight':
      return stepSlice(s, 1);
    case 'ArrowDown':
    case 'ArrowLeft':
      return stepSlice(s, -1);
    case 'PageUp':
      return stepSlice(s, 10);
    case 'PageDown':
      return stepSlice(s, -10);
    case 'Home':
      return setSlice(s, 0);
    case 'End':
      return setSlice(s, s.depth - 1);
    case '+':
    case '=':
      return zoomAt(s, 1.25);
    case '-':
      return zoomAt(s, 1 / 1.25);
    case '0':
      return resetView(s);
    case 'g':
      return toggleOverlay(s, 'truth');
    case 'p':
      return toggleOverlay(s, 'prediction');
    default:
      return null;
  }
}

/** Slices a wheel event moves: one a notch, whatever the device's delta scale. */
export function wheelSteps(deltaY: number): number {
  return deltaY === 0 ? 0 : Math.sign(deltaY);
}

/**
 * The slice to jump to as "worst": the lowest per-slice DSC among slices where the truth or the prediction has
 * foreground (ties: the larger tumour), or null when no slice has any.
 */
export function worstSlice(
  perSlice: readonly (number | null)[],
  truthArea: readonly number[],
  predArea: readonly number[],
): number | null {
  let best: number | null = null;
  for (let z = 0; z < perSlice.length; z++) {
    const d = perSlice[z];
    if (d === null || truthArea[z] + predArea[z] === 0) continue;
    if (
      best === null ||
      d < (perSlice[best] as number) ||
      (d === perSlice[best] && truthArea[z] > truthArea[best])
    ) {
      best = z;
    }
  }
  return best;
}
