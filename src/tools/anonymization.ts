/**
 * Anonymized branches (beta): copies of a branch whose sensitive columns are masked with PostgreSQL
 * Anonymizer. Masking rules say which column gets which function or value; anonymizing applies them.
 */
import * as z from 'zod';
import { NeonError } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { fetchBranch, summarizeEndpoint } from '../neon/resources.js';
import { checkShape } from '../neon/shape.js';
import { pollStatus } from '../neon/status.js';
import { defined } from '../neon/util.js';
import { branchId, optionalBranchId, projectId, str, text } from './fields.js';
import {
  ACT,
  anyObject,
  CREATE,
  defineTool,
  item,
  items,
  output,
  READ,
  resource,
  type ToolContext,
  type ToolDef,
} from './framework.js';

const anonymizationStatus = item({ state: z.string(), status_message: z.string() });

/** Enforced on masking rules; the advertised schema only names the fields (tokens). */
const MASKING_RULES = z
  .array(
    z.strictObject({
      database_name: str(63),
      schema_name: str(63),
      table_name: str(63),
      column_name: str(63),
      masking_function: str(1000).optional(),
      masking_value: text(1000).optional(),
    }),
  )
  .max(1000);
const maskingRules = z
  .array(anyObject)
  .describe('{database_name, schema_name, table_name, column_name, masking_function|masking_value}');

const branchPath = '/projects/{project_id}/branches/{branch_id}' as const;

async function getStatus(client: NeonClient, project_id: string, branch_id: string, signal: AbortSignal) {
  const res = await client.get(`${branchPath}/anonymized_status`, {
    path: { project_id, branch_id },
    signal,
  });
  // Without a state there is nothing to wait for: polling it would last until the operation timeout.
  if (typeof res?.state !== 'string') {
    throw new NeonError(
      `Neon's answer to GET /projects/${project_id}/branches/${branch_id}/anonymized_status has no state ` +
        '(an unexpected answer). Check later with get_branch_anonymization.',
    );
  }
  return res;
}

const FAILED = new Set(['error', 'initialization_error']);

/** Waits until the branch is anonymized; throws if it fails, returns a note if it is still running. */
async function waitAnonymized(
  client: NeonClient,
  project_id: string,
  branch_id: string,
  ctx: Pick<ToolContext, 'signal' | 'progress' | 'settings'>,
) {
  const { value, timedOut } = await pollStatus(
    ctx,
    () => getStatus(client, project_id, branch_id, ctx.signal),
    (s) => s.state === 'anonymized' || FAILED.has(s.state),
    (s) => `anonymization ${s.state}${s.status_message ? `: ${s.status_message}` : ''}`,
  );
  if (FAILED.has(value.state)) {
    throw new NeonError(
      `Anonymization of branch ${branch_id} ended in state "${value.state}"` +
        (value.status_message ? `: ${value.status_message}` : '.') +
        ' Fix the masking rules and call anonymize_branch again.',
    );
  }
  return {
    status: value,
    ...(timedOut ? { note: 'Still anonymizing; check later with get_branch_anonymization.' } : {}),
  };
}

export const createAnonymizedBranch = defineTool({
  name: 'create_anonymized_branch',
  title: 'Create masked branch',
  description: 'Create a branch to mask with anonymize_branch.',
  toolset: 'anonymization',
  beta: true,
  operations: ['createProjectBranchAnonymized', 'getProjectBranch'],
  input: {
    project_id: projectId,
    name: text(256).optional().describe('name'),
    parent_id: optionalBranchId,
    compute: z.boolean().default(true).describe('compute'),
  },
  // Also returns `compute` (the read-write compute it added).
  output: output({ branch: resource }),
  hints: CREATE,
  async handler({ project_id, name, parent_id, compute }, { client, signal, wait }) {
    const res = await client.post('/projects/{project_id}/branch_anonymized', {
      path: { project_id },
      body: {
        branch_create: {
          branch: defined({ name, parent_id }),
          ...(compute ? { endpoints: [{ type: 'read_write' as const }] } : {}),
        },
      } satisfies Schemas['BranchAnonymizedCreateRequest'],
      signal,
    });
    await wait(res.operations);
    const branch = await fetchBranch(client, project_id, res.branch.id, signal);
    const endpoint = res.endpoints?.[0];
    return { branch, ...(endpoint ? { compute: summarizeEndpoint(endpoint) } : {}) };
  },
});

export const getBranchAnonymization = defineTool({
  name: 'get_branch_anonymization',
  title: 'Get anonymization',
  description: "Get an anonymized branch's state and masking rules.",
  toolset: 'anonymization',
  beta: true,
  operations: ['getAnonymizedBranchStatus', 'getMaskingRules'],
  input: { project_id: projectId, branch_id: branchId },
  output: output({
    status: anonymizationStatus,
    masking_rules: items({ table_name: z.string(), column_name: z.string() }),
  }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const [status, rules] = await Promise.all([
      getStatus(client, project_id, branch_id, signal),
      client.get(`${branchPath}/masking_rules`, {
        path: { project_id, branch_id },
        signal,
      }),
    ]);
    return { status, masking_rules: rules.masking_rules };
  },
});

export const anonymizeBranch = defineTool({
  name: 'anonymize_branch',
  title: 'Anonymize branch',
  description: "Mask an anonymized branch's data, optionally with new rules.",
  toolset: 'anonymization',
  beta: true,
  operations: ['updateMaskingRules', 'startAnonymization', 'getAnonymizedBranchStatus'],
  input: { project_id: projectId, branch_id: branchId, masking_rules: maskingRules.optional() },
  // Also returns a `note` when it is still running.
  output: output({ status: anonymizationStatus }),
  // Rewrites the branch's column data in place (on purpose: it is the masked copy).
  hints: { ...ACT, destructiveHint: true },
  async handler({ project_id, branch_id, masking_rules: rules }, ctx) {
    const { client, signal } = ctx;
    const path = { project_id, branch_id };
    if (rules) {
      const masking_rules = checkShape(MASKING_RULES, rules, 'masking_rules');
      await client.patch(`${branchPath}/masking_rules`, {
        path,
        body: { masking_rules } satisfies Schemas['MaskingRulesUpdateRequest'],
        signal,
      });
    }
    await client.post(`${branchPath}/anonymize`, { path, signal });
    return waitAnonymized(client, project_id, branch_id, ctx);
  },
});

export const anonymizationTools: ToolDef[] = [
  createAnonymizedBranch,
  getBranchAnonymization,
  anonymizeBranch,
];
