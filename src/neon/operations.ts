/** Waiting for Neon's asynchronous operations, on the shared polling schedule (poll.ts). */
import {
  NeonAbortedError,
  NeonOperationCheckError,
  NeonOperationFailedError,
  NeonOperationTimeoutError,
} from '../client/errors.js';
import { emitEvent } from '../client/events.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { type Backoff, poll } from './poll.js';

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

export interface WaitOptions extends Backoff {
  signal?: AbortSignal;
  onProgress?: (progress: OperationProgress) => void | Promise<void>;
  /** Overall limit of the wait in milliseconds (default 10 minutes). */
  timeoutMs?: number;
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
  const pending = () => [...latest.values()].filter((op) => !isTerminal(op));
  const check = () => {
    for (const op of latest.values()) if (FAILED.has(op.status)) throw new NeonOperationFailedError(op);
  };
  let first = true;
  const started = Date.now();
  const running = pending();
  if (running.length > 0) {
    emitEvent({
      level: 'info',
      kind: 'operation_wait',
      message: `Waiting for ${running.length} Neon operation(s) to finish: ${describe(running)}.`,
    });
  }
  const { timedOut } = await poll({
    ...options,
    timeoutMs,
    what: 'Waiting for the operation',
    // The first read is the state the caller already has; later ones ask Neon for what is still running.
    read: async () => {
      if (!first) await refresh(client, pending(), latest, options.signal);
      first = false;
      check();
      return pending();
    },
    done: (running) => running.length === 0,
    onValue: (running) =>
      options.onProgress?.({ done: total - running.length, total, operations: [...latest.values()] }),
  });
  if (timedOut) throw new NeonOperationTimeoutError(pending(), timeoutMs);
  if (running.length > 0) {
    emitEvent({
      level: 'debug',
      kind: 'operation_done',
      message: `Neon operation(s) ${describe(running)} finished after ${Date.now() - started} ms.`,
    });
  }
  return [...latest.values()];
}

function describe(ops: readonly Operation[]): string {
  return ops.map((op) => `${op.action} ${op.id}`).join(', ');
}

/** Asks Neon for the current state of each operation in `pending`. */
async function refresh(
  client: NeonClient,
  pending: Operation[],
  latest: Map<string, Operation>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const fresh = await Promise.all(
    pending.map((op) =>
      client.get('/projects/{project_id}/operations/{operation_id}', {
        path: { project_id: op.project_id, operation_id: op.id },
        signal,
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
}
