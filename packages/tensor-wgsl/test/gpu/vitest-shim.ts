/**
 * The part of vitest's API that the GPU-side test files use, for running them as one esbuild bundle on a machine
 * that has Node.js and a GPU but no node_modules (see build.mjs). Tests run sequentially, one file at a time.
 */

type Fn = () => unknown;
interface TestCase {
  name: string;
  fn: Fn;
}

let prefix: string[] = [];
let tests: TestCase[] = [];
let before: Fn[] = [];
let after: Fn[] = [];
let failures = 0;
let passes = 0;

export function describe(name: string, fn: () => void): void {
  prefix.push(name);
  try {
    fn();
  } finally {
    prefix.pop();
  }
}

export function it(name: string, fn: Fn): void {
  tests.push({ name: [...prefix, name].join(' > '), fn });
}

export const test = it;

export function beforeAll(fn: Fn): void {
  before.push(fn);
}

export function afterAll(fn: Fn): void {
  after.push(fn);
}

class AssertionError extends Error {
  override name = 'AssertionError';
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (ArrayBuffer.isView(v))
    return `${v.constructor.name}[${Array.from(v as unknown as ArrayLike<number>).slice(0, 8)}…]`;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    return deepEqual(
      Array.from(a as unknown as ArrayLike<number>),
      Array.from(b as unknown as ArrayLike<number>),
    );
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => deepEqual(ra[k], rb[k]));
}

type ErrorMatch = string | RegExp | (new (...args: never[]) => unknown) | undefined;

function errorMatches(err: unknown, expected: ErrorMatch): boolean {
  if (expected === undefined) return true;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof expected === 'string') return message.includes(expected);
  if (expected instanceof RegExp) return expected.test(message);
  return err instanceof expected;
}

type Matchers = Record<string, (...args: never[]) => unknown>;

function matchers(actual: unknown, negate: boolean, label: string | undefined): Matchers {
  const check = (ok: boolean, what: string) => {
    if (ok === negate)
      throw new AssertionError(
        `${label ? `${label}: ` : ''}expected ${show(actual)} ${negate ? 'not ' : ''}${what}`,
      );
  };
  const num = (v: unknown) => v as number;
  return {
    toBe: (e: unknown) => check(Object.is(actual, e), `to be ${show(e)}`),
    toEqual: (e: unknown) => check(deepEqual(actual, e), `to equal ${show(e)}`),
    toBeNull: () => check(actual === null, 'to be null'),
    toBeUndefined: () => check(actual === undefined, 'to be undefined'),
    toBeLessThan: (e: number) => check(num(actual) < e, `to be < ${e}`),
    toBeLessThanOrEqual: (e: number) => check(num(actual) <= e, `to be ≤ ${e}`),
    toBeGreaterThan: (e: number) => check(num(actual) > e, `to be > ${e}`),
    toBeGreaterThanOrEqual: (e: number) => check(num(actual) >= e, `to be ≥ ${e}`),
    toBeInstanceOf: (c: new (...args: never[]) => unknown) => check(actual instanceof c, `to be a ${c.name}`),
    toMatch: (e: string | RegExp) =>
      check(typeof e === 'string' ? String(actual).includes(e) : e.test(String(actual)), `to match ${e}`),
    toContain: (e: unknown) => check((actual as unknown[]).includes(e), `to contain ${show(e)}`),
    toMatchObject: (e: Record<string, unknown>) =>
      check(
        Object.entries(e).every(([k, v]) => deepEqual((actual as Record<string, unknown>)[k], v)),
        `to match ${show(e)}`,
      ),
    toThrow: (e?: ErrorMatch) => {
      let thrown: unknown = null;
      let did = false;
      if (typeof actual === 'function') {
        try {
          (actual as () => unknown)();
        } catch (err) {
          thrown = err;
          did = true;
        }
      } else {
        // rejects: the rejection reason itself.
        thrown = actual;
        did = true;
      }
      const message = thrown instanceof Error ? thrown.message : String(thrown);
      check(did && errorMatches(thrown, e), `to throw ${e ?? ''} (got ${did ? message : 'no error'})`);
    },
  };
}

function asyncMatchers(promise: unknown, rejects: boolean, label?: string) {
  const names = Object.keys(matchers(undefined, false, label));
  const out: Record<string, (...args: never[]) => Promise<void>> = {};
  for (const name of names) {
    out[name] = async (...args: never[]) => {
      let value: unknown;
      let rejected = false;
      try {
        value = await (promise as Promise<unknown>);
      } catch (e) {
        value = e;
        rejected = true;
      }
      if (rejected !== rejects)
        throw new AssertionError(`${label ?? ''} expected the promise to ${rejects ? 'reject' : 'resolve'}`);
      matchers(value, false, label)[name](...args);
    };
  }
  return out;
}

export function expect(actual: unknown, label?: string): Record<string, unknown> {
  return {
    ...matchers(actual, false, label),
    not: matchers(actual, true, label),
    rejects: asyncMatchers(actual, true, label),
    resolves: asyncMatchers(actual, false, label),
  };
}

expect.fail = (message: string): never => {
  throw new AssertionError(message);
};

/** Loads one test file (its module registers tests), runs its hooks and tests, and prints one line per test. */
export async function runFile(name: string, load: () => Promise<unknown>): Promise<void> {
  prefix = [];
  tests = [];
  before = [];
  after = [];
  await load();
  const t0 = performance.now();
  try {
    for (const h of before) await h();
    for (const t of tests) {
      const s = performance.now();
      try {
        await t.fn();
        passes++;
        console.log(`  ok   ${name} > ${t.name} (${(performance.now() - s).toFixed(0)} ms)`);
      } catch (e) {
        failures++;
        console.log(`  FAIL ${name} > ${t.name}\n       ${(e as Error).stack ?? e}`);
      }
    }
  } finally {
    for (const h of after) await h();
  }
  console.log(`${name}: ${tests.length} tests, ${(performance.now() - t0).toFixed(0)} ms`);
}

export function summary(): number {
  console.log(`passed ${passes}, failed ${failures}`);
  return failures;
}
