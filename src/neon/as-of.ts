/**
 * Reads as of a moment (issue 27, item 4): a query runs on a temporary branch made as the branch was
 * at that moment (Neon's `parent_lsn` / `parent_timestamp`), or, for a change ID, as it was just before
 * that change; the branch is deleted after the read, and carries an expiry so it goes even if
 * neon-mcp dies first.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, NeonApiError } from '../client/errors.js';
import type { Schemas } from '../client/neon-client.js';
import type { NeonContext } from './context.js';
import { CHANGE_ID, listChanges } from './ledger.js';
import { defaultBranchId } from './resolver.js';
import { removeBranch } from './temp-branches.js';

const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;
/** A read's branch expires after this even when neon-mcp never gets to delete it. */
const AS_OF_TTL_MS = 3_600_000;

/**
 * The Neon operations a read as of a moment calls besides connecting (CONNECT_OPERATIONS): the ledger
 * (a change ID), the default branch, the temporary branch's creation, its operations and its deletion.
 */
export const AS_OF_OPERATIONS = [
  'listProjectBranches',
  'getProject',
  'createProjectBranch',
  'getProjectOperation',
  'deleteProjectBranch',
];

/**
 * A read as of a moment makes (and deletes) a temporary branch: a change to the account, which a
 * `--read-only` server makes none of; and it needs Neon's branches, which a `--database-url` server has
 * not. Refused before anything is sent, saying why and what to do.
 */
export function refuseAsOf(ctx: Pick<NeonContext, 'settings' | 'connections'>, tool: string): void {
  if (ctx.connections?.kind === 'postgres')
    throw new InvalidArgumentError(
      `${tool}: as_of reads a Neon branch as it was at a moment (a branch made at that moment); this ` +
        'server reads one PostgreSQL server (--database-url), which has no such history. Leave as_of out.',
    );
  if (ctx.settings.readOnly)
    throw new InvalidArgumentError(
      `${tool}: as_of is refused: this server runs with --read-only, and a read as of a moment needs a ` +
        'temporary branch made at that moment (created, then deleted after the read): a change to the ' +
        'account. Leave as_of out to read the branch as it is now, or ask the user to run neon-mcp ' +
        'without --read-only (or to create a branch at that moment: create_branch with parent_timestamp ' +
        'or parent_lsn).',
    );
}

/** What `as_of` names, read from its text: a change ID, an LSN, or a time. */
export function parseAsOf(value: string): { change: string } | { lsn: string } | { timestamp: string } {
  if (CHANGE_ID.test(value)) return { change: value };
  if (LSN.test(value)) return { lsn: value.toUpperCase() };
  const t = Date.parse(value);
  if (/^\d{4}-\d\d-\d\dT/.test(value) && Number.isFinite(t))
    return { timestamp: new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z') };
  throw new InvalidArgumentError(
    `as_of "${value}" is neither a change ID from list_changes (12 hex digits), an LSN (like 0/1E19478) nor an ISO time (like 2026-12-07T05:00:00Z).`,
  );
}

/**
 * Runs `read` on a temporary branch as `target` was at `as_of`, then deletes the branch (also when
 * `read` fails). `read` gets the temporary branch's ID, the moment read (`{change, at, lsn?}`, `{lsn}` or
 * `{timestamp}`, for the answer's `as_of`) and the branch it is a past state of.
 */
export async function readAsOf<T>(
  ctx: NeonContext,
  target: { project_id: string; branch_id?: string },
  as_of: string,
  read: (branch_id: string, moment: Record<string, string>, of_branch: string) => Promise<T>,
): Promise<T> {
  const what = parseAsOf(as_of);
  const { project_id } = target;
  let branch_id = target.branch_id ?? (await defaultBranchId(ctx.client, project_id, ctx.signal));
  let from: Pick<Schemas['BranchCreateRequest'] & object, 'branch'>['branch'] = {};
  const moment: Record<string, string> = {};
  if ('change' in what) {
    const change = (await listChanges(ctx, project_id)).find((c) => c.id === what.change);
    if (!change)
      throw new InvalidArgumentError(
        `as_of: no change ${what.change} is recorded in project ${project_id} (list_changes).`,
      );
    if (target.branch_id && target.branch_id !== change.branch_id)
      throw new InvalidArgumentError(
        `as_of: change ${change.id} was made on branch ${change.branch_id}, not ${target.branch_id}: read that branch, or give as_of as a time or an LSN.`,
      );
    branch_id = change.branch_id;
    Object.assign(moment, { change: change.id, at: change.at });
    // A copy made before the change is that moment itself; otherwise the branch's history at its LSN.
    from =
      change.restore === 'copy'
        ? { parent_id: change.record_branch_id }
        : { parent_id: change.branch_id, parent_lsn: change.lsn };
    if (change.lsn) moment.lsn = change.lsn;
  } else if ('lsn' in what) {
    from = { parent_id: branch_id, parent_lsn: what.lsn };
    moment.lsn = what.lsn;
  } else {
    from = { parent_id: branch_id, parent_timestamp: what.timestamp };
    moment.timestamp = what.timestamp;
  }
  const name = `mcp-asof-${randomBytes(4).toString('hex')}`;
  await ctx.progress(`Creating temporary branch ${name} as of ${as_of}`);
  const create = (expires_at?: string) =>
    ctx.client.post('/projects/{project_id}/branches', {
      path: { project_id },
      body: {
        branch: { ...from, name, ...(expires_at ? { expires_at } : {}) },
        endpoints: [{ type: 'read_write' }],
      },
      signal: ctx.signal,
    });
  const expiry = new Date(Date.now() + AS_OF_TTL_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const res = await create(expiry).catch((e) => {
    if (!(e instanceof NeonApiError) || e.status >= 500 || !/expir/i.test(e.message)) throw e;
    return create();
  });
  const temp = res.branch.id;
  try {
    await ctx.wait(res.operations);
    return await read(temp, moment, branch_id);
  } finally {
    await removeBranch(ctx, project_id, temp, { quiet: true });
  }
}
