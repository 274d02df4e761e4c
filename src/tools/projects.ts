import * as z from 'zod';
import { InvalidArgumentError, NeonApiError, NeonError } from '../client/errors.js';
import type { Schemas } from '../client/neon-client.js';
import type { Operation } from '../neon/operations.js';
import { defined, pick } from '../neon/util.js';
import {
  confirm,
  cursor,
  databaseName,
  limit,
  neonId,
  optionalBranchId,
  orgId,
  pgName,
  projectId,
  search,
  text,
} from './fields.js';
import {
  ACT,
  anyObject,
  CREATE,
  confirmIrreversible,
  DESTROY,
  defineTool,
  item,
  items,
  output,
  READ,
  resource,
  UPDATE,
} from './framework.js';

const org = orgId;
/** A non-empty name of at most `max` characters; the bound is enforced, not advertised. */
const nameOf = (max: number) => text(max).min(1);

const PROJECT_SUMMARY = [
  'id',
  'name',
  'region_id',
  'pg_version',
  'org_id',
  'created_at',
  'updated_at',
] as const;

export const listProjects = defineTool({
  name: 'list_projects',
  title: 'List projects',
  description: 'List projects: own, shared, or deleted.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['listProjects', 'listSharedProjects'],
  input: {
    search: search.describe('Search'),
    org_id: org.optional(),
    show: z.enum(['own', 'shared', 'deleted']).optional().describe('Show'),
    limit: limit(400).describe('Limit'),
    cursor: cursor.describe('Cursor'),
  },
  // Also returns next_cursor when there is another page (pass it as cursor).
  output: output({ projects: z.array(resource) }),
  hints: READ,
  async handler(args, { client, signal }) {
    const pageSize = args.limit ?? 100;
    const shared = args.show === 'shared';
    if (shared && args.org_id) {
      throw new InvalidArgumentError('org_id cannot be combined with show=shared; omit one of them.');
    }
    const res = await client.get(shared ? '/projects/shared' : '/projects', {
      query: {
        search: args.search,
        org_id: args.org_id,
        recoverable: args.show === 'deleted' ? true : undefined,
        limit: pageSize,
        cursor: args.cursor,
      },
      signal,
    });
    const projects = res.projects.map((p) => pick(p, PROJECT_SUMMARY));
    // Neon returns a cursor even on the last page; a short page means there is no more.
    const more = projects.length === pageSize && res.pagination?.cursor;
    return { projects, ...(more ? { next_cursor: res.pagination?.cursor } : {}) };
  },
});

export const getProject = defineTool({
  name: 'get_project',
  title: 'Get project',
  description: 'Get a project and its settings.',
  toolset: 'projects',
  operations: ['getProject'],
  input: { project_id: projectId },
  output: output({ project: resource }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    return client.get('/projects/{project_id}', { path: { project_id }, signal });
  },
});

export const createProject = defineTool({
  name: 'create_project',
  title: 'Create project',
  description: 'Create a project with branch, database, role and compute; returns connection_uri.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['createProject', 'getProject'],
  input: {
    name: nameOf(256).optional().describe('Name'),
    region_id: text(64).optional().describe('e.g. aws-us-east-2'),
    pg_version: z
      .number()
      .int()
      .refine((v) => v >= 14 && v <= 18, { message: 'must be a Postgres major version from 14 to 18' })
      .optional()
      .describe('PG version'),
    org_id: org.optional(),
    default_branch_name: nameOf(256).optional().describe('Default branch name'),
    database: pgName('database').optional().describe('Default: neondb'),
    role: pgName('role').optional().describe('Default: neondb_owner'),
  },
  // Also returns branch, endpoints, databases and roles (left out of the schema to save tokens).
  output: output({ project: resource, connection_uri: z.string().optional() }),
  hints: CREATE,
  async handler(args, { client, signal, wait }) {
    const branch =
      args.default_branch_name || args.database || args.role
        ? { name: args.default_branch_name, database_name: args.database, role_name: args.role }
        : undefined;
    const body: Schemas['ProjectCreateRequest'] = {
      project: {
        name: args.name,
        region_id: args.region_id,
        pg_version: args.pg_version as Schemas['PgVersion'] | undefined,
        org_id: args.org_id,
        branch,
      },
    };
    const res = await client.post('/projects', { body, signal });
    await wait(res.operations);
    const project = await client.get('/projects/{project_id}', {
      path: { project_id: res.project.id },
      signal,
    });
    return {
      project: project.project,
      branch: res.branch,
      endpoints: res.endpoints,
      databases: res.databases,
      roles: res.roles.map((r) => pick(r, ['name', 'branch_id', 'protected', 'created_at'])),
      connection_uri: res.connection_uris?.[0]?.connection_uri,
    };
  },
});

