/**
 * Runs ITK's N4 (the n4ref program built beside this file) on the bias-field test inputs and writes
 * test/fixtures/n4/<name>.safetensors: ITK's log field (phantom) and control lattice (all), with the options and a
 * hash of the input. Run from packages/data, see README.md here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeSafetensors } from '@mriseg/tensor-wgsl/safetensors';
import * as inputs from '../../test/bias-inputs.js';

const [n4ref, sampleRoot, outDir] = process.argv.slice(2);
if (!n4ref || !sampleRoot || !outDir) {
  console.error('usage: make-fixtures N4REF SAMPLE_ROOT OUT_DIR');
  process.exit(1);
}
const tmp = mkdtempSync(join(tmpdir(), 'n4ref-'));

function run(name: string, input: inputs.BiasInput, dense: boolean): void {
  const [D, H, W] = input.shape;
  writeFileSync(join(tmp, 'in.f32'), new Uint8Array(input.image.buffer));
  writeFileSync(join(tmp, 'mask.u8'), input.mask);
  const o = inputs.FIXTURE_OPTIONS;
  const out = execFileSync(n4ref, [
    join(tmp, 'in.f32'),
    join(tmp, 'mask.u8'),
    String(D),
    String(H),
    String(W),
    String(o.levels),
    String(o.iterations),
    String(o.controlPoints),
    String(o.histogramBins),
    String(o.fwhm),
    String(o.wienerNoise),
    String(o.convergence),
    join(tmp, 'field.f32'),
    join(tmp, 'lattice.f32'),
  ]).toString();
  const latticeShape = out.trim().split(/\s+/).map(Number);
  const f32 = (file: string) => {
    const b = readFileSync(join(tmp, file));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
  };
  const entries: [string, { shape: number[]; data: Float32Array }][] = [
    ['itk.lattice', { shape: latticeShape, data: f32('lattice.f32') }],
  ];
  if (dense) entries.push(['itk.logField', { shape: [D, H, W], data: f32('field.f32') }]);
  const bytes = serializeSafetensors(entries, {
    producer:
      'ITK 5.2.1 N4BiasFieldCorrectionImageFilter (Debian libinsighttoolkit5-dev), scripts/n4-reference',
    options: JSON.stringify(inputs.FIXTURE_OPTIONS),
    input: name,
    inputSha256: inputs.inputHash(input),
  });
  writeFileSync(join(outDir, `${name}.safetensors`), bytes);
  console.log(`${name}: lattice [${latticeShape.join(',')}]${dense ? `, field [${D},${H},${W}]` : ''}`);
}

run('phantom', inputs.biasPhantom(), true);
for (const id of inputs.FIXTURE_PATIENTS) run(id, inputs.patientGrid(sampleRoot, id), false);
