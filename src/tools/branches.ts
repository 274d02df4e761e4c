/**
 * Branches: copy-on-write copies of a project's data. Creating one can add its read-write compute and
 * answers with a connection string; reset and restore overwrite a branch's data and are marked as such.
 */
import * as z from 'zod';
import { InvalidArgumentError, NeonApiError, NeonError } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import type { NeonContext } from '../neon/context.js';
import { LEDGER_RESTORE_OPERATIONS, PendingRestore } from '../neon/ledger.js';
import type { Operation } from '../neon/operations.js';
import { resolveBranch } from '../neon/refs.js';
import { resolveConnection } from '../neon/resolver.js';
import { fetchBranch, summarizeEndpoint } from '../neon/resources.js';
import { isRestorePoint, restorePointsNote } from '../neon/restore-points.js';
import { defined, pick } from '../neon/util.js';
import {
  branchId,
  branchRef,
  checkCuRange,
  confirm,
  cursor,
  limit,
  maxCu,
  minCu,
  nullableTimestamp,
  optionalBranchId,
  projectId,
  search,
  suspendTimeout,
  text,
  timestamp,
} from './fields.js';
import {
  ACT,
  CREATE,
  confirmIrreversible,
  DESTROY,
  defineTool,
  output,
  READ,
  resource,
  type ToolDef,
  UPDATE,
} from './framework.js';

type Branch = Schemas['Branch'];

const BRANCH_SUMMARY = [
  'id',
  'name',
  'parent_id',
  'default',
  'protected',
  'current_state',
  'logical_size',
  'expires_at',
  'restore_status',
  'recovery',
  'created_at',
] as const;
const summarizeBranch = (b: Branch) => pick(b, BRANCH_SUMMARY);

const branchRoute = '/projects/{project_id}/branches/{branch_id}' as const;
const branchName = text(256).describe('Name');
const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;
const lsn = (what: string) =>
  z
    .string()
    .refine((v) => LSN.test(v), { message: 'must be a Postgres LSN like 0/1E19478' })
    .describe(what);

function oneOf(a: unknown, b: unknown, names: string): void {
  if (a !== undefined && b !== undefined) throw new InvalidArgumentError(`Give ${names}, not both.`);
}

const branchOut = output({ branch: resource });

export const listBranches = defineTool({
  name: 'list_branches',
  title: 'List branches',
  description: 'List branches: ID, name, parent, state.',
  toolset: 'branches',
  operations: ['listProjectBranches'],
  input: {
    project_id: projectId,
    search: search.describe('Search'),
    include_deleted: z.boolean().optional().describe('Include deleted'),
    limit: limit(400).describe('Limit'),
    cursor: cursor.describe('Cursor'),
  },
  // Also returns next_cursor when there is another page (pass it as cursor).
  output: output({ branches: z.array(resource) }),
  hints: READ,
  async handler(args, { client, signal }) {
    const pageSize = args.limit ?? 100;
    const res = await client.get('/projects/{project_id}/branches', {
      path: { project_id: args.project_id },
      query: {
        search: args.search,
        include_deleted: args.include_deleted,
        limit: pageSize,
        cursor: args.cursor,
      },
      signal,
    });
    const all = res.branches.map(summarizeBranch);
    const next = all.length === pageSize ? res.pagination?.next : undefined;
    // Without a search, the safety net's restore points are counted, not listed (restore-points.ts).
    const branches = args.search ? all : all.filter((b) => !isRestorePoint(b.name));
    return {
      branches,
      ...restorePointsNote(all.length - branches.length),
      ...(next ? { next_cursor: next } : {}),
    };
  },
});

export const countBranches = defineTool({
  name: 'count_branches',
  title: 'Count branches',
  description: "Count a project's branches, optionally matching search.",
  toolset: 'branches',
  operations: ['countProjectBranches'],
  input: { project_id: projectId, search: search.describe('Search') },
  output: output({ count: z.number() }),
  hints: READ,
  async handler({ project_id, search }, { client, signal }) {
    const res = await client.get('/projects/{project_id}/branches/count', {
      path: { project_id },
      query: { search },
      signal,
    });
    return { count: res.count };
  },
});

