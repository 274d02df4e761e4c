/**
 * The change ledger (issue 27): every tool call that writes to a branch is recorded with a restore
 * point taken just before it, so `undo_change` can put the branch back and `list_changes` can say what
 * an agent changed. No MCP here.
 *
 * Where a record lives: in the annotations of a small branch of its own, `mcp-change-<id>`, created
 * with the record (Neon's API sets annotations only when it creates a branch, and none of it is
 * reachable through SQL). So a restart, or another `--http` instance, finds every record with one list
 * call (the list answers annotations by branch), and nothing of it sits in a database an undo rewinds,
 * an agent diffs, or run_sql can rewrite. Measured against the alternatives (docs/SAFETY-NET.md): a table
 * on the changed branch is rewound by the very undo it serves; one on the default branch needs its
 * compute awake for every write elsewhere and shows in its schema; a single ledger branch re-created per
 * change costs the same create call plus a delete and a merge.
 *
 * The restore point depends on the project's history window (`history_retention_seconds`):
 * - history > 0 (Neon): the branch's LSN and time read on the write's own session just before the write.
 *   Free; undo restores the branch to that LSN from its own history, possible while the moment is within
 *   the window. The record branch is made after the write (it then knows the rows affected), from the
 *   default branch, without a compute: it holds nothing but the record.
 * - history = 0 (local mode, or a Neon project with no history): there is no history to go back to, so
 *   the record branch is made before the write as a child of the changed branch: a copy of its data at
 *   that moment (copy-on-write on Neon, `CREATE DATABASE … TEMPLATE` in local mode). Undo restores the
 *   branch from that copy. It costs a copy per write, so it is refused above {@link COPY_MAX_BYTES}.
 *
 * Bounded: at most {@link MAX_CHANGES} records per project (the oldest are deleted), each expiring by
 * itself (Neon's `expires_at`): with history, when the window closes over it; as a copy, after
 * {@link COPY_TTL_MS}.
 */
import { randomBytes } from 'node:crypto';
import { NeonApiError, NeonError } from '../client/errors.js';
import type { Schemas } from '../client/neon-client.js';
import { INTERNAL_MARK, type Session } from '../sql/session.js';
import { loadParser, nodes, parseWith } from '../sql/statements.js';
import type { NeonContext } from './context.js';
import { defaultBranchId } from './resolver.js';
import { CHANGE_PREFIX } from './restore-points.js';

/** The Neon operations recording a write may call (declared by the tools that write). */
export const LEDGER_WRITE_OPERATIONS = [
  'getProject',
  'listProjectBranches',
  'getProjectBranch',
  'createProjectBranch',
  'deleteProjectBranch',
];
/**
 * The Neon operations recording a reset or restore may call (PendingRestore): the record branch, the
 * expiry of the branch keeping the old state, trimming, and the list of the branch's children.
 */
export const LEDGER_RESTORE_OPERATIONS = [
  'listProjectBranches',
  'createProjectBranch',
  'updateProjectBranch',
  'deleteProjectBranch',
];
/** The Neon operations recording a change by a copy made before it may call (PendingChange.copying). */
export const LEDGER_COPY_OPERATIONS = [
  'getProjectBranch',
  'createProjectBranch',
  'listProjectBranches',
  'deleteProjectBranch',
];
export { CHANGE_PREFIX };
/**
 * The branch that keeps a branch's state before a recorded reset or restore, when the person named
 * none (preserve_under_name): `mcp-change-<id>-before`, out of listings like every restore point.
 */
export const BEFORE_SUFFIX = '-before';
/** The branch an undo keeps the undone state in: this plus the change ID. */
export const UNDONE_PREFIX = 'undone-';
const KEY = 'neon-mcp-change';
/** A change ID: 12 hex digits. */
export const CHANGE_ID = /^[0-9a-f]{12}$/;
/** Records kept per project; older ones are deleted when a new one is made. */
export const MAX_CHANGES = 20;
/** How long a copy restore point is kept (no history window bounds it). */
export const COPY_TTL_MS = 24 * 3_600_000;
/** A branch larger than this is not copied before a write (the write then has no restore point). */
export const COPY_MAX_BYTES = 1024 ** 3;
/** Characters of the statements kept in a record. */
const SUMMARY_CHARS = 400;

