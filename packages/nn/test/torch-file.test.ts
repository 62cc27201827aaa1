/**
 * PyTorch `.pt` state dicts read without Python. The fixtures in fixtures/torch/ were written by PyTorch 1.13's
 * own torch.save (make-pt.py there says how); the hostile cases are crafted here from them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { CheckpointError, type HostTensor, parseCheckpoint } from '../src/index.js';
import { loadCheckpoint } from '../src/node.js';
import { PickleError, unpickle } from '../src/torch/pickle.js';

const FIXTURES = new URL('./fixtures/torch/', import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;
const bytesOf = (name: string) => new Uint8Array(readFileSync(fixture(name)));

function expectSame(got: Map<string, HostTensor>, want: Map<string, HostTensor>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, w] of want) {
    const g = got.get(k)!;
    expect(g.shape, k).toEqual(w.shape);
    expect(Array.from(g.data), k).toEqual(Array.from(w.data));
  }
}

/** Parses `bytes` as a torch file and returns the error message (the test fails when it parses). */
function failure(bytes: Uint8Array, name = 'bad.pt'): string {
  try {
    parseCheckpoint(bytes, name);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return (e as Error).message;
  }
  throw new Error(`${name} parsed`);
}

/** A zip archive laid out as torch.save's (`archive/data.pkl`, storages under `archive/data/`). */
const torchZip = (pkl: Uint8Array, storages: Record<string, Uint8Array> = {}) =>
  zipSync(
    {
      'archive/data.pkl': pkl,
      ...Object.fromEntries(Object.entries(storages).map(([k, v]) => [`archive/data/${k}`, v])),
    },
    { level: 0 },
  );

/** Pickle bytes from opcodes and strings (latin-1). */
const pickle = (...parts: (number | string)[]) =>
  new Uint8Array(
    parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p].map((c) => c.charCodeAt(0) & 0xff))),
  );

describe('torch.save files', () => {
  const expected = loadCheckpoint(fixture('mixed.expected.safetensors')).model;

  for (const name of ['mixed.zip.pt', 'mixed.legacy.pt', 'mixed.p4.zip.pt']) {
    it(`reads ${name}: float32/64/16, bfloat16 as f32, int64/int32 as i32, strided and shared storages`, () => {
      const ck = loadCheckpoint(fixture(name));
      expect(ck.metadata).toEqual({});
      expectSame(ck.model, expected);
      expect(ck.model.get('f64')!.dtype).toBe('f32');
      expect(ck.model.get('i64')!.dtype).toBe('i32');
      expect(ck.model.get('i64')!.shape).toEqual([]);
    });
  }

  it('reads the zip and the legacy format of the same U-Net state dict alike, in its key order', () => {
    const zip = loadCheckpoint(fixture('unet-f2.zip.pt')).model;
    const legacy = loadCheckpoint(fixture('unet-f2.legacy.pt')).model;
    expectSame(zip, legacy);
    const keys = [...zip.keys()];
    expect(keys[0]).toBe('encoder1.enc1conv1.weight');
    expect(keys.at(-1)).toBe('conv.bias');
    expect(zip.get('encoder1.enc1norm1.num_batches_tracked')).toMatchObject({ dtype: 'i32', shape: [] });
    expect(Array.from(zip.get('encoder1.enc1norm1.num_batches_tracked')!.data)).toEqual([7]);
  });
});

