/**
 * Resolving "which database do I connect to": the defaults an agent expects (the project's default
 * branch, its only or first database, that database's owner) and the URI from Neon's `connection_uri`
 * endpoint; and running SQL there, with the resolved details cached briefly per API client. Or, with
 * --database-url, one PostgreSQL server given by URL: the resolver in the context chooses.
 */
import { InvalidArgumentError, NeonError } from '../client/errors.js';
import type { NeonClient } from '../client/neon-client.js';
import { SqlConnectError } from '../sql/errors.js';
import { parseUri } from '../sql/pools.js';
import { newReaderWalls } from '../sql/readonly-role.js';
import { type Session, type SessionTarget, withSession } from '../sql/session.js';
import { cachesOf, type NeonContext } from './context.js';

/** The Neon operations behind finding a connection. */
export const CONNECT_OPERATIONS = ['listProjectBranches', 'listProjectBranchDatabases', 'getConnectionURI'];

export interface ConnectionTarget {
  project_id: string;
  branch_id?: string;
  database?: string;
  role?: string;
  compute_id?: string;
  pooled?: boolean;
}

export interface ResolvedConnection {
  project_id: string;
  branch_id: string;
  database: string;
  role: string;
  pooled: boolean;
  /** Contains the role's password: hand it only to whoever asked for it. */
  uri: string;
}

/** Finds the project's default branch. */
export async function defaultBranchId(
  client: NeonClient,
  project_id: string,
  signal?: AbortSignal,
): Promise<string> {
  const branches = await client.listAll('/projects/{project_id}/branches', 'branches', {
    path: { project_id },
    signal,
  });
  const main = branches.find((b) => b.default) ?? branches[0];
  if (!main) throw new NeonError(`Project ${project_id} has no branches.`);
  return main.id;
}

/** The database to use on a branch: the one named (which must exist), else the only or first one. */
export async function pickDatabase(
  client: NeonClient,
  project_id: string,
  branch_id: string,
  database: string | undefined,
  signal?: AbortSignal,
): Promise<{ name: string; owner: string }> {
  const { databases } = await client.get('/projects/{project_id}/branches/{branch_id}/databases', {
    path: { project_id, branch_id },
    signal,
  });
  const db = database ? databases.find((d) => d.name === database) : databases[0];
  if (!db) {
    throw new InvalidArgumentError(
      database
        ? `Database "${database}" does not exist on branch ${branch_id}. Existing: ${databases.map((d) => d.name).join(', ') || 'none'}.`
        : `Branch ${branch_id} has no database. Create one with create_database.`,
    );
  }
  return { name: db.name, owner: db.owner_name };
}

/** Fills in the defaults and asks Neon for the connection URI. */
export async function resolveConnection(
  client: NeonClient,
  target: ConnectionTarget,
  signal?: AbortSignal,
): Promise<ResolvedConnection> {
  return (await resolveWithOwner(client, target, signal)).conn;
}

/** {@link resolveConnection}, plus whether the role is the database's owner when that was looked up. */
async function resolveWithOwner(
  client: NeonClient,
  target: ConnectionTarget,
  signal?: AbortSignal,
): Promise<{ conn: ResolvedConnection; owner?: boolean }> {
  const { project_id } = target;
  const branch_id = target.branch_id ?? (await defaultBranchId(client, project_id, signal));
  let database = target.database;
  let role = target.role;
  let owner: boolean | undefined;
  if (!database || !role) {
    const db = await pickDatabase(client, project_id, branch_id, database, signal);
    database = db.name;
    role ??= db.owner;
    owner = role === db.owner;
  }
  const pooled = target.pooled ?? false;
  const { uri } = await client.get('/projects/{project_id}/connection_uri', {
    path: { project_id },
    query: { branch_id, endpoint_id: target.compute_id, database_name: database, role_name: role, pooled },
    signal,
  });
  return { conn: { project_id, branch_id, database, role, pooled, uri }, owner };
}

