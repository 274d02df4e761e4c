/**
 * What the domain layer's work needs from whoever calls it: the client, the caller's cancellation,
 * progress reporting and operation waits, and the server's settings. The tool layer's context is this
 * one; nothing here knows MCP.
 */
import type { NeonClient, Tenant } from '../client/neon-client.js';
import type { ReaderWalls } from '../sql/readonly-role.js';
import type { Operation } from './operations.js';
import type { Backoff } from './poll.js';
import type { ConnectionResolver, ResolvedEntry } from './resolver.js';

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
  /** Base URL of Neon's documentation site (default docs-site.ts DEFAULT_DOCS_URL). */
  docsUrl?: string;
  /** Expiry of branches create_branch makes, in ms; 0: none (--branch-ttl; default in tools/branches.ts). */
  branchTtlMs?: number;
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
   * Where SQL connects (src/neon/resolver.ts): the server sets Neon's API, or the one server of
   * --database-url; absent (a handler called outside a server) means Neon's API.
   */
  connections?: ConnectionResolver;
}

/** A list offered as completions (mcp/completions.ts): an ID, a name, whether it is the default. */
export interface Named {
  id: string;
  name: string;
  default?: boolean;
}

/** Lists loaded for completions, by what was listed, with when they were loaded. */
export type ListCache = Map<string, { at: number; value: Promise<Named[]> }>;

/**
 * What one caller (one API key) keeps between calls. It hangs off the caller's tenant object (the
 * client's `tenant`), never in a module-level table keyed by caller: under --http the tenant is made
 * per key with these (http/tenants.ts), so two keys cannot meet in a cache by construction, and
 * forgetting the tenant forgets its caches.
 */
export interface CallerCaches {
  /** Connection details resolved through Neon (resolver.ts), by target. */
  readonly connections: Map<string, ResolvedEntry>;
  /** Completion lists, per configuration served (its settings object). */
  readonly completions: WeakMap<Settings, ListCache>;
  /** What the read-only role check found on each server (sql/readonly-role.ts). */
  readonly readerWalls: ReaderWalls;
}

export function newCallerCaches(): CallerCaches {
  return {
    connections: new Map(),
    completions: new WeakMap(),
    readerWalls: { walls: new Map(), reported: new Set() },
  };
}

/**
 * The caches of a client's caller. A tenant made without them (a client's default tenant: stdio, or
 * --http with the server's own key) gets them on first use, on that same object.
 */
export function cachesOf(client: Pick<NeonClient, 'tenant'>): CallerCaches {
  const tenant = client.tenant as Tenant & { caches?: CallerCaches };
  if (!tenant.caches)
    Object.defineProperty(tenant, 'caches', { value: newCallerCaches(), enumerable: false });
  return tenant.caches as CallerCaches;
}
