/** Waiting for Neon's asynchronous operations, on the shared polling schedule (poll.ts). */
import {
  NeonAbortedError,
  NeonError,
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

function isTerminal(op: Pick<Operation, 'status'>): boolean {
  return TERMINAL.has(op.status);
}

export interface OperationProgress {
  /** Operations that reached a terminal status. */
  done: number;
  total: number;
  /** The latest known state of every operation. */
  operations: Operation[];
}

interface WaitOptions extends Backoff {
  signal?: AbortSignal;
  onProgress?: (progress: OperationProgress) => void | Promise<void>;
  /** Overall limit of the wait in milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /**
   * The project a scoped server (`--project-id`) may touch: an operation of any other project is never
   * polled, even when Neon's answer names one.
   */
  projectId?: string;
}

/** Neon's answer named operations of a project outside the server's scope; they were not followed. */
export class NeonOutOfScopeError extends NeonError {
  override name = 'NeonOutOfScopeError';
  constructor(outside: readonly Operation[], projectId: string) {
    super(
      `Neon's answer names operations of another project (${outside
        .map((op) => `${op.id} (${op.action}) of project ${op.project_id}`)
        .join(', ')}), outside project ${projectId} that this server is scoped to (--project-id); ` +
        `they were not polled. The request to project ${projectId} was accepted, so the change may have been ` +
        'applied: check the resource (list or get it) before trying again.',
    );
  }
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
  const scope = options.projectId;
  const outside = scope === undefined ? [] : (operations ?? []).filter((op) => op.project_id !== scope);
  if (scope !== undefined && outside.length > 0) throw new NeonOutOfScopeError(outside, scope);
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
  for (const [i, answer] of fresh.entries()) {
    const operation = answer?.operation;
    // A poll answer about another operation or project would make the next poll follow it there.
    const asked = pending[i];
    if (
      !operation?.id ||
      !operation.status ||
      operation.id !== asked.id ||
      (operation.project_id !== undefined && operation.project_id !== asked.project_id)
    ) {
      throw new NeonOperationCheckError(
        pending,
        new Error('Neon answered an operation poll without the operation it was asked about'),
      );
    }
    latest.set(operation.id, operation);
  }
}
