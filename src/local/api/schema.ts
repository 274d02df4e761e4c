/** A branch's schema (a pg_dump-like text) and its diff against another branch. */
import { unifiedDiff } from '../schema-text.js';
import { LocalApiError, type LocalCore } from './core.js';

export function schemaRoutes(api: LocalCore): void {
  const P = '/projects/{project_id}';
  const B = `${P}/branches/{branch_id}`;

  api.on('GET', `${B}/schema`, async ({ params, query }) => {
    const b = api.branch(params.project_id, params.branch_id);
    return [200, { sql: await api.schemaOf(b.id, query.get('db_name') ?? '') }];
  });
  api.on('GET', `${B}/compare_schema`, async ({ params, query }) => {
    const b = api.branch(params.project_id, params.branch_id);
    const db = query.get('db_name') ?? '';
    const baseId = query.get('base_branch_id') ?? b.parent_id;
    if (!baseId) throw new LocalApiError(400, `branch ${b.id} has no parent to compare with`);
    const base = api.branch(params.project_id, baseId);
    const [before, after] = [await api.schemaOf(base.id, db), await api.schemaOf(b.id, db)];
    return [200, { diff: unifiedDiff(before, after, `${db} (${base.id})`, `${db} (${b.id})`) }];
  });
}
