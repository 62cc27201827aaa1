import {
  type Connectivity,
  keepLargestComponent,
  keepLargestComponentPerSlice,
  keepLargestComponents,
  removeSmallObjects,
} from './components.js';
import { type DenseCrfOptions, denseCrf, type ImageVolume, resolveCrf } from './crf.js';
import {
  ball,
  binaryClosing,
  binaryDilation,
  binaryErosion,
  binaryOpening,
  cross,
  cross3d,
  cube,
  disk,
  fillHoles,
  type StructuringElement,
  square,
} from './morphology.js';
import { type BinaryVolume, binarize, type Volume } from './volume.js';

/**
 * Post-processing pipelines named by short strings, so that a command line (`--post lcc3d,fill-holes2d`) and a
 * viewer's menu describe the same operations. A step is `name` or `name:arg[:arg]`. Mask steps act on the
 * thresholded mask; a probability step (the dense CRF) refines the probabilities before the threshold, so it must
 * come first and needs the image beside them.
 */

type MaskOp = (mask: BinaryVolume) => BinaryVolume;
type ProbabilityOp = (prob: Volume, image: ImageVolume) => Volume;

/** What a UI needs to offer a step. */
export interface PostprocessStepInfo {
  name: string;
  /** Grammar of the step, optional parts in brackets. */
  syntax: string;
  description: string;
  example: string;
}

/**
 * A parsed pipeline; `steps` holds the steps as given (trimmed), in order. Called on a mask it runs the mask
 * steps; when the pipeline starts with a probability step (`refine` not null) that call throws, since the step
 * needs the probabilities and the image: use `fromProbabilities` (or `refine` then the mask steps, `masks`).
 */
export interface Postprocess {
  (mask: BinaryVolume): BinaryVolume;
  readonly steps: readonly string[];
  /** The probability step before the threshold (the dense CRF), or null. */
  readonly refine: ProbabilityOp | null;
  /** The mask steps alone. */
  readonly masks: MaskOp;
  /**
   * The whole pipeline: `refine` (which needs `image`), foreground where the result > `threshold`, then the mask
   * steps.
   */
  fromProbabilities(prob: Volume, threshold: number, image?: ImageVolume): BinaryVolume;
}

/** A mask step (`build`) or a probability step run before the threshold (`buildRefine`). */
type StepSpec = PostprocessStepInfo &
  (
    | { build(args: string[], step: string): MaskOp; buildRefine?: undefined }
    | { buildRefine(args: string[], step: string): ProbabilityOp; build?: undefined }
  );

class StepError extends Error {}

function int(step: string, what: string, s: string | undefined, min: number): number {
  if (s === undefined || !/^\d+$/.test(s)) {
    throw new StepError(
      `step "${step}": ${what} must be an integer >= ${min}, got ${s === undefined ? 'nothing' : `"${s}"`}`,
    );
  }
  const v = Number(s);
  if (v < min) throw new StepError(`step "${step}": ${what} must be an integer >= ${min}, got ${v}`);
  return v;
}

function conn(
  step: string,
  s: string | undefined,
  allowed: readonly Connectivity[],
): Connectivity | undefined {
  if (s === undefined) return undefined;
  const c = Number(s) as Connectivity;
  if (!allowed.includes(c))
    throw new StepError(`step "${step}": connectivity must be one of ${allowed.join(', ')}, got "${s}"`);
  return c;
}

function maxArgs(step: string, args: string[], n: number): void {
  if (args.length > n)
    throw new StepError(`step "${step}": takes at most ${n} argument(s), got ${args.length}`);
}

const ELEMENTS = 'cross | cross3d | square[:n] | cube[:n] | disk:r | ball:r';

function parseElement(step: string, args: string[]): StructuringElement {
  const [kind, size, ...rest] = args;
  if (rest.length > 0) throw new StepError(`step "${step}": too many arguments for a structuring element`);
  switch (kind ?? 'cross') {
    case 'cross':
    case 'cross3d':
      if (size !== undefined) throw new StepError(`step "${step}": ${kind} takes no size`);
      return kind === 'cross3d' ? cross3d() : cross();
    case 'square':
      return square(size === undefined ? 3 : int(step, 'square size', size, 1));
    case 'cube':
      return cube(size === undefined ? 3 : int(step, 'cube size', size, 1));
    case 'disk':
      return disk(int(step, 'disk radius', size, 0));
    case 'ball':
      return ball(int(step, 'ball radius', size, 0));
    default:
      throw new StepError(`step "${step}": unknown structuring element "${kind}" (known: ${ELEMENTS})`);
  }
}

const ALL: readonly Connectivity[] = [4, 8, 6, 18, 26];

function morphStep(
  name: string,
  op: (m: BinaryVolume, se: StructuringElement) => BinaryVolume,
  what: string,
): StepSpec {
  return {
    name,
    syntax: `${name}[:element]  element = ${ELEMENTS}`,
    description: `Binary ${what} (SciPy semantics: outside the volume is background). Default element: the in-plane cross; planar elements act per slice.`,
    example: `${name}:square`,
    build(args, step) {
      const se = parseElement(step, args);
      return (m) => op(m, se);
    },
  };
}

