/**
 * Safe schema work on temporary branches: a migration or a query tuning is tried on a fresh child
 * branch of the target (with its own compute) before it touches the real one. This is the lifecycle
 * those tools share: start (defaults filled in, branch created and ready), work there (the branch is
 * deleted again when the work fails), remember it until complete/discard, clean up.
 */
import { markAccountedFor } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { connections } from '../sql/connections.js';
import { SqlError } from '../sql/errors.js';
import { defaultBranchId, forgetBranch, pickDatabase } from './connection.js';
import type { NeonContext } from './context.js';
import {
  dropPending,
  getPending,
  newId,
  type PendingWork,
  PROCESS_STARTED_AT,
  savePending,
  tempBranchName,
} from './pending.js';

export { dropPending, getPending, type PendingWork };

export interface TempStart {
  /** The original branch, database and role (defaults filled in). */
  branch_id: string;
  database: string;
  role: string;
  id: string;
  name: string;
  /** The temporary branch. */
  temp: string;
  /** Where to run SQL on the temporary branch. */
  target: { project_id: string; branch_id: string; database: string; role: string };
}

/**
 * Starts work of `kind` on a new temporary branch, runs `work` there and remembers the work for its
 * complete_/discard_ call. When `work` fails the temporary branch is deleted again and the error says
 * so (with `retry`, what to do next).
 */
export async function tryOnTempBranch<T>(
  ctx: NeonContext,
  kind: PendingWork['kind'],
  project_id: string,
  args: { branch_id?: string; database?: string; role?: string },
  what: Pick<PendingWork, 'sql' | 'ddl'> & { retry?: string },
  work: (start: TempStart) => Promise<T>,
): Promise<{ start: TempStart; result: T }> {
  const start = await startOnTempBranch(ctx, kind, project_id, args);
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
  savePending({
    kind,
    id: start.id,
    project_id,
    branch_id: start.branch_id,
    database: start.database,
    role: start.role,
    temp_branch_id: start.temp,
    temp_branch_name: start.name,
    ...(what.sql !== undefined ? { sql: what.sql } : {}),
    ...(what.ddl !== undefined ? { ddl: what.ddl } : {}),
    created_at: new Date().toISOString(),
  });
  return { start, result };
}

/**
 * The common start of a migration or a tuning: the original branch, database and role (defaults
 * filled in), and a new temporary branch copied from it, with the target to run SQL on there.
 */
async function startOnTempBranch(
  ctx: NeonContext,
  kind: 'migration' | 'tuning',
  project_id: string,
  args: { branch_id?: string; database?: string; role?: string },
): Promise<TempStart> {
  const { client, signal } = ctx;
  const branch_id = args.branch_id ?? (await defaultBranchId(client, project_id, signal));
  const db = await pickDatabase(client, project_id, branch_id, args.database, signal);
  const database = db.name;
  const role = args.role ?? db.owner;
  const id = newId();
  const name = tempBranchName(kind, id);
  const temp = await createTempBranch(ctx, project_id, branch_id, name);
  return {
    branch_id,
    database,
    role,
    id,
    name,
    temp,
    target: { project_id, branch_id: temp, database, role },
  };
}

/** Creates a child branch of `parent_id` with a read-write compute and waits until it is ready. */
async function createTempBranch(
  ctx: NeonContext,
  project_id: string,
  parent_id: string,
  name: string,
): Promise<string> {
  await ctx.progress(`Creating temporary branch ${name} with a compute`);
  const body: Schemas['BranchCreateRequest'] = {
    branch: { parent_id, name },
    endpoints: [{ type: 'read_write' }],
  };
  const res = await ctx.client.post('/projects/{project_id}/branches', {
    path: { project_id },
    body,
    signal: ctx.signal,
  });
  try {
    await ctx.wait(res.operations);
  } catch (e) {
    await removeBranch(ctx, project_id, res.branch.id, { quiet: true });
    throw e;
  }
  return res.branch.id;
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

/** Finds a temporary branch by its name, for work this process no longer remembers. */
export async function findTempBranch(
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

/** The error for an ID this process does not know, naming the temporary branch if it still exists. */
export async function unknownWork(
  ctx: NeonContext,
  kind: PendingWork['kind'],
  project_id: string,
  id: string,
): Promise<Error> {
  const name = tempBranchName(kind, id);
  const branch = await findTempBranch(ctx.client, project_id, name, ctx.signal).catch(() => undefined);
  const what = kind === 'migration' ? 'Migration' : 'Query tuning';
  const again = kind === 'migration' ? 'prepare_database_migration' : 'prepare_query_tuning';
  const discard =
    kind === 'migration' ? 'discard_database_migration' : 'complete_query_tuning with apply=false';
  return new SqlError(
    `${what} ${id} is not known to this server. Pending ${kind === 'migration' ? 'migrations' : 'tunings'} are ` +
      `kept in memory only, so they are lost when neon-mcp restarts (this process started at ${PROCESS_STARTED_AT}); ` +
      'the ID may also be mistyped. ' +
      (branch
        ? `Its temporary branch ${branch.id} (${name}) still exists: delete it with ${discard} or delete_branch, then call ${again} again.`
        : `No temporary branch named ${name} exists in project ${project_id}, so there is nothing to clean up; call ${again} again.`),
  );
}

export function checkProject(work: PendingWork, project_id: string): void {
  if (work.project_id !== project_id) {
    throw new SqlError(`${work.kind} ${work.id} belongs to project ${work.project_id}, not ${project_id}.`);
  }
}

/** Deletes the temporary branch of pending work; after a restart, finds it by name. */
export async function discard(ctx: NeonContext, kind: PendingWork['kind'], project_id: string, id: string) {
  const work = getPending(kind, id);
  if (work) {
    checkProject(work, project_id);
    await removeBranch(ctx, project_id, work.temp_branch_id);
    dropPending(kind, id);
    return { discarded: true, temp_branch_deleted: work.temp_branch_id };
  }
  const name = tempBranchName(kind, id);
  const branch = await findTempBranch(ctx.client, project_id, name, ctx.signal);
  if (!branch) {
    throw new SqlError(
      `No ${kind} ${id} is pending here and no temporary branch ${name} exists in project ${project_id}: nothing to discard.`,
    );
  }
  await removeBranch(ctx, project_id, branch.id);
  return {
    discarded: true,
    temp_branch_deleted: branch.id,
    note: `This server did not remember ${kind} ${id} (it restarted since); its temporary branch was found by name and deleted.`,
  };
}
