/**
 * Restore of a local branch from another branch of its project as it is now, keeping the old state
 * under a name when asked (Neon's restore with `source_branch_id` and `preserve_under_name`). This is
 * what the safety net's undo needs in local mode (src/neon/ledger.ts): there is no history to go back
 * to, so the state before a change is a copy branch made just before it, and undo restores from it.
 */
import type { Doc } from '../catalog.js';
import { LocalApiError, type LocalCore, now, visible } from './core.js';

/**
 * `b` gets copies of `source`'s databases (its own are dropped); with `preserve`, a new branch of that
 * name first gets a copy of `b` as it was, and `b`'s children move to it, as on Neon.
 */
export async function restoreFromBranch(
  api: LocalCore,
  projectId: string,
  b: Doc,
  sourceId: string,
  preserve: string | undefined,
): Promise<[number, Doc]> {
  const source = api.branch(projectId, sourceId);
  if (source.id === b.id)
    throw new LocalApiError(
      400,
      'restoring a branch from its own history needs source_lsn or source_timestamp, and local mode keeps no history (neon-mcp --local): restore from another branch',
      'NOT_SUPPORTED_IN_LOCAL_MODE',
    );
  const branches = api.branchesOf(projectId);
  const children = branches.filter((x) => x.parent_id === b.id && x.id !== source.id);
  if (preserve !== undefined) {
    if (typeof preserve !== 'string' || !preserve)
      throw new LocalApiError(400, 'preserve_under_name must be a branch name');
    if (branches.some((x) => x.name === preserve))
      throw new LocalApiError(409, `branch ${preserve} already exists`);
  } else if (children.length) {
    throw new LocalApiError(
      400,
      `branch ${b.id} has child branches (${children[0]?.id}): preserve_under_name is required`,
    );
  }
  const actions: { action: string; branch_id: string }[] = [];
  let preserved: Doc | undefined;
  if (preserve !== undefined) {
    preserved = await api.makeBranch(projectId, { name: preserve, parent_id: b.id, parent_timestamp: now() });
    try {
      await api.copyFromParent(preserved, b);
    } catch (e) {
      await api.dropBranch(preserved).catch(() => undefined);
      throw e;
    }
    for (const c of children) await api.catalog.put('branch', c.id, { ...c, parent_id: preserved.id });
    actions.push({ action: 'create_branch', branch_id: preserved.id });
  }
  await api.opts.beforeCopy?.(b.id);
  for (const d of api.databasesOf(b.id)) {
    await api.cluster.dropDatabase(d._physical);
    await api.catalog.remove('database', `${b.id}/${d.name}`);
  }
  await api.copyFromParent(b, source);
  const t = now();
  const updated = await api.catalog.put('branch', b.id, { ...b, updated_at: t, last_reset_at: t });
  actions.push({ action: 'create_timeline', branch_id: b.id });
  return [200, { branch: visible(updated), operations: api.ops(projectId, actions) }];
}

/**
 * The safety net's copy restore points that are children of `branchId` (`mcp-change-…`, src/neon/ledger.ts):
 * a reset moves them to the branch's parent, a delete drops them, so that they never block the
 * branch's own reset or deletion in local mode (on Neon, where there is history, they are not children).
 */
export async function moveRestorePoints(api: LocalCore, b: Doc, to: 'parent' | 'drop'): Promise<void> {
  for (const c of api.branchesOf(b.project_id)) {
    if (c.parent_id !== b.id || !String(c.name).startsWith('mcp-change-')) continue;
    if (to === 'drop' && !api.branchesOf(b.project_id).some((x) => x.parent_id === c.id))
      await api.dropBranch(c);
    else await api.catalog.put('branch', c.id, { ...c, parent_id: b.parent_id });
  }
}