export const updateProject = defineTool({
  name: 'update_project',
  title: 'Update project',
  description: 'Rename a project or change its settings.',
  toolset: 'projects',
  operations: ['updateProject', 'getProject'],
  input: {
    project_id: projectId,
    name: nameOf(256).optional().describe('Name'),
    history_retention_seconds: z
      .number()
      .int()
      .refine((v) => v >= 0 && v <= 2_592_000, { message: 'must be 0 to 2592000 seconds (30 days)' })
      .optional()
      .describe('History retention seconds'),
    default_endpoint_settings: anyObject.optional().describe('Default endpoint settings'),
    settings: anyObject.optional().describe('Settings'),
  },
  output: output({ project: resource }),
  hints: UPDATE,
  async handler({ project_id, ...changes }, { client, signal, wait }) {
    const res = await client.patch('/projects/{project_id}', {
      path: { project_id },
      body: { project: changes },
      signal,
    });
    await wait(res.operations);
    return client.get('/projects/{project_id}', { path: { project_id }, signal });
  },
});

export const deleteProject = defineTool({
  name: 'delete_project',
  title: 'Delete project',
  description: 'Delete a project and all its data.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['getProject', 'deleteProject'],
  input: { project_id: projectId, confirm },
  // Also returns deleted: true.
  output: output({ project: resource }),
  hints: DESTROY,
  async handler({ project_id, confirm }, ctx) {
    const { client, signal } = ctx;
    const { project } = await client.get('/projects/{project_id}', { path: { project_id }, signal });
    await confirmIrreversible(ctx, confirm, {
      action: `Delete project "${project.name}" (${project_id})`,
      loses:
        'every branch, database, role and compute of the project goes (recover_project can bring it back within 7 days)',
      target: project.name,
    });
    const res = await client.delete('/projects/{project_id}', {
      path: { project_id },
      signal,
    });
    return { deleted: true, project: pick(res.project, PROJECT_SUMMARY) };
  },
});

export const recoverProject = defineTool({
  name: 'recover_project',
  title: 'Recover project',
  description: 'Restore a project deleted in the last 7 days.',
  toolset: 'projects',
  accountLevel: true,
  beta: true,
  operations: ['recoverProject'],
  input: { project_id: projectId },
  // Also returns its branches.
  output: output({ project: resource }),
  hints: ACT,
  async handler({ project_id }, { client, signal, wait }) {
    const res = await client.post('/projects/{project_id}/recover', { path: { project_id }, signal });
    // The spec declares no operations in this answer; should Neon send some, they are waited for.
    await wait((res as { operations?: Operation[] }).operations);
    return {
      project: res.project,
      branches: (res.branches ?? []).map((b) =>
        pick(b, ['id', 'name', 'default', 'current_state', 'parent_id']),
      ),
    };
  },
});

const PERMISSION = ['id', 'granted_to_email', 'granted_at', 'revoked_at'] as const;
const permissionOut = item({ id: z.string(), granted_to_email: z.string() });
// A refinement rather than z.email(), whose JSON Schema pattern costs tokens in every listing.
const email = z
  .string()
  .refine((v) => v.length <= 256 && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v), {
    message: 'must be an email address',
  })
  .describe('Email');

export const listProjectAccess = defineTool({
  name: 'list_project_access',
  title: 'List project access',
  description: 'List who the project is shared with.',
  toolset: 'access',
  operations: ['listProjectPermissions'],
  input: { project_id: projectId },
  output: output({ permissions: z.array(permissionOut) }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    const res = await client.get('/projects/{project_id}/permissions', {
      path: { project_id },
      signal,
    });
    return { permissions: res.project_permissions.map((p) => pick(p, PERMISSION)) };
  },
});

export const grantProjectAccess = defineTool({
  name: 'grant_project_access',
  title: 'Grant project access',
  description: 'Share the project with the Neon account of an email.',
  toolset: 'access',
  operations: ['grantPermissionToProject'],
  input: { project_id: projectId, email },
  output: output({ permission: permissionOut }),
  hints: UPDATE,
  async handler({ project_id, email }, { client, signal }) {
    const permission = await client.post('/projects/{project_id}/permissions', {
      path: { project_id },
      body: { email } satisfies Schemas['GrantPermissionToProjectRequest'],
      signal,
    });
    return { permission: pick(permission, PERMISSION) };
  },
});

export const revokeProjectAccess = defineTool({
  name: 'revoke_project_access',
  title: 'Revoke project access',
  description: 'Stop sharing the project (permission_id from list_project_access).',
  toolset: 'access',
  operations: ['revokePermissionFromProject'],
  input: {
    project_id: projectId,
    permission_id: z
      .string()
      .refine((v) => v.length > 0 && v.length <= 100, { message: 'must be a permission ID' })
      .describe('From list_project_access'),
  },
  output: output({ permission: permissionOut }),
  hints: DESTROY,
  async handler({ project_id, permission_id }, { client, signal }) {
    const permission = await client.delete('/projects/{project_id}/permissions/{permission_id}', {
      path: { project_id, permission_id },
      signal,
    });
    return { permission: pick(permission, PERMISSION) };
  },
});

