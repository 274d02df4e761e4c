import * as z from 'zod';
import { InvalidArgumentError, NeonApiError, NeonError } from '../client/errors.js';
import type { ResponseBody, Schemas } from '../client/neon-client.js';
import { branchId, cursor, databaseName, limit, neonId, orgId, projectId, search } from './fields.js';
import { ACT, anyObject, CREATE, DESTROY, defineTool, output, READ, UPDATE } from './framework.js';
import { defined, pick } from './util.js';

type Project = Schemas['Project'];

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
  description:
    'List your projects, those shared with you, or deleted ones still recoverable. Pass next_cursor to page.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['listProjects', 'listSharedProjects'],
  input: {
    search,
    org_id: orgId.optional(),
    show: z.enum(['own', 'shared', 'deleted']).optional().describe('Default own'),
    limit: limit(400),
    cursor,
  },
  output: output({ projects: z.array(anyObject), next_cursor: z.string().optional() }),
  hints: READ,
  async handler(args, { client, signal }) {
    const pageSize = args.limit ?? 100;
    const shared = args.show === 'shared';
    if (shared && args.org_id) {
      throw new InvalidArgumentError('org_id cannot be combined with show=shared; omit one of them.');
    }
    const res = await client.get<Schemas['ProjectsResponse'] & { pagination?: Schemas['Pagination'] }>(
      shared ? '/projects/shared' : '/projects',
      {
        query: {
          search: args.search,
          org_id: args.org_id,
          recoverable: args.show === 'deleted' ? true : undefined,
          limit: pageSize,
          cursor: args.cursor,
        },
        signal,
      },
    );
    const projects = res.projects.map((p) => pick(p, PROJECT_SUMMARY));
    // Neon returns a cursor even on the last page; a short page means there is no more.
    const more = projects.length === pageSize && res.pagination?.cursor;
    return { projects, ...(more ? { next_cursor: res.pagination?.cursor } : {}) };
  },
});

export const getProject = defineTool({
  name: 'get_project',
  title: 'Get project',
  description: 'Get one project with its settings, default branch and usage.',
  toolset: 'projects',
  operations: ['getProject'],
  input: { project_id: projectId },
  output: output({ project: anyObject }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    return client.get<Schemas['ProjectResponse']>('/projects/{project_id}', { path: { project_id }, signal });
  },
});

