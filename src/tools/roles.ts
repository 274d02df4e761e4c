/**
 * Postgres roles of a branch. A password appears only in the answers of create_role,
 * reveal_role_password and reset_role_password, the tools that exist to hand it out. Roles made
 * through Neon's API are neon_superuser members; read-only and read-write roles are made with SQL
 * (src/neon/role-access.ts) so that their limit holds. Neon's API does not know roles made with SQL:
 * each tool that names a role falls back to SQL (as the database owner) when Neon answers 404, so a
 * role the agent made is one it can list, get, reset and delete.
 */
import * as z from 'zod';
import { InvalidArgumentError, NeonError } from '../client/errors.js';
import { buildPath, type NeonClient, type Schemas } from '../client/neon-client.js';
import { defaultBranchId } from '../neon/resolver.js';
import {
  createRoleWithAccess,
  deleteSqlRole,
  findSqlRole,
  isNotFound,
  LIMITED_ROLE_OPERATIONS,
  listSqlRoles,
  resetSqlRolePassword,
} from '../neon/role-access.js';
import { pick } from '../neon/util.js';
import type { SqlLoginRole } from '../sql/limited-roles.js';
import { branchId, databaseName, onBranchId, projectId, readBranchId, roleName } from './fields.js';
import { ACT, CREATE, DESTROY, defineTool, item, output, READ, type ToolDef } from './framework.js';

type Role = Schemas['Role'];

const rolesRoute = '/projects/{project_id}/branches/{branch_id}/roles' as const;
const roleRoute = '/projects/{project_id}/branches/{branch_id}/roles/{role_name}' as const;

const ROLE_FIELDS = [
  'name',
  'branch_id',
  'protected',
  'authentication_method',
  'created_at',
  'updated_at',
] as const;
/** A role without its password, whatever Neon sent. */
const publicRole = (r: Role) => pick(r, ROLE_FIELDS);

async function getRole(
  client: NeonClient,
  project_id: string,
  branch_id: string,
  role_name: string,
  signal: AbortSignal,
) {
  const res = await client.get(roleRoute, {
    path: { project_id, branch_id, role_name },
    signal,
  });
  return publicRole(res.role);
}

/** A role made with SQL as the tools show it: marked, with its access. */
function sqlRole(r: SqlLoginRole, branch_id?: string) {
  return {
    name: r.name,
    ...(branch_id ? { branch_id } : {}),
    made_with: 'sql',
    access: r.access,
    ...(r.why ? { can_write: r.why } : {}),
    ...(r.made_by_neon_mcp ? { made_by: 'create_role' } : {}),
  };
}

/** Neon's answer, or on a 404 for the role the answer of `sql` (a role made with SQL). */
async function neonOrSql<T>(neon: () => Promise<T>, sql: () => Promise<T>): Promise<T> {
  try {
    return await neon();
  } catch (e) {
    if (!isNotFound(e)) throw e;
    return sql();
  }
}

/** The `role` argument naming an existing role. */
const roleArg = roleName.describe('Role');
// Also returns password_note, which labels the password as a secret; create_role with a limited
// access also uri (a connection string for the role), grants and, when the limit has a gap, warning.
const role = item({ name: z.string() });
const passwordOut = output({ role, password: z.string().optional() });

export const listRoles = defineTool({
  name: 'list_roles',
  title: 'List roles',
  description: 'List the Postgres roles of a branch (no passwords), also login roles made with SQL.',
  toolset: 'roles',
  operations: ['listProjectBranchRoles', 'listProjectBranches', ...LIMITED_ROLE_OPERATIONS],
  input: { project_id: projectId, branch_id: readBranchId },
  // Also returns branch_id; roles made with SQL carry made_with "sql" and access; sql_roles_note when
  // they could not be read (the database unreachable) or more were left out.
  output: output({ roles: z.array(role) }),
  hints: READ,
  async handler({ project_id, branch_id }, ctx) {
    const { client, signal } = ctx;
    const branch = branch_id ?? (await defaultBranchId(client, project_id, signal));
    const res = await client.get(rolesRoute, {
      path: { project_id, branch_id: branch },
      signal,
    });
    const roles: Record<string, unknown>[] = res.roles.map((r) =>
      pick(r, ['name', 'protected', 'authentication_method', 'created_at']),
    );
    let sql_roles_note: string | undefined;
    try {
      const found = await listSqlRoles(
        ctx,
        { project_id, branch_id: branch },
        res.roles.map((r) => r.name),
      );
      roles.push(...found.roles.map((r) => sqlRole(r)));
      if (found.more)
        sql_roles_note = `${found.more} more login roles made with SQL are left out; get_role names one.`;
    } catch (e) {
      // Neon's roles are still worth an answer when the database cannot be reached.
      sql_roles_note = `Login roles made with SQL could not be read, so they are missing: ${(e as Error).message}`;
    }
    return { branch_id: branch, roles, ...(sql_roles_note ? { sql_roles_note } : {}) };
  },
});

