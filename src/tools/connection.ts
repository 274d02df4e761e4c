/**
 * Resolving "which database do I connect to": the defaults an agent expects (the project's default
 * branch, its only or first database, that database's owner) and the URI from Neon's
 * `connection_uri` endpoint. Shared by get_connection_string and the SQL tools.
 */
import * as z from 'zod';
import { InvalidArgumentError, NeonError } from '../client/errors.js';
import type { NeonClient } from '../client/neon-client.js';
import { branchId, databaseName, neonId, projectId, roleName } from './fields.js';
import { defineTool, output, READ, type ToolDef } from './framework.js';

/**
 * Input fields naming a database to connect to; everything but the project has a default (the default
 * branch, its only or first database, that database's owner). The defaults are what a model assumes of
 * an optional field, so they are not spelled out in the advertised schema, where they would cost tokens
 * in every SQL tool.
 */
export const connectionFields = {
  project_id: projectId,
  branch_id: branchId.optional(),
  database: databaseName.optional().describe('Database'),
  role: roleName.optional().describe('Role'),
};

export interface ConnectionTarget {
  project_id: string;
  branch_id?: string;
  database?: string;
  role?: string;
  endpoint_id?: string;
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
  const { project_id } = target;
  const branch_id = target.branch_id ?? (await defaultBranchId(client, project_id, signal));
  let database = target.database;
  let role = target.role;
  if (!database || !role) {
    const db = await pickDatabase(client, project_id, branch_id, database, signal);
    database = db.name;
    role ??= db.owner;
  }
  const pooled = target.pooled ?? false;
  const { uri } = await client.get('/projects/{project_id}/connection_uri', {
    path: { project_id },
    query: { branch_id, endpoint_id: target.endpoint_id, database_name: database, role_name: role, pooled },
    signal,
  });
  return { project_id, branch_id, database, role, pooled, uri };
}

export const endpointField = neonId('endpoint').optional();
export const pooledField = z.boolean().optional().describe('Pooled');

export const getConnectionString = defineTool({
  name: 'get_connection_string',
  title: 'Get connection string',
  description: 'Get a postgresql:// URI with password (default: first database, its owner).',
  toolset: 'databases',
  operations: ['getConnectionURI', 'listProjectBranches', 'listProjectBranchDatabases'],
  input: { ...connectionFields, endpoint_id: endpointField, pooled: pooledField },
  // Also returns project_id, branch_id, database, role and pooled (left out of the schema to save tokens).
  output: output({ uri: z.string() }),
  // Changes nothing; the URI is what connecting (also in read-only mode) needs.
  hints: READ,
  async handler(args, { client, signal }) {
    const { uri, ...resolved } = await resolveConnection(client, args, signal);
    return { uri, ...resolved };
  },
});

/** The get_connection_string tool. */
export const connectionTools: ToolDef[] = [getConnectionString];
