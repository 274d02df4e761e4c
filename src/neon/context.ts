/**
 * What the domain layer's work needs from whoever calls it: the client, the caller's cancellation,
 * progress reporting and operation waits, and the server's settings. The tool layer's context is this
 * one; nothing here knows MCP.
 */
import type { NeonClient } from '../client/neon-client.js';
import type { ConnectionResolver } from './connection.js';
import type { Operation } from './operations.js';
import type { Backoff } from './poll.js';

/** The server's settings that domain work and tools may consult. */
export interface Settings {
  readOnly: boolean;
  /** Set when the server is scoped to one project. */
  projectId?: string;
  /** The organization `org_id` arguments are fixed to (--org-id), when set. */
  orgId?: string;
  /** Overall limit for waiting on Neon (operations, status polls), in milliseconds. */
  operationTimeoutMs: number;
  /** The polling schedule of those waits (default: poll.ts). */
  backoff?: Backoff;
  /** SQL statement timeout in milliseconds. */
  sqlTimeoutMs: number;
  /** Rows returned by SQL tools at most. */
  sqlMaxRows: number;
  /** Bytes of row values returned by one SQL call at most (long values are cut, rows past it counted). */
  sqlMaxBytes: number;
  /** Base URL of Neon's documentation site (default docs.ts DEFAULT_DOCS_URL). */
  docsUrl?: string;
}

export interface NeonContext {
  client: NeonClient;
  /** Aborts when the caller cancels. */
  signal: AbortSignal;
  /** Reports progress when the caller asked for it; otherwise does nothing. */
  progress(message: string): Promise<void>;
  /** Waits until every operation finished, reporting progress; throws if one fails or it times out. */
  wait(operations: readonly Operation[] | undefined): Promise<Operation[]>;
  settings: Settings;
  /**
   * Where SQL connects (src/neon/connection.ts): the server sets Neon's API, or the one server of
   * --database-url; absent (a handler called outside a server) means Neon's API.
   */
  connections?: ConnectionResolver;
}
