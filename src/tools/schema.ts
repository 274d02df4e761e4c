/**
 * Schemas of branches and safe schema work on temporary branches: a migration is tried on a fresh
 * branch of the target (with its own compute) before it touches the real one, and an index is tried
 * the same way with EXPLAIN ANALYZE before and after. The temporary-branch lifecycle and the pending
 * work live in the domain layer (src/neon/temp-branches.ts).
 */
import * as z from 'zod';
import { InvalidArgumentError, NeonApiError } from '../client/errors.js';
import type { NeonClient } from '../client/neon-client.js';
import { AS_OF_OPERATIONS, readAsOf, refuseAsOf } from '../neon/as-of.js';
import { PendingChange, recorded } from '../neon/ledger.js';
import { WORK_ID } from '../neon/pending.js';
import { CONNECT_OPERATIONS, describeDb, onDatabase, pickDatabase } from '../neon/resolver.js';
import { fetchBranch } from '../neon/resources.js';
import { databaseSchema, SCHEMA_OPERATIONS, sizeDiff } from '../neon/schema.js';
import { applyOnce, discard, findWork, tryOnTempBranch } from '../neon/temp-branches.js';
import { bytesText, cutText, headBytes } from '../sql/budget.js';
import { SqlError } from '../sql/errors.js';
import { comparePlans, type PlanSummary, summarizePlan } from '../sql/plan.js';
import { checkScript, checkStatement, explain, runOne, runScript, truncatedNotice } from '../sql/run.js';
import { untrusted } from '../sql/untrusted.js';
import {
  asOf,
  branchRef,
  connectionFields,
  databaseName,
  optionalBranchId,
  projectId,
  sqlParams,
  sqlText,
} from './fields.js';
import { defineTool, type Hints, output, READ, type ToolContext } from './framework.js';

/** Reads schema text that may hold anything someone wrote into comments or defaults. */
const SCHEMA_READ: Hints = { ...READ, openWorldHint: true };

/** 1 to 20 statements (bounds as a refinement: not advertised, still enforced). */
const ddlList = z
  .array(sqlText)
  .refine((a) => a.length >= 1 && a.length <= 20, { message: 'must hold 1 to 20 statements' });

/**
 * The ID a prepare_* tool returned (16 hex digits), described by the tool that returns it; a
 * refinement, so no pattern costs tokens in the schema.
 */
const workId = (from: string) =>
  z
    .string()
    .refine((v) => WORK_ID.test(v), { message: `must be the ID from ${from} (16 hex digits)` })
    .describe(`From ${from}`);

/**
 * Operations of complete_*: the work is found from its ID alone (the temporary branch by name, its
 * record from its annotations), then applied on the original branch and the temporary one deleted
 * (or renamed, when the deletion fails after the SQL was committed).
 */
const COMPLETE_OPERATIONS = [
  'listProjectBranches',
  'getProjectBranch',
  'getConnectionURI',
  'deleteProjectBranch',
  'updateProjectBranch',
  // The change ledger (src/neon/ledger.ts): the project's history window, a record branch.
  'getProject',
  'createProjectBranch',
];

export const getBranchSchema = defineTool({
  name: 'get_branch_schema',
  title: 'Get branch schema',
  description: "Get a branch database's schema as SQL DDL.",
  toolset: 'schema',
  operations: SCHEMA_OPERATIONS,
  input: {
    project_id: projectId,
    branch_id: optionalBranchId,
    database: databaseName.optional().describe('database'),
  },
  output: output({ sql: z.string() }),
  hints: SCHEMA_READ,
  // With --database-url the schema is rendered from the catalog (src/neon/schema.ts).
  anyPostgres: true,
  async handler({ project_id, database, branch_id }, ctx) {
    const schema = await databaseSchema(ctx, { project_id, branch_id, database });
    if (!schema.truncated) Object.assign(schema, cutSchema(schema.sql, ctx.settings.sqlMaxBytes));
    return untrusted(
      { sql: schema.sql },
      {
        ...(schema.truncated ? { truncated: schema.truncated } : {}),
        branch_id: schema.branch_id,
        database: schema.database,
      },
      'the database schema',
    );
  },
});

/**
 * Neon's schema (pg_dump's output) within most of the budget (--sql-max-bytes), room left for the rest
 * of the answer: a line longer than an eighth of it (a 3 MB comment or CHECK constraint) is cut with its
 * length stated, so it does not hide the statements after it; then the text is cut at the last line
 * that fits, with the whole's length.
 */
