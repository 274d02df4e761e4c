/**
 * The one way neon-mcp waits on Neon: a read repeated on one backoff schedule until it says done, within
 * an overall limit. Operation waits (operations.ts) and status polls (anonymization, function
 * deployments) are both built on it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { NeonAbortedError } from '../client/errors.js';

/**
 * The delay between reads: `initialDelayMs` (200) while the wait is young (`fastPhaseMs`, 5 s, the time
 * most Neon operations take), then growing by half each round up to `maxDelayMs` (2,000), so quick work
 * is seen finished within a fraction of a second and slow work does not cost many requests.
 */
export interface Backoff {
  initialDelayMs?: number;
  maxDelayMs?: number;
  fastPhaseMs?: number;
}

/** Waits `ms`; rejects with {@link NeonAbortedError} naming `what` when the signal aborts. */
export async function sleep(ms: number, signal?: AbortSignal, what = 'Waiting'): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (e) {
    if (signal?.aborted) throw new NeonAbortedError(what);
    throw e;
  }
}

interface PollOptions<T> extends Backoff {
  /** One read of the state; may throw to end the wait (a failure). */
  read(): Promise<T>;
  done(value: T): boolean;
  /** Told of every value read, the last one included. */
  onValue?(value: T): void | Promise<void>;
  /** Overall limit in milliseconds. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Named when the wait is aborted. */
  what?: string;
}

/**
 * Reads until `done`, sleeping on the backoff schedule in between; when `timeoutMs` has passed, returns
 * the last value read with `timedOut` (the work goes on at Neon; the caller says how to follow it).
 */
export async function poll<T>(options: PollOptions<T>): Promise<{ value: T; timedOut: boolean }> {
  const start = Date.now();
  const deadline = start + options.timeoutMs;
  const fastUntil = start + (options.fastPhaseMs ?? 5_000);
  const maxDelay = options.maxDelayMs ?? 2_000;
  let wait = options.initialDelayMs ?? 200;
  for (;;) {
    const value = await options.read();
    await options.onValue?.(value);
    if (options.done(value)) return { value, timedOut: false };
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { value, timedOut: true };
    await sleep(Math.min(wait, remaining), options.signal, options.what);
    if (Date.now() >= fastUntil) wait = Math.min(maxDelay, wait * 1.5);
  }
}