export const getBranch = defineTool({
  name: 'get_branch',
  title: 'Get branch',
  description: 'Get a branch with its computes and databases.',
  toolset: 'branches',
  operations: ['getProjectBranch', 'listProjectBranchEndpoints', 'listProjectBranchDatabases'],
  input: { project_id: projectId, branch_id: branchId },
  // Also returns computes and databases.
  output: branchOut,
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const path = { project_id, branch_id };
    // The branch first: a 404 then names the branch rather than one of its sub-resources.
    const branch = await fetchBranch(client, project_id, branch_id, signal);
    const [endpoints, databases] = await Promise.all([
      client.get('/projects/{project_id}/branches/{branch_id}/endpoints', {
        path,
        signal,
      }),
      client.get('/projects/{project_id}/branches/{branch_id}/databases', {
        path,
        signal,
      }),
    ]);
    return {
      branch,
      computes: endpoints.endpoints.map(summarizeEndpoint),
      databases: databases.databases.map((d) => pick(d, ['name', 'owner_name'])),
    };
  },
});

/**
 * A 404 from creating a branch names only the project in its route; when the project exists, the
 * missing thing is the parent branch, and the agent must hear that.
 */
async function unknownParentError(
  client: NeonClient,
  project_id: string,
  parent_id: string,
  error: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  if (!(error instanceof NeonApiError) || error.status !== 404) return error;
  const projectExists = await client
    .get('/projects/{project_id}', { path: { project_id }, signal })
    .then(() => true)
    .catch(() => false);
  if (!projectExists) return error;
  return new InvalidArgumentError(
    `create_branch: the parent branch ${parent_id} does not exist in project ${project_id} (Neon: ${error.neonMessage ?? 'not found'}). ` +
      'Pick a parent from list_branches, or leave parent_id out to branch off the default branch.',
  );
}

/** How long a branch create_branch makes lives unless told (--branch-ttl): 7 days. */
export const DEFAULT_BRANCH_TTL_MS = 7 * 24 * 3_600_000;