/** How long resolved connection details are reused (a failed connect always fetches them anew). */
const RESOLVE_TTL_MS = 60_000;
/** A cached resolution. The cache is the caller's own (context.ts cachesOf): under --http each
 * request has its own client, but the same key's clients share one tenant and so one cache. */
export interface ResolvedEntry {
  conn: ResolvedConnection;
  owner?: boolean;
  expires: number;
}

export interface Db extends ResolvedConnection {
  /** Came from the cache rather than from Neon just now. */
  cached: boolean;
  /** The role is the database's owner (undefined: not looked up, as both were named). */
  owner?: boolean;
}

/**
 * A database reached through a plain PostgreSQL URL (--database-url): no Neon project or branch.
 * Tools put `branch_id` in their answers as they find it, so it is absent here rather than empty.
 */
export type AnyDb = Omit<Db, 'project_id' | 'branch_id'> & { project_id?: string; branch_id?: string };

/**
 * Where SQL connects: the one seam between tools and the kind of server behind them. Tools call
 * {@link onDatabase}; the resolver in the context decides whether a target is looked up through Neon's
 * API ({@link neonResolver}, the default) or is a database of one fixed server ({@link databaseUrlResolver}).
 */
export interface ConnectionResolver {
  /**
   * What is behind the targets: Neon (branches, its API) or one plain PostgreSQL server. For the few
   * domain functions that ask Neon itself (the schema as DDL), not for the tools.
   */
  kind: 'neon' | 'postgres';
  /** The connection details of a target; `fresh` bypasses any cache (after a failed connect). */
  resolve(target: Partial<ConnectionTarget>, signal: AbortSignal, fresh: boolean): Promise<AnyDb>;
  /** The session target of a resolved connection: its URI, where it is for messages, its pool tag. */
  session(db: AnyDb): SessionTarget;
}

/** Targets resolved through Neon's API (default branch, first database, its owner; connection_uri). */
export function neonResolver(client: NeonClient): ConnectionResolver {
  return {
    kind: 'neon',
    resolve: (target, signal, fresh) => resolveDb(client, target as ConnectionTarget, signal, fresh),
    session: (db) => ({
      uri: db.uri,
      where: describeDb(db as Db),
      role: db.role,
      owner: db.owner,
      // The branch, so its pools close when it is deleted.
      tag: db.branch_id,
      // Whose key found the URI: under --http two callers never share a pool.
      tenant: client.tenant.id,
      // Local mode's URI names the branch's database otherwise (neondb__<tag>): SQL naming it by this
      // name is given that one.
      database: db.database,
      // Nor what they found of the read-only role.
      readerWalls: cachesOf(client).readerWalls,
    }),
  };
}

/** Neon's defaults and connection URI for a target, from a short-lived cache when possible. */
export async function resolveDb(
  client: NeonClient,
  target: ConnectionTarget,
  signal: AbortSignal,
  fresh = false,
): Promise<Db> {
  const cache = cachesOf(client).connections;
  const key = JSON.stringify([target.project_id, target.branch_id, target.database, target.role]);
  const hit = cache.get(key);
  if (!fresh && hit && hit.expires > Date.now()) return { ...hit.conn, owner: hit.owner, cached: true };
  const { conn, owner } = await resolveWithOwner(client, { ...target, pooled: false }, signal);
  cache.set(key, { conn, owner, expires: Date.now() + RESOLVE_TTL_MS });
  return { ...conn, owner, cached: false };
}

/** Forgets cached connection details of a branch (after it was deleted). */
export function forgetBranch(client: NeonClient, branchId: string): void {
  const cache = cachesOf(client).connections;
  for (const [key, value] of cache) if (value.conn.branch_id === branchId) cache.delete(key);
}

export function describeDb(db: Pick<ResolvedConnection, 'branch_id' | 'database' | 'role'>): string {
  return `branch ${db.branch_id} (database ${db.database}, role ${db.role})`;
}