export const listPreloadLibraries = defineTool({
  name: 'list_preload_libraries',
  title: 'List preload libraries',
  description: 'List preload libraries (set with update_project).',
  toolset: 'projects',
  operations: ['getAvailablePreloadLibraries'],
  input: { project_id: projectId },
  output: output({ libraries: items({ library_name: z.string(), description: z.string() }) }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    const res = await client.get('/projects/{project_id}/available_preload_libraries', {
      path: { project_id },
      signal,
    });
    // An answer without the list is not "no libraries": say that Neon's answer was odd.
    if (!Array.isArray(res?.libraries)) {
      throw new NeonError(
        `Neon's answer to GET /projects/${project_id}/available_preload_libraries has no list of libraries (an unexpected answer). Try again later.`,
      );
    }
    return { libraries: res.libraries };
  },
});

export const createProjectTransfer = defineTool({
  name: 'create_project_transfer',
  title: 'Offer project transfer',
  description: 'Offer a project to another account (see accept_project_transfer).',
  toolset: 'access',
  accountLevel: true,
  operations: ['createProjectTransferRequest'],
  input: {
    project_id: projectId,
    ttl_seconds: z
      .number()
      .int()
      .refine((v) => v >= 60 && v <= 31_536_000, { message: 'must be 60 to 31536000 seconds' })
      .optional()
      .describe('TTL seconds'),
  },
  output: output({ transfer_request: item({ id: z.string(), expires_at: z.string() }) }),
  hints: CREATE,
  async handler({ project_id, ttl_seconds }, { client, signal }) {
    const transfer_request = await client.post('/projects/{project_id}/transfer_requests', {
      path: { project_id },
      body: defined({ ttl_seconds }),
      signal,
    });
    return { transfer_request };
  },
});

export const acceptProjectTransfer = defineTool({
  name: 'accept_project_transfer',
  title: 'Accept project transfer',
  description: 'Accept a project transfer into your account or an organization.',
  toolset: 'access',
  accountLevel: true,
  operations: ['acceptProjectTransferRequest'],
  input: {
    project_id: projectId,
    request_id: neonId('request').describe('Transfer request ID'),
    org_id: org.optional(),
  },
  // Also returns project_id and org_id.
  output: output({ accepted: z.boolean() }),
  hints: UPDATE,
  async handler({ project_id, request_id, org_id }, { client, signal }) {
    try {
      await client.put('/projects/{project_id}/transfer_requests/{request_id}', {
        path: { project_id, request_id },
        body: defined({ org_id }),
        signal,
      });
    } catch (error) {
      if (error instanceof NeonApiError && error.status === 406) {
        throw new NeonError(
          `${error.message} The receiving account's plan does not allow this project (for example its ` +
            'project count, region or plan type). Upgrade that plan or choose another org_id.',
        );
      }
      throw error;
    }
    return { accepted: true, project_id, ...(org_id ? { org_id } : {}) };
  },
});

export const listAdvisorIssues = defineTool({
  name: 'list_advisor_issues',
  title: 'List advisor issues',
  description: "List a database's security and performance advisor issues.",
  toolset: 'projects',
  beta: true,
  operations: ['getProjectAdvisorSecurityIssues'],
  input: {
    project_id: projectId,
    branch_id: optionalBranchId,
    database: databaseName.optional().describe('Default: the only one; required if several'),
    category: z.enum(['SECURITY', 'PERFORMANCE']).optional().describe('Category'),
    min_severity: z.enum(['INFO', 'WARN', 'ERROR']).optional().describe('Min severity'),
  },
  output: output({ issues: items({ name: z.string(), level: z.string() }) }),
  hints: READ,
  async handler({ project_id, database, ...rest }, { client, signal }) {
    const res = await client.get('/projects/{project_id}/advisors', {
      path: { project_id },
      query: { ...rest, database_name: database },
      signal,
    });
    return {
      issues: res.issues.map((i) =>
        pick(i, ['name', 'title', 'level', 'categories', 'detail', 'remediation']),
      ),
    };
  },
});

export const projectTools = [
  listProjects,
  getProject,
  createProject,
  updateProject,
  deleteProject,
  recoverProject,
  listProjectAccess,
  grantProjectAccess,
  revokeProjectAccess,
  listPreloadLibraries,
  createProjectTransfer,
  acceptProjectTransfer,
  listAdvisorIssues,
];
