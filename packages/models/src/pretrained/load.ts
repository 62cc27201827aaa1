/**
 * A pretrained model ready to run: the verified file parsed, the model its manifest describes built on the
 * WebGPU device and its weights loaded, in eval mode. The browser's `loadPretrained` caches in the Cache API.
 */
import { type InferenceSpec, parseCheckpoint } from '@mriseg/nn';
import type { SegmentationModel } from '../blocks.js';
import { modelFromConfig } from '../registry.js';
import {
  type FetchPretrainedOptions,
  fetchPretrained,
  type ModelStore,
  type PretrainedBytes,
  PretrainedError,
} from './download.js';
import type { PretrainedFile, PretrainedManifest } from './manifest.js';

export interface PretrainedModel {
  model: SegmentationModel;
  manifest: PretrainedManifest;
  file: PretrainedFile;
  /** How to run it: the spec the file records, else the manifest's. */
  inference: InferenceSpec;
  from: 'cache' | 'download';
  location: string;
}

/** Builds the manifest's model and loads the verified file's weights (needs the WebGPU device). */
export function modelFromPretrained(p: PretrainedBytes): PretrainedModel {
  const ck = parseCheckpoint(p.bytes, p.location);
  const stored = ck.metadata.config as { architecture?: unknown } | undefined;
  if (stored && stored.architecture !== p.manifest.architecture) {
    throw new PretrainedError(
      `${p.location}: the file holds a ${String(stored.architecture)}, the manifest of ${p.manifest.name} a ${p.manifest.architecture}`,
    );
  }
  const model = modelFromConfig(stored ?? p.manifest.config);
  try {
    model.loadStateDict(ck.model);
  } catch (e) {
    model.dispose();
    throw new PretrainedError(`${p.location}: ${(e as Error).message}`);
  }
  model.eval();
  return {
    model,
    manifest: p.manifest,
    file: p.file,
    inference: ck.metadata.inference ?? p.manifest.inference,
    from: p.from,
    location: p.location,
  };
}

/** The Cache API (a page's or worker's `caches`) as a ModelStore. */
export function cacheStorageStore(cacheName = 'mriseg-models'): ModelStore {
  // Keys are URLs in the Cache API; the reserved .invalid domain makes clear no request goes there.
  const url = (key: string) => `https://mriseg.invalid/pretrained/${key}`;
  return {
    where: `the browser's Cache Storage "${cacheName}"`,
    async read(key) {
      const hit = await (await caches.open(cacheName)).match(url(key));
      return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
    },
    async write(key, bytes) {
      const body = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
      await (await caches.open(cacheName)).put(url(key), new Response(body));
    },
    async remove(key) {
      await (await caches.open(cacheName)).delete(url(key));
    },
  };
}

export interface LoadPretrainedOptions extends Omit<FetchPretrainedOptions, 'store'> {
  /** The Cache Storage cache to keep verified files in (default 'mriseg-models'); false: none. */
  cache?: string | false;
}

/**
 * Browser: the pretrained model `name` (see PRETRAINED), its file from the Cache API when a verified copy is
 * there, else fetched from `url` (or the manifest's address), checked against the manifest's SHA-256 and cached.
 * Without the Cache API (an opaque origin, Node) it downloads every time. In Node use `@mriseg/models/node`.
 */
export async function loadPretrained(
  name: string,
  options: LoadPretrainedOptions = {},
): Promise<PretrainedModel> {
  const { cache, ...rest } = options;
  const store =
    cache !== false && typeof caches !== 'undefined' ? cacheStorageStore(cache || undefined) : null;
  return modelFromPretrained(await fetchPretrained(name, { ...rest, store }));
}
