/**
 * A safe reader for the subset of Python's pickle format that `torch.save` writes: data opcodes of protocols 0–5
 * (numbers, strings, bytes, lists, tuples, dicts, sets, memo, persistent ids) and calls only of the globals the
 * caller allows. Nothing is ever imported or executed: a global is a name looked up in the caller's table, and any
 * other name, or an opcode that instantiates arbitrary classes (INST, OBJ, extension codes, out-of-band buffers),
 * stops the read with an error.
 */

/** A Python tuple (kept apart from lists so that callers can tell them apart). */
export class PyTuple extends Array<unknown> {}

/** A Python dict or OrderedDict: keys may be any hashable value, so a Map. */
export type PyDict = Map<unknown, unknown>;

/** What a global resolves to: a callable (REDUCE, NEWOBJ) or a plain value (a storage type, a class). */
export type PickleGlobal = { call?: (args: unknown[]) => unknown; value?: unknown };

export interface UnpickleOptions {
  /** The allowed globals, by `module.name`; any other global is refused. */
  globals: ReadonlyMap<string, PickleGlobal>;
  /** Turns a persistent id (torch's storage references) into a value. */
  persistentLoad?: (pid: unknown) => unknown;
}

/** A pickle that is damaged or that asks for something this reader refuses. */
export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

/** Opcodes that would instantiate arbitrary classes or need data from outside the stream. */
const REFUSED = new Map<number, string>([
  [0x69, 'INST'],
  [0x6f, 'OBJ'],
  [0x82, 'EXT1'],
  [0x83, 'EXT2'],
  [0x84, 'EXT4'],
  [0x92, 'NEWOBJ_EX'],
  [0x97, 'NEXT_BUFFER'],
  [0x98, 'READONLY_BUFFER'],
]);

const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

/** Attributes set by BUILD on a dict (OrderedDict's `_metadata` in a state dict): kept aside, never applied. */
export const dictAttributes = new WeakMap<PyDict, unknown>();

/**
 * Reads one pickle starting at `offset`; returns its value and the offset after its STOP (torch's legacy format
 * writes several pickles back to back).
 */
