/**
 * Fake clocks and node:timers/promises. src/neon/poll.ts sleeps with `setTimeout` from
 * node:timers/promises; vi.useFakeTimers fakes the global timers only (vitest does not patch that module
 * here, and an ESM named import would keep the real function anyway). A test file that drives waits
 * on a fake clock mocks the module with this replacement, built on the global timers, so the same
 * sleep runs on the fake clock when one is installed and on the real one otherwise:
 *
 *   vi.mock('node:timers/promises', async (real) =>
 *     (await import('./clock.js')).timersOnGlobalClock(await real()));
 */
export function timersOnGlobalClock<T extends object>(real: T): T {
  const setTimeout = <V>(ms?: number, value?: V, options: { signal?: AbortSignal } = {}): Promise<V> =>
    new Promise<V>((resolve, reject) => {
      const { signal } = options;
      // Node rejects with an AbortError too; src only checks `signal.aborted` after it.
      const aborted = () => new DOMException('The operation was aborted', 'AbortError');
      if (signal?.aborted) return reject(aborted());
      const onAbort = () => {
        globalThis.clearTimeout(timer);
        reject(aborted());
      };
      const timer = globalThis.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value as V);
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  return { ...real, setTimeout };
}
