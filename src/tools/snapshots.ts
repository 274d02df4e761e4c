/**
 * Snapshots (beta): point-in-time copies of a branch, restored as a new branch that can then replace
 * the original (finalize_restore_branch), and the backup schedule that takes them automatically.
 */
import * as z from 'zod';
import { InvalidArgumentError } from '../client/errors.js';
import type { Schemas } from '../client/neon-client.js';
import { fetchBranch, summarizeEndpoint } from '../neon/resources.js';
import { checkShape } from '../neon/shape.js';
import { defined } from '../neon/util.js';
import { branchId, branchRef, int, neonId, projectId, str, text, timestamp } from './fields.js';
import {
  anyObject,
  CREATE,
  DESTROY,
  defineTool,
  items,
  output,
  READ,
  resource,
  type ToolDef,
  UPDATE,
} from './framework.js';

const snapshotId = neonId('snapshot').describe('From list_snapshots');
const snapshotRoute = '/projects/{project_id}/snapshots/{snapshot_id}' as const;
const scheduleRoute = '/projects/{project_id}/branches/{branch_id}/backup_schedule' as const;

export const createSnapshot = defineTool({
  name: 'create_snapshot',
  title: 'Create snapshot',
  description: 'Snapshot a branch now or at a past point.',
  toolset: 'snapshots',
  beta: true,
  operations: ['createSnapshot'],
  input: {
    project_id: projectId,
    branch_id: branchId,
    name: text(256).optional().describe('name'),
    timestamp: timestamp('timestamp').optional(),
    lsn: text(32).optional().describe('lsn'),
    expires_at: timestamp('expires at').optional(),
  },
  output: output({ snapshot: resource }),
  hints: CREATE,
  async handler({ project_id, branch_id, ...query }, { client, signal, wait }) {
    if (query.timestamp && query.lsn) throw new InvalidArgumentError('Give timestamp or lsn, not both.');
    const res = await client.post('/projects/{project_id}/branches/{branch_id}/snapshot', {
      path: { project_id, branch_id },
      query,
      signal,
    });
    await wait(res.operations);
    return { snapshot: res.snapshot };
  },
});

export const listSnapshots = defineTool({
  name: 'list_snapshots',
  title: 'List snapshots',
  description: "List a project's snapshots.",
  toolset: 'snapshots',
  beta: true,
  operations: ['listSnapshots'],
  input: { project_id: projectId },
  output: output({ snapshots: z.array(resource) }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    const res = await client.get('/projects/{project_id}/snapshots', {
      path: { project_id },
      signal,
    });
    return { snapshots: res.snapshots };
  },
});

export const renameSnapshot = defineTool({
  name: 'rename_snapshot',
  title: 'Rename snapshot',
  description: 'Rename a snapshot.',
  toolset: 'snapshots',
  beta: true,
  operations: ['updateSnapshot'],
  input: { project_id: projectId, snapshot_id: snapshotId, name: str(256).describe('name') },
  output: output({ snapshot: resource }),
  hints: UPDATE,
  async handler({ project_id, snapshot_id, name }, { client, signal }) {
    const res = await client.patch(snapshotRoute, {
      path: { project_id, snapshot_id },
      body: { snapshot: { name } } satisfies Schemas['SnapshotUpdateRequest'],
      signal,
    });
    return { snapshot: res.snapshot };
  },
});

export const deleteSnapshot = defineTool({
  name: 'delete_snapshot',
  title: 'Delete snapshot',
  description: 'Delete a snapshot.',
  toolset: 'snapshots',
  beta: true,
  operations: ['deleteSnapshot'],
  input: { project_id: projectId, snapshot_id: snapshotId },
  output: output({ deleted: z.string() }),
  hints: DESTROY,
  async handler({ project_id, snapshot_id }, { client, signal, wait }) {
    const res = await client.delete(snapshotRoute, {
      path: { project_id, snapshot_id },
      signal,
    });
    await wait(res?.operations);
    return { deleted: snapshot_id };
  },
});

