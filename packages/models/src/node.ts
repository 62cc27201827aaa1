/** Node-only: a model's weights and configuration in one safetensors file. */
import { type CheckpointMetadata, loadCheckpoint, saveCheckpoint } from '@mriseg/nn/node';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import type { SegmentationModel } from './blocks.js';
import { exportOnnx, type OnnxExportOptions } from './onnx/export.js';
import { modelFromConfig } from './registry.js';
import { configFromStateDict } from './state-dict-config.js';

/** Saves the model's state dict (PyTorch keys) with its configuration, atomically. */
export async function saveModel(
  path: string,
  model: SegmentationModel,
  metadata: CheckpointMetadata = {},
): Promise<void> {
  await saveCheckpoint(path, {
    model,
    metadata: { modelName: model.architecture, config: model.config(), ...metadata },
  });
}

/**
 * Builds the model a checkpoint describes and loads its weights (errors name the file). A file without mriseg's
 * configuration (a PyTorch `.pt` or plain safetensors state dict) gets the architecture its keys and shapes show.
 */
export function loadModel(path: string): SegmentationModel {
  const ck = loadCheckpoint(path);
  let model: SegmentationModel;
  try {
    model = modelFromConfig(ck.metadata.config ?? configFromStateDict(ck.model));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}; pass the model to loadStateDictFile instead`);
  }
  try {
    model.loadStateDict(ck.model);
  } catch (e) {
    model.dispose();
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  return model;
}

/** Exports the model to ONNX (see exportOnnx) and writes the file atomically. */
export async function saveOnnx(
  path: string,
  model: SegmentationModel,
  options: OnnxExportOptions,
): Promise<void> {
  writeFileAtomic(path, await exportOnnx(model, options));
}