const CRF_KEYS: Record<string, keyof DenseCrfOptions> = {
  wa: 'appearanceWeight',
  sa: 'appearanceSpatial',
  sb: 'appearanceIntensity',
  ws: 'smoothnessWeight',
  sg: 'smoothnessSpatial',
  it: 'iterations',
  sz: 'sliceSpacing',
};

/** `crf` arguments: `key=value` (keys above, `ch=1` or `ch=0+1+2`) and the flag `3d`. */
function parseCrf(step: string, args: string[]): DenseCrfOptions {
  const o: DenseCrfOptions = {};
  const seen = new Set<string>();
  for (const a of args) {
    const [key, value, ...more] = a.split('=');
    if (seen.has(key)) throw new StepError(`step "${step}": "${key}" given twice`);
    seen.add(key);
    if (key === '3d' && value === undefined) {
      o.volumetric = true;
      continue;
    }
    if (value === undefined || value === '' || more.length > 0)
      throw new StepError(`step "${step}": argument "${a}" must be key=value or 3d`);
    if (key === 'ch') {
      if (!/^\d+(\+\d+)*$/.test(value))
        throw new StepError(
          `step "${step}": ch must be channel indices joined by +, e.g. 1 or 0+1+2, got "${value}"`,
        );
      o.channels = value.split('+').map(Number);
      continue;
    }
    const name = CRF_KEYS[key];
    if (name === undefined)
      throw new StepError(
        `step "${step}": unknown argument "${key}" (known: ${Object.keys(CRF_KEYS).join(', ')}, ch, 3d)`,
      );
    if (!/^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(value))
      throw new StepError(`step "${step}": ${key} must be a number, got "${value}"`);
    (o as Record<string, number>)[name] = Number(value);
  }
  if (o.sliceSpacing !== undefined && !o.volumetric)
    throw new StepError(`step "${step}": sz (slice spacing) only applies with 3d`);
  try {
    resolveCrf(o);
  } catch (e) {
    throw new StepError(`step "${step}": ${(e as Error).message.replace(/^denseCrf: /, '')}`);
  }
  return o;
}

const STEPS: readonly StepSpec[] = [
  {
    name: 'crf',
    syntax: 'crf[:wa=w][:sa=px][:sb=s][:ws=w][:sg=px][:it=n][:ch=c+c][:3d][:sz=px]  (before any mask step)',
    description:
      'Dense CRF (Krähenbühl & Koltun 2011) on the probabilities before the threshold: appearance kernel weight wa, ' +
      'spatial sd sa px, intensity sd sb (image units: z-scores), smoothness kernel weight ws, sd sg px; it mean-field ' +
      'iterations; ch the image channels compared (default all); per slice, or 3d over the volume with slices sz px ' +
      'apart. Defaults wa=5 sa=15 sb=0.5 ws=3 sg=1 it=5. Needs the image (evaluate, predict and the viewer have it).',
    example: 'crf:wa=5:sa=15:sb=0.5',
    buildRefine(args, step) {
      const o = parseCrf(step, args);
      return (prob: Volume, image: ImageVolume) => denseCrf(prob, image, o);
    },
  },
  {
    name: 'lcc3d',
    syntax: 'lcc3d[:6|18|26]',
    description: 'Keep the largest 3-D connected component (default 6-connected, as the reference DSC).',
    example: 'lcc3d',
    build(args, step) {
      maxArgs(step, args, 1);
      const c = conn(step, args[0], [6, 18, 26]) ?? 6;
      return (m) => {
        if (m.shape.length !== 3)
          throw new StepError(`step "${step}": needs a 3-D mask [D,H,W], got [${m.shape.join(',')}]`);
        return keepLargestComponent(m, c);
      };
    },
  },
  {
    name: 'lcc2d',
    syntax: 'lcc2d[:4|8]',
    description: 'In every slice, keep the largest 2-D connected component (default 4-connected).',
    example: 'lcc2d:8',
    build(args, step) {
      maxArgs(step, args, 1);
      const c = (conn(step, args[0], [4, 8]) ?? 4) as 4 | 8;
      return (m) => keepLargestComponentPerSlice(m, c);
    },
  },
  {
    name: 'top-k',
    syntax: 'top-k:k[:connectivity]',
    description:
      'Keep the k largest connected components (default connectivity 6 for volumes, 4 for images).',
    example: 'top-k:2',
    build(args, step) {
      maxArgs(step, args, 2);
      const k = int(step, 'k', args[0], 1);
      const c = conn(step, args[1], ALL);
      return (m) => keepLargestComponents(m, k, c);
    },
  },
  {
    name: 'remove-small',
    syntax: 'remove-small:n[:connectivity]',
    description:
      'Remove connected components with fewer than n voxels (default connectivity 6 for volumes, 4 for images; 4 or 8 on a volume works per slice).',
    example: 'remove-small:20',
    build(args, step) {
      maxArgs(step, args, 2);
      const n = int(step, 'minimum size', args[0], 1);
      const c = conn(step, args[1], ALL);
      return (m) => removeSmallObjects(m, n, c);
    },
  },
  {
    name: 'fill-holes2d',
    syntax: 'fill-holes2d[:4|8]',
    description: 'Fill holes in every slice separately (background connectivity, default 4 as SciPy).',
    example: 'fill-holes2d',
    build(args, step) {
      maxArgs(step, args, 1);
      const c = conn(step, args[0], [4, 8]) ?? 4;
      return (m) => fillHoles(m, c);
    },
  },
  {
    name: 'fill-holes3d',
    syntax: 'fill-holes3d[:6|18|26]',
    description: 'Fill 3-D holes: background not connected to any face of the volume (default 6-connected).',
    example: 'fill-holes3d',
    build(args, step) {
      maxArgs(step, args, 1);
      const c = conn(step, args[0], [6, 18, 26]) ?? 6;
      return (m) => fillHoles(m, c);
    },
  },
  morphStep('erode', binaryErosion, 'erosion'),
  morphStep('dilate', binaryDilation, 'dilation'),
  morphStep('open', binaryOpening, 'opening (erosion then dilation)'),
  morphStep(
    'close',
    binaryClosing,
    'closing (dilation then erosion; may clear foreground on the volume edge)',
  ),
];

