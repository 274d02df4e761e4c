/**
 * Roles with the access asked for, and whether a role's credential can write: what create_role and
 * read-only mode's get_connection_string share. The SQL is in src/sql/limited-roles.ts.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../client/errors.js';
import {
  createLimitedRole,
  type LimitedAccess,
  type LimitedRole,
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
function withCredentials(uri: string, role: string, password?: string): string {
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
  const resolved = await resolveConnection(ctx.client, target, ctx.signal);
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
  return { ...resolved };
}
