/**
 * The schema endpoints (getProjectBranchSchema, getProjectBranchSchemaComparison), answering from
 * real databases: `fake.schemaDump` gives the schema text of a branch's database (useBranchDatabases
 * in test/pg/branches.ts sets it), and the comparison is a unified diff of two dumps, base first.
 * Serves src/tools/schema.ts.
 */
import { HttpResponse, http, type RequestHandler } from 'msw';
import { unifiedDiff } from '../../src/local/schema-text.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';

export { unifiedDiff };

/** Handlers for the schema endpoints, answering from the real databases through `fake.schemaDump`. */
export function schemaHandlers(fake: NeonFake): RequestHandler[] {
  const dump = (branchId: string, database: string): Promise<string> => {
    // Without real databases there is no schema to show: say so rather than invent one.
    if (!fake.schemaDump)
      throw new Error('fake.schemaDump is not set: use useBranchDatabases (test/pg/branches.ts)');
    return fake.schemaDump(branchId, database);
  };
  return [
    http.get(`${BASE}/projects/:project_id/branches/:branch_id/schema`, async ({ params, request }) => {
      const branch = fake.branches.get(params.branch_id as string);
      if (!branch) return neonError(404, `branch ${params.branch_id} not found`, 'NOT_FOUND');
      const db = new URL(request.url).searchParams.get('db_name') ?? 'neondb';
      return HttpResponse.json({ sql: await dump(branch.id, db) });
    }),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/compare_schema`,
      async ({ params, request }) => {
        const branch = fake.branches.get(params.branch_id as string);
        if (!branch) return neonError(404, `branch ${params.branch_id} not found`, 'NOT_FOUND');
        const q = new URL(request.url).searchParams;
        const db = q.get('db_name') ?? 'neondb';
        const baseId = q.get('base_branch_id') ?? branch.parent_id;
        if (!baseId || !fake.branches.has(baseId)) {
          return neonError(400, 'branch has no parent to compare with', 'BAD_REQUEST');
        }
        const [base, mine] = await Promise.all([dump(baseId, db), dump(branch.id, db)]);
        return HttpResponse.json({
          diff: unifiedDiff(base, mine, `${db} (${baseId})`, `${db} (${branch.id})`),
        });
      },
    ),
  ];
}
