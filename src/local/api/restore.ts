/** Restore of a branch: local mode has no history, so only a reset from the parent as it is now. */
import type { Doc } from '../catalog.js';
import { LocalApiError, type LocalCore, now, visible } from './core.js';
import { moveRestorePoints, restoreFromBranch } from './restore-from.js';

/**
 * Reset from parent (Neon's restore with the parent as source, at its head): the branch's databases
 * are dropped and its parent's copied again, as a new branch gets them; its roles and computes stay.
 * Restoring to a point in time, from another branch, or keeping the old state under a name needs
 * Neon's history, which local mode does not have.
 */
async function restoreBranch(
  api: LocalCore,
  projectId: string,
  branchId: string,
  body: Doc,
): Promise<[number, Doc]> {
  const b = api.branch(projectId, branchId);
  // From another branch as it is now, or keeping the old state: ./restore-from.ts (the safety net's undo).
  const atHead = body.source_lsn === undefined && body.source_timestamp === undefined;
  if (atHead && (body.source_branch_id !== b.parent_id || body.preserve_under_name !== undefined))
    return restoreFromBranch(api, projectId, b, body.source_branch_id, body.preserve_under_name);
  const unsupported = ['source_lsn', 'source_timestamp', 'preserve_under_name'].filter(
    (f) => body[f] !== undefined,
  );
  if (unsupported.length || !b.parent_id || body.source_branch_id !== b.parent_id)
    throw new LocalApiError(
      400,
      `restore is not available in local mode (neon-mcp --local) except as a reset from the branch's parent as it is now (source_branch_id = its parent_id${b.parent_id ? `, ${b.parent_id}` : '; this branch has none'}, without ${unsupported.length ? unsupported.join(', ') : 'source_lsn, source_timestamp or preserve_under_name'}); the rest needs a Neon account`,
      'NOT_SUPPORTED_IN_LOCAL_MODE',
    );
  const parent = api.branch(projectId, b.parent_id);
  await moveRestorePoints(api, b, 'parent');
  const child = api.branchesOf(projectId).find((x) => x.parent_id === b.id);
  if (child)
    throw new LocalApiError(400, `branch ${b.id} has child branches (${child.id}): delete them first`);
  await api.opts.beforeCopy?.(b.id);
  for (const d of api.databasesOf(b.id)) {
    await api.cluster.dropDatabase(d._physical);
    await api.catalog.remove('database', `${b.id}/${d.name}`);
  }
  await api.copyFromParent(b, parent);
  const t = now();
  const updated = await api.catalog.put('branch', b.id, { ...b, parent_timestamp: t, updated_at: t });
  return [
    200,
    {
      branch: visible(updated),
      operations: api.ops(projectId, [{ action: 'create_timeline', branch_id: b.id }]),
    },
  ];
}

export function restoreRoutes(api: LocalCore): void {
  const P = '/projects/{project_id}';
  const B = `${P}/branches/{branch_id}`;

  api.on('POST', `${B}/restore`, ({ params, body }) =>
    restoreBranch(api, params.project_id, params.branch_id, body),
  );
}
