import {
  type Connectivity,
  isPlanar,
  labelComponents,
  neighbourOffsets,
  resolveConnectivity,
} from './components.js';
import { type BinaryVolume, type Dims, dimsOf, formatShape } from './volume.js';

/**
 * A flat, symmetric structuring element given by its offsets [dz, dy, dx] from the centre (origin included).
 * Planar elements (all dz = 0) act on each slice of a volume separately. Every element here is symmetric, so
 * dilation needs no reflection of the element.
 */
export interface StructuringElement {
  readonly name: string;
  readonly offsets: readonly (readonly [number, number, number])[];
  readonly planar: boolean;
}

function element(name: string, offsets: [number, number, number][]): StructuringElement {
  return { name, offsets, planar: offsets.every((o) => o[0] === 0) };
}

function fromConnectivity(name: string, c: Connectivity): StructuringElement {
  return element(name, [[0, 0, 0], ...neighbourOffsets(c)]);
}

/** 3×3 cross in the slice plane: SciPy's `generate_binary_structure(2, 1)`, its default for images. */
export function cross(): StructuringElement {
  return fromConnectivity('cross', 4);
}

/** 3×3×3 face cross (6 neighbours): SciPy's `generate_binary_structure(3, 1)`, its default for volumes. */
export function cross3d(): StructuringElement {
  return fromConnectivity('cross3d', 6);
}

function checkOddSize(fn: string, size: number): number {
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0) {
    throw new Error(`${fn}: size must be an odd integer >= 1 (a centred element), got ${size}`);
  }
  return (size - 1) / 2;
}

function checkRadius(fn: string, r: number): void {
  if (!Number.isInteger(r) || r < 0)
    throw new Error(`${fn}: radius must be a non-negative integer, got ${r}`);
}

/** size×size square in the slice plane (3 = SciPy's `generate_binary_structure(2, 2)`). */
export function square(size = 3): StructuringElement {
  const h = checkOddSize('square', size);
  const o: [number, number, number][] = [];
  for (let dy = -h; dy <= h; dy++) for (let dx = -h; dx <= h; dx++) o.push([0, dy, dx]);
  return element(size === 3 ? 'square' : `square:${size}`, o);
}

/** size×size×size cube. */
export function cube(size = 3): StructuringElement {
  const h = checkOddSize('cube', size);
  const o: [number, number, number][] = [];
  for (let dz = -h; dz <= h; dz++) {
    for (let dy = -h; dy <= h; dy++) for (let dx = -h; dx <= h; dx++) o.push([dz, dy, dx]);
  }
  return element(size === 3 ? 'cube' : `cube:${size}`, o);
}

/** Disk in the slice plane: offsets with dy² + dx² ≤ r², like `skimage.morphology.disk(r)`. */
export function disk(radius: number): StructuringElement {
  checkRadius('disk', radius);
  const o: [number, number, number][] = [];
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) if (dy * dy + dx * dx <= radius * radius) o.push([0, dy, dx]);
  }
  return element(`disk:${radius}`, o);
}

/** Ball: offsets with dz² + dy² + dx² ≤ r², like `skimage.morphology.ball(r)`. */
export function ball(radius: number): StructuringElement {
  checkRadius('ball', radius);
  const o: [number, number, number][] = [];
  const r2 = radius * radius;
  for (let dz = -radius; dz <= radius; dz++) {
    for (let dy = -radius; dy <= radius; dy++) {
      for (let dx = -radius; dx <= radius; dx++) if (dz * dz + dy * dy + dx * dx <= r2) o.push([dz, dy, dx]);
    }
  }
  return element(`ball:${radius}`, o);
}

function resolveElement(fn: string, dims: Dims, shape: readonly number[], se?: StructuringElement) {
  const el = se ?? (dims.is3d ? cross3d() : cross());
  if (!dims.is3d && !el.planar) {
    throw new Error(`${fn}: element ${el.name} needs a 3-D mask [D,H,W], got shape ${formatShape(shape)}`);
  }
  if (el.offsets.length === 0) throw new Error(`${fn}: element ${el.name} is empty`);
  return el;
}

/**
 * One pass of erosion (`erode`) or dilation over whole rows per offset. Voxels outside the volume count as
 * background (SciPy's `border_value=0`): erosion therefore clears foreground that touches the edge of the volume
 * whenever the element reaches past it.
 */
