/**
 * Postgres roles of a branch. A password appears only in the answers of create_role,
 * reveal_role_password and reset_role_password, the tools that exist to hand it out.
 */
import * as z from 'zod';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { defaultBranchId } from '../neon/connection.js';
import { pick } from '../neon/util.js';
import { branchId, projectId, readBranchId, roleName } from './fields.js';
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
// Also returns password_note, which labels the password as a secret.
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

export const createRole = defineTool({
  name: 'create_role',
  title: 'Create role',
  description: 'Create a Postgres role; returns its password (secret).',
  toolset: 'roles',
  operations: ['createProjectBranchRole'],
  input: {
    project_id: projectId,
    branch_id: branchId,
    name: roleName.describe('Name'),
    no_login: z.boolean().optional().describe('No login'),
  },
  output: passwordOut,
  hints: CREATE,
  async handler({ project_id, branch_id, name, no_login }, { client, signal, wait }) {
    const body: Schemas['RoleCreateRequest'] = { role: { name, ...(no_login ? { no_login } : {}) } };
    const res = await client.post(rolesRoute, { path: { project_id, branch_id }, body, signal });
    await wait(res.operations);
    const password = res.role.password;
    return {
      role: publicRole(res.role),
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
  input: { project_id: projectId, branch_id: branchId, role: roleArg },
  output: passwordOut,
  hints: ACT,
  async handler({ project_id, branch_id, role }, { client, signal }) {
    const res = await client.get(
      '/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password',
      {
        path: { project_id, branch_id, role_name: role },
        signal,
      },
    );
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