describe('hostile and unsupported torch files', () => {
  for (const name of ['malicious.zip.pt', 'malicious.legacy.pt']) {
    it(`refuses ${name}, whose pickle calls os.system, without running it`, () => {
      const msg = failure(bytesOf(name), name);
      expect(msg).toMatch(new RegExp(`^checkpoint ${name.replace('.', '\\.')}: PyTorch file: `));
      expect(msg).toContain('posix.system');
      expect(msg).toContain('refused');
      expect(existsSync('/tmp/mriseg-pwned')).toBe(false);
    });
  }

  it('refuses a whole pickled model, naming the class it asks for', () => {
    expect(failure(bytesOf('whole-model.pt'), 'whole-model.pt')).toContain(
      'torch.nn.modules.container.Sequential',
    );
  });

  it('names the tensor and its dtype when the dtype is not a float or counter type', () => {
    expect(failure(bytesOf('uint8.pt'), 'uint8.pt')).toMatch(
      /^checkpoint uint8\.pt: PyTorch file: "mask" has dtype uint8; only float32, float64, float16 and bfloat16/,
    );
  });

  it('reports a truncated zip archive and a truncated legacy file', () => {
    const zip = bytesOf('unet-f2.zip.pt');
    expect(failure(zip.subarray(0, zip.length >> 1), 'cut.pt')).toMatch(
      /^checkpoint cut\.pt: PyTorch file: a damaged or truncated zip archive/,
    );
    const legacy = bytesOf('unet-f2.legacy.pt');
    expect(failure(legacy.subarray(0, legacy.length - 100), 'cut.pt')).toMatch(
      /^checkpoint cut\.pt: PyTorch file: the file ends inside storage \d+ \(truncated\)/,
    );
    expect(failure(legacy.subarray(0, 300), 'cut.pt')).toMatch(/truncated/);
  });

  it('reports an unknown opcode in the pickle with its byte offset', () => {
    const legacy = bytesOf('mixed.legacy.pt');
    // The object's pickle is the fourth one; its first opcode after PROTO 2 becomes 0xff.
    const none = { globals: new Map() };
    let end = 0;
    for (let i = 0; i < 3; i++) end = unpickle(legacy, none, end).end;
    const bad = legacy.slice();
    bad[end + 2] = 0xff;
    expect(failure(bad, 'op.pt')).toBe(
      `checkpoint op.pt: PyTorch file: the pickled object: unknown pickle opcode 0xff at byte ${end + 2}`,
    );
    expect(failure(torchZip(pickle(0x80, 2, 0xd0, '.')), 'op.pt')).toMatch(
      /data\.pkl: unknown pickle opcode 0xd0 at byte 2$/,
    );
  });

  it('refuses the opcodes that build arbitrary objects and globals outside the allowed list', () => {
    // INST builtins.eval, OBJ, EXT1: refused even before any global lookup.
    expect(failure(torchZip(pickle(0x80, 2, '(', 'ibuiltins\neval\n', '.')))).toContain(
      'opcode INST (0x69) at byte 3 is not supported',
    );
    expect(failure(torchZip(pickle(0x80, 2, 0x82, 1, '.')))).toContain('opcode EXT1');
    // STACK_GLOBAL of builtins.exec.
    expect(failure(torchZip(pickle(0x80, 4, 0x8c, 8, 'builtins', 0x8c, 4, 'exec', 0x93, '.')))).toContain(
      'the Python global builtins.exec',
    );
  });

  it('tells a pickle that is not a state dict, and storage entries that are missing or short', () => {
    expect(failure(torchZip(pickle(0x80, 2, 'K', 5, '.')))).toContain('holds a Python int, not a state dict');
    // {'w': _rebuild_tensor_v2(storage '0' float32 × 4, 0, (4,), (1,), False, OrderedDict())}
    const pkl = (numel: number) =>
      pickle(
        0x80,
        2,
        '}',
        'X',
        1,
        0,
        0,
        0,
        'w',
        'ctorch._utils\n_rebuild_tensor_v2\n(',
        '(',
        'X',
        7,
        0,
        0,
        0,
        'storage',
        'ctorch\nFloatStorage\n',
        'X',
        1,
        0,
        0,
        0,
        '0',
        'X',
        3,
        0,
        0,
        0,
        'cpu',
        'K',
        numel,
        't',
        'Q',
        'K',
        0,
        'K',
        4,
        0x85,
        'K',
        1,
        0x85,
        0x89,
        'ccollections\nOrderedDict\n',
        ')',
        'R',
        't',
        'R',
        's',
        '.',
      );
    const four = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    expect(Array.from(parseCheckpoint(torchZip(pkl(4), { '0': four })).model.get('w')!.data)).toEqual([
      1, 2, 3, 4,
    ]);
    expect(failure(torchZip(pkl(4)))).toContain('storage 0 is missing (no entry archive/data/0)');
    expect(failure(torchZip(pkl(4), { '0': four.subarray(0, 8) }))).toContain(
      'storage 0 holds 8 bytes, 16 expected (truncated)',
    );
    expect(failure(torchZip(pkl(2), { '0': four.subarray(0, 8) }))).toContain(
      '"w" [4] reaches element 3 of a storage of 2',
    );
  });

  it('refuses the tar format of PyTorch < 0.1.10, big-endian storages and bytes that are no torch file', () => {
    const tar = new Uint8Array(1024);
    tar.set(new TextEncoder().encode('ustar'), 257);
    expect(failure(tar)).toMatch(/the tar format of PyTorch before 0\.1\.10, which is not supported/);
    const big = zipSync({
      'archive/data.pkl': pickle(0x80, 2, '}', '.'),
      'archive/byteorder': pickle('big'),
    });
    expect(failure(big)).toContain('big-endian storages, which are not supported');
    expect(() => parseCheckpoint(pickle(0x80, 2, 'N', '.'), 'x.pt')).toThrow(/x\.pt/);
  });

  it('reports a bad pickle by itself as a PickleError with the offset', () => {
    expect(() => unpickle(pickle(0x80, 2, 'K'), { globals: new Map() })).toThrow(PickleError);
    expect(() => unpickle(pickle(0x80, 2, 'a', '.'), { globals: new Map() })).toThrow(/stack underflow/);
    expect(() => unpickle(pickle(0x80, 2, 'h', 3, '.'), { globals: new Map() })).toThrow(
      /memo entry 3 read before it was written/,
    );
  });
});
