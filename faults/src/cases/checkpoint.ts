/** Checkpoints (issue 18, items 9 and 11): files a loader must refuse, named, before any weight is used. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointMetadataJson } from '@mriseg/nn';
import { loadCheckpoint } from '@mriseg/nn/node';
import { editHeader, smallCheckpoint, withMetadata, withOffsets } from '../fixtures/checkpoint.js';
import { phantomData } from '../fixtures/dataset.js';
import { trainedCheckpoint } from '../fixtures/model.js';
import type { CaseContext, FaultCase } from '../types.js';

const FILE = 'model.safetensors';
const path = (ctx: CaseContext) => join(ctx.input, FILE);

function checkpointCase(
  id: string,
  title: string,
  item: number,
  bytes: () => Uint8Array,
  problem: RegExp,
  name = 'SafetensorsError',
): FaultCase {
  return {
    id: `checkpoint/${id}`,
    category: 'checkpoint',
    title,
    item,
    setup: (ctx) => writeFileSync(path(ctx), bytes()),
    run: (ctx) => {
      const ck = loadCheckpoint(path(ctx));
      return { tensors: ck.model.size };
    },
    expect: { name, problem, file: path },
  };
}

export const CHECKPOINT_CASES: FaultCase[] = [
  checkpointCase(
    'overlapping-data-offsets',
    'two tensors sharing bytes (overlapping data_offsets)',
    9,
    // conv.bias holds bytes 0..4, conv.weight 4..20: the weight moved back onto the bias.
    () => withOffsets(smallCheckpoint(), 'conv.weight', [0, 16]),
    /tensors "conv\.bias" and "conv\.weight" overlap \(bytes 0\.\.4/,
  ),
  checkpointCase(
    'trailing-bytes',
    'bytes after the last tensor',
    9,
    () => Uint8Array.from([...smallCheckpoint(), ...new Uint8Array(64).fill(7)]),
    /64 bytes follow the last tensor/,
  ),
  checkpointCase(
    'unclaimed-gap',
    'data bytes that belong to no tensor',
    9,
    // The bias moved from bytes 0..4 onto the weight's last 4: nothing claims 0..4.
    () => withOffsets(smallCheckpoint(), 'conv.bias', [16, 20]),
    /bytes 0\.\.4 of the data section belong to no tensor/,
  ),
  checkpointCase(
    'nan-weights',
    'NaN weights',
    9,
    () => smallCheckpoint([0.5, Number.NaN, 2, Number.NaN]),
    /"conv\.weight" holds 2 NaN and 0 infinite value\(s\) of 4: a diverged or damaged model/,
    'CheckpointError',
  ),
  checkpointCase(
    'inf-weights',
    'infinite weights',
    9,
    () => smallCheckpoint([Number.POSITIVE_INFINITY, 1, Number.NEGATIVE_INFINITY, 0]),
    /holds 0 NaN and 2 infinite value\(s\)/,
    'CheckpointError',
  ),
  checkpointCase(
    'metadata-array',
    '__metadata__ that is an array',
    9,
    () => withMetadata(smallCheckpoint(), ['x']),
    /__metadata__ is an array, not an object of strings/,
  ),
  checkpointCase(
    'metadata-number-value',
    '__metadata__ with a number value',
    9,
    () => withMetadata(smallCheckpoint(), { epoch: 3 }),
    /__metadata__\."epoch" is a number \(3\), not a string/,
  ),
  checkpointCase(
    'header-length-huge',
    'a header length of 2^60',
    9,
    () => {
      const b = smallCheckpoint();
      new DataView(b.buffer).setBigUint64(0, 2n ** 60n, true);
      return b;
    },
    /header length \d+ runs past the end/,
  ),
  checkpointCase(
    'truncated',
    'a checkpoint cut short inside its data',
    9,
    () => smallCheckpoint().subarray(0, smallCheckpoint().length - 5),
    /ends at byte \d+ of a \d+-byte data section/,
  ),
  {
    id: 'checkpoint/metadata-bad-json',
    category: 'checkpoint',
    title: 'metadata JSON that does not parse (read as the CLI reads its training metadata)',
    item: 11,
    setup: (ctx) => writeFileSync(path(ctx), smallCheckpoint(undefined, { 'mriseg.train': '{"config": ' })),
    run: (ctx) => ({ train: checkpointMetadataJson(loadCheckpoint(path(ctx)), 'mriseg.train') ?? null }),
    expect: { name: 'CheckpointError', problem: /__metadata__\.mriseg\.train is not valid JSON/, file: path },
  },
  ...cliCheckpointCases(),
];

/**
 * The CLI on a real checkpoint (the fixture model) with one metadata entry edited, as `evaluate` and `predict`
 * read it: one line naming the file and the problem, exit 1, before any work.
 */