export const restoreSnapshot = defineTool({
  name: 'restore_snapshot',
  title: 'Restore snapshot',
  description: 'Restore a snapshot as a branch; finalize swaps it in.',
  toolset: 'snapshots',
  beta: true,
  operations: ['restoreSnapshot', 'getProjectBranch'],
  input: {
    project_id: projectId,
    snapshot_id: snapshotId,
    name: text(256).optional().describe('name'),
    target_branch_id: branchRef("Default: the snapshot's branch").optional(),
    finalize: z.boolean().optional().describe('finalize'),
  },
  // Also returns `computes` (those the branch took over) and a `note` on how to finalize later.
  output: output({ branch: resource }),
  // Creates a branch; with finalize it takes over the target's name and computes (they restart).
  hints: { ...CREATE, destructiveHint: true },
  async handler({ project_id, snapshot_id, name, target_branch_id, finalize }, { client, signal, wait }) {
    const res = await client.post('/projects/{project_id}/snapshots/{snapshot_id}/restore', {
      path: { project_id, snapshot_id },
      body: defined({ name, target_branch_id, finalize_restore: finalize }),
      signal,
    });
    await wait(res.operations);
    const branch = await fetchBranch(client, project_id, res.branch.id, signal);
    return {
      branch,
      computes: (res.endpoints ?? []).map(summarizeEndpoint),
      ...(finalize
        ? {}
        : {
            note:
              `Restored as branch ${branch.id}; the original is unchanged. Check the data, then call ` +
              'finalize_restore_branch on it to make it replace the original.',
          }),
    };
  },
});

export const getSnapshotSchedule = defineTool({
  name: 'get_snapshot_schedule',
  title: 'Get backup schedule',
  description: "Get a branch's backup schedule.",
  toolset: 'snapshots',
  beta: true,
  operations: ['getSnapshotSchedule'],
  input: { project_id: projectId, branch_id: branchId },
  output: output({ schedule: items({ frequency: z.string(), retention_seconds: z.number() }) }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const res = await client.get(scheduleRoute, {
      path: { project_id, branch_id },
      signal,
    });
    return { schedule: res.schedule ?? [] };
  },
});

/** Enforced on set_snapshot_schedule; the advertised schema only names the keys (tokens). */
const SCHEDULE = z
  .array(
    z.strictObject({
      frequency: z.enum(['hourly', 'daily', 'weekly', 'monthly', 'yearly']),
      hour: int(0, 23).optional(),
      day: int(1, 31).optional(),
      month: int(1, 12).optional(),
      retention_seconds: int(3600, 2 ** 31).optional(),
    }),
  )
  .refine((v) => v.length <= 10, { message: 'at most 10 entries' });

export const setSnapshotSchedule = defineTool({
  name: 'set_snapshot_schedule',
  title: 'Set backup schedule',
  description: "Replace a branch's backup schedule; [] turns it off.",
  toolset: 'snapshots',
  beta: true,
  operations: ['setSnapshotSchedule', 'getSnapshotSchedule'],
  input: {
    project_id: projectId,
    branch_id: branchId,
    schedule: z.array(anyObject).describe('{frequency: daily…, hour (UTC), day, month, retention_seconds}'),
  },
  output: output({ schedule: items({ frequency: z.string(), retention_seconds: z.number() }) }),
  hints: UPDATE,
  async handler({ project_id, branch_id, schedule: entries }, { client, signal }) {
    const schedule = checkShape(SCHEDULE, entries, 'schedule');
    const path = { project_id, branch_id };
    await client.put(scheduleRoute, { path, body: { schedule } satisfies Schemas['BackupSchedule'], signal });
    const res = await client.get(scheduleRoute, { path, signal });
    return { schedule: res.schedule ?? [] };
  },
});

export const snapshotTools: ToolDef[] = [
  createSnapshot,
  listSnapshots,
  renameSnapshot,
  deleteSnapshot,
  restoreSnapshot,
  getSnapshotSchedule,
  setSnapshotSchedule,
];
