/**
 * Postgres roles of a branch. A password appears only in the answers of create_role,
 * reveal_role_password and reset_role_password, the tools that exist to hand it out. Roles made
 * through Neon's API are neon_superuser members; read-only and read-write roles are made with SQL
 * (src/neon/role-access.ts) so that their limit holds.
 */
import * as z from 'zod';
import { InvalidArgumentError, NeonError } from '../client/errors.js';
import { buildPath, type NeonClient, type Schemas } from '../client/neon-client.js';
import { defaultBranchId } from '../neon/resolver.js';
import { createRoleWithAccess, LIMITED_ROLE_OPERATIONS } from '../neon/role-access.js';
import { pick } from '../neon/util.js';
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

/** The `role` argument naming an existing role. */
const roleArg = roleName.describe('Role');
// Also returns password_note, which labels the password as a secret; create_role with a limited
// access also uri (a connection string for the role), grants and, when the limit has a gap, warning.
const role = item({ name: z.string() });
const passwordOut = output({ role, password: z.string().optional() });

export const listRoles = defineTool({
  name: 'list_roles',
  title: 'List roles',
  description: 'List the Postgres roles of a branch (no passwords).',
  toolset: 'roles',
  operations: ['listProjectBranchRoles', 'listProjectBranches'],
  input: { project_id: projectId, branch_id: readBranchId },
  // Also returns branch_id.
  output: output({ roles: z.array(role) }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const branch = branch_id ?? (await defaultBranchId(client, project_id, signal));
    const res = await client.get(rolesRoute, {
      path: { project_id, branch_id: branch },
      signal,
    });
    return {
      branch_id: branch,
      roles: res.roles.map((r) => pick(r, ['name', 'protected', 'authentication_method', 'created_at'])),
    };
  },
});

export const getRoleTool = defineTool({
  name: 'get_role',
  title: 'Get role',
  description: 'Get a Postgres role (no password).',
  toolset: 'roles',
  operations: ['getProjectBranchRole', 'listProjectBranches'],
  input: { project_id: projectId, branch_id: readBranchId, role: roleArg },
  output: output({ role }),
  hints: READ,
  async handler({ project_id, branch_id, role }, { client, signal }) {
    const branch = branch_id ?? (await defaultBranchId(client, project_id, signal));
    return { role: await getRole(client, project_id, branch, role, signal) };
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
  operations: ['deleteProjectBranchRole'],
  input: { project_id: projectId, branch_id: branchId, role: roleArg },
  // Also returns deleted: true.
  output: output({ role }),
  hints: DESTROY,
  async handler({ project_id, branch_id, role }, { client, signal, wait }) {
    // 204 (no body) means it was already gone.
    const res = await client.delete(roleRoute, {
      path: { project_id, branch_id, role_name: role },
      signal,
    });
    await wait(res?.operations);
    return { deleted: true, role: res ? publicRole(res.role) : { name: role } };
  },
});

export const revealRolePassword = defineTool({
  name: 'reveal_role_password',
  title: 'Reveal role password',
  description: "Show a role's password (secret).",
  toolset: 'roles',
  operations: ['getProjectBranchRolePassword'],
  input: { project_id: projectId, branch_id: onBranchId, role: roleArg },
  output: passwordOut,
  hints: ACT,
  async handler({ project_id, branch_id, role }, { client, signal }) {
    const route = '/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password';
    const path = { project_id, branch_id, role_name: role };
    const res = await client.get(route, { path, signal });
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
  operations: ['resetProjectBranchRolePassword'],
  input: { project_id: projectId, branch_id: branchId, role: roleArg },
  output: passwordOut,
  // The old password stops working (clients break), and every call makes a new one.
  hints: { ...DESTROY, idempotentHint: false },
  async handler({ project_id, branch_id, role }, { client, signal, wait }) {
    const res = await client.post(
      '/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reset_password',
      {
        path: { project_id, branch_id, role_name: role },
        signal,
      },
    );
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
