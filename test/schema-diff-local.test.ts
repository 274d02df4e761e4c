/**
 * Schema diffs sized by the change in local mode (issue 26, issue 24): a real MCP client → the server →
 * the local API (src/local) → a real PostgreSQL. One added column on a 300-table schema answers
 * compare_schema and prepare_database_migration in at most 3,000 characters each.
 */
import { describe, expect, it } from 'vitest';
import { connect, text } from './helpers.js';
import { useLocalOnPostgres } from './local-on-postgres.js';

const harness = useLocalOnPostgres();

describe('local mode, a one-column change on a 300-table schema', () => {
  it('answers compare_schema and prepare_database_migration in at most 3,000 characters each', async () => {
    const project_id = (await harness.api().post('/projects', { body: { project: { name: 'wide' } } }))
      .project.id;
    const conn = await connect({
      apiKey: harness.local.apiKey,
      clientOptions: { baseUrl: harness.local.baseUrl, fetch: harness.fetch },
    });
    try {
      await conn.ok('run_sql', {
        project_id,
        sql: `DO $$ BEGIN FOR i IN 1..300 LOOP
          EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now())', i);
          EXECUTE format('CREATE INDEX t%s_name_idx ON t%s (name)', i, i);
        END LOOP; END $$`,
      });
      const dev = await conn.ok('create_branch', { project_id, name: 'dev' });
      await conn.ok('run_sql', {
        project_id,
        branch_id: dev.branch.id,
        sql: 'ALTER TABLE t150 ADD COLUMN email text',
      });

      const cmp = await conn.call('compare_schema', { project_id, branch_id: dev.branch.id });
      expect(cmp.isError, text(cmp)).toBeFalsy();
      expect((cmp.structuredContent as { summary: string[] }).summary).toEqual([
        'column email of public.t150: added',
      ]);
      expect(text(cmp).length).toBeLessThanOrEqual(3_000);

      const prep = await conn.call('prepare_database_migration', {
        project_id,
        migration_sql: 'ALTER TABLE t150 ADD COLUMN email text',
      });
      expect(prep.isError, text(prep)).toBeFalsy();
      expect((prep.structuredContent as { summary: string[] }).summary).toEqual([
        'column email of public.t150: added',
      ]);
      expect(text(prep).length).toBeLessThanOrEqual(3_000);
      console.log(
        `local mode, 300 tables, one column: compare_schema ${text(cmp).length}, prepare_database_migration ${text(prep).length} characters`,
      );
    } finally {
      await conn.close();
    }
  }, 180_000);
});
