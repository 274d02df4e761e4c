import * as z from 'zod';
import type { ResponseBody, Schemas } from '../client/neon-client.js';
import { cursor, limit, orgId, projectId, search } from './fields.js';
import { anyObject, CREATE, DESTROY, defineTool, output, READ, UPDATE } from './framework.js';
import { pick } from './util.js';

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
    'List Neon projects the API key can see (id, name, region, Postgres version). Pass next_cursor to page.',
  toolset: 'projects',
  accountLevel: true,
  operations: ['listProjects'],
  input: { search, org_id: orgId.optional(), limit: limit(400), cursor },
  output: output({ projects: z.array(anyObject), next_cursor: z.string().optional() }),
  hints: READ,
  async handler(args, { client, signal }) {
    const pageSize = args.limit ?? 100;
    const res = await client.get<Schemas['ProjectsResponse'] & { pagination?: Schemas['Pagination'] }>(
      '/projects',
      {
        query: { search: args.search, org_id: args.org_id, limit: pageSize, cursor: args.cursor },
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

export const projectTools = [listProjects, getProject, createProject, updateProject, deleteProject];
