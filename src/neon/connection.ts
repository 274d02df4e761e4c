/**
 * Resolving "which database do I connect to": the defaults an agent expects (the project's default
 * branch, its only or first database, that database's owner) and the URI from Neon's `connection_uri`
 * endpoint; and running SQL there, with the resolved details cached briefly per API client.
 */
import { InvalidArgumentError, NeonError } from '../client/errors.js';
import type { NeonClient } from '../client/neon-client.js';
import { SqlConnectError } from '../sql/errors.js';
import { type Session, withSession } from '../sql/session.js';
import type { NeonContext } from './context.js';

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
const resolved = new WeakMap<
  NeonClient,
  Map<string, { conn: ResolvedConnection; owner?: boolean; expires: number }>
>();

export interface Db extends ResolvedConnection {
  /** Came from the cache rather than from Neon just now. */
  cached: boolean;
  /** The role is the database's owner (undefined: not looked up, as both were named). */
  owner?: boolean;
}

/** Neon's defaults and connection URI for a target, from a short-lived cache when possible. */
export async function resolveDb(
  client: NeonClient,
  target: ConnectionTarget,
  signal: AbortSignal,
  fresh = false,
): Promise<Db> {
  let cache = resolved.get(client);
  if (!cache) {
    cache = new Map();
    resolved.set(client, cache);
  }
  const key = JSON.stringify([target.project_id, target.branch_id, target.database, target.role]);
  const hit = cache.get(key);
  if (!fresh && hit && hit.expires > Date.now()) return { ...hit.conn, owner: hit.owner, cached: true };
  const { conn, owner } = await resolveWithOwner(client, { ...target, pooled: false }, signal);
  cache.set(key, { conn, owner, expires: Date.now() + RESOLVE_TTL_MS });
  return { ...conn, owner, cached: false };
}

/** Forgets cached connection details of a branch (after it was deleted). */
export function forgetBranch(client: NeonClient, branchId: string): void {
  const cache = resolved.get(client);
  if (!cache) return;
  for (const [key, value] of cache) if (value.conn.branch_id === branchId) cache.delete(key);
}

export function describeDb(db: Pick<ResolvedConnection, 'branch_id' | 'database' | 'role'>): string {
  return `branch ${db.branch_id} (database ${db.database}, role ${db.role})`;
}

/**
 * Runs `fn` on a session to the target's database. When cached connection details fail to connect
 * (a reset password, a recreated compute), they are fetched anew and the connect is tried once more.
 */
export async function onDatabase<T>(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings'>,
  target: ConnectionTarget,
  fn: (s: Session, db: Db) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const db = await resolveDb(ctx.client, target, ctx.signal, attempt > 0);
    try {
      return await withSession(
        { uri: db.uri, where: describeDb(db), role: db.role, owner: db.owner, tag: db.branch_id },
        {
          signal: ctx.signal,
          timeoutMs: ctx.settings.sqlTimeoutMs,
          maxBytes: ctx.settings.sqlMaxBytes,
          readOnlyReason: ctx.settings.readOnly
            ? 'this server runs in read-only mode (--read-only), where all SQL runs in READ ONLY transactions'
            : 'this tool runs SQL in a READ ONLY transaction; use run_sql to change data',
        },
        (s) => fn(s, db),
      );
    } catch (e) {
      if (attempt === 0 && db.cached && e instanceof SqlConnectError) continue;
      throw e;
    }
  }
}