type Ctx = Pick<NeonContext, 'client' | 'signal' | 'wait' | 'progress' | 'settings' | 'connections'>;

/** What a record holds. */
export interface ChangeRecord {
  id: string;
  tool: string;
  branch_id: string;
  database?: string;
  /** When the restore point was taken (just before the change). */
  at: string;
  /** The branch's LSN just before the change (history restore points). */
  lsn?: string;
  /** How the change can be undone: from the branch's history, or from a copy made before it. */
  restore: 'history' | 'copy';
  /** The statements, cut to {@link SUMMARY_CHARS}. */
  summary: string;
  /** Rows affected, when known when the record was made (history restore points). */
  rows?: number | null;
}

/** A recorded change as list_changes shows it. */
export interface Change extends ChangeRecord {
  record_branch_id: string;
  undoable: boolean;
  /** Why it cannot be undone, or until when it can. */
  note: string;
  /** The branch that keeps the state this change's undo replaced, when it was undone. */
  undone_as?: string;
}

/** What a write's answer says about its record (under `change`). */
export interface ChangeNote {
  change_id?: string;
  recorded: boolean;
  undo?: string;
  note?: string;
}

/** Cuts the statements of a call to a one-line summary. */
export function summarize(statements: readonly string[]): string {
  const text = statements
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .join('; ')
    .trim();
  return text.length > SUMMARY_CHARS ? `${text.slice(0, SUMMARY_CHARS - 1)}…` : text;
}

/**
 * Statements that change no data or schema, unless a data-modifying statement or SELECT INTO is found
 * inside: queries, and what only changes the session (SET, RESET, DISCARD, cursors, LISTEN).
 */
const READS = new Set([
  'SelectStmt',
  'VariableShowStmt',
  'ExplainStmt',
  'VariableSetStmt',
  'DiscardStmt',
  'DeclareCursorStmt',
  'FetchStmt',
  'ClosePortalStmt',
  'ListenStmt',
  'UnlistenStmt',
]);
const WRITES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt', 'IntoClause']);

/**
 * Whether statements may change the branch, read by PostgreSQL's parser: anything but a plain query,
 * SHOW or EXPLAIN does, and so does a query with a data-modifying WITH or INTO. Text that does not parse
 * counts as a write (PostgreSQL decides). A query calling a function that writes is not seen: such a
 * write is not recorded (docs/SAFETY-NET.md, "Limits").
 */
export async function mayWrite(statements: readonly string[]): Promise<boolean> {
  const parser = await loadParser();
  for (const sql of statements) {
    const parsed = parseWith(parser, sql);
    if (!parsed.ok) return true;
    for (const st of parsed.statements) {
      if (!READS.has(Object.keys(st)[0] ?? '')) return true;
      for (const [type, n] of nodes(st))
        if (WRITES.has(type) || (type === 'SelectStmt' && n.intoClause)) return true;
    }
  }
  return false;
}

/** An expiry `ms` from now, in the RFC 3339 form Neon takes (seconds precision). */
function expiryIn(ms: number): string {
  return new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The project's history window in seconds (0: none, as in local mode). */
export async function historySeconds(ctx: Ctx, project_id: string): Promise<number> {
  const { project } = await ctx.client.get('/projects/{project_id}', {
    path: { project_id },
    signal: ctx.signal,
  });
  return project.history_retention_seconds ?? 0;
}

/** Creates a record branch; with history the parent is the default branch, as a copy the changed one. */
async function createRecord(
  ctx: Ctx,
  project_id: string,
  parent_id: string,
  record: ChangeRecord,
  ttlMs: number,
): Promise<string> {
  const body = (expires_at?: string) =>
    ({
      branch: { parent_id, name: `${CHANGE_PREFIX}${record.id}`, ...(expires_at ? { expires_at } : {}) },
      annotation_value: { [KEY]: JSON.stringify(record) },
    }) as Schemas['BranchCreateRequest'] & Schemas['AnnotationCreateValueRequest'];
  const post = (b: ReturnType<typeof body>) =>
    ctx.client.post('/projects/{project_id}/branches', { path: { project_id }, body: b, signal: ctx.signal });
  // Branch expiry is Early Access at Neon: refused, the record is made without it (and trimmed by count).
  const res = await post(body(expiryIn(ttlMs))).catch((e) => {
    if (!(e instanceof NeonApiError) || e.status >= 500 || !/expir/i.test(e.message)) throw e;
    return post(body());
  });
  await ctx.wait(res.operations);
  return res.branch.id;
}

/** Deletes a branch, quietly: records are best effort once the change is done. */
async function dropBranch(ctx: Ctx, project_id: string, branch_id: string): Promise<void> {
  await ctx.client
    .delete('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id, branch_id },
      signal: AbortSignal.timeout(60_000),
    })
    .catch(() => undefined);
}

