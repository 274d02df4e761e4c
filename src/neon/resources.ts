/** Reading and summarising Neon resources that several tools show. */
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { pick } from './util.js';

/** The current state of one branch. */
export async function fetchBranch(
  client: NeonClient,
  project_id: string,
  branch_id: string,
  signal: AbortSignal,
) {
  const res = await client.get('/projects/{project_id}/branches/{branch_id}', {
    path: { project_id, branch_id },
    signal,
  });
  return res.branch;
}

/** The fields of a compute worth showing in a list. */
const ENDPOINT_SUMMARY = [
  'id',
  'name',
  'branch_id',
  'type',
  'current_state',
  'host',
  'autoscaling_limit_min_cu',
  'autoscaling_limit_max_cu',
  'suspend_timeout_seconds',
  'disabled',
  'last_active',
] as const;

export const summarizeEndpoint = (e: Schemas['Endpoint']) => pick(e, ENDPOINT_SUMMARY);

/** The fields of a listed key worth showing (never a token: Neon lists none). */
export function keySummary(k: Schemas['ApiKeysListResponseItem'] & { project_id?: string }) {
  return {
    ...pick(k, ['id', 'name', 'created_at', 'last_used_at', 'last_used_from_addr', 'project_id']),
    created_by: k.created_by?.name,
  };
}
