/**
 * Schema diffs sized by what changed (issue 26): a summary line per changed object, three lines of
 * context, a cap with the whole's size; measured through a real MCP client on a 300-table schema.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { unifiedDiff } from '../src/local/schema-text.js';
import { sizeDiff } from '../src/neon/schema.js';
import { connect, text, useMockApi } from './helpers.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { dbs } = usePostgres(api);

let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

/** A pg_dump-like schema of `n` tables, each with a primary key, a constraint and an index. */
function schema(n: number, change?: (t: string) => string): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = `CREATE TABLE public.t${i} (\n    id integer NOT NULL,\n    name text NOT NULL\n);`;
    parts.push(change ? change(t) : t);
    parts.push(`ALTER TABLE ONLY public.t${i} ADD CONSTRAINT t${i}_pkey PRIMARY KEY (id);`);
    parts.push(`CREATE INDEX t${i}_name_idx ON public.t${i} USING btree (name);`);
  }
  return parts.join('\n\n');
}

describe('sizeDiff', () => {
  it('re-cuts a whole-file hunk to three lines of context, a summary line per object first', () => {
    const before = schema(300);
    const after = before
      .replace('    name text NOT NULL\n);', '    name text NOT NULL,\n    email text\n);')
      .replace('CREATE INDEX t7_name_idx', 'CREATE UNIQUE INDEX t7_name_idx')
      .concat('\n\nCREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE sql\n    AS $$SELECT 1$$;');
    // A whole-file hunk, as the hand-written diff of local mode and Neon's API may give.
    const whole = [
      '--- a/neondb',
      '+++ b/neondb',
      `@@ -1,${before.split('\n').length} +1,${after.split('\n').length} @@`,
    ];
    const a = before.split('\n');
    const b = after.split('\n');
    let i = 0;
    let j = 0;
    // The two differ at a few known places: a greedy walk is enough to build the whole-file hunk.
    while (i < a.length || j < b.length) {
      if (a[i] === b[j]) {
        whole.push(` ${a[i++]}`);
        j++;
      } else if (i < a.length && b.slice(j, j + 3).indexOf(a[i]) < 0) whole.push(`-${a[i++]}`);
      else whole.push(`+${b[j++]}`);
    }
    const sized = sizeDiff(whole.join('\n'));
    // The comma added after `name text NOT NULL` is no change of that column.
    expect(sized.summary).toEqual([
      'column email of public.t0: added',
      'index t7_name_idx on public.t7: changed',
      'function public.f: added',
    ]);
    expect(sized.diff.length).toBeLessThan(1_200);
    expect(sized.diff).toMatch(/^\+ {4}email text$/m);
    // No hunk carries more than three lines of context before its first change.
    for (const hunk of sized.diff.split(/^@@.*$/m).slice(1)) {
      const lead = hunk
        .split('\n')
        .slice(1)
        .findIndex((l) => l[0] === '+' || l[0] === '-');
      expect(lead).toBeLessThanOrEqual(3);
    }
    expect(sized.truncated).toBeUndefined();
  });

  it('caps a large diff at a line and states the whole size', () => {
    const before = schema(300);
    const after = schema(300, (t) => t.replace('name text', 'name varchar'));
    const sized = sizeDiff(unifiedDiff(before, after, 'a', 'b'), 5_000);
    expect(sized.diff.length).toBeLessThanOrEqual(5_000);
    expect(sized.truncated).toMatch(
      /^truncated: the diff is \d+ characters \(600 changed lines\); the first \d+ are shown/,
    );
    expect(sized.summary).toHaveLength(41);
    expect(sized.summary.at(-1)).toBe('… and 260 more objects');
  });

  it('passes on text it cannot read as a diff, capped', () => {
    expect(sizeDiff('')).toEqual({ summary: [], diff: '' });
    expect(sizeDiff('x'.repeat(50), 10)).toMatchObject({ summary: [], diff: 'x'.repeat(10) });
  });
});

describe('local diff (the diff package)', () => {
  it('gives normal hunks with three lines of context, not a whole-file hunk', () => {
    const before = schema(300);
    const after = before.replace('    name text NOT NULL\n);', '    name text NOT NULL,\n    email text\n);');
    const d = unifiedDiff(before, after, 'x', 'y');
    expect(d).toBe(
      [
        '--- a/x',
        '+++ b/y',
        '@@ -1,6 +1,7 @@',
        ' CREATE TABLE public.t0 (',
        '     id integer NOT NULL,',
        '-    name text NOT NULL',
        '+    name text NOT NULL,',
        '+    email text',
        ' );',
        ' ',
        ' ALTER TABLE ONLY public.t0 ADD CONSTRAINT t0_pkey PRIMARY KEY (id);',
      ].join('\n'),
    );
    expect(unifiedDiff(before, before, 'x', 'y')).toBe('');
  });
});

describe('a one-column change on a 300-table schema, through an MCP client', () => {
  it('answers compare_schema and prepare_database_migration in at most 3,000 characters each', async () => {
    const seeded = api.fake.seedProject('wide');
    const project_id = seeded.project.id as string;
    const branch_id = seeded.branch.id as string;
    await dbs.query(
      branch_id,
      `DO $$ BEGIN FOR i IN 1..300 LOOP
         EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now())', i);
         EXECUTE format('CREATE INDEX t%s_name_idx ON t%s (name)', i, i);
       END LOOP; END $$`,
    );
    conn = await connect();
    const child = api.fake.makeBranch(project_id, { name: 'dev', parent_id: branch_id });
    api.fake.makeDatabase(child.id, 'neondb', 'neondb_owner');
    await dbs.query(child.id, 'ALTER TABLE t150 ADD COLUMN email text');

    const cmp = await conn.call('compare_schema', { project_id, branch_id: child.id });
    const cmpText = text(cmp);
    const cmpData = cmp.structuredContent as { summary: string[]; diff: string };
    expect(cmpData.summary).toEqual(['column email of public.t150: added']);
    expect(cmpData.diff).toMatch(/^\+ {4}email text$/m);
    expect(cmpText.length).toBeLessThanOrEqual(3_000);

    const prep = await conn.call('prepare_database_migration', {
      project_id,
      migration_sql: 'ALTER TABLE t150 ADD COLUMN email text',
    });
    const prepText = text(prep);
    const prepData = prep.structuredContent as { summary: string[]; diff: string };
    expect(prepData.summary).toEqual(['column email of public.t150: added']);
    expect(prepText.length).toBeLessThanOrEqual(3_000);
    // No orphans: the temporary branch expires in 24 h, said in the answer and set at Neon.
    const { temp_branch_id, temp_branch_expires_at, next_steps } = prep.structuredContent as Record<
      string,
      string
    >;
    expect(Date.parse(temp_branch_expires_at) - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    expect(Date.parse(temp_branch_expires_at) - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    expect(api.fake.branches.get(temp_branch_id)?.expires_at).toBe(temp_branch_expires_at);
    expect(next_steps).toContain(`until ${temp_branch_expires_at} (24 h)`);
    console.log(
      `300 tables, one column: compare_schema ${cmpText.length}, prepare_database_migration ${prepText.length} characters`,
    );
  }, 120_000);
});
