// Teardown in one call. A widget registers each thing it starts (a timer, a
// listener, a socket, an observer, a child controller) as it starts it; its
// dispose() then undoes all of them, last first, and nothing is listed twice
// or forgotten. No DOM here beyond the timer and listener helpers' types, so
// Node code (unit tests) can use it too.

export interface IDisposable {
  dispose(): void;
}

/** Something to undo: an object with dispose(), or a function that undoes it. */
export type Teardown = IDisposable | (() => void);

function undo(t: Teardown): void {
  if (typeof t === 'function') t(); else t.dispose();
}

/** A bag of teardowns, disposed together, last registered first. */
export class DisposableStore implements IDisposable {
  private items: Teardown[] = [];
  private done = false;

  get isDisposed(): boolean { return this.done; }

  /** Keep `t` to undo at dispose(); once disposed, undo it at once (a late callback cannot leak). */
  add<T extends Teardown>(t: T): T {
    if (this.done) undo(t); else this.items.push(t);
    return t;
  }

  /** Undo `t` now and forget it (a child replaced before its owner goes). */
  delete(t: Teardown): void {
    const i = this.items.indexOf(t);
    if (i < 0) return;
    this.items.splice(i, 1);
    undo(t);
  }

  /** Undo everything; one that throws does not keep the others alive: the first error is rethrown after. */
  dispose(): void {
    if (this.done) return;
    this.done = true;
    let first: unknown = null;
    for (const t of this.items.splice(0).reverse()) {
      try { undo(t); } catch (err) { first ??= err; }
    }
    if (first !== null) throw first;
  }
}

/**
 * Base of every widget controller: register() what it starts, dispose()
 * undoes it all. Subclasses that must act on disposal register a function
 * for it rather than overriding dispose().
 */
export abstract class Disposable implements IDisposable {
  private readonly store = new DisposableStore();

  get isDisposed(): boolean { return this.store.isDisposed; }

  protected register<T extends Teardown>(t: T): T {
    return this.store.add(t);
  }

  /** Undo a registered teardown now (a child controller replaced by a new one). */
  protected unregister(t: Teardown): void {
    this.store.delete(t);
  }

  dispose(): void {
    this.store.dispose();
  }
}

/** setInterval as a teardown. */
export function interval(fn: () => void, ms: number): () => void {
  const id = setInterval(fn, ms);
  return () => clearInterval(id);
}

/** addEventListener as a teardown. */
export function listen<K extends keyof WindowEventMap>(
  target: Window, type: K, fn: (e: WindowEventMap[K]) => void, opts?: AddEventListenerOptions): () => void;
export function listen(target: EventTarget, type: string, fn: EventListener, opts?: AddEventListenerOptions): () => void;
export function listen(target: EventTarget, type: string, fn: EventListener, opts?: AddEventListenerOptions): () => void {
  target.addEventListener(type, fn, opts);
  return () => target.removeEventListener(type, fn, opts);
}

/** A ResizeObserver on some elements, as a teardown. */
export function observeSize(fn: () => void, ...els: Element[]): () => void {
  const ro = new ResizeObserver(fn);
  for (const el of els) ro.observe(el);
  return () => ro.disconnect();
}
