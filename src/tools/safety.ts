/**
 * The safety net (issue 27, docs/SAFETY-NET.md): what the agent changed (list_changes) and one call to
 * put a branch back as it was before a change (undo_change). The ledger is src/neon/ledger.ts. Reads as
 * of a moment (a change ID: just before it) are `as_of` of run_sql_readonly, describe_table and
 * compare_schema (src/neon/as-of.ts).
 */
import * as z from 'zod';
import { InvalidArgumentError, NeonError } from '../client/errors.js';
import { CHANGE_ID, type Change, listChanges, UNDONE_PREFIX } from '../neon/ledger.js';
import { defaultBranchId, onDatabase } from '../neon/resolver.js';
import { fetchBranch } from '../neon/resources.js';
import { findRelation } from '../sql/catalog.js';
import { compareData, keyNames, LEAF_MAX, SAMPLE, tableOf } from '../sql/data-diff.js';
import { untrusted } from '../sql/untrusted.js';
import { branchId, confirm, connectionFields, optionalBranchId, projectId } from './fields.js';
import { confirmIrreversible, DESTROY, defineTool, items, output, READ, type ToolDef } from './framework.js';

const LEDGER_OPERATIONS = ['listProjectBranches', 'getProject'];

const changeId = z
  .string()
  .refine((v) => CHANGE_ID.test(v), { message: 'must be a change ID from list_changes (12 hex digits)' })
  .describe('From list_changes');

/** How long ago a moment was, in words a person reads at a glance. */
export function ago(at: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (s < 90) return `${s} seconds`;
  if (s < 90 * 60) return `${Math.round(s / 60)} minutes`;
  if (s < 48 * 3600) return `${Math.round(s / 360) / 10} hours`;
  return `${Math.round(s / 8640) / 10} days`;
}

const shown = (c: Change) => {
  const { record_branch_id: _r, ...rest } = c;
  return rest;
};

export const listChangesTool = defineTool({
  name: 'list_changes',
  title: 'List changes',
  description: 'Writes by tools to branches, newest first, with IDs for undo_change.',
  toolset: 'safety',
  operations: LEDGER_OPERATIONS,
  input: { project_id: projectId, branch_id: optionalBranchId },
  output: output({ changes: items({ id: z.string() }) }),
  hints: READ,
  async handler({ project_id, branch_id }, ctx) {
    const all = await listChanges(ctx, project_id);
    const changes = all.filter((c) => !branch_id || c.branch_id === branch_id).map(shown);
    return {
      changes,
      note:
        'Recorded: writes by run_sql and run_sql_transaction (statements that may write, by the parser), ' +
        'completed migrations and tunings, resets and restores of a branch, and deleted databases; not roles. ' +
        'Undoing one puts its branch back as it was just before it: every later write to that branch, by ' +
        'anyone, is undone too. Writes by other clients are not listed.',
    };
  },
});

export const undoChange = defineTool({
  name: 'undo_change',
  title: 'Undo change',
  description: 'Undo a change (default: the last) and all later writes to its branch; kept in a new branch.',
  toolset: 'safety',
  operations: [...LEDGER_OPERATIONS, 'getProjectBranch', 'restoreProjectBranch'],
  input: {
    project_id: projectId,
    change_id: changeId.optional(),
    branch_id: optionalBranchId,
    confirm,
  },
  output: output({ preserved_branch: z.string() }),
  // Not idempotent: without change_id a second call undoes the change before.
  hints: { ...DESTROY, idempotentHint: false },
  async handler({ project_id, change_id, branch_id, confirm: given }, ctx) {
    const { client, signal, wait } = ctx;
    const all = await listChanges(ctx, project_id);
    let change: Change | undefined;
    if (change_id) {
      change = all.find((c) => c.id === change_id);
      if (!change) {
        throw new InvalidArgumentError(
          `No change ${change_id} is recorded in project ${project_id}: list_changes shows the recorded ones ` +
            '(a record goes when its restore point expires, or when newer ones push it out).',
        );
      }
    } else {
      const on = branch_id ?? (await defaultBranchId(client, project_id, signal));
      change = all.find((c) => c.branch_id === on && !c.undone_as);
      if (!change) throw new InvalidArgumentError(`No change to undo is recorded on branch ${on}.`);
    }
    if (change.undone_as) {
      throw new NeonError(
        `Change ${change.id} was undone already; the state it replaced is in branch ${UNDONE_PREFIX}${change.id}.`,
      );
    }
    if (!change.undoable) throw new NeonError(`Change ${change.id} can no longer be undone: ${change.note}.`);
    const branch = await fetchBranch(client, project_id, change.branch_id, signal);
    const keep = `${UNDONE_PREFIX}${change.id}`;
    const span = ago(change.at);
    const later = all.filter((c) => c.branch_id === change.branch_id && c.at > change.at && !c.undone_as);
    const what =
      `every write to branch "${branch.name}" (${branch.id}) since ${change.at} (${span} ago), by anyone — ` +
      "this agent's and the application's — is undone, not only this change" +
      (later.length ? ` (recorded since: ${later.map((c) => c.id).join(', ')})` : '') +
      `; branch "${keep}" keeps them`;
    await confirmIrreversible(ctx, given, {
      action: `Undo change ${change.id} (${change.tool}: ${change.summary}) on branch "${branch.name}"`,
      loses: what,
      target: branch.name,
    });
    const body =
      change.restore === 'history'
        ? { source_branch_id: change.branch_id, source_lsn: change.lsn, preserve_under_name: keep }
        : { source_branch_id: change.record_branch_id, preserve_under_name: keep };
    const res = await client.post('/projects/{project_id}/branches/{branch_id}/restore', {
      path: { project_id, branch_id: change.branch_id },
      body,
      signal,
    });
    await wait(res.operations);
    const found = await client.get('/projects/{project_id}/branches', {
      path: { project_id },
      query: { search: keep },
      signal,
    });
    const preserved = found.branches.find((b) => b.name === keep);
    return {
      undone: [shown(change), ...later.map(shown)],
      branch_id: change.branch_id,
      restored_to: change.restore === 'history' ? { lsn: change.lsn, at: change.at } : { at: change.at },
      preserved_branch: keep,
      ...(preserved ? { preserved_branch_id: preserved.id } : {}),
      note:
        `Branch "${branch.name}" is back as it was at ${change.at}: every write to it in the ${span} since, by anyone, ` +
        `is undone. Branch "${keep}" keeps the state before the undo (delete_branch it when no longer needed; ` +
        'compare_schema or run_sql on it shows what was undone).',
    };
  },
});

