/** Node-only: a model's weights and configuration in one safetensors file; pretrained models with a cache folder. */
import { join } from 'node:path';
import { type CheckpointMetadata, loadCheckpoint, saveCheckpoint } from '@mriseg/nn/node';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import type { SegmentationModel } from './blocks.js';
import { exportOnnx, type OnnxExportOptions } from './onnx/export.js';
import { cacheKey, fetchPretrained, type PretrainedBytes } from './pretrained/download.js';
import { type LoadPretrainedOptions, modelFromPretrained, type PretrainedModel } from './pretrained/load.js';
import { defaultCacheDir, downloadUrl, fetchWithFiles, folderStore } from './pretrained/node-store.js';
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

export { defaultCacheDir, folderStore } from './pretrained/node-store.js';

export interface NodePretrainedOptions extends Omit<LoadPretrainedOptions, 'cache'> {
  /** The cache folder (default: defaultCacheDir()); null: no cache, download every time. */
  cacheDir?: string | null;
}

/**
 * The file of pretrained model `name`, verified, from the cache folder or downloaded (http(s) URL, file: URL or a
 * local path as `url`) and then cached atomically; a damaged cached copy is removed and fetched again, or refused
 * with a message saying so when there is nothing to fetch it from. `path` is the verified file in the cache.
 */
export async function downloadPretrained(
  name: string,
  options: NodePretrainedOptions = {},
): Promise<PretrainedBytes & { path: string | null }> {
  const { cacheDir, url, ...rest } = options;
  const dir = cacheDir === null ? null : (cacheDir ?? defaultCacheDir());
  const store = dir === null ? null : folderStore(dir);
  const got = await fetchPretrained(name, {
    fetch: fetchWithFiles,
    ...rest,
    url: url === undefined ? undefined : downloadUrl(url),
    store,
  });
  return { ...got, path: dir === null ? null : join(dir, cacheKey(got.file)) };
}

/**
 * Node: the pretrained model `name` (see PRETRAINED) built and loaded, in eval mode, from its verified file
 * (downloadPretrained). Needs the WebGPU device (`initDevice()`).
 */
export async function loadPretrained(
  name: string,
  options: NodePretrainedOptions = {},
): Promise<PretrainedModel> {
  return modelFromPretrained(await downloadPretrained(name, options));
}
