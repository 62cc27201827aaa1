/**
 * Every command with wrong inputs: a usage error is one line naming the flag, with a pointer to --help, exit 2;
 * any other error one line, exit 1; never a stack trace (unless --debug).
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureConsole, tinyDataset } from './fixture.js';

const io = captureConsole();

let fx: ReturnType<typeof tinyDataset>;
let dir: string;
beforeAll(() => {
  fx = tinyDataset();
  dir = mkdtempSync(join(tmpdir(), 'mriseg-errors-'));
  mkdirSync(join(dir, 'empty'));
  mkdirSync(join(dir, 'junk', 'TCGA_XX_0000_20000101'), { recursive: true });
  writeFileSync(join(dir, 'junk', 'TCGA_XX_0000_20000101', 'notes.txt'), 'not a slice');
  writeFileSync(join(dir, 'garbage.safetensors'), 'this is not a safetensors file');
  writeFileSync(join(dir, 'bad.json'), '{ "lr": ');
  writeFileSync(join(dir, 'unknown-key.json'), '{ "colour": "blue" }');
  symlinkSync(fx.data, join(dir, 'link-into-data'));
});

/** A stack frame as V8 prints it. */
const STACK = /^\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)$/m;

async function expectError(argv: string[], code: 1 | 2, pattern: RegExp): Promise<void> {
  io.err.length = 0;
  io.out.length = 0;
  const what = argv.join(' ');
  expect(await main(argv), what).toBe(code);
  const text = io.err.join('\n');
  expect(text, what).toMatch(pattern);
  expect(text, what).not.toMatch(STACK);
  expect(text.split('\n'), `${what}: one line`).toHaveLength(1);
  if (code === 2) {
    const cmd = argv[0] && !argv[0].startsWith('-') && argv[0] !== 'frobnicate' ? ` ${argv[0]}` : '';
    expect(text, what).toContain(`(see 'mriseg${cmd} --help')`);
  } else expect(text, what).toMatch(/^mriseg: /);
}

