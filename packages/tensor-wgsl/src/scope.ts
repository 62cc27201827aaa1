/**
 * Explicit GPU memory ownership. Every tensor made inside `scope(fn)` is disposed when `fn` returns, except the
 * tensors it returns (they move to the enclosing scope) and those passed to `keep()`.
 */

export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const stack: Set<Disposable>[] = [];

/** Called by every tensor constructor. */
export function track(t: Disposable): void {
  const top = stack[stack.length - 1];
  if (top) top.add(t);
}

/** Takes a tensor out of scope tracking: it lives until disposed by hand. Returns it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (isDisposable(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as Record<string, unknown>)) collect(v, out, depth + 1);
  }
}

function isDisposable(v: object): v is Disposable {
  return typeof (v as Disposable).dispose === 'function' && 'disposed' in v;
}

/**
 * Runs `fn` and disposes every tensor created during it that is not part of its result (tensors found in the
 * result, in arrays, Maps and plain objects up to 4 levels deep, survive). Synchronous by design: an async
 * function would let other work's tensors land in this scope.
 */
export function scope<T>(fn: () => T): T {
  const mine = new Set<Disposable>();
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of mine) if (!t.disposed) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    throw new Error(
      'scope(fn): fn returned a Promise; scopes are synchronous (read results after the scope)',
    );
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  const parent = stack[stack.length - 1];
  for (const t of mine) {
    if (survivors.has(t)) parent?.add(t);
    else if (!t.disposed) t.dispose();
  }
  return result;
}

/** How many scopes are open (for tests). */
export function scopeDepth(): number {
  return stack.length;
}
