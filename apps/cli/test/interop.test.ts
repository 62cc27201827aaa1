/**
 * `convert` and `export` end to end: a U-Net saved by PyTorch (packages/nn/test/fixtures/torch/) becomes a
 * checkpoint, predicts the same masks as the .pt itself, and its ONNX export run by ONNX Runtime gives PyTorch's
 * own probabilities. Bad inputs end in one line and the right exit code, with the input untouched.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeOnnxModel } from '@mriseg/models';
import { loadCheckpoint } from '@mriseg/nn/node';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureConsole, tinyDataset } from './fixture.js';

const io = captureConsole();
const FIXTURES = new URL('../../../packages/nn/test/fixtures/torch/', import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;

let dir: string;
let fx: ReturnType<typeof tinyDataset>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mriseg-interop-'));
  fx = tinyDataset();
  for (const f of ['unet-f2.zip.pt', 'unet-f2.legacy.pt', 'malicious.zip.pt', 'mixed.zip.pt'])
    copyFileSync(fixture(f), join(dir, f));
});

/** Every file under `root` with its bytes, by relative path. */
function tree(root: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(root).sort()) {
    const p = join(root, name);
    if (statSync(p).isDirectory()) for (const [k, v] of tree(p, `${prefix}${name}/`)) out.set(k, v);
    else out.set(prefix + name, readFileSync(p));
  }
  return out;
}

/** Each command line fails with its exit code and one line of stderr matching its pattern. */
async function expectErrors(cases: [string[], number, RegExp][]): Promise<void> {
  for (const [argv, code, pattern] of cases) {
    io.err.length = 0;
    expect(await main(argv), argv.join(' ')).toBe(code);
    expect(io.err, argv.join(' ')).toHaveLength(1);
    expect(io.err[0]).toMatch(pattern);
  }
}

describe('convert', () => {
  it('writes a checkpoint with the architecture, widths and inference settings; predict gives the .pt’s masks', async () => {
    const out = join(dir, 'unet.safetensors');
    expect(await main(['convert', join(dir, 'unet-f2.zip.pt'), out, '--image-size', '64'])).toBe(0);
    expect(io.out.join('\n')).toMatch(/wrote .*unet\.safetensors: unet \(features 2, 30,751 parameters\)/);
    const ck = loadCheckpoint(out);
    expect(ck.metadata.config).toEqual({ architecture: 'unet', inChannels: 3, outChannels: 1, features: 2 });
    expect(ck.metadata.inference).toMatchObject({ inputSize: 64, threshold: 0.5, postprocess: 'lcc3d' });
    expect(ck.rawMetadata['mriseg.converted-from']).toBe('unet-f2.zip.pt');
    const pt = loadCheckpoint(join(dir, 'unet-f2.zip.pt')).model;
    for (const [k, v] of pt) expect(Array.from(ck.model.get(k)!.data), k).toEqual(Array.from(v.data));

    const patient = join(fx.data, readdirSync(fx.data).find((n) => n.startsWith('TCGA'))!);
    const masks = (checkpoint: string, to: string) =>
      main(['predict', '--checkpoint', checkpoint, '--input', patient, '--out', to, '--image-size', '64']);
    expect(await masks(join(dir, 'unet-f2.legacy.pt'), join(dir, 'from-pt'))).toBe(0);
    expect(await masks(out, join(dir, 'from-safetensors'))).toBe(0);
    const a = tree(join(dir, 'from-pt'));
    expect(a.size).toBeGreaterThan(0);
    expect(tree(join(dir, 'from-safetensors'))).toEqual(a);
  });

  it('refuses a malicious pickle, an unknown layout, its own input as output, and missing arguments', async () => {
    const before = readFileSync(join(dir, 'unet-f2.zip.pt'));
    const cases: [string[], number, RegExp][] = [
      [
        ['convert', join(dir, 'malicious.zip.pt'), join(dir, 'x.safetensors')],
        1,
        /^mriseg: checkpoint .*malicious\.zip\.pt: PyTorch file: data\.pkl: refers to the Python global posix\.system.*refused/,
      ],
      [
        ['convert', join(dir, 'mixed.zip.pt'), join(dir, 'x.safetensors')],
        1,
        /mixed\.zip\.pt: the state dict matches none of mriseg's architectures/,
      ],
      [
        ['convert', join(dir, 'unet-f2.zip.pt'), join(dir, 'unet-f2.zip.pt')],
        2,
        /--out .*unet-f2\.zip\.pt is the input file itself/,
      ],
      [['convert', join(dir, 'nothing.pt'), join(dir, 'x.safetensors')], 1, /nothing\.pt: no such file/],
      [['convert'], 2, /--input FILE \(or argument 1\) is required/],
      [['convert', join(dir, 'unet-f2.zip.pt')], 2, /--out FILE \(or argument 2\) is required/],
      [
        ['convert', join(dir, 'unet-f2.zip.pt'), '--input', join(dir, 'unet-f2.zip.pt')],
        2,
        /--input given both as an argument and as an option/,
      ],
    ];
    await expectErrors(cases);
    expect(existsSync(join(dir, 'x.safetensors'))).toBe(false);
    expect(readFileSync(join(dir, 'unet-f2.zip.pt')).equals(before)).toBe(true);
  });
});