/** The steps `parsePostprocess` understands, for help texts and menus. */
export function listPostprocessSteps(): PostprocessStepInfo[] {
  return STEPS.map(({ name, syntax, description, example }) => ({ name, syntax, description, example }));
}

/**
 * Parses a pipeline from step strings (`['lcc3d', 'fill-holes2d', 'remove-small:20', 'open:cross']`) or one
 * comma-separated string (`'lcc3d,fill-holes2d'`). Steps run left to right; an empty pipeline returns its input.
 * Unknown steps and bad arguments throw at parse time, naming the step, as does a probability step (`crf`) that is
 * not first; a step that does not fit the mask it is applied to (e.g. `lcc3d` on a 2-D image) throws when applied,
 * naming the step too.
 */
export function parsePostprocess(spec: string | readonly string[]): Postprocess {
  const raw = typeof spec === 'string' ? spec.split(',') : [...spec];
  const steps = raw.map((s) => s.trim()).filter((s) => s.length > 0);
  const named = (step: string, e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    return new Error(e instanceof StepError ? `postprocess ${msg}` : `postprocess step "${step}": ${msg}`);
  };
  let refine: ProbabilityOp | null = null;
  let refineStep = '';
  const ops: MaskOp[] = [];
  steps.forEach((step, index) => {
    const [name, ...args] = step.split(':');
    const spec = STEPS.find((s) => s.name === name);
    if (spec === undefined) {
      throw new Error(
        `parsePostprocess: unknown step "${step}" (known: ${STEPS.map((s) => s.name).join(', ')})`,
      );
    }
    let mask: MaskOp | undefined;
    let prob: ProbabilityOp | undefined;
    try {
      if (spec.buildRefine !== undefined && index > 0)
        throw new StepError(
          `step "${step}": works on the probabilities before the threshold, so it must come first (here it follows "${steps[index - 1]}")`,
        );
      if (spec.buildRefine !== undefined) prob = spec.buildRefine(args, step);
      else mask = spec.build(args, step);
    } catch (e) {
      if (e instanceof StepError) throw new Error(`parsePostprocess: ${e.message}`);
      throw new Error(`parsePostprocess: step "${step}": ${e instanceof Error ? e.message : String(e)}`);
    }
    if (prob !== undefined) {
      const f = prob;
      refineStep = step;
      refine = (prob, image) => {
        try {
          return f(prob, image);
        } catch (e) {
          throw named(step, e);
        }
      };
    } else if (mask !== undefined) {
      const f = mask;
      ops.push((m) => {
        try {
          return f(m);
        } catch (e) {
          throw named(step, e);
        }
      });
    }
  });
  const masks = (mask: BinaryVolume): BinaryVolume => ops.reduce((m, op) => op(m), mask);
  const run = (mask: BinaryVolume): BinaryVolume => {
    if (refine !== null)
      throw new Error(
        `postprocess step "${refineStep}" works on the probabilities and the image, not on a mask: use the pipeline's fromProbabilities(prob, threshold, image)`,
      );
    return masks(mask);
  };
  const fromProbabilities = (prob: Volume, threshold: number, image?: ImageVolume): BinaryVolume => {
    let p = prob;
    if (refine !== null) {
      if (image === undefined)
        throw new Error(`postprocess step "${refineStep}" needs the image beside the probabilities`);
      p = (refine as ProbabilityOp)(prob, image);
    }
    return masks(binarize(p, threshold));
  };
  return Object.assign(run, { steps, refine, masks, fromProbabilities });
}
