/**
 * The record of a pending migration or tuning (src/neon/pending.ts) on its own: what newWork writes
 * into the temporary branch's annotations, and every way readWork refuses a record that is not the one
 * its ID was made from. test/schema.test.ts drives the same through the tools on real PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_PARTS,
  newWork,
  PART_CHARS,
  readWork,
  tempBranchName,
  WORK_ID,
  type WorkSpec,
} from '../src/neon/pending.js';
import { SqlError } from '../src/sql/errors.js';

const MIGRATION: WorkSpec = {
  kind: 'migration',
  project_id: 'p-1',
  branch_id: 'br-main',
  database: 'app',
  role: 'owner',
  sql: 'CREATE TABLE t (id int);',
};
const TUNING: WorkSpec = {
  kind: 'tuning',
  project_id: 'p-1',
  branch_id: 'br-main',
  database: 'app',
  role: 'owner',
  ddl: ['CREATE INDEX ON t (id)', 'ANALYZE t'],
};

const temp = (id: string, kind = 'migration', parent = 'br-main') => ({
  id: 'br-temp',
  name: `mcp-${kind}-${id}`,
  parent_id: parent,
});

/** The record's fields, to change one at a time. */
const metaOf = (annotations: Record<string, string>) => JSON.parse(annotations['neon-mcp'] ?? '{}');
const withMeta = (annotations: Record<string, string>, change: Record<string, unknown>) => ({
  ...annotations,
  'neon-mcp': JSON.stringify({ ...metaOf(annotations), ...change }),
});

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SqlError);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('newWork', () => {
  it('names the temporary branch after the kind and the ID', () => {
    expect(tempBranchName('migration', '0123456789abcdef')).toBe('mcp-migration-0123456789abcdef');
    expect(tempBranchName('tuning', 'fedcba9876543210')).toBe('mcp-tuning-fedcba9876543210');
  });

  it('writes the record and the SQL into annotations, under an ID of 16 hex digits', () => {
    const before = Date.now();
    const { id, annotations } = newWork(MIGRATION);
    expect(id).toMatch(WORK_ID);
    expect(Object.keys(annotations)).toEqual(['neon-mcp', 'neon-mcp-1']);
    expect(annotations['neon-mcp-1']).toBe(MIGRATION.sql);
    const meta = metaOf(annotations);
    expect(meta).toEqual({
      v: 1,
      kind: 'migration',
      branch_id: 'br-main',
      database: 'app',
      role: 'owner',
      nonce: expect.stringMatching(/^[0-9a-f]{16}$/),
      parts: 1,
      created_at: expect.any(String),
    });
    expect(Date.parse(meta.created_at)).toBeGreaterThanOrEqual(before - 1000);
    // A fresh nonce each time: the same SQL twice is two pieces of work.
    expect(newWork(MIGRATION).id).not.toBe(id);
  });

  it('keeps a tuning as its list of statements', () => {
    const { annotations } = newWork(TUNING);
    expect(JSON.parse(annotations['neon-mcp-1'] ?? '')).toEqual(TUNING.ddl);
    expect(metaOf(annotations)).toMatchObject({ kind: 'tuning', parts: 1 });
  });

  it('cuts long SQL into parts of 4,000 characters, never inside a surrogate pair', () => {
    const sql = `${'x'.repeat(PART_CHARS - 1)}😀${'y'.repeat(PART_CHARS)}`;
    const { annotations } = newWork({ ...MIGRATION, sql });
    // The pair would straddle the first boundary: the first part ends before it.
    expect(annotations['neon-mcp-1']).toBe('x'.repeat(PART_CHARS - 1));
    expect(annotations['neon-mcp-2']?.startsWith('😀')).toBe(true);
    expect(Object.values(annotations).slice(1).join('')).toBe(sql);
    expect(metaOf(annotations).parts).toBe(3);
    // An exact multiple: no empty part at the end.
    const exact = newWork({ ...MIGRATION, sql: 'z'.repeat(PART_CHARS * 2) }).annotations;
    expect(Object.keys(exact)).toEqual(['neon-mcp', 'neon-mcp-1', 'neon-mcp-2']);
    // No SQL: no parts.
    expect(metaOf(newWork({ ...MIGRATION, sql: '' }).annotations).parts).toBe(0);
  });

  it('cuts only before a high surrogate that would end a part, and ends at a lone one at the end', () => {
    const parts = (sql: string) => Object.values(newWork({ ...MIGRATION, sql }).annotations).slice(1);
    const head = 'x'.repeat(PART_CHARS - 1);
    // A whole pair at the end of a part stays there.
    expect(parts(`${'x'.repeat(PART_CHARS - 2)}😀y`)).toEqual([`${'x'.repeat(PART_CHARS - 2)}😀`, 'y']);
    // The lowest and highest high surrogates at a boundary move to the next part.
    expect(parts(`${head}\ud800\udc00y`)).toEqual([head, '\ud800\udc00y']);
    expect(parts(`${head}\udbff\udfffy`)).toEqual([head, '\udbff\udfffy']);
    // Characters above the high surrogates do not.
    expect(parts(`${head}\uff01y`)).toEqual([`${head}\uff01`, 'y']);
    // A lone high surrogate that ends the text ends the last part.
    expect(parts('ab\ud800')).toEqual(['ab\ud800']);
    expect(parts(`${head}\ud800`)).toEqual([`${head}\ud800`]);
  });

  it('keeps a migration without SQL and a tuning without statements as empty ones', () => {
    const m = newWork({ ...MIGRATION, sql: undefined });
    expect(Object.keys(m.annotations)).toEqual(['neon-mcp']);
    expect(metaOf(m.annotations).parts).toBe(0);
    expect(readWork('migration', m.id, 'p-1', temp(m.id), m.annotations).sql).toBe('');
    const t = newWork({ ...TUNING, ddl: undefined });
    expect(t.annotations['neon-mcp-1']).toBe('[]');
    expect(readWork('tuning', t.id, 'p-1', temp(t.id, 'tuning'), t.annotations).ddl).toEqual([]);
  });

  it('holds the longest script the tools take (100,000 characters), and refuses what does not fit', () => {
    expect(metaOf(newWork({ ...MIGRATION, sql: 'a'.repeat(100_000) }).annotations).parts).toBe(25);
    expect(metaOf(newWork({ ...MIGRATION, sql: 'a'.repeat(PART_CHARS * MAX_PARTS) }).annotations).parts).toBe(
      MAX_PARTS,
    );
    const long = PART_CHARS * MAX_PARTS + 1;
    expect(refusal(() => newWork({ ...MIGRATION, sql: 'a'.repeat(long) }))).toBe(
      `The migration is too long to keep with its temporary branch (${long} characters, at most 180000): split it into smaller steps.`,
    );
    const ddl = ['a'.repeat(PART_CHARS * MAX_PARTS)];
    expect(refusal(() => newWork({ ...TUNING, ddl }))).toMatch(
      /^The DDL is too long to keep with its temporary branch \(180004 characters, at most 180000\)/,
    );
  });
});

