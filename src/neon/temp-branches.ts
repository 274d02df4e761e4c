/**
 * Safe schema work on temporary branches: a migration or a query tuning is tried on a fresh child
 * branch of the target (with its own compute) before it touches the real one. This is the lifecycle
 * those tools share: start (defaults filled in, branch created and ready), work there (the branch is
 * deleted again when the work fails), remember it until complete/discard, clean up.
 */
import { markAccountedFor, NeonApiError } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { SqlError } from '../sql/errors.js';
import { connections } from '../sql/pools.js';
import type { Session } from '../sql/session.js';
import type { NeonContext } from './context.js';
import { newWork, type PendingWork, readWork, tempBranchName, type WorkKind } from './pending.js';
import { type Db, defaultBranchId, forgetBranch, onDatabase, pickDatabase } from './resolver.js';

export type { PendingWork };

interface TempStart {
  /** The original branch, database and role (defaults filled in). */
  branch_id: string;
  database: string;
  role: string;
  id: string;
  name: string;
  /** The temporary branch. */
  temp: string;
  /** When Neon deletes the temporary branch if nothing completes or discards it (absent: Neon refused an expiry). */
  expires_at?: string;
  /** Where to run SQL on the temporary branch. */
  target: { project_id: string; branch_id: string; database: string; role: string };
}

/**
 * Starts work of `kind` on a new temporary branch, which carries what completing it needs (see
 * pending.ts), and runs `work` there. When `work` fails the temporary branch is deleted again and the
 * error says so (with `retry`, what to do next).
 */
export async function tryOnTempBranch<T>(
  ctx: NeonContext,
  kind: WorkKind,
  project_id: string,
  args: { branch_id?: string; database?: string; role?: string },
  what: Pick<PendingWork, 'sql' | 'ddl'> & { retry?: string },
  work: (start: TempStart) => Promise<T>,
): Promise<{ start: TempStart; result: T }> {
  const start = await startOnTempBranch(ctx, kind, project_id, args, what);
  let result: T;
  try {
    result = await work(start);
  } catch (e) {
    const deleted = await removeBranch(ctx, project_id, start.temp, { quiet: true });
    if (e instanceof Error) {
      e.message +=
        `\nThe original branch ${start.branch_id} was not touched; ` +
        (deleted
          ? `the temporary branch ${start.temp} was deleted.`
          : `the temporary branch ${start.temp} could not be deleted: delete it with delete_branch.`) +
        (what.retry ? ` ${what.retry}` : '');
      // The message tells what became of the temporary branch, the only write of this call.
      markAccountedFor(e);
    }
    throw e;
  }
  return { start, result };
}

/**
 * The common start of a migration or a tuning: the original branch, database and role (defaults
 * filled in), and a new temporary branch copied from it, with the target to run SQL on there.
 */
async function startOnTempBranch(
  ctx: NeonContext,
  kind: WorkKind,
  project_id: string,
  args: { branch_id?: string; database?: string; role?: string },
  what: Pick<PendingWork, 'sql' | 'ddl'>,
): Promise<TempStart> {
  const { client, signal } = ctx;
  const branch_id = args.branch_id ?? (await defaultBranchId(client, project_id, signal));
  const db = await pickDatabase(client, project_id, branch_id, args.database, signal);
  const database = db.name;
  const role = args.role ?? db.owner;
  const { id, annotations } = newWork({ kind, project_id, branch_id, database, role, ...what });
  const name = tempBranchName(kind, id);
  const { id: temp, expires_at } = await createTempBranch(ctx, project_id, branch_id, name, annotations);
  return {
    expires_at,
    branch_id,
    database,
    role,
    id,
    name,
    temp,
    target: { project_id, branch_id: temp, database, role },
  };
}

/** How long a temporary branch lives unless its work is completed or discarded first (issue 26: no orphans). */
const TEMP_BRANCH_TTL_MS = 24 * 3_600_000;
/** A complete or discard this close to the expiry renews it, so a failure that keeps the branch leaves time to retry. */
const RENEW_BELOW_MS = 12 * 3_600_000;