export const getRoleTool = defineTool({
  name: 'get_role',
  title: 'Get role',
  description: 'Get a Postgres role (no password).',
  toolset: 'roles',
  operations: ['getProjectBranchRole', 'listProjectBranches', ...LIMITED_ROLE_OPERATIONS],
  input: { project_id: projectId, branch_id: readBranchId, role: roleArg },
  output: output({ role }),
  hints: READ,
  async handler({ project_id, branch_id, role }, ctx) {
    const { client, signal } = ctx;
    const branch = branch_id ?? (await defaultBranchId(client, project_id, signal));
    return {
      role: await neonOrSql<Record<string, unknown>>(
        () => getRole(client, project_id, branch, role, signal),
        async () =>
          sqlRole(await findSqlRole(ctx, { project_id, branch_id: branch }, role, 'get_role'), branch),
      ),
    };
  },
});

/** The access a new role gets. */
const access = z
  .enum(['owner', 'read_only', 'read_write'])
  .optional()
  .describe(
    'owner (default): neon_superuser member, full access; read_only: SELECT; read_write: DML, no DDL',
  );

export const createRole = defineTool({
  name: 'create_role',
  title: 'Create role',
  description: 'Create a Postgres role; returns its password (secret).',
  toolset: 'roles',
  operations: ['createProjectBranchRole', ...LIMITED_ROLE_OPERATIONS],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    name: roleName.describe('Name'),
    access,
    database: databaseName.optional().describe('For read_only/read_write (default: first)'),
    no_login: z.boolean().optional().describe('No login'),
  },
  output: passwordOut,
  hints: CREATE,
  async handler({ project_id, branch_id, name, access = 'owner', database, no_login }, ctx) {
    if (access !== 'owner') {
      if (no_login) {
        throw new InvalidArgumentError(
          `create_role: no_login cannot be combined with access ${access}, which makes a login role. Leave one out.`,
        );
      }
      const made = await createRoleWithAccess(ctx, { project_id, branch_id, database, name, access });
      const what = access === 'read_only' ? 'read' : 'read, insert, update and delete rows in';
      return {
        role: { name, branch_id: made.branch_id, access, database: made.database },
        password: made.password,
        uri: made.uri,
        password_note: `SECRET: the password of role ${name}, also in uri. Store it safely: Neon cannot show it again (the role was made with SQL).`,
        grants:
          `${name} may ${what} the tables, views and sequences of ${made.owner} in schemas ${made.schemas.join(', ') || '(none)'} of database ${made.database}, ` +
          `also those ${made.owner} creates later; it cannot change the schema.`,
        ...(made.create_allowed_in.length
          ? {
              warning: `Every role (PUBLIC) may create objects in schema ${made.create_allowed_in.join(', ')}; run REVOKE CREATE ON SCHEMA … FROM PUBLIC to stop that.`,
            }
          : {}),
      };
    }
    if (database) {
      throw new InvalidArgumentError(
        'create_role: database applies to access read_only or read_write; an owner role has access to every database. Leave database out.',
      );
    }
    const { client, signal, wait } = ctx;
    const body: Schemas['RoleCreateRequest'] = { role: { name, ...(no_login ? { no_login } : {}) } };
    const res = await client.post(rolesRoute, { path: { project_id, branch_id }, body, signal });
    await wait(res.operations);
    const password = res.role.password;
    return {
      role: { ...publicRole(res.role), access },
      ...(password ? { password } : {}),
      password_note: password
        ? `SECRET: the password of role ${name}. Store it safely; reveal_role_password can show it again.`
        : `Role ${name} has no password (it cannot log in).`,
    };
  },
});

