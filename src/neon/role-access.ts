/**
 * Roles with the access asked for, and whether a role's credential can write: what create_role and
 * read-only mode's get_connection_string share. The SQL is in src/sql/limited-roles.ts.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, NeonApiError } from '../client/errors.js';
import {
  type Cleared,
  clearRole,
  createLimitedRole,
  dropRoleWithSql,
  type LimitedAccess,
  type LimitedRole,
  resetPasswordWithSql,
  type SqlLoginRole,
  sqlLoginRoles,
  whyRoleCanWrite,
} from '../sql/limited-roles.js';
import type { NeonContext } from './context.js';
import {
  CONNECT_OPERATIONS,
  type ConnectionTarget,
  onDatabase,
  type ResolvedConnection,
  resolveConnection,
} from './resolver.js';

/**
 * The Neon operations behind making a limited role: the owner's connection on a branch the caller
 * names (so the default branch is never looked up).
 */
export const LIMITED_ROLE_OPERATIONS = CONNECT_OPERATIONS.filter((op) => op !== 'listProjectBranches');

/**
 * A generated password: 24 random base64url characters (144 bits), well above Neon's strength check
 * for passwords set with SQL, and safe in a URI without escaping.
 */
function strongPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** `uri` with another role and password (the host, database and options stay). */
export function withCredentials(uri: string, role: string, password?: string): string {
  const url = new URL(uri);
  url.username = encodeURIComponent(role);
  url.password = password === undefined ? '' : encodeURIComponent(password);
  return url.toString();
}

interface LimitedRoleResult extends LimitedRole {
  role: string;
  branch_id: string;
  database: string;
  /** The role the grants come from: objects it creates later are granted too. */
  owner: string;
  access: LimitedAccess;
  password: string;
  /** A postgresql:// URI for the new role (contains the password). */
  uri: string;
}

/**
 * Creates a role limited to reading (or reading and changing rows) in one database of a branch, with
 * SQL run as that database's owner, and a connection string for it.
 */
export async function createRoleWithAccess(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings'>,
  target: { project_id: string; branch_id: string; database?: string; name: string; access: LimitedAccess },
): Promise<LimitedRoleResult> {
  const password = strongPassword();
  return onDatabase(
    ctx,
    { project_id: target.project_id, branch_id: target.branch_id, database: target.database },
    async (s, db) => {
      const made = await createLimitedRole(s, { name: target.name, password, access: target.access });
      return {
        role: target.name,
        branch_id: db.branch_id,
        database: db.database,
        owner: db.role,
        access: target.access,
        password,
        uri: withCredentials(db.uri, target.name, password),
        ...made,
      };
    },
  );
}

/**
 * The connection string read-only mode may hand out: with the password only for a role that cannot
 * write in any database of the branch (checked in SQL as each database's owner); otherwise an error
 * that says how to get one.
 */
export async function readOnlyConnection(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings'>,
  target: ConnectionTarget,
): Promise<ResolvedConnection & { password_omitted?: string }> {
  const resolved = await resolveConnection(ctx.client, target, ctx.signal).catch(async (e) => {
    if (!target.role || !isNotFound(e)) throw e;
    // A role made with SQL: Neon has no URI for it, and read-only mode sets no password (a write).
    const owner = await resolveConnection(ctx.client, { ...target, role: undefined }, ctx.signal);
    await findSqlRole(ctx, owner, target.role, 'get_connection_string');
    return { ...owner, role: target.role, uri: withCredentials(owner.uri, target.role), sql_role: true };
  });
  const advice =
    'In read-only mode (--read-only) neon-mcp hands out no credential that can write. Ask the user for a ' +
    'read-only role (without --read-only, create_role with access read_only makes one) and pass it as role.';
  if (!target.role) {
    return {
      ...resolved,
      uri: withCredentials(resolved.uri, resolved.role),
      password_omitted: `The password of ${resolved.role} (the database owner, who can write) is left out. ${advice}`,
    };
  }
  // A role's credential works in every database of the branch: check them all.
  const { databases } = await ctx.client.get('/projects/{project_id}/branches/{branch_id}/databases', {
    path: { project_id: resolved.project_id, branch_id: resolved.branch_id },
    signal: ctx.signal,
  });
  for (const { name, owner_name: owner } of databases) {
    const why = await onDatabase(
      ctx,
      { project_id: resolved.project_id, branch_id: resolved.branch_id, database: name, role: owner },
      (s) => {
        s.beginReadOnly();
        return whyRoleCanWrite(s, target.role as string);
      },
    );
    if (why) {
      throw new InvalidArgumentError(
        `get_connection_string: role ${target.role} can write (${why}, in database ${name}). ${advice}`,
      );
    }
  }
  if ('sql_role' in resolved) {
    const { sql_role: _, ...rest } = resolved;
    return {
      ...rest,
      password_omitted:
        `Role ${target.role} was made with SQL: Neon cannot show its password, and read-only mode sets no new ` +
        'one. Ask the user for it, or without --read-only get_connection_string (for roles create_role made) ' +
        'or reset_role_password sets a new one.',
    };
  }
  return { ...resolved };
}

/**
 * get_connection_string outside read-only mode: Neon's URI; for a role Neon does not know (made with
 * SQL), a new password set with SQL when neon-mcp's create_role made the role (its password was shown
 * once, and Neon cannot show it again), said so in `password_note`. Another role made with SQL may
 * belong to an application: its password is not changed behind its back, the error says how.
 */