/** An expiry `ms` from now, in the RFC 3339 form Neon takes (seconds precision). */
function expiryIn(ms: number, now = Date.now()): string {
  return new Date(now + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Creates a child branch of `parent_id` with a read-write compute and an expiry (Neon deletes an
 * abandoned one, with its compute), and waits until it is ready. Branch expiry is an Early Access
 * feature at Neon: when Neon refuses the field, the branch is made without it (the answer then has no
 * expires_at).
 */
async function createTempBranch(
  ctx: NeonContext,
  project_id: string,
  parent_id: string,
  name: string,
  annotations: Record<string, string>,
): Promise<{ id: string; expires_at?: string }> {
  await ctx.progress(`Creating temporary branch ${name} with a compute`);
  const create = (expires_at?: string) => {
    const body: Schemas['BranchCreateRequest'] & Schemas['AnnotationCreateValueRequest'] = {
      branch: { parent_id, name, ...(expires_at ? { expires_at } : {}) },
      endpoints: [{ type: 'read_write' }],
      annotation_value: annotations,
    };
    return ctx.client.post('/projects/{project_id}/branches', {
      path: { project_id },
      body,
      signal: ctx.signal,
    });
  };
  let expires_at: string | undefined = expiryIn(TEMP_BRANCH_TTL_MS);
  const res = await create(expires_at).catch((e) => {
    if (!(e instanceof NeonApiError) || e.status >= 500 || !/expir/i.test(e.message)) throw e;
    expires_at = undefined;
    return create();
  });
  try {
    await ctx.wait(res.operations);
  } catch (e) {
    await removeBranch(ctx, project_id, res.branch.id, { quiet: true });
    throw e;
  }
  return { id: res.branch.id, expires_at: res.branch.expires_at ?? expires_at };
}

/**
 * Pushes a temporary branch's expiry 24 h on when less than 12 h are left: work completed late that
 * fails (the branch kept for a retry) must not vanish under the agent. Best effort: the work goes on
 * without the renewal.
 */
async function renewExpiry(ctx: NeonContext, project_id: string, branch: Schemas['Branch']): Promise<void> {
  if (!branch.expires_at || Date.parse(branch.expires_at) - Date.now() >= RENEW_BELOW_MS) return;
  await ctx.client
    .patch('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id, branch_id: branch.id },
      body: { branch: { expires_at: expiryIn(TEMP_BRANCH_TTL_MS) } },
      signal: ctx.signal,
    })
    .catch(() => undefined);
}

/**
 * Deletes a temporary branch and closes connections to it. `quiet`: a cleanup after a failure, which
 * must work even when the call was cancelled, and never hides the original error; it resolves to
 * whether Neon accepted the deletion.
 */
export async function removeBranch(
  ctx: NeonContext,
  project_id: string,
  branch_id: string,
  opts: { quiet?: boolean } = {},
): Promise<boolean> {
  await connections.closeTagged(branch_id);
  forgetBranch(ctx.client, branch_id);
  const signal = opts.quiet ? AbortSignal.timeout(60_000) : ctx.signal;
  try {
    const res = await ctx.client.delete('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id, branch_id },
      signal,
    });
    if (!opts.quiet) await ctx.wait(res?.operations);
    return true;
  } catch (e) {
    if (!opts.quiet) throw e;
    return false;
  }
}

/** Finds a temporary branch by its exact name. */
async function findTempBranch(
  client: NeonClient,
  project_id: string,
  name: string,
  signal: AbortSignal,
): Promise<Schemas['Branch'] | undefined> {
  const branches = await client.listAll('/projects/{project_id}/branches', 'branches', {
    path: { project_id },
    query: { search: name },
    signal,
  });
  return branches.find((b) => b.name === name);
}

/** The temporary branch with its annotations; undefined when Neon no longer has it. */
async function getTempBranch(ctx: NeonContext, project_id: string, branch_id: string) {
  try {
    return await ctx.client.get('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id, branch_id },
      signal: ctx.signal,
    });
  } catch (e) {
    if (e instanceof NeonApiError && e.status === 404) return undefined;
    throw e;
  }
}

const nextStep = (kind: WorkKind) =>
  kind === 'migration' ? 'prepare_database_migration' : 'prepare_query_tuning';

/**
 * The pending work an ID names, read from its temporary branch in `project_id` (so it works on any
 * instance and after a restart). Throws an SqlError when there is no such branch (completed,
 * discarded, mistyped, or of another project) or its record does not match the ID.
 */