export const createProject = defineTool({
  name: 'create_project',
  title: 'Create project',
  description:
    'Create a project with its default branch, database, role and read-write compute; waits until ready. ' +
    'Returns the connection string.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['createProject'],
  input: {
    name: z.string().min(1).max(256).optional().describe('Project name'),
    region_id: z.string().max(64).optional().describe('Region, e.g. aws-us-east-2 (list_regions)'),
    pg_version: z.number().int().min(14).max(18).optional().describe('Postgres major version'),
    org_id: orgId.optional(),
    default_branch_name: z.string().min(1).max(256).optional().describe('Name of the default branch'),
    database_name: z.string().min(1).max(63).optional().describe('Name of the default database'),
    role_name: z.string().min(1).max(63).optional().describe('Name of the owner role'),
  },
  output: output({
    project: anyObject,
    branch: anyObject,
    endpoints: z.array(anyObject),
    databases: z.array(anyObject),
    roles: z.array(anyObject),
    connection_uri: z.string().optional(),
  }),
  hints: CREATE,
  async handler(args, { client, signal, wait }) {
    const branch =
      args.default_branch_name || args.database_name || args.role_name
        ? { name: args.default_branch_name, database_name: args.database_name, role_name: args.role_name }
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
    const res = await client.post<ResponseBody<'CreatedProject'>>('/projects', { body, signal });
    await wait(res.operations);
    const project = await client.get<Schemas['ProjectResponse']>('/projects/{project_id}', {
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
  description: 'Rename a project or change its history retention, default compute size or settings.',
  toolset: 'projects',
  operations: ['updateProject'],
  input: {
    project_id: projectId,
    name: z.string().min(1).max(256).optional().describe('New name'),
    history_retention_seconds: z
      .number()
      .int()
      .min(0)
      .max(2_592_000)
      .optional()
      .describe('Restore window in seconds'),
    default_endpoint_settings: anyObject.optional().describe('Defaults for new computes (see Neon docs)'),
    settings: anyObject.optional().describe('Project settings to change (see Neon docs)'),
  },
  output: output({ project: anyObject }),
  hints: UPDATE,
  async handler({ project_id, ...changes }, { client, signal, wait }) {
    const res = await client.patch<Schemas['ProjectResponse'] & { operations: Schemas['Operation'][] }>(
      '/projects/{project_id}',
      { path: { project_id }, body: { project: changes }, signal },
    );
    await wait(res.operations);
    return client.get<Schemas['ProjectResponse']>('/projects/{project_id}', { path: { project_id }, signal });
  },
});

export const deleteProject = defineTool({
  name: 'delete_project',
  title: 'Delete project',
  description:
    'Delete a project with all its branches, computes and data. Cannot be undone from this server.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['deleteProject'],
  input: { project_id: projectId },
  output: output({ deleted: z.boolean(), project: anyObject }),
  hints: DESTROY,
  async handler({ project_id }, { client, signal }) {
    const res = await client.delete<{ project: Project }>('/projects/{project_id}', {
      path: { project_id },
      signal,
    });
    return { deleted: true, project: pick(res.project, PROJECT_SUMMARY) };
  },
});

export const recoverProject = defineTool({
  name: 'recover_project',
  title: 'Recover project',
  description:
    'Restore a project deleted in the last 7 days with its branches and computes (list_projects show=deleted).',
  toolset: 'projects',
  accountLevel: true,
  beta: true,
  operations: ['recoverProject'],
  input: { project_id: projectId },
  output: output({ project: anyObject, branches: z.array(anyObject) }),
  hints: ACT,
  async handler({ project_id }, { client, signal, wait }) {
    const res = await client.post<
      Schemas['ProjectRecoverResponse'] & { operations?: Schemas['Operation'][] }
    >('/projects/{project_id}/recover', { path: { project_id }, signal });
    await wait(res.operations);
    return {
      project: res.project,
      branches: (res.branches ?? []).map((b) =>
        pick(b, ['id', 'name', 'default', 'current_state', 'parent_id']),
      ),
    };
  },
});

const PERMISSION = ['id', 'granted_to_email', 'granted_at', 'revoked_at'] as const;
// A refinement rather than z.email(), whose JSON Schema pattern costs tokens in every listing.
const email = z
  .string()
  .refine((v) => v.length <= 256 && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v), {
    message: 'must be an email address',
  })
  .describe('Email of a Neon account');

export const listProjectAccess = defineTool({
  name: 'list_project_access',
  title: 'List project access',
  description: 'List who the project is shared with (permission ID, email).',
  toolset: 'projects',
  operations: ['listProjectPermissions'],
  input: { project_id: projectId },
  output: output({ permissions: z.array(anyObject) }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    const res = await client.get<Schemas['ProjectPermissions']>('/projects/{project_id}/permissions', {
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
  toolset: 'projects',
  operations: ['grantPermissionToProject'],
  input: { project_id: projectId, email },
  output: output({ permission: anyObject }),
  hints: UPDATE,
  async handler({ project_id, email }, { client, signal }) {
    const permission = await client.post<Schemas['ProjectPermission']>('/projects/{project_id}/permissions', {
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
  description: 'Stop sharing the project with someone (permission ID from list_project_access).',
  toolset: 'projects',
  operations: ['revokePermissionFromProject'],
  input: {
    project_id: projectId,
    permission_id: z
      .string()
      .refine((v) => v.length > 0 && v.length <= 100, { message: 'must be a permission ID' })
      .describe('Permission ID'),
  },
  output: output({ permission: anyObject }),
  hints: DESTROY,
  async handler({ project_id, permission_id }, { client, signal }) {
    const permission = await client.delete<Schemas['ProjectPermission']>(
      '/projects/{project_id}/permissions/{permission_id}',
      { path: { project_id, permission_id }, signal },
    );
    return { permission: pick(permission, PERMISSION) };
  },
});

export const listPreloadLibraries = defineTool({
  name: 'list_preload_libraries',
  title: 'List preload libraries',
  description:
    "Shared preload libraries available for the project's Postgres version; enable via update_project " +
    'settings.preload_libraries.',
  toolset: 'projects',
  operations: ['getAvailablePreloadLibraries'],
  input: { project_id: projectId },
  output: output({ libraries: z.array(anyObject) }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    const res = await client.get<Schemas['AvailablePreloadLibraries']>(
      '/projects/{project_id}/available_preload_libraries',
      { path: { project_id }, signal },
    );
    return { libraries: res.libraries ?? [] };
  },
});

export const createProjectTransfer = defineTool({
  name: 'create_project_transfer',
  title: 'Create project transfer request',
  description:
    'Offer a project to another account: returns a request ID the recipient passes to accept_project_transfer.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['createProjectTransferRequest'],
  input: {
    project_id: projectId,
    ttl_seconds: z.number().int().min(60).max(31_536_000).optional().describe('Validity (default 86400)'),
  },
  output: output({ transfer_request: anyObject }),
  hints: CREATE,
  async handler({ project_id, ttl_seconds }, { client, signal }) {
    const transfer_request = await client.post<Schemas['ProjectTransferRequestResponse']>(
      '/projects/{project_id}/transfer_requests',
      { path: { project_id }, body: defined({ ttl_seconds }), signal },
    );
    return { transfer_request };
  },
});

export const acceptProjectTransfer = defineTool({
  name: 'accept_project_transfer',
  title: 'Accept project transfer',
  description: 'Accept a project transfer request into your account or an organization.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['acceptProjectTransferRequest'],
  input: {
    project_id: projectId,
    request_id: neonId('transfer request'),
    org_id: orgId.optional().describe('Receiving organization'),
  },
  output: output({ accepted: z.boolean(), project_id: z.string(), org_id: z.string().optional() }),
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
  description:
    "Security and performance issues Neon's advisor finds in a database (e.g. RLS disabled). Needs the Data API.",
  toolset: 'projects',
  beta: true,
  operations: ['getProjectAdvisorSecurityIssues'],
  input: {
    project_id: projectId,
    branch_id: branchId.optional().describe('Default: the default branch'),
    database_name: databaseName.optional().describe('Required if several'),
    category: z.enum(['SECURITY', 'PERFORMANCE']).optional(),
    min_severity: z.enum(['INFO', 'WARN', 'ERROR']).optional(),
  },
  output: output({ issues: z.array(anyObject) }),
  hints: READ,
  async handler({ project_id, ...query }, { client, signal }) {
    const res = await client.get<{ issues: Schemas['AdvisorIssue'][] }>('/projects/{project_id}/advisors', {
      path: { project_id },
      query,
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
