/**
 * Events of the lower layers (retries, rate-limiter queueing, operation waits, SQL cancellations) for
 * whoever runs code inside `clientEvents.run(sink, …)`: the server turns them into MCP log messages
 * and progress of the one call they belong to. An AsyncLocalStorage rather than an option of the
 * client, because one client serves every call and an event belongs to the call that caused it
 * (the same reason as `acceptedWrites`). Without a sink, events go nowhere: stderr keeps its lines.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The severities of RFC 5424 that MCP logging uses, lowest first. */
type EventLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';

export interface ClientEvent {
  level: EventLevel;
  /** What happened, as a short key (retry, queued, operation_wait, sql_cancel, …). */
  kind: 'retry' | 'queued' | 'operation_wait' | 'operation_done' | 'sql_cancel' | 'sql_commit';
  /** One line for a person: what happened and why. Never holds a secret (the sink redacts anyway). */
  message: string;
}

export const clientEvents = new AsyncLocalStorage<(event: ClientEvent) => void>();

/** Tells the current call's sink, if any; a failing sink never breaks the work that emitted. */
export function emitEvent(event: ClientEvent): void {
  try {
    clientEvents.getStore()?.(event);
  } catch {
    // Reporting is best effort.
  }
}
