/**
 * Makes the viewer's real-data model, public/models/unet-lgg-f16.safetensors: the reference U-Net
 * (`../shared/models/unet-lgg-f32.safetensors`, checked against the @mriseg/models manifest) with its convolution
 * kernels stored as float16 and its inference spec recorded, so the page runs it as it was trained.
 *
 *   pnpm --filter @mriseg/viewer make-model [path of unet-lgg-f32.safetensors]
 *
 * The output is deterministic: its size and SHA-256 are the manifest's f16 entry (a rerun must print the same).
 * The viewer's build runs it with `--if-available`: the file is made from the shared reference model, not kept in
 * git; without that model the build goes on and says so (the page then reports the reference model missing).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pretrainedHalfPrecision, pretrainedManifest, sha256Hex } from '@mriseg/models';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const ifAvailable = args.includes('--if-available');
const source =
  args.find((a) => a !== '--if-available') ??
  join(here, '..', '..', '..', '..', 'shared', 'models', 'unet-lgg-f32.safetensors');
const out = join(here, '..', 'public', 'models');

async function main(): Promise<void> {
  const manifest = pretrainedManifest('unet-lgg');
  if (ifAvailable && !existsSync(source)) {
    console.log(`viewer: ${source} not found; the page is built without its reference model`);
    return;
  }
  const target = join(out, manifest.files.f16.file);
  if (
    ifAvailable &&
    existsSync(target) &&
    (await sha256Hex(readFileSync(target))) === manifest.files.f16.sha256
  )
    return;
  const f32 = new Uint8Array(readFileSync(source));
  const hash = await sha256Hex(f32);
  if (hash !== manifest.files.f32.sha256)
    throw new Error(`${source}: sha256 ${hash}, not the manifest's ${manifest.files.f32.sha256}`);
  const half = pretrainedHalfPrecision(manifest, f32, source);
  mkdirSync(out, { recursive: true });
  const path = target;
  writeFileAtomic(path, half.bytes);
  console.log(
    `${path}: ${half.bytes.byteLength} bytes, sha256 ${await sha256Hex(half.bytes)}; ${half.converted.length} ` +
      `tensors as F16 (largest rounding error ${half.maxRelativeError.toExponential(2)} of a tensor's largest weight)`,
  );
}

await main();
