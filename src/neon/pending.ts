/**
 * Migrations and query tunings waiting for their complete_/discard_ call. They live in this process's
 * memory only: a restarted server has forgotten them (the tools say so, and find the temporary branch
 * by its name, which carries the ID).
 */
import { randomBytes } from 'node:crypto';

export interface PendingWork {
  kind: 'migration' | 'tuning';
  id: string;
  project_id: string;
  /** The branch the work is for. */
  branch_id: string;
  database: string;
  role: string;
  temp_branch_id: string;
  temp_branch_name: string;
  /** The migration script. */
  sql?: string;
  /** The statements tried by a query tuning. */
  ddl?: string[];
  created_at: string;
}

const store = new Map<string, PendingWork>();

/** When this process started (named in the "forgotten after a restart" messages). */
export const PROCESS_STARTED_AT = new Date().toISOString();

export function newId(): string {
  return randomBytes(4).toString('hex');
}

/** The name of the temporary branch of a piece of work: `mcp-migration-<id>` or `mcp-tuning-<id>`. */
export function tempBranchName(kind: PendingWork['kind'], id: string): string {
  return `mcp-${kind}-${id}`;
}

export function savePending(work: PendingWork): void {
  store.set(`${work.kind}:${work.id}`, work);
}

export function getPending(kind: PendingWork['kind'], id: string): PendingWork | undefined {
  return store.get(`${kind}:${id}`);
}

export function dropPending(kind: PendingWork['kind'], id: string): void {
  store.delete(`${kind}:${id}`);
}