export const deleteRole = defineTool({
  name: 'delete_role',
  title: 'Delete role',
  description: 'Delete a Postgres role; fails while it owns a database.',
  toolset: 'roles',
  operations: ['deleteProjectBranchRole', ...LIMITED_ROLE_OPERATIONS],
  input: { project_id: projectId, branch_id: branchId, role: roleArg },
  // Also returns deleted: true; for a role made with SQL, cleared: per database, how its objects and
  // grants were undone before DROP ROLE.
  output: output({ role }),
  hints: DESTROY,
  async handler({ project_id, branch_id, role }, ctx) {
    const { client, signal, wait } = ctx;
    return neonOrSql<Record<string, unknown>>(
      async () => {
        // 204 (no body) means it was already gone.
        const res = await client.delete(roleRoute, {
          path: { project_id, branch_id, role_name: role },
          signal,
        });
        await wait(res?.operations);
        return { deleted: true, role: res ? publicRole(res.role) : { name: role } };
      },
      async () => {
        const { cleared } = await deleteSqlRole(ctx, { project_id, branch_id }, role);
        return {
          deleted: true,
          role: { name: role, branch_id, made_with: 'sql' },
          cleared: cleared.map(
            (c) =>
              `${c.database}: ${c.how === 'reassigned' ? 'objects given to the owner, grants dropped (REASSIGN/DROP OWNED)' : 'grants revoked one by one'}`,
          ),
        };
      },
    );
  },
});

export const revealRolePassword = defineTool({
  name: 'reveal_role_password',
  title: 'Reveal role password',
  description: "Show a role's password (secret).",
  toolset: 'roles',
  operations: ['getProjectBranchRolePassword', ...LIMITED_ROLE_OPERATIONS],
  input: { project_id: projectId, branch_id: onBranchId, role: roleArg },
  output: passwordOut,
  hints: ACT,
  async handler({ project_id, branch_id, role }, ctx) {
    const { client, signal } = ctx;
    const route = '/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password';
    const path = { project_id, branch_id, role_name: role };
    const res = await client.get(route, { path, signal }).catch(async (e) => {
      if (!isNotFound(e)) throw e;
      const found = await findSqlRole(ctx, { project_id, branch_id }, role, 'reveal_role_password');
      throw new InvalidArgumentError(
        `reveal_role_password: role ${role} was made with SQL; Neon cannot show its password (PostgreSQL keeps ` +
          `only a hash). reset_role_password sets a new one (the old one then stops working)` +
          `${found.made_by_neon_mcp ? '; get_connection_string does the same and answers a connection string' : ''}.`,
      );
    });
    // A success without the password would read as "this role has none"; Neon's answer is what is wrong.
    if (typeof res?.password !== 'string' || !res.password) {
      throw new NeonError(
        `Neon's answer to GET ${buildPath(route, path)} has no password for role ${role}. ` +
          'Nothing was changed; try again, and if Neon keeps answering so, reset_role_password sets a new password (the old one then stops working).',
      );
    }
    return {
      role: { name: role, branch_id },
      password: res.password,
      password_note: `SECRET: the password of role ${role}.`,
    };
  },
});

export const resetRolePassword = defineTool({
  name: 'reset_role_password',
  title: 'Reset role password',
  description: 'Give a role a new password; the old one stops working.',
  toolset: 'roles',
  operations: ['resetProjectBranchRolePassword', ...LIMITED_ROLE_OPERATIONS],
  input: { project_id: projectId, branch_id: branchId, role: roleArg },
  output: passwordOut,
  // The old password stops working (clients break), and every call makes a new one.
  hints: { ...DESTROY, idempotentHint: false },
  async handler({ project_id, branch_id, role }, ctx) {
    const { client, signal, wait } = ctx;
    let res: Awaited<
      ReturnType<
        typeof client.post<'/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reset_password'>
      >
    >;
    try {
      res = await client.post(
        '/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reset_password',
        {
          path: { project_id, branch_id, role_name: role },
          signal,
        },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
      // A role made with SQL: the database's owner sets the password with SQL.
      const found = await findSqlRole(ctx, { project_id, branch_id }, role, 'reset_role_password');
      const made = await resetSqlRolePassword(ctx, { project_id, branch_id, database: found.database }, role);
      return {
        role: { name: role, branch_id, made_with: 'sql' },
        password: made.password,
        uri: made.uri,
        password_note: `SECRET: the new password of role ${role} (set with SQL; also in uri); the old one no longer works.`,
      };
    }
    await wait(res.operations);
    return {
      role: publicRole(res.role),
      password: res.role.password,
      password_note: `SECRET: the new password of role ${role}; the old one no longer works.`,
    };
  },
});

export const roleTools: ToolDef[] = [
  listRoles,
  getRoleTool,
  createRole,
  deleteRole,
  revealRolePassword,
  resetRolePassword,
];
