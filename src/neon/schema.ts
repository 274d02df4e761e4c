/** A branch database's schema as DDL, as Neon renders it (get_branch_schema and the schema resource). */
import type { NeonClient } from '../client/neon-client.js';
import { defaultBranchId, pickDatabase } from './connection.js';

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