export const compareDataTool = defineTool({
  name: 'compare_data',
  title: 'Compare data',
  description: 'Rows of a table added, removed or changed on a branch against another (default: its parent).',
  toolset: 'safety',
  operations: ['getProjectBranch', 'listProjectBranchDatabases', 'getConnectionURI'],
  input: {
    project_id: projectId,
    table: z
      .string()
      .refine((v) => v.length >= 1 && v.length <= 300, { message: 'must be 1 to 300 characters' })
      .describe('Table'),
    branch_id: branchId,
    base_branch_id: optionalBranchId,
    database: connectionFields.database,
  },
  output: output({ changed: z.number() }),
  hints: { ...READ, openWorldHint: true },
  async handler({ project_id, table, branch_id, base_branch_id, database }, ctx) {
    const started = performance.now();
    const base =
      base_branch_id ?? (await fetchBranch(ctx.client, project_id, branch_id, ctx.signal)).parent_id;
    if (!base)
      throw new InvalidArgumentError(
        `Branch ${branch_id} has no parent: name the branch to compare with in base_branch_id.`,
      );
    return onDatabase(ctx, { project_id, branch_id, database }, (s, db) =>
      onDatabase(ctx, { project_id, branch_id: base, database: db.database }, async (b) => {
        s.beginReadOnly();
        b.beginReadOnly();
        const [x, y] = [await findRelation(s, table, undefined), await findRelation(b, table, undefined)];
        const t = await tableOf(s, x.oid);
        const diff = await compareData(s, b, t, await tableOf(b, y.oid));
        const skipped = diff.not_compared?.ranges ?? [];
        return untrusted(
          // Key column names and values are database content: fenced with the rows.
          {
            ...(t.keys.length > 1 ? { key: keyNames(t) } : {}),
            sample: diff.sample,
            ...(skipped.length ? { not_compared: skipped.slice(0, SAMPLE) } : {}),
          },
          {
            table: `${x.schema}.${x.name}`,
            ...(skipped.length
              ? {
                  not_compared_note:
                    `INCOMPLETE: ${skipped.length} range(s) of the key's first column key[0] (not_compared: ` +
                    `from <= value < before, null before: no end; ${skipped.reduce((n, r) => n + r.branch_rows, 0)} ` +
                    `rows on the branch, ${skipped.reduce((n, r) => n + r.base_rows, 0)} on the base) differ by ` +
                    `checksum but were not compared row by row: over ${LEAF_MAX.toLocaleString('en-US')} rows share ` +
                    'one value of key[0] there. added, removed and changed leave those rows out; compare them with ' +
                    'run_sql_readonly (EXCEPT) on that value.',
                }
              : {}),
            added: diff.added,
            removed: diff.removed,
            changed: diff.changed,
            branch_id,
            base_branch_id: base,
            database: db.database,
            ...(diff.added + diff.removed + diff.changed > SAMPLE
              ? { sample_note: `at most ${SAMPLE} rows of each kind are shown, lowest keys first` }
              : {}),
            work: diff.work,
            duration_ms: Math.round(performance.now() - started),
          },
        );
      }),
    );
  },
});

export const safetyTools: ToolDef[] = [listChangesTool, undoChange, compareDataTool];
