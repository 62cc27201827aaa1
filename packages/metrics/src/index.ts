// Segmentation metrics and mask post-processing on CPU typed arrays (no runtime dependencies).
export {
  CONNECTIVITIES,
  type Connectivity,
  countComponents,
  keepComponentsAtLeast,
  keepLargestComponent,
  keepLargestComponentPerSlice,
  keepLargestComponents,
  type Labeling,
  labelComponents,
  removeSmallObjects,
} from './components.js';
export { DEFAULT_CRF, type DenseCrfOptions, denseCrf, type ImageVolume } from './crf.js';
export { distanceTransform } from './distance.js';
export {
  type Case,
  meanReferenceDsc,
  type ReferenceDscOptions,
  referenceDsc,
  referencePrediction,
} from './dsc.js';
export {
  type CaseMetrics,
  type EvaluateOptions,
  evaluateCases,
  formatReport,
  METRIC_NAMES,
  type MetricName,
  type MetricsReport,
} from './evaluate.js';
export {
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
export {
  type Confusion,
  confusion,
  dice,
  diceFromConfusion,
  type EmptySlicePolicy,
  iou,
  type OverlapMetrics,
  overlapFromConfusion,
  type PerSliceDsc,
  perSliceDsc,
  precision,
  type RatioOptions,
  recall,
  specificity,
  volumeSimilarity,
} from './overlap.js';
export { PermutohedralLattice } from './permutohedral.js';
export {
  listPostprocessSteps,
  type Postprocess,
  type PostprocessStepInfo,
  parsePostprocess,
} from './postprocess.js';
export {
  DEFAULT_REMOVE_SMALL_SIZES,
  defaultSelectSteps,
  defaultSelectThresholds,
  type SelectOptions,
  type SelectResult,
  type SelectTrial,
  selectPostprocess,
} from './select.js';
export { percentile, percentileSorted, type Summary, summarize } from './summary.js';
export {
  averageSurfaceDistance,
  averageSurfaceDistanceFromDistances,
  hausdorff,
  hausdorffFromDistances,
  hausdorffPercentile,
  hd95,
  type SurfaceDistances,
  type SurfaceOptions,
  surface,
  surfaceDice,
  surfaceDiceFromDistances,
  surfaceDistances,
} from './surface.js';
export {
  defaultThresholdGrid,
  searchThreshold,
  type ThresholdPoint,
  type ThresholdSearchOptions,
  type ThresholdSearchResult,
} from './threshold.js';
export {
  type BinaryVolume,
  binarize,
  binaryVolume,
  countForeground,
  type Shape,
  type Shape2D,
  type Shape3D,
  type Spacing,
  type Volume,
  volume,
} from './volume.js';