/**
 * One write being recorded. `start` takes what must exist before the write (a copy), `point` reads the
 * LSN on the write's session, `done` makes the record (or drops the copy of a write that did not write).
 */
export class PendingChange {
  private at = new Date().toISOString();
  private lsn: string | undefined;
  private constructor(
    private readonly ctx: Ctx,
    readonly project_id: string,
    readonly branch_id: string,
    private readonly tool: string,
    private readonly summary: string,
    private readonly history: number,
    /** The copy made before the write (history = 0), or why none was made. */
    private readonly copy: { id?: string; why?: string },
    readonly id: string,
  ) {}

  /**
   * Starts recording a write of `tool` to a branch: resolves the branch (default: the default one)
   * and, in a project without history, copies it now. Undefined where nothing can be recorded (a
   * --database-url server has no branches).
   */
  static async start(
    ctx: Ctx,
    target: { project_id: string; branch_id?: string },
    tool: string,
    statements: readonly string[],
  ): Promise<PendingChange | undefined> {
    if (ctx.connections && ctx.connections.kind !== 'neon') return undefined;
    if (!(await mayWrite(statements))) return undefined;
    const { project_id } = target;
    const branch_id = target.branch_id ?? (await defaultBranchId(ctx.client, project_id, ctx.signal));
    const history = await historySeconds(ctx, project_id);
    return PendingChange.begin(ctx, project_id, branch_id, tool, summarize(statements), history);
  }

  /**
   * Starts recording a change made through Neon's API rather than SQL (delete_database): there is no
   * session to read an LSN on, so the restore point is a copy of the branch made now, with or without
   * history (copy-on-write on Neon, no compute; `CREATE DATABASE … TEMPLATE` in local mode). Finish
   * with `done(true, …)`, or `failed()` when the call failed.
   */
  static async copying(
    ctx: Ctx,
    target: { project_id: string; branch_id: string },
    tool: string,
    summary: string,
  ): Promise<PendingChange | undefined> {
    if (ctx.connections && ctx.connections.kind !== 'neon') return undefined;
    return PendingChange.begin(ctx, target.project_id, target.branch_id, tool, summarize([summary]), 0);
  }

  private static async begin(
    ctx: Ctx,
    project_id: string,
    branch_id: string,
    tool: string,
    summary: string,
    history: number,
  ): Promise<PendingChange> {
    const id = randomBytes(6).toString('hex');
    const copy: { id?: string; why?: string } = {};
    if (history <= 0) {
      const { branch } = await ctx.client.get('/projects/{project_id}/branches/{branch_id}', {
        path: { project_id, branch_id },
        signal: ctx.signal,
      });
      if ((branch?.logical_size ?? 0) > COPY_MAX_BYTES) {
        copy.why = `the branch holds ${Math.round((branch?.logical_size ?? 0) / 1024 ** 2)} MB, more than the ${COPY_MAX_BYTES / 1024 ** 2} MB copied as the restore point of a change`;
      } else {
        await ctx.progress(`Copying branch ${branch_id} as the restore point of this change`);
        const at = new Date().toISOString();
        try {
          copy.id = await createRecord(
            ctx,
            project_id,
            branch_id,
            { id, tool, branch_id, at, restore: 'copy', summary },
            COPY_TTL_MS,
          );
        } catch (e) {
          copy.why = `its copy could not be made (${e instanceof Error ? e.message : String(e)})`;
        }
      }
    }
    return new PendingChange(ctx, project_id, branch_id, tool, summary, history, copy, id);
  }