/** An expiry `ms` from now, in the RFC 3339 form Neon takes (seconds precision). */
function expiryIn(ms: number): string {
  return new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Branches one create_branch or delete_branch call takes at most: each is its own Neon operation. */
const MAX_BATCH = 10;

type CreateArgs = {
  project_id: string;
  name?: string;
  names?: string[];
  parent_id?: string;
  parent_timestamp?: string;
  parent_lsn?: string;
  protected?: boolean;
  expires_at?: string;
  compute: boolean;
  min_cu?: number;
  max_cu?: number;
  suspend_timeout_seconds?: number;
};

/**
 * The expiry a new branch gets: the one asked for; none on a protected branch (what production keeps)
 * or with --branch-ttl 0; otherwise --branch-ttl from now (default 7 days), so a branch an agent forgets
 * does not keep a compute and storage forever.
 */
function expiryOf(args: CreateArgs, ttlMs: number): { expires_at?: string; by_default: boolean } {
  if (args.expires_at) return { expires_at: args.expires_at, by_default: false };
  if (args.protected || ttlMs === 0) return { by_default: false };
  return { expires_at: expiryIn(ttlMs), by_default: true };
}

/** Creates one branch and answers with it, its compute and a connection string. */
async function createOne(
  args: CreateArgs,
  name: string | undefined,
  ctx: Pick<NeonContext, 'client' | 'signal' | 'wait' | 'settings'>,
): Promise<Record<string, unknown>> {
  const { client, signal, wait } = ctx;
  const { project_id } = args;
  const computeArgs = defined({
    autoscaling_limit_min_cu: args.min_cu,
    autoscaling_limit_max_cu: args.max_cu,
    suspend_timeout_seconds: args.suspend_timeout_seconds,
  });
  const ttlMs = ctx.settings.branchTtlMs ?? DEFAULT_BRANCH_TTL_MS;
  const expiry = expiryOf(args, ttlMs);
  const body: Schemas['BranchCreateRequest'] = {
    branch: defined({
      name,
      parent_id: args.parent_id,
      parent_timestamp: args.parent_timestamp,
      parent_lsn: args.parent_lsn,
      protected: args.protected,
      expires_at: expiry.expires_at,
    }),
    ...(args.compute ? { endpoints: [{ type: 'read_write' as const, ...computeArgs }] } : {}),
  };
  const res = await client
    .post('/projects/{project_id}/branches', { path: { project_id }, body, signal })
    .catch(async (e) => {
      throw args.parent_id ? await unknownParentError(client, project_id, args.parent_id, e, signal) : e;
    });
  await wait(res.operations);

  const branch_id = res.branch.id;
  const endpointId = res.endpoints?.[0]?.id;
  const parentId = res.branch.parent_id;
  const [branch, endpoint, parentName] = await Promise.all([
    fetchBranch(client, project_id, branch_id, signal),
    endpointId
      ? client
          .get('/projects/{project_id}/endpoints/{endpoint_id}', {
            path: { project_id, endpoint_id: endpointId },
            signal,
          })
          .then((r) => r.endpoint)
      : undefined,
    // The parent by name as well as ID, so the agent need not look it up; the branch exists either way.
    parentId
      ? fetchBranch(client, project_id, parentId, signal).then(
          (p) => p.name,
          () => undefined,
        )
      : undefined,
  ]);
  const expires_at = (branch.expires_at as string | undefined) ?? expiry.expires_at;
  const result: Record<string, unknown> = {
    branch,
    ...(parentId ? { parent: { id: parentId, ...(parentName ? { name: parentName } : {}) } } : {}),
    ...(endpoint ? { compute: summarizeEndpoint(endpoint) } : {}),
    databases: (res.databases ?? []).map((d) => d.name),
    expiry: expires_at
      ? `Neon deletes this branch at ${expires_at}${expiry.by_default ? ` (neon-mcp's default, --branch-ttl ${ttlMs / 3_600_000}h)` : ''}; update_branch with expires_at null keeps it.`
      : 'No expiry: it stays until deleted.',
  };
  if (!endpoint) {
    result.note = 'No compute: add one with create_compute (type read_write) before connecting.';
    return result;
  }
  // The branch exists now: a failure to build the connection string must not read as a failed create.
  try {
    const conn = await resolveConnection(client, { project_id, branch_id, compute_id: endpoint.id }, signal);
    Object.assign(result, { connection_uri: conn.uri, database: conn.database, role: conn.role });
  } catch (error) {
    if (signal.aborted) throw error;
    const why = error instanceof Error ? error.message : String(error);
    result.note = `Branch created, but no connection string: ${why}`;
  }
  return result;
}

/** `names` checked: 1 to MAX_BATCH distinct names of 1 to 256 characters, and not with `name`. */
function batchNames(
  name: string | undefined,
  names: string[] | undefined,
  what: string,
): string[] | undefined {
  if (names === undefined) return undefined;
  if (name !== undefined) throw new InvalidArgumentError(`Give ${what}, not both.`);
  if (names.length < 1 || names.length > MAX_BATCH)
    throw new InvalidArgumentError(`Give 1 to ${MAX_BATCH} branches in one call, not ${names.length}.`);
  const seen = new Set<string>();
  for (const n of names) {
    if (n.length < 1 || n.length > 256)
      throw new InvalidArgumentError(
        `A branch name or ID has 1 to 256 characters; "${n.slice(0, 40)}" has ${n.length}.`,
      );
    if (seen.has(n)) throw new InvalidArgumentError(`"${n}" is given twice: each branch once.`);
    seen.add(n);
  }
  return names;
}

export const createBranch = defineTool({
  name: 'create_branch',
  title: 'Create branch',
  description: 'Branch off a parent (now or a past point); returns connection_uri.',
  toolset: 'branches',
  operations: [
    'createProjectBranch',
    'getProjectBranch',
    'getProjectEndpoint',
    'getConnectionURI',
    'listProjectBranchDatabases',
    'getProject',
  ],
  input: {
    project_id: projectId,
    name: branchName.optional(),
    // Several branches alike in one call (instead of name); checked in the handler, which keeps the
    // schema within the default tool list's token budget.
    names: z.array(z.string()).optional().describe('Names'),
    parent_id: optionalBranchId,
    parent_timestamp: timestamp('Parent timestamp').optional(),
    parent_lsn: lsn('Parent LSN').optional(),
    protected: z.boolean().optional().describe('Protected'),
    expires_at: timestamp('Expires at').optional(),
    compute: z.boolean().default(true).describe('Compute'),
    min_cu: minCu,
    max_cu: maxCu,
    suspend_timeout_seconds: suspendTimeout.optional(),
  },
  // Also returns compute, databases, database, role, expiry (when Neon deletes it), and a note when
  // there is no connection string. With names: branches, one outcome each (the fields above, or error).
  // (connection_uri too, left out of the schema to keep the default tool list within its token budget.)
  output: output({ branch: resource.optional() }),
  hints: CREATE,
  async handler(args, ctx) {
    oneOf(args.parent_timestamp, args.parent_lsn, 'parent_timestamp or parent_lsn');
    checkCuRange(args.min_cu, args.max_cu);
    const names = batchNames(args.name, args.names, 'name or names');
    const hasComputeArgs = [args.min_cu, args.max_cu, args.suspend_timeout_seconds].some(
      (v) => v !== undefined,
    );
    if (!args.compute && hasComputeArgs) {
      throw new InvalidArgumentError(
        'min_cu, max_cu and suspend_timeout_seconds configure the compute: drop them or set compute to true.',
      );
    }
    if (!names) return createOne(args, args.name, ctx);
    // One after another: Neon runs one branch operation at a time per project. A failed create is
    // reported, never sent again (it may have happened); the next ones still run.
    const branches: Record<string, unknown>[] = [];
    for (const name of names) {
      if (ctx.signal.aborted) {
        branches.push({ name, error: 'Not attempted: the call was cancelled.' });
        continue;
      }
      try {
        branches.push({ name, ...(await createOne(args, name, ctx)) });
      } catch (e) {
        branches.push({ name, error: e instanceof Error ? e.message : String(e) });
      }
    }
    const failed = branches.filter((b) => b.error).length;
    return {
      branches,
      summary: `${names.length - failed} of ${names.length} branches created${failed ? `; ${failed} failed (see error on each; nothing was retried)` : ''}.`,
    };
  },
});

export const updateBranch = defineTool({
  name: 'update_branch',
  title: 'Update branch',
  description: 'Rename or (un)protect a branch, or set its expiry.',
  toolset: 'branches',
  operations: ['updateProjectBranch', 'getProjectBranch'],
  input: {
    project_id: projectId,
    branch_id: branchId,
    name: branchName.optional(),
    protected: z.boolean().optional().describe('Protected'),
    expires_at: nullableTimestamp('ISO time; null clears').optional(),
  },
  output: branchOut,
  hints: UPDATE,
  async handler({ project_id, branch_id, ...changes }, { client, signal, wait }) {
    const branch = defined(changes);
    if (Object.keys(branch).length === 0) {
      throw new InvalidArgumentError('Nothing to change: give name, protected or expires_at.');
    }
    const body: Schemas['BranchUpdateRequest'] = { branch };
    const res = await client.patch(branchRoute, { path: { project_id, branch_id }, body, signal });
    await wait(res.operations);
    return { branch: await fetchBranch(client, project_id, branch_id, signal) };
  },
});

/** Deletes one branch (already looked up: undefined when gone) and answers with it. */
async function deleteOne(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'wait'>,
  project_id: string,
  branch_id: string,
): Promise<Record<string, unknown>> {
  // 204 (no body) means it was already gone.
  const del = () => ctx.client.delete(branchRoute, { path: { project_id, branch_id }, signal: ctx.signal });
  const res = await del().catch(async (e) => {
    // Refused for children that are only the safety net's restore points of this branch's changes
    // (copies, the state a reset replaced: src/neon/ledger.ts): they go first, then it is sent again
    // (the refusal changed nothing). Children of the person's own still refuse it, as Neon says.
    if (!(e instanceof NeonApiError) || e.status >= 500 || !/child/i.test(e.message)) throw e;
    const points = await restorePointsUnder(ctx, project_id, branch_id);
    if (!points) throw e;
    for (const id of points.reverse()) {
      const gone = await ctx.client.delete(branchRoute, {
        path: { project_id, branch_id: id },
        signal: ctx.signal,
      });
      await ctx.wait(gone?.operations);
    }
    return del();
  });
  await ctx.wait(res?.operations);
  return { deleted: true, branch: res ? summarizeBranch(res.branch) : { id: branch_id } };
}

/**
 * The restore points below a branch (its children named mcp-change-…, theirs, and so on), parents
 * first; undefined when a branch that is not one hangs below it (or there are none).
 */
async function restorePointsUnder(
  ctx: Pick<NeonContext, 'client' | 'signal'>,
  project_id: string,
  branch_id: string,
): Promise<string[] | undefined> {
  const all = await ctx.client.listAll('/projects/{project_id}/branches', 'branches', {
    path: { project_id },
    signal: ctx.signal,
  });
  const out: string[] = [];
  for (let i = -1; i < out.length; i++) {
    for (const b of all.filter((x) => x.parent_id === (i < 0 ? branch_id : out[i]))) {
      if (!isRestorePoint(b.name)) return undefined;
      out.push(b.id);
    }
  }
  return out.length ? out : undefined;
}

/** The branch, or undefined when Neon says it does not exist (any other error is thrown). */
function currentBranch(client: NeonClient, project_id: string, branch_id: string, signal: AbortSignal) {
  return fetchBranch(client, project_id, branch_id, signal).catch((error) => {
    if (error instanceof NeonApiError && error.status === 404) return undefined;
    throw error;
  });
}

export const deleteBranch = defineTool({
  name: 'delete_branch',
  title: 'Delete branch',
  description: 'Delete a branch with its computes and data.',
  toolset: 'branches',
  operations: ['getProjectBranch', 'deleteProjectBranch', 'listProjectBranches'],
  input: {
    project_id: projectId,
    branch_id: optionalBranchId,
    // Several branches (IDs or names) in one call (instead of branch_id); checked in the handler.
    branch_ids: z.array(z.string()).optional().describe('Branch IDs'),
    confirm,
  },
  // Also returns deleted: true. With branch_ids: branches, one outcome each (deleted, or error).
  output: output({ branch: resource.optional() }),
  hints: DESTROY,
  async handler({ project_id, branch_id, branch_ids, confirm }, ctx) {
    const { client, signal } = ctx;
    const many = batchNames(branch_id, branch_ids, 'branch_id or branch_ids');
    if (!many) {
      if (!branch_id) throw new InvalidArgumentError('Give branch_id (or branch_ids for several).');
      // The default and protected branches are what production uses: deleting one is confirmed first.
      const current = await currentBranch(client, project_id, branch_id, signal);
      if (current && (current.default || current.protected)) {
        await confirmIrreversible(ctx, confirm, {
          action: `Delete the ${current.default ? 'default' : 'protected'} branch "${current.name}" (${branch_id}) of project ${project_id}`,
          loses: 'its data, its computes and their connection strings are deleted',
          target: current.name,
        });
      }
      return deleteOne(ctx, project_id, branch_id);
    }
    // Every branch is found before anything is deleted: a name that matches none stops the call whole.
    const ids = await Promise.all(many.map((b) => resolveBranch(ctx as NeonContext, project_id, b)));
    const found = await Promise.all(ids.map((id) => currentBranch(client, project_id, id, signal)));
    const guarded = found.filter((b) => b && (b.default || b.protected));
    if (guarded.length) {
      // One confirmation for the whole set, naming every branch (the token binds these arguments).
      const listed = ids
        .map((id, i) => {
          const b = found[i];
          const kind = b?.default ? 'default, ' : b?.protected ? 'protected, ' : '';
          return b ? `"${b.name}" (${kind}${id})` : `${id} (already gone)`;
        })
        .join(', ');
      await confirmIrreversible(ctx, confirm, {
        action: `Delete ${ids.length} branches of project ${project_id}: ${listed}`,
        loses: `their data, computes and connection strings are deleted, among them the ${guarded
          .map((b) => `${b?.default ? 'default' : 'protected'} branch "${b?.name}"`)
          .join(' and ')}`,
        target: guarded.map((b) => b?.name).join(', '),
      });
    }
    // One after another (Neon runs one branch operation at a time per project); a failure is
    // reported for its branch and not retried, and the others still run.
    const branches: Record<string, unknown>[] = [];
    for (const [i, id] of ids.entries()) {
      if (signal.aborted) {
        branches.push({ branch: { id }, error: 'Not attempted: the call was cancelled.' });
        continue;
      }
      try {
        branches.push(await deleteOne(ctx, project_id, id));
      } catch (e) {
        const name = found[i]?.name;
        branches.push({
          branch: { id, ...(name ? { name } : {}) },
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    const failed = branches.filter((b) => b.error).length;
    return {
      branches,
      summary: `${ids.length - failed} of ${ids.length} branches deleted${failed ? `; ${failed} failed (see error on each; nothing was retried)` : ''}.`,
    };
  },
});

/**
 * Posts a restore, waits, and answers with the branch and (when kept) the branch holding its old state.
 * A recorded call (`pending`, src/neon/ledger.ts PendingRestore) always keeps the old state, under the
 * person's name or under a hidden one of the ledger's, and answers with `change`.
 */
async function restore(
  ctx: Pick<NeonContext, 'client' | 'wait' | 'signal'>,
  project_id: string,
  branch_id: string,
  body: Schemas['BranchRestoreRequest'],
  pending: PendingRestore | undefined,
) {
  const { client, wait, signal } = ctx;
  const keep = pending?.keep ?? body.preserve_under_name;
  pending?.point();
  const res = await client.post('/projects/{project_id}/branches/{branch_id}/restore', {
    path: { project_id, branch_id },
    body: { ...body, ...(keep ? { preserve_under_name: keep } : {}) },
    signal,
  });
  const kept = async () => {
    if (!keep) return undefined;
    const found = await client.get('/projects/{project_id}/branches', {
      path: { project_id },
      query: { search: keep },
      signal: pending ? AbortSignal.timeout(60_000) : signal,
    });
    return found.branches.find((b) => b.name === keep);
  };
  try {
    await wait(res.operations);
  } catch (e) {
    // Accepted, then its operation failed or was not seen to end: the kept state is recorded all the
    // same where it exists (list_changes shows it), so that it is never left unbounded and unlisted.
    if (pending) await pending.done((await kept().catch(() => undefined))?.id);
    throw e;
  }
  const branch = await fetchBranch(client, project_id, branch_id, signal);
  const preserved: Branch | undefined = await kept();
  const change = pending ? await pending.done(preserved?.id) : undefined;
  return {
    branch,
    ...(preserved && !pending?.ours ? { preserved_branch: summarizeBranch(preserved) } : {}),
    ...(change ? { change } : {}),
  };
}

const preserveUnderName = branchName.optional().describe('Keep current data as');
// Also returns preserved_branch when preserve_under_name was given.
const restoreOut = branchOut;

export const resetBranchFromParent = defineTool({
  name: 'reset_branch_from_parent',
  title: 'Reset from parent',
  description: "Overwrite a branch with its parent's latest data.",
  toolset: 'branches',
  operations: ['getProjectBranch', 'restoreProjectBranch', ...LEDGER_RESTORE_OPERATIONS],
  input: { project_id: projectId, branch_id: branchId, preserve_under_name: preserveUnderName, confirm },
  output: restoreOut,
  // Not idempotent: each call records a restore point (a branch of the change ledger).
  hints: { ...DESTROY, idempotentHint: false },
  async handler({ project_id, branch_id, preserve_under_name, confirm }, ctx) {
    const { client, signal } = ctx;
    const current = await fetchBranch(client, project_id, branch_id, signal);
    if (!current.parent_id) {
      throw new NeonError(
        `Branch "${current.name}" (${branch_id}) has no parent, so it cannot be reset from one. ` +
          'To go back to an earlier state of its own, use restore_branch with source_timestamp.',
      );
    }
    // Recorded in the change ledger (undo_change puts the branch back): src/neon/ledger.ts PendingRestore.
    const pending = await PendingRestore.start(
      ctx,
      { project_id, branch_id },
      'reset_branch_from_parent',
      `reset from parent ${current.parent_id}`,
      preserve_under_name,
    );
    await confirmIrreversible(ctx, confirm, {
      action: `Reset branch "${current.name}" (${branch_id}) to its parent's latest data`,
      loses: overwritten(preserve_under_name, pending),
      target: current.name,
    });
    return restore(
      ctx,
      project_id,
      branch_id,
      defined({
        source_branch_id: current.parent_id,
        preserve_under_name,
      }) as Schemas['BranchRestoreRequest'],
      pending,
    );
  },
});

export const restoreBranch = defineTool({
  name: 'restore_branch',
  title: 'Restore branch',
  description: 'Overwrite a branch with a past state of itself or another branch.',
  toolset: 'branches',
  operations: ['restoreProjectBranch', 'getProjectBranch', ...LEDGER_RESTORE_OPERATIONS],
  input: {
    project_id: projectId,
    branch_id: branchId,
    source_branch_id: branchRef('Default: branch_id').optional(),
    source_timestamp: timestamp('Source timestamp').optional(),
    source_lsn: lsn('Source LSN').optional(),
    preserve_under_name: preserveUnderName,
    confirm,
  },
  output: restoreOut,
  // Not idempotent: each call records a restore point (a branch of the change ledger).
  hints: { ...DESTROY, idempotentHint: false },
  async handler(args, ctx) {
    const { client, signal } = ctx;
    const { project_id, branch_id } = args;
    oneOf(args.source_timestamp, args.source_lsn, 'source_timestamp or source_lsn');
    const source = args.source_branch_id ?? branch_id;
    if (source === branch_id) {
      if (args.source_timestamp === undefined && args.source_lsn === undefined) {
        throw new InvalidArgumentError(
          'Restoring a branch from its own history needs source_timestamp or source_lsn.',
        );
      }
      if (!args.preserve_under_name) {
        throw new InvalidArgumentError(
          'Restoring a branch from its own history needs preserve_under_name (a name for the branch that keeps the current state).',
        );
      }
    }
    const target = await fetchBranch(client, project_id, branch_id, signal);
    const at = args.source_timestamp ?? args.source_lsn;
    const pending = await PendingRestore.start(
      ctx,
      { project_id, branch_id },
      'restore_branch',
      `restore from ${source === branch_id ? 'its own history' : `branch ${source}`}${at ? ` at ${at}` : ''}`,
      args.preserve_under_name,
    );
    await confirmIrreversible(ctx, args.confirm, {
      action: `Restore branch "${target.name}" (${branch_id}) from ${source === branch_id ? 'its own history' : `branch ${source}`}`,
      loses: overwritten(args.preserve_under_name, pending),
      target: target.name,
    });
    return restore(
      ctx,
      project_id,
      branch_id,
      {
        source_branch_id: source,
        ...defined({
          source_timestamp: args.source_timestamp,
          source_lsn: args.source_lsn,
          preserve_under_name: args.preserve_under_name,
        }),
      },
      pending,
    );
  },
});

/** What a reset or restore loses, with or without a branch keeping the current state. */
function overwritten(preserveUnder: string | undefined, pending: PendingRestore | undefined): string {
  if (preserveUnder)
    return `the branch's current data is replaced (a branch "${preserveUnder}" keeps a copy)`;
  return pending
    ? `the branch's current data is replaced; the server keeps it (up to 24 h) as this change's restore point (undo_change puts it back; preserve_under_name would keep it as a branch of yours)`
    : "the branch's current data is replaced and not kept anywhere (preserve_under_name would keep a copy)";
}

export const setDefaultBranch = defineTool({
  name: 'set_default_branch',
  title: 'Set default branch',
  description: "Make a branch the project's default.",
  toolset: 'branches',
  operations: ['setDefaultProjectBranch', 'getProjectBranch'],
  input: { project_id: projectId, branch_id: branchId },
  output: branchOut,
  hints: UPDATE,
  async handler({ project_id, branch_id }, { client, signal, wait }) {
    const res = await client.post('/projects/{project_id}/branches/{branch_id}/set_as_default', {
      path: { project_id, branch_id },
      signal,
    });
    await wait(res.operations);
    return { branch: await fetchBranch(client, project_id, branch_id, signal) };
  },
});

export const recoverBranch = defineTool({
  name: 'recover_branch',
  title: 'Recover branch',
  description: 'Restore a branch deleted in the last 7 days.',
  toolset: 'branches',
  beta: true,
  operations: ['recoverProjectBranch'],
  input: { project_id: projectId, branch_id: branchId },
  // Also returns its computes.
  output: branchOut,
  hints: ACT,
  async handler({ project_id, branch_id }, { client, signal, wait }) {
    const res = await client.post('/projects/{project_id}/branches/{branch_id}/recover', {
      path: { project_id, branch_id },
      signal,
    });
    // The spec declares no operations in this answer; should Neon send some, they are waited for.
    await wait((res as { operations?: Operation[] }).operations);
    return { branch: res.branch, computes: (res.endpoints ?? []).map(summarizeEndpoint) };
  },
});

export const finalizeRestoreBranch = defineTool({
  name: 'finalize_restore_branch',
  title: 'Finalize branch restore',
  description: 'Swap a restored branch in for the original; computes restart.',
  toolset: 'branches',
  beta: true,
  operations: ['finalizeRestoreBranch', 'getProjectBranch'],
  input: {
    project_id: projectId,
    branch_id: branchRef('Restored branch'),
    name: branchName.optional().describe("Original's new name"),
  },
  output: branchOut,
  // Swaps which branch the computes serve: not data loss, but it changes what production connects to.
  hints: { ...ACT, destructiveHint: true },
  async handler({ project_id, branch_id, name }, { client, signal, wait }) {
    const res = await client.post('/projects/{project_id}/branches/{branch_id}/finalize_restore', {
      path: { project_id, branch_id },
      body: defined({ name }),
      signal,
    });
    await wait(res.operations);
    return { branch: await fetchBranch(client, project_id, branch_id, signal) };
  },
});

export const branchTools: ToolDef[] = [
  listBranches,
  countBranches,
  getBranch,
  createBranch,
  updateBranch,
  deleteBranch,
  resetBranchFromParent,
  restoreBranch,
  setDefaultBranch,
  recoverBranch,
  finalizeRestoreBranch,
];
