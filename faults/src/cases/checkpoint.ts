/** Checkpoints (issue 18, items 9 and 11): files a loader must refuse, named, before any weight is used. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointMetadataJson } from '@mriseg/nn';
import { loadCheckpoint } from '@mriseg/nn/node';
import { smallCheckpoint, withMetadata, withOffsets } from '../fixtures/checkpoint.js';
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
];