function cutSchema(sql: string, maxBytes: number): { sql: string; truncated?: string } {
  const room = maxBytes - 1_024;
  if (sql.length * 3 <= room || Buffer.byteLength(sql) <= room) return { sql };
  const lines = sql.split('\n').map((line) => cutText(line, Math.floor(maxBytes / 8)));
  const shortened = lines.join('\n');
  const head = headBytes(shortened, room);
  const line = head.length < shortened.length ? head.lastIndexOf('\n') : -1;
  const kept = line > 0 ? head.slice(0, line + 1) : head;
  return {
    sql: kept,
    truncated:
      `truncated: the schema is ${bytesText(Buffer.byteLength(sql))} bytes; ` +
      (kept.length < shortened.length ? `the first ${bytesText(Buffer.byteLength(kept))} are shown, ` : '') +
      'long lines cut (answers are limited to --sql-max-bytes). describe_table shows one table.',
  };
}

/** Neon's unified diff of the schema of `branch_id` against its parent or `base_branch_id`. */
async function schemaDiff(
  client: NeonClient,
  args: { project_id: string; branch_id: string; base_branch_id?: string; database: string },
  signal: AbortSignal,
): Promise<string> {
  const res = await client.get('/projects/{project_id}/branches/{branch_id}/compare_schema', {
    path: { project_id: args.project_id, branch_id: args.branch_id },
    query: { base_branch_id: args.base_branch_id, db_name: args.database },
    signal,
  });
  return res.diff ?? '';
}

/**
 * A failed comparison against the parent, explained when the cause is that the branch has none (Neon's
 * own message does not name the argument that fixes it); otherwise the original error.
 */
async function rootBranchError(
  client: NeonClient,
  project_id: string,
  branch_id: string,
  error: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  if (!(error instanceof NeonApiError) || error.status >= 500) return error;
  const branch = await fetchBranch(client, project_id, branch_id, signal).catch(() => undefined);
  if (!branch || branch.parent_id) return error;
  return new InvalidArgumentError(
    `compare_schema: branch ${branch_id} is a root branch, so it has no parent to compare with. ` +
      'Pass base_branch_id: the branch to compare it against (list_branches shows them).',
  );
}

/**
 * With `as_of`, the base is read as it was at that moment (on a temporary branch made then, deleted
 * after) and the branch as it is now, so the diff reads old to new as always: left out, the base is the
 * branch itself, and the diff is what changed in its schema since then (since just before a change, for a
 * change ID). Still read-only (see readMaybeAsOf in sql.ts): refused under --read-only.
 */
export const compareSchema = defineTool({
  name: 'compare_schema',
  title: 'Compare schema',
  description: "Diff a branch's schema against its parent or another; changed objects first.",
  toolset: 'schema',
  operations: [
    ...new Set([
      'getProjectBranchSchemaComparison',
      'listProjectBranchDatabases',
      'getProjectBranch',
      ...AS_OF_OPERATIONS,
    ]),
  ],
  input: {
    project_id: projectId,
    branch_id: branchRef('Branch to compare'),
    base_branch_id: branchRef('Default: the parent').optional(),
    database: databaseName.optional().describe('database'),
    as_of: asOf,
  },
  output: output({ diff: z.string() }),
  hints: SCHEMA_READ,
  async handler({ project_id, branch_id, base_branch_id, database, as_of }, ctx) {
    const { client, signal } = ctx;
    const db = database ?? (await pickDatabase(client, project_id, branch_id, undefined, signal)).name;
    const answer = (diff: string, meta: Record<string, unknown>) => {
      // Re-cut to three lines of context with a summary first: the answer grows with the change, not the schema.
      const sized = sizeDiff(diff);
      return untrusted(
        { summary: sized.summary, diff: sized.diff },
        {
          identical: diff.trim() === '',
          ...(sized.truncated ? { truncated: sized.truncated } : {}),
          branch_id,
          ...meta,
          database: db,
        },
        'the database schema',
      );
    };
    if (as_of !== undefined) {
      refuseAsOf(ctx, 'compare_schema');
      const base = base_branch_id ?? branch_id;
      return readAsOf(ctx, { project_id, branch_id: base }, as_of, async (temp, moment, of_branch) => {
        const diff = await schemaDiff(
          client,
          { project_id, branch_id, base_branch_id: temp, database: db },
          signal,
        );
        return answer(diff, {
          base_branch_id: of_branch,
          as_of: moment,
          note: 'base_branch_id as of as_of (read on a temporary branch made then, deleted after); branch_id as it is now.',
        });
      });
    }
    const diff = await schemaDiff(
      client,
      { project_id, branch_id, base_branch_id, database: db },
      signal,
    ).catch(async (e) => {
      throw base_branch_id ? e : await rootBranchError(client, project_id, branch_id, e, signal);
    });
    return answer(diff, base_branch_id ? { base_branch_id } : {});
  },
});