function cliCheckpointCases(): FaultCase[] {
  const edited = (edit: (meta: Record<string, string>) => void) => (ctx: CaseContext) => {
    phantomData(ctx.input, 2);
    const bytes = readFileSync(trainedCheckpoint(join(ctx.work, 'trained.safetensors')));
    writeFileSync(
      path(ctx),
      editHeader(bytes, (h) => edit(h.__metadata__ as Record<string, string>)),
    );
  };
  const inference = (change: Record<string, unknown>) => (meta: Record<string, string>) => {
    meta.inference = JSON.stringify({ ...JSON.parse(meta.inference), ...change });
  };
  const cases: [string, string, string, (m: Record<string, string>) => void, RegExp][] = [
    [
      'cli-evaluate-train-metadata-bad-json',
      'training metadata JSON that does not parse (evaluate)',
      'evaluate',
      (m) => {
        m['mriseg.train'] = '{"config": ';
      },
      /__metadata__\.mriseg\.train is not valid JSON/,
    ],
    [
      'cli-evaluate-train-metadata-no-state',
      'training metadata without its loop state (evaluate)',
      'evaluate',
      (m) => {
        m['mriseg.train'] = JSON.stringify({ ...JSON.parse(m['mriseg.train']), state: 7 });
      },
      /__metadata__\.mriseg\.train has no state object \(a damaged checkpoint\)/,
    ],
    [
      'cli-evaluate-input-size-1e6',
      'a stored input size of 1000000 (evaluate)',
      'evaluate',
      inference({ inputSize: 1000000 }),
      /records an input size of 1000000 px, which the models cannot run/,
    ],
    [
      'cli-predict-input-size-100',
      'a stored input size of 100, not a multiple of 16 (predict)',
      'predict',
      inference({ inputSize: 100 }),
      /records an input size of 100 px, which the models cannot run \(a multiple of 16/,
    ],
    [
      'cli-bench-input-size-100',
      'a stored input size of 100, not a multiple of 16 (bench --checkpoint)',
      'bench',
      inference({ inputSize: 100 }),
      /records an input size of 100 px, which the models cannot run/,
    ],
  ];
  return cases.map(([id, title, command, edit, problem]) => ({
    id: `checkpoint/${id}`,
    category: 'checkpoint' as const,
    title,
    item: 11,
    setup: edited(edit),
    cli: (ctx: CaseContext) => {
      const args =
        command === 'evaluate'
          ? ['evaluate', '--checkpoint', path(ctx), '--data', ctx.input, '--split', 'all', '--workers', '0']
          : command === 'predict'
            ? ['predict', '--checkpoint', path(ctx), '--input', ctx.input, '--out', join(ctx.work, 'out')]
            : ['bench', '--checkpoint', path(ctx), '--iters', '1', '--warmup', '0', '--batch-size', '1'];
      return { args: [...args], env: { MRISEG_CACHE: join(ctx.work, 'home-cache') } };
    },
    expect: { problem, file: path, exitCode: 1 },
  }));
}
