/**
 * The Neon Data API: a REST interface (PostgREST) over one database of a branch, authenticated with
 * JWTs from Neon Auth or an external provider.
 */
import * as z from 'zod';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { checkShape } from '../neon/shape.js';
import { defined } from '../neon/util.js';
import { branchId, databaseName, onBranchId, projectId } from './fields.js';
import {
  anyObject,
  CREATE,
  DESTROY,
  defineTool,
  item,
  output,
  READ,
  type ToolDef,
  UPDATE,
} from './framework.js';

const dataApi = item({ url: z.string(), status: z.string() });

const route = '/projects/{project_id}/branches/{branch_id}/data-api/{database_name}' as const;
const ids = { project_id: projectId, branch_id: onBranchId, database: databaseName };
/** What deletes names its branch (the optional-branch rule in fields.ts). */
const namedIds = { project_id: projectId, branch_id: branchId, database: databaseName };
type Ids = { project_id: string; branch_id: string; database: string };
/** The route's path from the tool's arguments (`database` there, as in every tool). */
const pathOf = ({ project_id, branch_id, database }: Ids) => ({
  project_id,
  branch_id,
  database_name: database,
});

/** What Neon accepts in Data API settings (the advertised schema only names the keys). */
const SETTINGS = z.strictObject({
  db_aggregates_enabled: z.boolean().optional(),
  db_anon_role: z.string().optional(),
  db_extra_search_path: z.string().optional(),
  db_max_rows: z.number().int().min(1).optional(),
  db_schemas: z.array(z.string()).optional(),
  jwt_role_claim_key: z.string().optional(),
  jwt_cache_max_lifetime: z.number().int().min(0).optional(),
  openapi_mode: z.string().optional(),
  server_cors_allowed_origins: z.string().optional(),
  server_timing_enabled: z.boolean().optional(),
});

const settings = anyObject.describe('As get_data_api shows');

async function read(client: NeonClient, path: Ids, signal: AbortSignal) {
  return client.get(route, { path: pathOf(path), signal });
}

export const getDataApi = defineTool({
  name: 'get_data_api',
  title: 'Get Data API',
  description: "Get a database's Data API settings.",
  toolset: 'data_api',
  operations: ['getProjectBranchDataAPI'],
  input: ids,
  output: output({ data_api: dataApi }),
  hints: READ,
  async handler(args, { client, signal }) {
    return { data_api: await read(client, args, signal) };
  },
});

export const createDataApi = defineTool({
  name: 'create_data_api',
  title: 'Create Data API',
  description: "Enable a database's Data API (REST); auth via Neon Auth or jwks_url.",
  toolset: 'data_api',
  operations: ['createProjectBranchDataAPI', 'getProjectBranchDataAPI'],
  input: {
    ...ids,
    // Sets auth_provider: external with it, Neon's default (Neon Auth) without.
    jwks_url: z.url().optional().describe('jwks url'),
    add_default_grants: z.boolean().optional().describe('Grant public tables'),
    settings: settings.optional(),
  },
  output: output({ data_api: dataApi }),
  hints: CREATE,
  async handler({ project_id, branch_id, database, jwks_url, ...rest }, { client, signal }) {
    if (rest.settings) checkShape(SETTINGS, rest.settings, 'settings');
    const path = { project_id, branch_id, database };
    const auth = jwks_url ? { auth_provider: 'external' as const, jwks_url } : {};
    await client.post(route, {
      path: pathOf(path),
      body: defined({ ...auth, ...rest }) as Schemas['DataAPICreateRequest'],
      signal,
    });
    return { data_api: await read(client, path, signal) };
  },
});

export const updateDataApi = defineTool({
  name: 'update_data_api',
  title: 'Update Data API',
  description: 'Change Data API settings; also refreshes its schema cache.',
  toolset: 'data_api',
  operations: ['updateProjectBranchDataAPI', 'getProjectBranchDataAPI'],
  input: { ...ids, settings: settings.optional() },
  output: output({ data_api: dataApi }),
  hints: UPDATE,
  async handler({ project_id, branch_id, database, settings }, { client, signal }) {
    if (settings) checkShape(SETTINGS, settings, 'settings');
    const path = { project_id, branch_id, database };
    await client.patch(route, {
      path: pathOf(path),
      body: defined({ settings }) as Schemas['DataAPIUpdateRequest'],
      signal,
    });
    return { data_api: await read(client, path, signal) };
  },
});

export const deleteDataApi = defineTool({
  name: 'delete_data_api',
  title: 'Delete Data API',
  description: "Turn off a database's Data API.",
  toolset: 'data_api',
  operations: ['deleteProjectBranchDataAPI'],
  input: namedIds,
  output: output({ deleted: z.string() }),
  hints: DESTROY,
  async handler(path, { client, signal }) {
    await client.delete(route, { path: pathOf(path), signal });
    return { deleted: path.database };
  },
});

export const dataApiTools: ToolDef[] = [getDataApi, createDataApi, updateDataApi, deleteDataApi];