/**
 * Runs `fn` on a session to the target's database, found by the context's resolver (Neon's API when
 * there is none). When cached connection details fail to connect (a reset password, a recreated
 * compute), they are fetched anew and the connect is tried once more.
 */
export async function onDatabase<T>(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings' | 'connections'>,
  target: ConnectionTarget,
  fn: (s: Session, db: Db) => Promise<T>,
): Promise<T>;
export async function onDatabase<T>(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings' | 'connections'>,
  target: Partial<ConnectionTarget>,
  fn: (s: Session, db: AnyDb) => Promise<T>,
): Promise<T>;
export async function onDatabase<T>(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings' | 'connections'>,
  target: Partial<ConnectionTarget>,
  fn: (s: Session, db: Db) => Promise<T>,
): Promise<T> {
  const resolver = ctx.connections ?? neonResolver(ctx.client);
  for (let attempt = 0; ; attempt++) {
    const db = await resolver.resolve(target, ctx.signal, attempt > 0);
    try {
      return await withSession(
        resolver.session(db),
        {
          signal: ctx.signal,
          timeoutMs: ctx.settings.sqlTimeoutMs,
          maxBytes: ctx.settings.sqlMaxBytes,
          readOnlyReason: ctx.settings.readOnly
            ? 'this server runs in read-only mode (--read-only), where all SQL runs in READ ONLY transactions'
            : 'this tool runs SQL in a READ ONLY transaction; use run_sql to change data',
        },
        // A resolver other than Neon's gives no branch: only the overload without a project sees that.
        (s) => fn(s, db as Db),
      );
    } catch (e) {
      if (attempt === 0 && db.cached && e instanceof SqlConnectError) continue;
      throw e;
    }
  }
}

/**
 * Checks a --database-url at start-up, so a typo stops the server instead of failing every call. The
 * messages never repeat the URL: it holds a password.
 */
export function checkDatabaseUrl(url: string): {
  host: string;
  port: number;
  user: string;
  database: string;
} {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(
      'The database URL is not a valid URL; expected postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE ' +
        '(percent-encode special characters in the password).',
    );
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new Error(`The database URL has scheme ${parsed.protocol}; expected postgresql: or postgres:.`);
  }
  const ep = parseUri(url);
  if (!parsed.hostname) {
    throw new Error(
      'The database URL names no host (postgresql://USER@HOST/DATABASE); a Unix-domain socket is not supported, use TCP.',
    );
  }
  if (!ep.user) throw new Error('The database URL names no user (postgresql://USER@HOST/DATABASE).');
  return { host: ep.host, port: ep.port, user: ep.user, database: ep.database };
}

/**
 * One PostgreSQL server given by URL (--database-url): every target is the URL's database, or another
 * database of the same server when a tool names one, as the URL's user. Nothing is asked of Neon.
 */
export function databaseUrlResolver(url: string): ConnectionResolver {
  const ep = checkDatabaseUrl(url);
  const server = `${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`;
  // One caller (stdio only), so the resolver, made once per server, holds the caller's memory.
  const readerWalls = newReaderWalls();
  return {
    kind: 'postgres',
    async resolve(target) {
      if (!target.database || target.database === ep.database) {
        return { database: ep.database, role: ep.user, pooled: false, uri: url, cached: false };
      }
      const other = new URL(url);
      other.pathname = `/${encodeURIComponent(target.database)}`;
      return { database: target.database, role: ep.user, pooled: false, uri: other.href, cached: false };
    },
    session: (db) => ({
      uri: db.uri,
      where: `database ${db.database} on ${server} (role ${db.role})`,
      role: db.role,
      byUrl: true,
      readerWalls,
    }),
  };
}

/** The password of a --database-url as written (percent-encoded) and decoded: secrets to redact. */
export function databaseUrlSecrets(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const { password } = new URL(url);
    return password ? [...new Set([password, decodeURIComponent(password)])] : [];
  } catch {
    return []; // not a URL: checkDatabaseUrl refuses it
  }
}
