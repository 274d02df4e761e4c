/**
 * The safety net's record branches (src/neon/ledger.ts): restore points the server makes and prunes
 * itself. A listing without a search leaves them out and says how many it left out, so an agent's list
 * of branches stays the branches it and its person made; by ID, by name and by search they stay
 * reachable. (A module of its own: listings need the name, not the ledger and its SQL.)
 */

/** Record branches are named this plus the change ID. */
export const CHANGE_PREFIX = 'mcp-change-';

export function isRestorePoint(name: unknown): boolean {
  return typeof name === 'string' && name.startsWith(CHANGE_PREFIX);
}

/** What a listing says about the restore points it left out (none: nothing). */
export function restorePointsNote(left: number): { restore_points?: number; restore_points_note?: string } {
  if (left <= 0) return {};
  return {
    restore_points: left,
    restore_points_note:
      `${left} branch${left === 1 ? '' : 'es'} named ${CHANGE_PREFIX}… (the safety net's restore points, ` +
      'made and pruned by the server) not listed: list_changes shows what they undo; search "mcp-change" lists them.',
  };
}