export async function findWork(
  ctx: NeonContext,
  kind: WorkKind,
  project_id: string,
  id: string,
): Promise<PendingWork> {
  const name = tempBranchName(kind, id);
  const found = await findTempBranch(ctx.client, project_id, name, ctx.signal);
  const res = found && (await getTempBranch(ctx, project_id, found.id));
  if (!res) {
    throw new SqlError(
      `No ${kind} ${id} is pending in project ${project_id}: no temporary branch ${name} exists there. It was ` +
        `completed or discarded already, expired (temporary branches live ${TEMP_BRANCH_TTL_MS / 3_600_000} h), or the ID is ` +
        `mistyped or from another project; call ${nextStep(kind)} again if needed.`,
    );
  }
  await renewExpiry(ctx, project_id, res.branch);
  return readWork(kind, id, project_id, res.branch, res.annotation?.value);
}

/**
 * Applies pending work to its original branch once, however many instances are asked to: `apply`
 * runs on a session to the original database holding a session advisory lock keyed by the ID, which
 * every neon-mcp instance takes on that same Postgres, so a second complete of the same ID either finds
 * the lock taken (and is refused) or, after the first finished, finds the temporary branch gone. The
 * temporary branch is deleted before the lock is released. Neon has no compare-and-set on branches, so
 * this is as far as the check goes: when the deletion fails after the SQL was committed, the branch is
 * renamed (`…-applied`) so the ID no longer finds it; only if that fails too could a later call apply
 * it again, and the answer says so.
 */
export async function applyOnce<T>(
  ctx: NeonContext,
  work: PendingWork,
  apply: (s: Session, db: Db) => Promise<T>,
): Promise<{ result: T; temp_branch_deleted?: string; warning?: string }> {
  const { project_id, branch_id, database, role } = work;
  // The ID's 64 bits, as Postgres' bigint lock key.
  const key = BigInt.asIntN(64, BigInt(`0x${work.id}`)).toString();
  return onDatabase(ctx, { project_id, branch_id, database, role }, async (s, db) => {
    const { rows } = await s.exec<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1::bigint) AS locked /* neon-mcp */',
      [key],
      'taking the lock of this work',
    );
    if (!rows[0]?.locked) {
      throw new SqlError(
        `${work.kind} ${work.id} is being completed by another call right now (on this or another neon-mcp ` +
          'instance): nothing was applied by this call. Wait for that call; if it failed, call again.',
      );
    }
    try {
      // Under the lock: a call that finished before this one took it has deleted the branch (or, when
      // Neon refused that, renamed it).
      const now = await getTempBranch(ctx, project_id, work.temp_branch_id);
      if (now?.branch.name !== work.temp_branch_name) {
        throw new SqlError(
          `${work.kind} ${work.id} was completed or discarded by another call just now: nothing was applied by this call.`,
        );
      }
      const result = await apply(s, db);
      await ctx.progress(`Deleting temporary branch ${work.temp_branch_id}`);
      try {
        await removeBranch(ctx, project_id, work.temp_branch_id);
        return { result, temp_branch_deleted: work.temp_branch_id };
      } catch (e) {
        // Deleted meanwhile (a discard_ of the same ID while this applied): nothing is left to mark.
        if (e instanceof NeonApiError && e.status === 404) {
          return { result, temp_branch_deleted: work.temp_branch_id };
        }
        const renamed = await ctx.client
          .patch('/projects/{project_id}/branches/{branch_id}', {
            path: { project_id, branch_id: work.temp_branch_id },
            body: { branch: { name: `${work.temp_branch_name}-applied` } },
            signal: AbortSignal.timeout(60_000),
          })
          .then(
            () => true,
            () => false,
          );
        const why = e instanceof Error ? e.message : String(e);
        return {
          result,
          warning:
            `Applied, but the temporary branch ${work.temp_branch_id} could not be deleted (${why}): delete it ` +
            `with delete_branch. ${renamed ? `It was renamed ${work.temp_branch_name}-applied, so this ID no longer finds it.` : `Do not complete ${work.id} again: it would be applied twice.`}`,
        };
      }
    } finally {
      await s
        .exec('SELECT pg_advisory_unlock($1::bigint) /* neon-mcp */', [key], 'releasing the lock')
        .catch(() => undefined);
    }
  });
}

/** Deletes the temporary branch of pending work, found from its ID alone; returns the work. */
export async function discard(
  ctx: NeonContext,
  kind: WorkKind,
  project_id: string,
  id: string,
): Promise<PendingWork> {
  const work = await findWork(ctx, kind, project_id, id);
  await removeBranch(ctx, project_id, work.temp_branch_id);
  return work;
}