/* ---------------------------------------------------------------- migrations */

/** The end of next_steps: until when the temporary branch lives. */
const expiryNote = (expires_at: string | undefined) =>
  expires_at
    ? `, until ${expires_at} (24 h): Neon then deletes it with its compute if it was neither completed nor discarded.`
    : '.';

const WRITE_TEMP: Hints = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: true,
};
const APPLY: Hints = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

export const prepareDatabaseMigration = defineTool({
  name: 'prepare_database_migration',
  title: 'Prepare database migration',
  description: 'Try migration SQL on a temporary branch; returns the schema diff.',
  toolset: 'schema',
  operations: [
    'createProjectBranch',
    'getProjectBranchSchemaComparison',
    'deleteProjectBranch',
    'listProjectBranchDatabases',
    ...CONNECT_OPERATIONS,
  ],
  input: {
    ...connectionFields,
    migration_sql: sqlText.describe('SQL statements'),
    verify_sql: sqlText.optional().describe('Query to check the result'),
  },
  output: output({ migration_id: z.string() }),
  hints: WRITE_TEMP,
  async handler({ project_id, migration_sql, verify_sql, ...args }, ctx) {
    const { client, signal, settings } = ctx;
    // Refused before the temporary branch is created: a COMMIT in the script would apply its first part.
    await checkScript(migration_sql, 'prepare_database_migration');
    if (verify_sql) await checkStatement(verify_sql, 'verify_sql', { inTransaction: true, readOnly: true });
    const { start, result } = await tryOnTempBranch(
      ctx,
      'migration',
      project_id,
      args,
      { sql: migration_sql, retry: 'Fix the migration and call prepare_database_migration again.' },
      async ({ temp, target, branch_id, database }) => {
        let verify: Record<string, unknown> | undefined;
        await ctx.progress('Applying the migration on the temporary branch');
        await onDatabase(ctx, target, async (s) => {
          await runScript(s, migration_sql, 'The migration (on the temporary branch)');
          if (verify_sql) {
            const r = await runOne(s, verify_sql, {
              maxRows: settings.sqlMaxRows,
              readOnly: true,
              what: 'verify_sql (on the temporary branch)',
            });
            verify = {
              columns: r.columns,
              rows: r.rows,
              row_count: r.row_count,
              ...(r.more || r.bytes ? { truncated: truncatedNotice(r, settings.sqlMaxRows) } : {}),
            };
          }
        });
        await ctx.progress('Comparing the schema with the original branch');
        const diff = await schemaDiff(
          client,
          { project_id, branch_id: temp, base_branch_id: branch_id, database },
          signal,
        );
        return { diff, verify };
      },
    );
    const { id, temp, branch_id, database, expires_at } = start;
    const { diff, verify } = result;
    const sized = sizeDiff(diff);
    return {
      migration_id: id,
      temp_branch_id: temp,
      ...(expires_at ? { temp_branch_expires_at: expires_at } : {}),
      ...(sized.truncated ? { truncated: sized.truncated } : {}),
      ...untrusted(
        { summary: sized.summary, diff: sized.diff, ...(verify ? { verify } : {}) },
        {},
        'the database',
      ),
      ...(diff.trim() === ''
        ? { diff_note: 'The schema did not change (a data-only migration, or it had no effect).' }
        : {}),
      branch_id,
      database,
      next_steps:
        `Review the diff. Test on the temporary branch with run_sql (branch_id ${temp}). Then ` +
        `complete_database_migration (migration_id ${id}) applies the same SQL to branch ${branch_id} and deletes ` +
        `the temporary branch, or discard_database_migration deletes it without applying anything. The ID works ` +
        'on any neon-mcp instance, also after a restart: the temporary branch carries the migration' +
        expiryNote(expires_at),
    };
  },
});