describe('readWork', () => {
  it('reads back a migration and a tuning as they were started', () => {
    const m = newWork(MIGRATION);
    const meta = metaOf(m.annotations);
    expect(readWork('migration', m.id, 'p-1', temp(m.id), m.annotations)).toEqual({
      kind: 'migration',
      id: m.id,
      project_id: 'p-1',
      branch_id: 'br-main',
      database: 'app',
      role: 'owner',
      sql: MIGRATION.sql,
      temp_branch_id: 'br-temp',
      temp_branch_name: `mcp-migration-${m.id}`,
      created_at: meta.created_at,
    });
    const t = newWork(TUNING);
    const work = readWork('tuning', t.id, 'p-1', temp(t.id, 'tuning'), t.annotations);
    expect(work).toMatchObject({ kind: 'tuning', ddl: TUNING.ddl });
    expect(work).not.toHaveProperty('sql');
    // Long SQL comes back whole, parts in order.
    const sql = Array.from({ length: 30_000 }, (_, i) => String(i % 10)).join('');
    const long = newWork({ ...MIGRATION, sql });
    expect(readWork('migration', long.id, 'p-1', temp(long.id), long.annotations).sql).toBe(sql);
  });

  it('a record without created_at reads as an empty one', () => {
    const m = newWork(MIGRATION);
    const annotations = withMeta(m.annotations, { created_at: undefined });
    expect(readWork('migration', m.id, 'p-1', temp(m.id), annotations).created_at).toBe('');
  });

  it('refuses a branch without a record, saying what to do', () => {
    const id = '0123456789abcdef';
    expect(refusal(() => readWork('migration', id, 'p-1', temp(id), undefined))).toBe(
      `Branch br-temp (mcp-migration-${id}) is not the temporary branch of migration ${id}: it carries no ` +
        'record of neon-mcp (it was not created by prepare, or by an older neon-mcp). Nothing was applied. ' +
        'If it is left over, delete it with delete_branch; call prepare_database_migration again.',
    );
    expect(refusal(() => readWork('tuning', id, 'p-1', temp(id, 'tuning'), { 'neon-mcp': '{' }))).toMatch(
      /: it carries no record of neon-mcp .* call prepare_query_tuning again\.$/,
    );
  });

  it('refuses a record it does not read: each field checked', () => {
    const m = newWork(MIGRATION);
    const changes: Record<string, unknown>[] = [
      { v: 2 },
      { kind: 'tuning' },
      { branch_id: '' },
      { branch_id: 7 },
      { database: undefined },
      { role: '' },
      { nonce: undefined },
      { parts: '1' },
      { parts: 1.5 },
      { parts: -1 },
      { parts: MAX_PARTS + 1 },
    ];
    for (const change of changes) {
      expect(
        refusal(() => readWork('migration', m.id, 'p-1', temp(m.id), withMeta(m.annotations, change))),
        JSON.stringify(change),
      ).toMatch(/: its record is not one this neon-mcp reads\. Nothing was applied\./);
    }
    // The largest count it writes is one it reads (the part itself is then missing).
    expect(
      refusal(() =>
        readWork('migration', m.id, 'p-1', temp(m.id), withMeta(m.annotations, { parts: MAX_PARTS })),
      ),
    ).toMatch(/: part 2 of its record is missing\./);
  });

  it('refuses a missing part, a damaged list of statements, a changed record', () => {
    const long = newWork({ ...MIGRATION, sql: 'q'.repeat(PART_CHARS * 2) });
    const { 'neon-mcp-2': _, ...gap } = long.annotations;
    expect(refusal(() => readWork('migration', long.id, 'p-1', temp(long.id), gap))).toMatch(
      /: part 2 of its record is missing\./,
    );
    const t = newWork(TUNING);
    for (const body of ['not json', '{"a":1}', '["ok", 3]', '["ok", ""]']) {
      expect(
        refusal(() =>
          readWork('tuning', t.id, 'p-1', temp(t.id, 'tuning'), { ...t.annotations, 'neon-mcp-1': body }),
        ),
        body,
      ).toMatch(/: its list of statements is damaged\./);
    }
    const m = newWork(MIGRATION);
    const changed = [
      { ...m.annotations, 'neon-mcp-1': 'DROP TABLE t;' },
      withMeta(m.annotations, { role: 'someone_else' }),
      withMeta(m.annotations, { database: 'other' }),
      withMeta(m.annotations, { nonce: '0000000000000000' }),
    ];
    for (const annotations of changed) {
      expect(refusal(() => readWork('migration', m.id, 'p-1', temp(m.id), annotations))).toMatch(
        /: its record does not match the ID \(changed, or not this work\)\./,
      );
    }
    // The same record under another project, or read as the other kind's ID, does not match either.
    expect(refusal(() => readWork('migration', m.id, 'p-2', temp(m.id), m.annotations))).toMatch(
      /does not match the ID/,
    );
    expect(
      refusal(() => readWork('migration', '0123456789abcdef', 'p-1', temp(m.id), m.annotations)),
    ).toMatch(/does not match the ID/);
  });

  it('refuses a branch made from another branch than the record names', () => {
    const m = newWork(MIGRATION);
    expect(
      refusal(() => readWork('migration', m.id, 'p-1', temp(m.id, 'migration', 'br-other'), m.annotations)),
    ).toMatch(/: it was made from br-other, not from br-main\. Nothing was applied\./);
    const orphan = { id: 'br-temp', name: `mcp-migration-${m.id}` };
    expect(refusal(() => readWork('migration', m.id, 'p-1', orphan, m.annotations))).toMatch(
      /: it was made from no branch, not from br-main\./,
    );
  });
});