  /**
   * Reads the restore point on the session the write will use, just before it: the WAL insert
   * position, past every record already inserted (commits not yet written out with
   * synchronous_commit off among them), and before any record of the write. (pg_current_wal_lsn is
   * the write position, which can lag behind both.)
   */
  async point(s: Session): Promise<void> {
    this.at = new Date().toISOString();
    if (this.history <= 0) return;
    const { rows } = await s.exec<{ lsn: string; at: Date }>(
      `SELECT ${INTERNAL_MARK} pg_current_wal_insert_lsn()::text AS lsn, clock_timestamp() AS at`,
      [],
      'reading the restore point of this change',
    );
    this.lsn = rows[0]?.lsn;
    if (rows[0]?.at) this.at = new Date(rows[0].at).toISOString();
  }

  /**
   * After the call: records the change when it wrote (`rows`: rows affected), else drops the copy.
   * Never throws: the write is done either way, and the note says how it can be undone.
   */
  async done(wrote: boolean, database: string | undefined, rows: number | null): Promise<ChangeNote> {
    if (!wrote) {
      if (this.copy.id) await dropBranch(this.ctx, this.project_id, this.copy.id);
      return { recorded: false, note: 'nothing was written, so nothing was recorded' };
    }
    const undo = `undo_change with change_id ${this.id} puts the branch back as it was just before this call`;
    try {
      if (this.history > 0) {
        if (!this.lsn) throw new NeonError('no LSN was read before the write');
        const parent = await defaultBranchId(this.ctx.client, this.project_id, AbortSignal.timeout(60_000));
        await createRecord(
          { ...this.ctx, signal: AbortSignal.timeout(60_000) },
          this.project_id,
          parent,
          {
            id: this.id,
            tool: this.tool,
            branch_id: this.branch_id,
            ...(database ? { database } : {}),
            at: this.at,
            lsn: this.lsn,
            restore: 'history',
            summary: this.summary,
            rows,
          },
          this.history * 1000,
        );
      } else if (!this.copy.id) {
        return {
          recorded: false,
          note: `not recorded and not undoable: ${this.copy.why ?? 'no restore point'}`,
        };
      }
      await trim(this.ctx, this.project_id);
      return { change_id: this.id, recorded: true, undo };
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return {
        recorded: false,
        note:
          `the change is done but its record could not be made (${why})` +
          (this.lsn
            ? `; restore_branch with source_lsn ${this.lsn} and preserve_under_name puts the branch back as it was before it`
            : ''),
      };
    }
  }

  /** After a failed call: drops the copy (nothing was committed). */
  async failed(): Promise<void> {
    if (this.copy.id) await dropBranch(this.ctx, this.project_id, this.copy.id);
  }
}

/**
 * Runs a write with its restore point and record: `run` gets the session after the restore point was
 * read; `wrote` and `rows` read its result. The result carries `change` (what was recorded).
 */
export async function recorded<R extends Record<string, unknown>>(
  pending: PendingChange | undefined,
  s: Session,
  database: string | undefined,
  run: () => Promise<R>,
  outcome: (r: R) => { wrote: boolean; rows: number | null } = (r) => ({
    wrote: true,
    rows: typeof r.row_count === 'number' ? r.row_count : null,
  }),
): Promise<R & { change?: ChangeNote }> {
  if (!pending) return run();
  await pending.point(s);
  let result: R;
  try {
    result = await run();
  } catch (e) {
    await pending.failed();
    throw e;
  }
  const { wrote, rows } = outcome(result);
  const change = await pending.done(wrote, database, rows);
  return wrote ? { ...result, change } : result;
}