export function unpickle(
  bytes: Uint8Array,
  options: UnpickleOptions,
  offset = 0,
): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  let pos = offset;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number, what: string) => {
    if (n < 0 || pos + n > bytes.length)
      throw new PickleError(`the pickle ends inside ${what} at byte ${pos} (truncated)`);
  };
  const u8 = () => {
    need(1, 'an opcode argument');
    return bytes[pos++];
  };
  const u16 = () => {
    need(2, 'an opcode argument');
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4, 'an opcode argument');
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8, 'an opcode argument');
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length))
      throw new PickleError(`a length of ${v} bytes passes the end of the pickle`);
    return Number(v);
  };
  /** A signed 32-bit length (LONG4, BINSTRING), which must not be negative. */
  const i32Length = (op: string, at: number) => {
    need(4, op);
    const n = dv.getInt32(pos, true);
    pos += 4;
    if (n < 0) throw new PickleError(`${op} with a negative length at byte ${at}`);
    return n;
  };
  const take = (n: number, what: string) => {
    need(n, what);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError(`the pickle ends inside a text argument at byte ${pos} (truncated)`);
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => {
    try {
      return text.decode(b);
    } catch {
      throw new PickleError(`a string at byte ${pos - b.length} is not valid UTF-8`);
    }
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]))
      throw new PickleError(`stack underflow at byte ${pos - 1}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError(`stack underflow at byte ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw new PickleError(`no MARK before byte ${pos - 1}`);
    return stack.splice(m);
  };
  const listOnTop = (op: string, at: number): unknown[] => {
    const list = top();
    if (!Array.isArray(list) || list instanceof PyTuple)
      throw new PickleError(`${op} to a ${typeName(list)} at byte ${at}`);
    return list;
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) throw new PickleError(`memo entry ${i} read before it was written (byte ${pos})`);
    return memo.get(i);
  };
  const intFrom = (b: Uint8Array): number | bigint => {
    // Two's complement little-endian, any length (LONG1 / LONG4).
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return small(v);
  };
  const small = (v: bigint): number | bigint =>
    v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  const resolveGlobal = (module: string, name: string) => {
    const g = options.globals.get(`${module}.${name}`);
    if (!g)
      throw new PickleError(
        `refers to the Python global ${module}.${name}, which is not a tensor rebuild, storage type or OrderedDict: refused (a pickle's globals can run code)`,
      );
    return g;
  };
  const call = (fn: unknown, args: unknown, op: string) => {
    const g = fn as PickleGlobal;
    if (!g || typeof g.call !== 'function') throw new PickleError(`${op} of something that is not callable`);
    if (!Array.isArray(args)) throw new PickleError(`${op} with arguments that are not a tuple`);
    return g.call(args);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) throw new PickleError(`SETITEM(S) on a ${typeName(target)}, not a dict`);
    if (items.length % 2 !== 0) throw new PickleError('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(hashKey(items[i]), items[i + 1]);
  };

  for (;;) {
    if (pos >= bytes.length)
      throw new PickleError(`the pickle ends at byte ${pos} before its STOP (truncated)`);
    const at = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: {
        const proto = u8();
        if (proto > 5) throw new PickleError(`pickle protocol ${proto} is newer than 5`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length > 0)
          throw new PickleError(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4, 'BININT');
        stack.push(dv.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(intFrom(take(u8(), 'LONG1')));
        break;
      case 0x8b: // LONG4
        stack.push(intFrom(take(i32Length('LONG4', at), 'LONG4')));
        break;
      case 0x49: {
        // INT (text); "00" / "01" are False / True in protocol 0
        const s = line();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else stack.push(parseIntText(s, at));
        break;
      }
      case 0x4c: // LONG (text, trailing L)
        stack.push(parseIntText(line().replace(/L$/, ''), at));
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && s.trim().toLowerCase() !== 'nan')
          throw new PickleError(`FLOAT "${s}" at byte ${at} is not a number`);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8, 'BINFLOAT');
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8(), 'a string')));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32(), 'a string')));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(take(u64(), 'a string')));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(
          line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16))),
        );
        break;
      case 0x55: // SHORT_BINSTRING (a Python 2 str: read as latin-1 text)
        stack.push(latin1.decode(take(u8(), 'a string')));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(take(i32Length('BINSTRING', at), 'a string')));
        break;
      case 0x53: // STRING (quoted text)
        stack.push(unquote(line(), at));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8(), 'bytes').slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32(), 'bytes').slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64(), 'bytes').slice());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        listOnTop('APPEND', at).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = listOnTop('APPENDS', at);
        for (const v of items) list.push(v);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(PyTuple.from([]));
        break;
      case 0x74: // TUPLE
        stack.push(PyTuple.from(popMark()));
        break;
      case 0x85:
        stack.push(PyTuple.from([pop()]));
        break;
      case 0x86: {
        const b = pop();
        stack.push(PyTuple.from([pop(), b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push(PyTuple.from([pop(), b, c]));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw new PickleError(`ADDITEMS to a ${typeName(s)} at byte ${at}`);
        for (const v of items) s.add(hashKey(v));
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark().map(hashKey)));
        break;
      case 0x67: // GET
        stack.push(memoGet(parseIntText(line(), at) as number));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x70: // PUT
        memo.set(parseIntText(line(), at) as number, top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          throw new PickleError(`STACK_GLOBAL with non-string names at byte ${at}`);
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args, 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), allowed for the same globals
        const args = pop();
        stack.push(call(pop(), args, 'NEWOBJ'));
        break;
      }
      case 0x62: {
        // BUILD: only a dict's attributes (OrderedDict._metadata) are accepted, and kept aside
        const state = pop();
        const obj = top();
        if (obj instanceof Map) dictAttributes.set(obj, state);
        else if (!(obj instanceof TorchObject))
          throw new PickleError(`BUILD on a ${typeName(obj)} at byte ${at} is not supported`);
        else obj.state = state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) throw new PickleError('a persistent id, but no storage to resolve it');
        stack.push(options.persistentLoad(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (!options.persistentLoad) throw new PickleError('a persistent id, but no storage to resolve it');
        stack.push(options.persistentLoad(pid));
        break;
      }
      default:
        if (REFUSED.has(op))
          throw new PickleError(
            `opcode ${REFUSED.get(op)} (${hex(op)}) at byte ${at} is not supported (it builds arbitrary objects)`,
          );
        throw new PickleError(`unknown pickle opcode ${hex(op)} at byte ${at}`);
    }
  }
}

/** A value built by an allowed call that may take BUILD state (a tensor subclass's `__setstate__`). */
export class TorchObject {
  state: unknown = null;
}

function parseIntText(s: string, at: number): number | bigint {
  if (!/^[-+]?\d+$/.test(s.trim())) throw new PickleError(`"${s}" at byte ${at} is not an integer`);
  const v = BigInt(s.trim());
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function unquote(s: string, at: number): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2)
    throw new PickleError(`STRING ${s} at byte ${at} is not quoted`);
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? e;
  });
}

/** Dict keys and set members: tuples of strings and numbers compare by value in Python, so by a string here. */
function hashKey(k: unknown): unknown {
  if (k instanceof PyTuple) return JSON.stringify(k, (_, v) => (typeof v === 'bigint' ? String(v) : v));
  return k;
}

/** The Python type name of a value, for messages. */
export function typeName(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyTuple) return 'tuple';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof TorchObject) return v.constructor.name;
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}
