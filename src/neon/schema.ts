/** A branch database's schema as DDL, as Neon renders it (get_branch_schema and the schema resource). */
import type { NeonClient } from '../client/neon-client.js';
import { catalogSchema } from '../sql/ddl.js';
import { defaultBranchId, onDatabase, pickDatabase } from './connection.js';
import type { NeonContext } from './context.js';

export const SCHEMA_OPERATIONS = [
  'getProjectBranchSchema',
  'listProjectBranches',
  'listProjectBranchDatabases',
];

/** The DDL of `database` (default: the branch's only or default database) on `branch_id` (default branch). */
export async function branchSchema(
  client: NeonClient,
  project_id: string,
  branch: string | undefined,
  database: string | undefined,
  signal: AbortSignal,
): Promise<{ branch_id: string; database: string; sql: string }> {
  const branch_id = branch ?? (await defaultBranchId(client, project_id, signal));
  const db = await pickDatabase(client, project_id, branch_id, database, signal);
  const res = await client.get('/projects/{project_id}/branches/{branch_id}/schema', {
    path: { project_id, branch_id },
    query: { db_name: db.name },
    signal,
  });
  return { branch_id, database: db.name, sql: res.sql ?? '' };
}

/**
 * The schema as DDL wherever the context connects: rendered by Neon for a branch, or from the catalog
 * of a --database-url server (src/sql/ddl.ts), which has no schema endpoint.
 */
export async function databaseSchema(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings' | 'connections'>,
  target: { project_id: string; branch_id?: string; database?: string },
): Promise<{ branch_id?: string; database: string; sql: string; truncated?: string }> {
  if (ctx.connections?.kind !== 'postgres')
    return branchSchema(ctx.client, target.project_id, target.branch_id, target.database, ctx.signal);
  return onDatabase(ctx, { database: target.database }, async (s, db) => {
    s.beginReadOnly();
    return { database: db.database, ...(await catalogSchema(s, ctx.settings.sqlMaxBytes)) };
  });
}