function morph(src: Uint8Array, dims: Dims, se: StructuringElement, erode: boolean): Uint8Array {
  const { depth, height, width } = dims;
  const plane = height * width;
  const out = new Uint8Array(src.length);
  if (erode) out.fill(1);
  for (const [dz, dy, dx] of se.offsets) {
    // Erosion reads src[p + o]; dilation (element symmetric) reads src[p - o] — the same set of offsets.
    const oz = erode ? dz : -dz;
    const oy = erode ? dy : -dy;
    const ox = erode ? dx : -dx;
    const xs = Math.max(0, -ox);
    const xe = Math.min(width, width - ox);
    for (let z = 0; z < depth; z++) {
      const sz = z + oz;
      for (let y = 0; y < height; y++) {
        const row = z * plane + y * width;
        const sy = y + oy;
        const inside = sz >= 0 && sz < depth && sy >= 0 && sy < height && xs < xe;
        if (!inside) {
          if (erode) out.fill(0, row, row + width);
          continue;
        }
        const srow = sz * plane + sy * width + ox;
        if (erode) {
          for (let x = 0; x < xs; x++) out[row + x] = 0;
          for (let x = xs; x < xe; x++) if (src[srow + x] === 0) out[row + x] = 0;
          for (let x = xe; x < width; x++) out[row + x] = 0;
        } else {
          for (let x = xs; x < xe; x++) if (src[srow + x] !== 0) out[row + x] = 1;
        }
      }
    }
  }
  return out;
}

/** `scipy.ndimage.binary_erosion(mask, structure)` with border value 0, one iteration. Default element: cross. */
export function binaryErosion(mask: BinaryVolume, se?: StructuringElement): BinaryVolume {
  const dims = dimsOf('binaryErosion', 'mask', mask);
  const el = resolveElement('binaryErosion', dims, mask.shape, se);
  return { data: morph(mask.data, dims, el, true), shape: mask.shape };
}

/** `scipy.ndimage.binary_dilation(mask, structure)`, one iteration. Default element: cross. */
export function binaryDilation(mask: BinaryVolume, se?: StructuringElement): BinaryVolume {
  const dims = dimsOf('binaryDilation', 'mask', mask);
  const el = resolveElement('binaryDilation', dims, mask.shape, se);
  return { data: morph(mask.data, dims, el, false), shape: mask.shape };
}

/** Erosion then dilation, as `scipy.ndimage.binary_opening`. */
export function binaryOpening(mask: BinaryVolume, se?: StructuringElement): BinaryVolume {
  const dims = dimsOf('binaryOpening', 'mask', mask);
  const el = resolveElement('binaryOpening', dims, mask.shape, se);
  return { data: morph(morph(mask.data, dims, el, true), dims, el, false), shape: mask.shape };
}

/**
 * Dilation then erosion, as `scipy.ndimage.binary_closing`. Because the erosion sees background beyond the
 * border, closing can remove foreground along the edge of the volume (SciPy behaves the same way); it is not
 * extensive there.
 */
export function binaryClosing(mask: BinaryVolume, se?: StructuringElement): BinaryVolume {
  const dims = dimsOf('binaryClosing', 'mask', mask);
  const el = resolveElement('binaryClosing', dims, mask.shape, se);
  return { data: morph(morph(mask.data, dims, el, false), dims, el, true), shape: mask.shape };
}

/**
 * Fills holes: background regions not connected to the border of the image, as `scipy.ndimage.binary_fill_holes`.
 * `connectivity` is that of the background (SciPy's `structure`; default 4 for an image, 6 for a volume). With 4
 * or 8 on a volume every slice is filled on its own (border = the slice's edges); with 6 / 18 / 26 the border is
 * all six faces of the volume.
 */
export function fillHoles(mask: BinaryVolume, connectivity?: Connectivity): BinaryVolume {
  const dims = dimsOf('fillHoles', 'mask', mask);
  const conn = resolveConnectivity('fillHoles', dims, mask.shape, connectivity);
  const { depth, height, width } = dims;
  const src = mask.data;
  const inv = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) inv[i] = src[i] === 0 ? 1 : 0;
  const lab = labelComponents({ data: inv, shape: mask.shape }, conn);
  const outside = new Uint8Array(lab.count + 1);
  const labels = lab.labels;
  const plane = height * width;
  const zFaces = !isPlanar(conn);
  for (let z = 0; z < depth; z++) {
    const zEdge = zFaces && (z === 0 || z === depth - 1);
    for (let y = 0; y < height; y++) {
      const row = z * plane + y * width;
      if (zEdge || y === 0 || y === height - 1) {
        for (let x = 0; x < width; x++) outside[labels[row + x]] = 1;
      } else {
        outside[labels[row]] = 1;
        outside[labels[row + width - 1]] = 1;
      }
    }
  }
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const l = labels[i];
    out[i] = l === 0 || outside[l] === 0 ? 1 : 0;
  }
  return { data: out, shape: mask.shape };
}
