import {
  NeonAbortedError,
  NeonOperationCheckError,
  NeonOperationFailedError,
  NeonOperationTimeoutError,
} from './errors.js';
import type { NeonClient, Schemas } from './neon-client.js';

export type Operation = Schemas['Operation'];

const TERMINAL = new Set(['finished', 'skipped', 'failed', 'error', 'cancelled']);
const FAILED = new Set(['failed', 'error', 'cancelled']);

export function isTerminal(op: Pick<Operation, 'status'>): boolean {
  return TERMINAL.has(op.status);
}

export interface OperationProgress {
  /** Operations that reached a terminal status. */
  done: number;
  total: number;
  /** The latest known state of every operation. */
  operations: Operation[];
}

export interface WaitOptions {
  signal?: AbortSignal;
  onProgress?: (progress: OperationProgress) => void | Promise<void>;
  /** Overall limit of the wait in milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /**
   * Delay between polls: `initialDelayMs` (200) while the wait is young (`fastPhaseMs`, 5 s, the time
   * most Neon operations take), then growing by half each round up to `maxDelayMs` (2,000), so a quick
   * operation is seen finished within a fraction of a second and a slow one does not cost many polls.
   */
  initialDelayMs?: number;
  maxDelayMs?: number;
  fastPhaseMs?: number;
}

/**
 * Polls every operation that is not yet terminal until all are `finished`/`skipped`. Throws
 * {@link NeonOperationFailedError} on the first failure, {@link NeonOperationTimeoutError} naming the
 * operations still running when `timeoutMs` passes, and {@link NeonAbortedError} when the signal aborts.
 */
export async function waitForOperations(
  client: NeonClient,
  operations: readonly Operation[] | undefined,
  options: WaitOptions = {},
): Promise<Operation[]> {
  const latest = new Map<string, Operation>((operations ?? []).map((op) => [op.id, op]));
  const total = latest.size;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const deadline = Date.now() + timeoutMs;
  let delay = options.initialDelayMs ?? 200;
  const maxDelay = options.maxDelayMs ?? 2_000;
  const fastUntil = Date.now() + (options.fastPhaseMs ?? 5_000);

  const check = () => {
    for (const op of latest.values()) if (FAILED.has(op.status)) throw new NeonOperationFailedError(op);
  };
  check();
  for (;;) {
    const pending = [...latest.values()].filter((op) => !isTerminal(op));
    await options.onProgress?.({ done: total - pending.length, total, operations: [...latest.values()] });
    if (pending.length === 0) return [...latest.values()];
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new NeonOperationTimeoutError(pending, timeoutMs);
    await sleep(Math.min(delay, remaining), options.signal);
    if (Date.now() >= fastUntil) delay = Math.min(maxDelay, delay * 1.5);
    const fresh = await Promise.all(
      pending.map((op) =>
        client.get('/projects/{project_id}/operations/{operation_id}', {
          path: { project_id: op.project_id, operation_id: op.id },
          signal: options.signal,
        }),
      ),
    ).catch((error) => {
      // The change itself was accepted: say so, so that nobody sends it a second time.
      throw error instanceof NeonAbortedError ? error : new NeonOperationCheckError(pending, error);
    });
    for (const answer of fresh) {
      const operation = answer?.operation;
      if (!operation?.id || !operation.status) {
        throw new NeonOperationCheckError(
          pending,
          new Error('Neon answered an operation poll without the operation'),
        );
      }
      latest.set(operation.id, operation);
    }
    check();
  }
}

/** A timer that rejects with {@link NeonAbortedError} when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new NeonAbortedError('Waiting for the operation'));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new NeonAbortedError('Waiting for the operation'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