describe('export', () => {
  it('the .pt exported as ONNX with --sigmoid gives, in ONNX Runtime, the probabilities PyTorch computed', async () => {
    const out = join(dir, 'unet.onnx');
    expect(
      await main([
        'export',
        '--checkpoint',
        join(dir, 'unet-f2.zip.pt'),
        '--out',
        out,
        '--sigmoid',
        '--image-size',
        '32',
      ]),
    ).toBe(0);
    expect(io.out.join('\n')).toContain('records no inference settings');
    expect(io.out.join('\n')).toMatch(/image \[batch, 3, 32, 32\] → probabilities \[batch, 1, 32, 32\]/);
    const expected = loadCheckpoint(fixture('unet-f2.expected.safetensors')).model;
    const x = expected.get('input')!;
    const session = await ort.InferenceSession.create(readFileSync(out));
    const got = (
      await session.run({ image: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) })
    ).probabilities.data as Float32Array;
    await session.release();
    const logits = expected.get('eval_logits')!.data;
    let num = 0;
    let den = 0;
    for (let i = 0; i < logits.length; i++) {
      const p = 1 / (1 + Math.exp(-logits[i]));
      num += (got[i] - p) ** 2;
      den += p * p;
    }
    expect(Math.sqrt(num / den)).toBeLessThanOrEqual(1e-4);
    const props = Object.fromEntries(
      decodeOnnxModel(readFileSync(out)).metadataProps.map((p) => [p.key, p.value]),
    );
    expect(props).toMatchObject({ architecture: 'unet', input_size: '32', threshold: '0.5' });
  });

  it('errors: --head on a model that is not UNet++, the checkpoint as output, a missing checkpoint', async () => {
    const ck = join(dir, 'unet-f2.zip.pt');
    const cases: [string[], number, RegExp][] = [
      [
        ['export', '--checkpoint', ck, '--out', join(dir, 'h.onnx'), '--head', '2'],
        2,
        /--head chooses a UNet\+\+ output/,
      ],
      [['export', '--checkpoint', ck, '--out', ck], 2, /is the input file itself/],
      [
        ['export', '--checkpoint', join(dir, 'none.pt'), '--out', join(dir, 'h.onnx')],
        1,
        /none\.pt: no such file/,
      ],
      [
        ['export', '--checkpoint', ck, '--out', join(dir, 'h.onnx'), '--format', 'tflite'],
        2,
        /--format must be one of onnx/,
      ],
    ];
    await expectErrors(cases);
    expect(existsSync(join(dir, 'h.onnx'))).toBe(false);
  });
});