export const completeDatabaseMigration = defineTool({
  name: 'complete_database_migration',
  title: 'Complete database migration',
  description: 'Apply a prepared migration to its branch; deletes the temporary one.',
  toolset: 'schema',
  operations: COMPLETE_OPERATIONS,
  input: {
    project_id: projectId,
    migration_id: workId('prepare_database_migration'),
  },
  output: output({ applied: z.boolean() }),
  hints: APPLY,
  async handler({ project_id, migration_id }, ctx) {
    const work = await findWork(ctx, 'migration', project_id, migration_id);
    await ctx.progress(`Applying the migration to branch ${work.branch_id}`);
    // Recorded with a restore point taken just before it (src/neon/ledger.ts): undo_change reverts it.
    const change = await PendingChange.start(ctx, work, 'complete_database_migration', [work.sql ?? '']);
    const done = await applyOnce(ctx, work, async (s, db) => {
      try {
        return await recorded(change, s, db.database, () =>
          runScript(s, work.sql ?? '', `The migration (on the original branch ${work.branch_id})`),
        );
      } catch (e) {
        if (e instanceof Error && e instanceof SqlError && e.code) {
          e.message +=
            `\nThe migration was rolled back on branch ${work.branch_id}: nothing was applied there. The temporary ` +
            `branch ${work.temp_branch_id} is kept; fix the cause and call complete_database_migration again, or ` +
            'discard_database_migration.';
        }
        throw e;
      }
    });
    return {
      applied: true,
      branch_id: work.branch_id,
      database: work.database,
      statements: done.result.statements,
      duration_ms: done.result.duration_ms,
      ...(done.result.change ? { change: done.result.change } : {}),
      ...(done.temp_branch_deleted ? { temp_branch_deleted: done.temp_branch_deleted } : {}),
      ...(done.warning ? { warning: done.warning } : {}),
    };
  },
});

export const discardDatabaseMigration = defineTool({
  name: 'discard_database_migration',
  title: 'Discard database migration',
  description: "Delete a prepared migration's temporary branch without applying it.",
  toolset: 'schema',
  operations: ['listProjectBranches', 'getProjectBranch', 'deleteProjectBranch'],
  input: {
    project_id: projectId,
    migration_id: workId('prepare_database_migration'),
  },
  output: output({ discarded: z.boolean() }),
  hints: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler({ project_id, migration_id }, ctx) {
    const work = await discard(ctx, 'migration', project_id, migration_id);
    return { discarded: true, temp_branch_deleted: work.temp_branch_id };
  },
});

/* ---------------------------------------------------------------- query tuning */

/** EXPLAIN ANALYZE twice (the first warms the cache), keeping the faster run. */
async function measure(
  ctx: ToolContext,
  target: { project_id: string; branch_id: string; database: string; role: string },
  sql: string,
  params: unknown[] | undefined,
  label: string,
): Promise<PlanSummary> {
  return onDatabase(ctx, target, async (s) => {
    let best: PlanSummary | undefined;
    for (let run = 0; run < 2; run++) {
      const res = await explain(s, sql, {
        params,
        analyze: true,
        format: 'json',
        readOnly: false,
        what: `EXPLAIN ANALYZE ${label}`,
      });
      const summary = summarizePlan(res.plan);
      if (!best || (summary.execution_ms ?? Infinity) < (best.execution_ms ?? Infinity)) best = summary;
    }
    return best as PlanSummary;
  });
}

export const prepareQueryTuning = defineTool({
  name: 'prepare_query_tuning',
  title: 'Prepare query tuning',
  description: 'Try DDL on a temporary branch; EXPLAIN ANALYZE before and after.',
  toolset: 'schema',
  operations: [
    'createProjectBranch',
    'deleteProjectBranch',
    'listProjectBranchDatabases',
    ...CONNECT_OPERATIONS,
  ],
  input: {
    ...connectionFields,
    sql: sqlText.describe('Query to tune'),
    params: sqlParams,
    ddl: ddlList.describe('Statements to try'),
  },
  output: output({ tuning_id: z.string() }),
  hints: WRITE_TEMP,
  async handler({ project_id, sql, params, ddl, ...args }, ctx) {
    // The query runs under EXPLAIN ANALYZE in a rolled-back transaction: read-only rules apply to it.
    await checkStatement(sql, 'prepare_query_tuning (sql)', { inTransaction: true, readOnly: true });
    for (const [i, d] of ddl.entries())
      await checkStatement(d, `prepare_query_tuning (ddl ${i + 1})`, { inTransaction: false });
    const { start, result } = await tryOnTempBranch(
      ctx,
      'tuning',
      project_id,
      args,
      { ddl },
      async ({ target }) => {
        await ctx.progress('EXPLAIN ANALYZE before the change');
        const before = await measure(ctx, target, sql, params, '(before)');
        await ctx.progress(`Applying ${ddl.length} statement(s) on the temporary branch`);
        await onDatabase(ctx, target, async (s) => {
          for (const [i, d] of ddl.entries()) {
            await runOne(s, d, {
              maxRows: 0,
              readOnly: false,
              what: `ddl ${i + 1} of ${ddl.length} (on the temporary branch)`,
            });
          }
        });
        await ctx.progress('EXPLAIN ANALYZE after the change');
        const after = await measure(ctx, target, sql, params, '(after)');
        return { before, after };
      },
    );
    const { id, temp, branch_id, database, expires_at } = start;
    const { before, after } = result;
    const comparison = comparePlans(before, after);
    return {
      tuning_id: id,
      temp_branch_id: temp,
      ...(expires_at ? { temp_branch_expires_at: expires_at } : {}),
      ...untrusted({ before, after }, {}, 'the database'),
      comparison,
      branch_id,
      database,
      next_steps:
        `The DDL ran on temporary branch ${temp} only. complete_query_tuning (tuning_id ${id}) with apply=true ` +
        `runs it on branch ${branch_id} (all statements, or those you pass in ddl) and deletes the temporary branch; ` +
        'apply=false only deletes the temporary branch. Prefer CREATE INDEX CONCURRENTLY on a busy database. ' +
        `The ID works on any neon-mcp instance, also after a restart${expiryNote(expires_at)}`,
    };
  },
});