describe('wrong inputs', () => {
  it('train', async () => {
    const usage: [string[], RegExp][] = [
      [['train', '--epochs', 'many'], /--epochs must be an integer ≥ 1, not "many"/],
      [['train', '--epochs', '0'], /--epochs must be an integer ≥ 1/],
      [['train', '--lr=-1'], /--lr must be a number > 0/],
      [['train', '--frobnicate'], /unknown option '--frobnicate'/],
      [['train', '--epoch', '3'], /unknown option '--epoch'.*Did you mean --epochs\?/],
      [['train', '--loss', 'hinge'], /--loss must be one of dice, .*focal-tversky, not "hinge"/],
      [['train', '--model', 'vgg'], /--model must be one of unet, attention-unet, unet\+\+, resunet/],
      [['train', '--optimizer', 'lbfgs'], /--optimizer must be one of adam, adamw, sgd/],
      [['train', '--aug', 'extreme'], /--aug must be one of reference, none, strong/],
      [
        ['train', '--split', 'kfold:5:5'],
        /--split "kfold:5:5": fold 5 is not below K = 5.*accepted: reference \|/,
      ],
      [['train', '--split', 'random:x'], /--split "random:x"/],
      [['train', '--schedule', 'cosine:abc'], /--schedule "cosine:abc": "abc" is not a number/],
      [['train', '--postprocess', 'lcc3d,nope'], /--postprocess "lcc3d,nope": unknown step "nope"/],
      [['train', '--postprocess', 'lcc3d,crf'], /--postprocess "lcc3d,crf": step "crf": .* must come first/],
      [
        ['train', '--postprocess', 'crf:sa=-2'],
        /--postprocess "crf:sa=-2": step "crf:sa=-2": sa must be a number/,
      ],
      [['train', '--image-size', '100'], /--image-size must be a multiple of 16/],
      [['train', '--autotune', 'maybe'], /--autotune must be one of auto, on, off/],
      // Issue 18, item 10: values the schema used to let through.
      [['train', '--schedule', 'exp:-5'], /--schedule "exp:-5": gamma -5 must be > 0: the learning rate/],
      [['train', '--schedule', 'exp'], /--schedule "exp": exp needs its factor G/],
      [['train', '--schedule', 'step:10:0'], /--schedule "step:10:0": gamma 0 must be > 0/],
      [
        ['train', '--schedule', 'plateau:3:1.5'],
        /--schedule "plateau:3:1.5": factor 1.5 must be in \(0, 1\)/,
      ],
      [
        ['train', '--schedule', 'cosine:-1e-6'],
        /--schedule "cosine:-1e-6": minimum lr -0.000001 must be ≥ 0/,
      ],
      [
        ['train', '--schedule', 'step:0x10'],
        /--schedule "step:0x10": step size "0x10" must be an integer ≥ 1/,
      ],
      [['train', '--momentum', '5'], /--momentum must be a number in \[0, 1\), not "5"/],
      [['train', '--momentum', '1'], /--momentum must be a number in \[0, 1\)/],
      [
        ['train', '--workers=-7'],
        /--workers must be an integer from -1 to \d+ \(4 × the \d+ cores\), not "-7"/,
      ],
      [
        ['train', '--workers', '500'],
        /--workers must be an integer from -1 to \d+ \(4 × the \d+ cores\), not "500"/,
      ],
      [['train', '--epochs', '0x2'], /--epochs must be an integer ≥ 1, not "0x2"/],
      [['train', '--epochs', '2.0'], /--epochs must be an integer ≥ 1, not "2.0"/],
      [['train', '--lr', '0x10'], /--lr must be a number > 0, not "0x10"/],
      [['train', '--image-size', '8192'], /--image-size must be a multiple of 16 from 16 to 4096/],
      [
        ['train', '--deep-supervision'],
        /--deep-supervision: unet has no deep-supervision heads \(only unet\+\+ has\)/,
      ],
      [
        ['train', '--model', 'attention-unet', '--deep-supervision'],
        /--deep-supervision: attention-unet has no deep-supervision heads/,
      ],
      [
        ['train', '--model', 'unet++', '--deep-supervision', '--no-deep-supervision'],
        /--deep-supervision and --no-deep-supervision contradict each other/,
      ],
      [
        ['train', '--model', 'unet++', '--no-deep-supervision', '--deep-supervision'],
        /--deep-supervision and --no-deep-supervision contradict each other/,
      ],
      [['train', '--epochs'], /option '--epochs <N>' argument missing/],
      [['train', 'extra-positional'], /takes options only, not "extra-positional"/],
      [
        ['train', '--config', '/nonexistent/config.json'],
        /--config \/nonexistent\/config\.json: no such file/,
      ],
      [['train', '--config', join(dir, 'bad.json')], /--config .*bad\.json: /],
      [['train', '--config', join(dir, 'unknown-key.json')], /unknown key "colour"/],
      [['train', '--resume', '/nonexistent/run'], /--resume \/nonexistent\/run: no such file or folder/],
      [
        ['train', '--data', fx.data, '--split', 'reference', '--workers', '0'],
        /--split reference: 10 of the reference's 10 validation patients are not in .*random:SEED:N \(N validation patients/,
      ],
      [
        ['train', '--data', fx.data, '--split', 'random:1:9', '--workers', '0'],
        /--split random:1:9: 9 validation patients asked for, but .* holds 5 patients \(N must be 1 to 4\)/,
      ],
    ];
    for (const [argv, p] of usage) await expectError(argv, 2, p);
    const runtime: [string[], RegExp][] = [
      [['train', '--data', '/nonexistent/kaggle_3m'], /--data \/nonexistent\/kaggle_3m: no such folder/],
      [['train', '--data', join(dir, 'empty'), '--workers', '0'], /empty.*no patient folders/],
      [['train', '--data', join(dir, 'junk'), '--workers', '0'], /notes\.txt: file name does not parse/],
    ];
    for (const [argv, p] of runtime) await expectError(argv, 1, p);
  });

  it('evaluate, predict, ensemble', async () => {
    const garbage = join(dir, 'garbage.safetensors');
    const predictInto = (input: string, out: string) => [
      'predict',
      '--checkpoint',
      garbage,
      '--input',
      input,
      '--out',
      out,
    ];
    const usage: [string[], RegExp][] = [
      [['evaluate'], /--checkpoint FILE is required/],
      [
        ['evaluate', '--checkpoint', 'x.safetensors', '--tta', 'rotate'],
        /--tta must be one of none, hflip, hvflip/,
      ],
      [
        ['evaluate', '--checkpoint', 'x.safetensors', '--threshold', '1.5'],
        /--threshold must be a number in \(0, 1\)/,
      ],
      [['evaluate', '--checkpoint', 'x.safetensors', '--split', 'kfold:2:3'], /--split "kfold:2:3"/],
      [
        ['evaluate', '--checkpoint', 'x.safetensors', '--image-size', '50'],
        /--image-size must be a multiple of 16/,
      ],
      [
        ['predict', '--checkpoint', 'x.safetensors', '--out', 'masks'],
        /give --input \(a patient folder, a NIfTI file or a DICOM folder\) or --channels/,
      ],
      [
        ['predict', '--checkpoint', 'x.safetensors', '--channels', 'pre=a.nii', '--out', 'masks'],
        /--channels pre=a\.nii: flair=… is required/,
      ],
      [
        [
          'ensemble',
          '--checkpoint',
          'a.safetensors',
          '--checkpoint',
          'b.safetensors',
          '--channels',
          'flair=f.nii',
          '--split',
          'all',
        ],
        /--split evaluates; it does not go with --input or --channels/,
      ],
      [['predict', '--checkpoint', 'x.safetensors', '--input', fx.data], /--out DIR is required/],
      // Issue 18, item 1: never into the input tree, whichever way round, through a link or not.
      [
        predictInto(fx.data, fx.data),
        /--out .* is inside --input .*: predictions are never written into the input tree/,
      ],
      [
        predictInto(fx.data, join(fx.data, 'TCGA_PH_0001_20000101')),
        /--out .* is inside --input .*: predictions are never written into the input tree/,
      ],
      [
        predictInto(join(fx.data, 'TCGA_PH_0002_20000101'), fx.data),
        /--input .*TCGA_PH_0002_20000101 lies inside --out .*: the masks would be written among the inputs/,
      ],
      [
        predictInto(fx.data, join(dir, 'link-into-data', 'masks')),
        /--out .*link-into-data\/masks \(it resolves to .*kaggle\/masks\) is inside --input/,
      ],
      [['ensemble', '--checkpoint', 'x.safetensors'], /give two or more --checkpoint FILE \(got 1\)/],
      [
        ['ensemble', '--checkpoint', garbage, '--checkpoint', garbage, '--input', fx.data, '--data', fx.data],
        /--data evaluates; it does not go with --input/,
      ],
    ];
    for (const [argv, p] of usage) await expectError(argv, 2, p);
    const runtime: [string[], RegExp][] = [
      [
        ['evaluate', '--checkpoint', '/nonexistent/best.safetensors'],
        /--checkpoint \/nonexistent\/best\.safetensors: no such file/,
      ],
      [['evaluate', '--checkpoint', dir], /--checkpoint .*: a folder; give a \.safetensors file/],
      [['evaluate', '--checkpoint', garbage, '--workers', '0'], /garbage\.safetensors/],
      [
        ['evaluate', '--checkpoint', garbage, '--data', '/nonexistent/data'],
        /--data \/nonexistent\/data: no such folder/,
      ],
      [
        ['predict', '--checkpoint', garbage, '--input', '/nonexistent/patient', '--out', join(dir, 'o')],
        /--input \/nonexistent\/patient: no such folder/,
      ],
      [
        ['predict', '--checkpoint', garbage, '--input', join(dir, 'empty'), '--out', join(dir, 'o')],
        /no slice images/,
      ],
      [
        ['predict', '--checkpoint', garbage, '--input', fx.data, '--out', join(dir, 'o')],
        /garbage\.safetensors/,
      ],
      [
        ['ensemble', '--checkpoint', garbage, '--checkpoint', '/nonexistent/b.safetensors'],
        /--checkpoint \/nonexistent\/b\.safetensors: no such file/,
      ],
    ];
    for (const [argv, p] of runtime) await expectError(argv, 1, p);
  });

  it('bench, doctor and the top level', async () => {
    const usage: [string[], RegExp][] = [
      [['bench', '--image-size', '50'], /--image-size must be a multiple of 16/],
      [['bench', '--model', 'foo'], /--model must be one of unet/],
      [['bench', '--mode', 'fast'], /--mode must be one of train, infer, both/],
      [['bench', '--iters', '0'], /--iters must be an integer ≥ 1/],
      [['bench', '--checkpoint', 'x.safetensors', '--model', 'unet'], /--model comes from the checkpoint/],
      [['doctor', '--colour'], /unknown option '--colour'/],
      [['doctor', 'now'], /takes options only/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['-C', '/nonexistent/folder', 'doctor'], /-C \/nonexistent\/folder: no such folder/],
    ];
    for (const [argv, p] of usage) await expectError(argv, 2, p);
    await expectError(['bench', '--checkpoint', '/nonexistent/x.safetensors'], 1, /no such file/);
  });

  it('--debug adds the stack trace; an unexpected error says how to get it', async () => {
    io.err.length = 0;
    expect(
      await main(['--debug', 'evaluate', '--checkpoint', join(dir, 'garbage.safetensors'), '--workers', '0']),
    ).toBe(1);
    expect(io.err.join('\n')).toMatch(STACK);
  });

  it('help: per command, exit 0, every declared option listed; no command: help on stderr, exit 2', async () => {
    const { COMMAND_SPECS } = await import('../src/options/commands.js');
    for (const spec of COMMAND_SPECS) {
      for (const argv of [
        [spec.name, '--help'],
        ['help', spec.name],
        [spec.name, '-h'],
      ]) {
        io.out.length = 0;
        expect(await main(argv), argv.join(' ')).toBe(0);
        const text = io.out.join('\n');
        expect(text).toContain(`Usage: mriseg ${spec.name} [options]`);
        for (const o of spec.options) expect(text, `${spec.name} --${o.name}`).toContain(`--${o.name}`);
      }
    }
    io.out.length = 0;
    expect(await main(['--help'])).toBe(0);
    for (const spec of COMMAND_SPECS) expect(io.out.join('\n')).toContain(spec.name);
    io.err.length = 0;
    expect(await main([])).toBe(2);
    expect(io.err.join('\n')).toContain('Usage: mriseg');
    io.out.length = 0;
    expect(await main(['--version'])).toBe(0);
    expect(io.out.join('\n')).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
