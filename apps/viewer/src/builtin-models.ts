/**
 * The models that come with the viewer: the reference U-Net for real MRI (public/models/, its weights stored as
 * float16 and checked against the @mriseg/models manifest, kept in the Cache API after the first download) and the
 * phantom demo's tiny U-Net (public/demo/), with what the page says about each.
 */
import { cacheStorageStore, fetchPretrained, pretrainedManifest } from '@mriseg/models';

export type ModelSource = 'unet-lgg' | 'demo' | 'file';

const lgg = pretrainedManifest('unet-lgg');
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** One line each, for the note under the model choice. */
export const MODEL_NOTES: Record<ModelSource, string> = {
  'unet-lgg':
    `Trained by mriseg on 99 kaggle_3m patients (lower-grade glioma, FLAIR abnormality); held-out mean DSC ` +
    `${lgg.metrics[0].value.toFixed(3)} on 11 patients. ${lgg.inference.inputSize} px, ` +
    `${(lgg.parameters / 1e6).toFixed(1)} M parameters, ${mb(lgg.files.f16.bytes)} (float16, run in float32). ` +
    'Wants a fast GPU. Research use only, not a medical device.',
  demo:
    'A 4-feature U-Net trained for minutes on synthetic 64 px phantoms: shows how the viewer works, on any ' +
    'machine. Its output on real MRI means nothing.',
  file: 'The checkpoint opened below; its config, input size and preprocessing come from the file.',
};

/** The reference model's file, from the browser cache when a verified copy is there, else downloaded and checked. */
export async function referenceModelBytes(
  onProgress: (received: number, total: number) => void,
): Promise<{ bytes: Uint8Array; name: string; from: 'cache' | 'download' }> {
  const file = lgg.files.f16;
  const got = await fetchPretrained('unet-lgg', {
    dtype: 'f16',
    url: new URL(`models/${file.file}`, document.baseURI).href,
    store: typeof caches === 'undefined' ? null : cacheStorageStore(),
    onProgress,
  });
  return { bytes: got.bytes, name: file.file, from: got.from };
}

export const downloadProgress = (received: number, total: number): string =>
  `Downloading the reference model: ${mb(received)} of ${mb(total)}`;