const normalize = (sql: string) => sql.replace(/\s+/g, ' ').replace(/;\s*$/, '').trim();

export const completeQueryTuning = defineTool({
  name: 'complete_query_tuning',
  title: 'Complete query tuning',
  description: "Apply a tuning's DDL to its branch, or not; drops the temporary branch.",
  toolset: 'schema',
  operations: COMPLETE_OPERATIONS,
  input: {
    project_id: projectId,
    tuning_id: workId('prepare_query_tuning'),
    apply: z.boolean().describe('Or discard'),
    ddl: ddlList.optional().describe('Subset to apply'),
  },
  output: output({ applied: z.array(z.string()) }),
  hints: APPLY,
  async handler({ project_id, tuning_id, apply, ddl }, ctx) {
    if (!apply) {
      const work = await discard(ctx, 'tuning', project_id, tuning_id);
      return { applied: [], branch_id: work.branch_id, temp_branch_deleted: work.temp_branch_id };
    }
    const work = await findWork(ctx, 'tuning', project_id, tuning_id);
    const tried = work.ddl ?? [];
    let chosen = tried;
    if (ddl) {
      const known = new Map(tried.map((d) => [normalize(d), d]));
      const unknown = ddl.filter((d) => !known.has(normalize(d)));
      if (unknown.length) {
        throw new SqlError(
          `complete_query_tuning: only statements tried by prepare_query_tuning can be applied; these were not: ${unknown.join(' | ')}. Tried: ${tried.join(' | ')}`,
        );
      }
      chosen = ddl.map((d) => known.get(normalize(d)) as string);
    }
    const applied: string[] = [];
    const change = await PendingChange.start(ctx, work, 'complete_query_tuning', chosen);
    const done = await applyOnce(ctx, work, (s, db) =>
      recorded(change, s, db.database, async () => {
        for (const [i, d] of chosen.entries()) {
          await ctx.progress(`Applying statement ${i + 1} of ${chosen.length} on ${describeDb(db)}`);
          try {
            await runOne(s, d, {
              maxRows: 0,
              readOnly: false,
              what: `ddl ${i + 1} of ${chosen.length} (on branch ${work.branch_id})`,
            });
          } catch (e) {
            if (e instanceof Error) {
              e.message +=
                `\nApplied before this failure: ${applied.length ? applied.join(' | ') : 'nothing'}. The temporary branch ` +
                `${work.temp_branch_id} is kept; call complete_query_tuning again (with ddl set to what is left) or with apply=false.`;
            }
            throw e;
          }
          applied.push(d);
        }
        return {};
      }),
    );
    return {
      applied,
      branch_id: work.branch_id,
      ...(done.result.change ? { change: done.result.change } : {}),
      ...(done.temp_branch_deleted ? { temp_branch_deleted: done.temp_branch_deleted } : {}),
      ...(done.warning ? { warning: done.warning } : {}),
    };
  },
});

export const schemaTools = [
  getBranchSchema,
  compareSchema,
  prepareDatabaseMigration,
  completeDatabaseMigration,
  discardDatabaseMigration,
  prepareQueryTuning,
  completeQueryTuning,
];