export async function connectionFor(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings'>,
  target: ConnectionTarget,
): Promise<ResolvedConnection & { password_note?: string }> {
  try {
    return await resolveConnection(ctx.client, target, ctx.signal);
  } catch (e) {
    if (!target.role || !isNotFound(e)) throw e;
    const owner = await resolveConnection(ctx.client, { ...target, role: undefined }, ctx.signal);
    const role = target.role;
    const found = await findSqlRole(ctx, owner, role, 'get_connection_string');
    if (!found.made_by_neon_mcp) {
      throw new InvalidArgumentError(
        `get_connection_string: role ${role} was made with SQL, not by neon-mcp's create_role: Neon cannot show ` +
          'its password, and neon-mcp does not change it unasked (an application may use it). Ask the user for ' +
          'it, or call reset_role_password, which sets a new one (the old one then stops working).',
      );
    }
    const made = await resetSqlRolePassword(ctx, owner, role);
    return {
      ...owner,
      role,
      uri: made.uri,
      password_note:
        `SECRET: a new password for role ${role}, set with SQL: Neon cannot show the password of a role made ` +
        'with SQL, so the one create_role showed no longer works.',
    };
  }
}

/** The Neon operations behind finding, resetting or deleting a role made with SQL (a branch named). */
export const SQL_ROLE_OPERATIONS = LIMITED_ROLE_OPERATIONS;

/** At most this many roles made with SQL are listed (each not made by create_role is probed). */
const SQL_ROLES_LISTED = 50;

/** A Neon API 404: what was asked for is not among Neon's roles (it may be a role made with SQL). */
export function isNotFound(e: unknown): boolean {
  return e instanceof NeonApiError && e.status === 404;
}

interface BranchTarget {
  project_id: string;
  branch_id: string;
}

/**
 * The login roles of the branch's first database that Neon's API does not list (`neon_names`): roles
 * made with SQL, create_role's limited ones among them (src/sql/limited-roles.ts sqlLoginRoles). Read
 * as the database's owner in a read-only transaction.
 */
export async function listSqlRoles(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings'>,
  target: BranchTarget & { database?: string },
  neon_names: string[],
  only?: string,
): Promise<{ roles: SqlLoginRole[]; more: number; database: string }> {
  return onDatabase(ctx, target, async (s, db) => {
    s.beginReadOnly();
    const found = await sqlLoginRoles(s, { neon_names, only, limit: SQL_ROLES_LISTED });
    return { ...found, database: db.database };
  });
}

/** The error for a role neither Neon nor the database knows, naming the role and the branch. */
export function roleNotFound(
  tool: string,
  role: string,
  branch_id: string,
  database?: string,
): InvalidArgumentError {
  return new InvalidArgumentError(
    `${tool}: role "${role}" was not found on branch ${branch_id}: Neon's API does not list it` +
      `${database ? `, and no login role of that name may connect to database ${database}` : ''}. ` +
      'list_roles shows the roles of the branch.',
  );
}

/** A role made with SQL, or the not-found error naming it. */
export async function findSqlRole(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings'>,
  target: BranchTarget & { database?: string },
  role: string,
  tool: string,
): Promise<SqlLoginRole & { database: string }> {
  let found: Awaited<ReturnType<typeof listSqlRoles>>;
  try {
    found = await listSqlRoles(ctx, target, [], role);
  } catch (e) {
    // Neon's API said no; the database could not be asked: both said, neither hidden.
    if (e instanceof InvalidArgumentError) throw e;
    throw new InvalidArgumentError(
      `${tool}: role "${role}" was not found on branch ${target.branch_id}: Neon's API does not list it, ` +
        `and the database's own roles (made with SQL) could not be read: ${(e as Error).message}`,
    );
  }
  const hit = found.roles[0];
  if (!hit) throw roleNotFound(tool, role, target.branch_id, found.database);
  return { ...hit, database: found.database };
}

/**
 * A new password for a role made with SQL, set with SQL by the database's owner (Neon cannot show or
 * reset a role it does not know), and a connection string for it.
 */
export async function resetSqlRolePassword(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings'>,
  target: BranchTarget & { database?: string; pooled?: boolean; compute_id?: string },
  role: string,
): Promise<{ password: string; uri: string; database: string; branch_id: string }> {
  const password = strongPassword();
  await onDatabase(ctx, target, (s) => resetPasswordWithSql(s, role, password));
  // The owner's URI for the same target (pooled, compute), with the role's credentials in it.
  const owner = await resolveConnection(ctx.client, { ...target, role: undefined }, ctx.signal);
  return {
    password,
    uri: withCredentials(owner.uri, role, password),
    database: owner.database,
    branch_id: owner.branch_id,
  };
}

/**
 * Deletes a role made with SQL: in every database of the branch, as that database's owner, its objects
 * are handed to the owner and its privileges and default privileges revoked (clearRole); then DROP
 * ROLE. Each database's outcome is returned; on a failure the error says which databases were cleared.
 */
export async function deleteSqlRole(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings'>,
  target: BranchTarget,
  role: string,
): Promise<{ cleared: { database: string; how: Cleared }[] }> {
  const { databases } = await ctx.client.get('/projects/{project_id}/branches/{branch_id}/databases', {
    path: target,
    signal: ctx.signal,
  });
  await findSqlRole(ctx, target, role, 'delete_role');
  const cleared: { database: string; how: Cleared }[] = [];
  try {
    for (const { name } of databases) {
      cleared.push({
        database: name,
        how: await onDatabase(ctx, { ...target, database: name }, (s) => clearRole(s, role)),
      });
    }
    await onDatabase(ctx, target, (s) => dropRoleWithSql(s, role));
  } catch (e) {
    if (e instanceof Error) {
      e.message +=
        ` Role ${role} was not deleted.` +
        (cleared.length
          ? ` Its objects and grants were already removed in database ${cleared.map((c) => c.database).join(', ')}.`
          : '');
    }
    throw e;
  }
  return { cleared };
}