/**
 * A reset or restore being recorded (reset_branch_from_parent, restore_branch). Its restore point is
 * the state Neon's restore itself keeps under `preserve_under_name`, not an LSN or a time read before:
 * a restore gives the branch a new timeline that starts at the restored state, and the branch's state
 * and history before it go to the branch kept under that name (Neon's restore API), so the changed
 * branch's own history cannot bring it back; reading an LSN would also need its compute awake, which
 * these tools never need, and local mode has no history at all. So the call always keeps the old state:
 * under the person's name when given, else under `mcp-change-<id>-before` (out of listings, expiring
 * with the record); the record is a copy of it made after the call (a child of that branch:
 * copy-on-write on Neon, no compute; a `CREATE DATABASE … TEMPLATE` copy in local mode), and an undo
 * restores the branch from that copy at its head: exactly the state before the call.
 */
export class PendingRestore {
  private at = new Date().toISOString();
  private constructor(
    private readonly ctx: Ctx,
    readonly project_id: string,
    readonly branch_id: string,
    private readonly tool: string,
    private readonly summary: string,
    readonly id: string,
    /** The name the call keeps the old state under (the person's, or ours). */
    readonly keep: string,
    /** Whether `keep` is ours (the person named none). */
    readonly ours: boolean,
  ) {}

  /**
   * Starts recording a reset or restore of `branch_id`. Undefined where it cannot be recorded: a
   * --database-url server, or a call that names no `preserve` on a branch with children of its own
   * (Neon refuses it without a name, as before; adding one would move those children to a hidden branch).
   */
  static async start(
    ctx: Ctx,
    target: { project_id: string; branch_id: string },
    tool: string,
    summary: string,
    preserve: string | undefined,
  ): Promise<PendingRestore | undefined> {
    if (ctx.connections && ctx.connections.kind !== 'neon') return undefined;
    const { project_id, branch_id } = target;
    if (!preserve) {
      const branches = await ctx.client.listAll('/projects/{project_id}/branches', 'branches', {
        path: { project_id },
        signal: ctx.signal,
      });
      if (branches.some((b) => b.parent_id === branch_id && !b.name.startsWith(CHANGE_PREFIX)))
        return undefined;
    }
    const id = randomBytes(6).toString('hex');
    const keep = preserve ?? `${CHANGE_PREFIX}${id}${BEFORE_SUFFIX}`;
    return new PendingRestore(ctx, project_id, branch_id, tool, summarize([summary]), id, keep, !preserve);
  }

  /** Takes the time of the restore point: just before the call (after the person's confirmation). */
  point(): void {
    this.at = new Date().toISOString();
  }

  /**
   * After the call: `preserved_id` is the branch Neon kept the old state in. Makes the record (a copy of
   * it). Never throws: the reset or restore is done either way, and the note says how to undo it.
   */
  async done(preserved_id: string | undefined): Promise<ChangeNote> {
    if (!preserved_id)
      return {
        recorded: false,
        note: `not recorded: the branch "${this.keep}" that should keep the state before it was not found`,
      };
    const signal = AbortSignal.timeout(60_000);
    try {
      if (this.ours) {
        // Our branch goes when its record does (Neon's expiry; trim deletes both), a little after it.
        await this.ctx.client
          .patch('/projects/{project_id}/branches/{branch_id}', {
            path: { project_id: this.project_id, branch_id: preserved_id },
            body: { branch: { expires_at: expiryIn(COPY_TTL_MS + 3_600_000) } },
            signal,
          })
          .then((r) => this.ctx.wait(r.operations))
          .catch(() => undefined);
      }
      await createRecord(
        { ...this.ctx, signal },
        this.project_id,
        preserved_id,
        {
          id: this.id,
          tool: this.tool,
          branch_id: this.branch_id,
          at: this.at,
          restore: 'copy',
          summary: this.summary,
        },
        COPY_TTL_MS,
      );
      await trim(this.ctx, this.project_id);
      return {
        change_id: this.id,
        recorded: true,
        undo: `undo_change with change_id ${this.id} puts the branch back as it was just before this call`,
      };
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return {
        recorded: false,
        note:
          `the ${this.tool} is done but its record could not be made (${why}); restore_branch with ` +
          `source_branch_id ${preserved_id} and preserve_under_name puts the branch back as it was before it`,
      };
    }
  }
}

/* ------------------------------------------------------------------ reading the ledger */

/** Every record of a project's ledger, newest first, from one list of its record branches. */
export async function listChanges(
  ctx: Pick<Ctx, 'client' | 'signal'>,
  project_id: string,
): Promise<Change[]> {
  const res = await ctx.client.get('/projects/{project_id}/branches', {
    path: { project_id },
    query: { search: CHANGE_PREFIX, limit: 10_000 },
    signal: ctx.signal,
  });
  const all = await ctx.client.listAll('/projects/{project_id}/branches', 'branches', {
    path: { project_id },
    query: { search: UNDONE_PREFIX },
    signal: ctx.signal,
  });
  const undone = new Map(all.filter((b) => b.name.startsWith(UNDONE_PREFIX)).map((b) => [b.name, b.id]));
  const annotations = (res as { annotations?: Record<string, { value?: Record<string, string> }> })
    .annotations;
  const history = await historySeconds(ctx as Ctx, project_id);
  const out: Change[] = [];
  for (const b of res.branches) {
    if (!b.name.startsWith(CHANGE_PREFIX)) continue;
    const record = readRecord(b.name.slice(CHANGE_PREFIX.length), annotations?.[b.id]?.value);
    if (!record) continue;
    const undoneAs = undone.get(`${UNDONE_PREFIX}${record.id}`);
    out.push({
      ...record,
      record_branch_id: b.id,
      ...undoability(record, history, b.expires_at),
      ...(undoneAs ? { undone_as: undoneAs } : {}),
    });
  }
  return out.sort((a, b) => b.at.localeCompare(a.at));
}

/** A record read back, checked against the ID its branch's name gives; undefined when it is not one. */
function readRecord(id: string, value: Record<string, string> | undefined): ChangeRecord | undefined {
  if (!CHANGE_ID.test(id)) return undefined;
  let r: Partial<ChangeRecord>;
  try {
    r = JSON.parse(value?.[KEY] ?? '');
  } catch {
    return undefined;
  }
  if (r.id !== id || typeof r.branch_id !== 'string' || typeof r.at !== 'string') return undefined;
  if (r.restore !== 'history' && r.restore !== 'copy') return undefined;
  if (r.restore === 'history' && typeof r.lsn !== 'string') return undefined;
  return r as ChangeRecord;
}

/** Whether a record can still be undone, and the bound that says so. */
function undoability(
  r: ChangeRecord,
  history: number,
  expires: string | undefined,
): { undoable: boolean; note: string } {
  if (r.restore === 'copy') {
    return {
      undoable: true,
      note: `restored from a copy made just before it${expires ? `, kept until ${expires}` : ''}`,
    };
  }
  const until = Date.parse(r.at) + history * 1000;
  return until > Date.now()
    ? {
        undoable: true,
        note: `within the project's history window (${history / 3600} h): undoable until ${new Date(until).toISOString()}`,
      }
    : {
        undoable: false,
        note: `older than the project's history window (${history / 3600} h): Neon no longer keeps that moment`,
      };
}

/** Deletes the oldest records past {@link MAX_CHANGES}. Best effort. */
async function trim(ctx: Ctx, project_id: string): Promise<void> {
  const res = await ctx.client
    .get('/projects/{project_id}/branches', {
      path: { project_id },
      query: { search: CHANGE_PREFIX, limit: 10_000 },
      signal: AbortSignal.timeout(60_000),
    })
    .catch(() => undefined);
  const all = res?.branches ?? [];
  const records = all
    .filter((b) => b.name.startsWith(CHANGE_PREFIX) && CHANGE_ID.test(b.name.slice(CHANGE_PREFIX.length)))
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  for (const old of records.slice(MAX_CHANGES)) {
    // A copy with children (a branch made from it since) is not ours to delete.
    await dropBranch(ctx, project_id, old.id);
    // The state a recorded reset or restore replaced, kept for it alone (PendingRestore).
    const before = all.find((b) => b.name === `${old.name}${BEFORE_SUFFIX}`);
    if (before) await dropBranch(ctx, project_id, before.id);
  }
}
