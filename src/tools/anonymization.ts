/**
 * Anonymized branches (beta): copies of a branch whose sensitive columns are masked with PostgreSQL
 * Anonymizer. Masking rules say which column gets which function or value; anonymizing applies them.
 */
import * as z from 'zod';
import { NeonError } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { summarizeEndpoint } from './computes.js';
import { checkShape } from './data-api.js';
import { branchId, projectId, text } from './fields.js';
import {
  ACT,
  anyObject,
  CREATE,
  defineTool,
  output,
  READ,
  type ToolContext,
  type ToolDef,
  UPDATE,
} from './framework.js';
import { str } from './storage.js';
import { defined } from './util.js';

type Status = Schemas['AnonymizedBranchStatusResponse'];

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
  .describe(
    'Each {database_name, schema_name, table_name, column_name, masking_function (e.g. anon.fake_email()) or masking_value}',
  );

const branchPath = '/projects/{project_id}/branches/{branch_id}' as const;

/**
 * Polls `read` until `done` says so, reporting progress, within the server's operation timeout. On
 * timeout it returns the last state: the work goes on at Neon and the caller says how to follow it.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  ctx: Pick<ToolContext, 'signal' | 'progress' | 'settings'>,
  describe: (value: T) => string,
): Promise<{ value: T; timedOut: boolean }> {
  const deadline = Date.now() + ctx.settings.operationTimeoutMs;
  let delay = 250;
  for (;;) {
    const value = await read();
    if (done(value)) return { value, timedOut: false };
    if (Date.now() + delay > deadline) return { value, timedOut: true };
    await ctx.progress(describe(value));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, delay);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        },
        { once: true },
      );
    });
    delay = Math.min(5_000, delay * 1.5);
  }
}

async function getStatus(client: NeonClient, project_id: string, branch_id: string, signal: AbortSignal) {
  return client.get<Status>(`${branchPath}/anonymized_status`, { path: { project_id, branch_id }, signal });
}

const FAILED = new Set(['error', 'initialization_error']);

/**
 * Waits until the branch is anonymized or failed. A failure throws, unless `soft` (the branch was just
 * created and must not look like a failed create): then it comes back as a note.
 */
async function waitAnonymized(
  client: NeonClient,
  project_id: string,
  branch_id: string,
  ctx: Pick<ToolContext, 'signal' | 'progress' | 'settings'>,
  soft = false,
) {
  const { value, timedOut } = await pollUntil(
    () => getStatus(client, project_id, branch_id, ctx.signal),
    (s) => s.state === 'anonymized' || FAILED.has(s.state),
    ctx,
    (s) => `anonymization ${s.state}${s.status_message ? `: ${s.status_message}` : ''}`,
  );
  if (FAILED.has(value.state)) {
    const why =
      `Anonymization of branch ${branch_id} ended in state "${value.state}"` +
      (value.status_message ? `: ${value.status_message}` : '.') +
      ' Fix the masking rules (update_masking_rules), then call start_anonymization.';
    if (!soft) throw new NeonError(why);
    return { status: value, note: `Branch created, but: ${why}` };
  }
  return {
    status: value,
    ...(timedOut ? { note: 'Still anonymizing; check later with get_branch_anonymization.' } : {}),
  };
}

export const createAnonymizedBranch = defineTool({
  name: 'create_anonymized_branch',
  title: 'Create anonymized branch',
  description:
    'Create a branch whose sensitive columns get masked by rules; start anonymizes now and waits for it.',
  toolset: 'branches',
  beta: true,
  operations: ['createProjectBranchAnonymized', 'getProjectBranch', 'getAnonymizedBranchStatus'],
  input: {
    project_id: projectId,
    name: text(256).optional(),
    parent_id: branchId.optional().describe('Default: default branch'),
    masking_rules: maskingRules.optional(),
    start: z.boolean().optional().describe('Anonymize now'),
    compute: z.boolean().default(true).describe('Add a read-write compute'),
  },
  output: output({
    branch: anyObject,
    compute: anyObject.optional(),
    status: anyObject,
    note: z.string().optional(),
  }),
  hints: CREATE,
  async handler({ project_id, name, parent_id, masking_rules: rules, start, compute }, ctx) {
    const { client, signal, wait } = ctx;
    const masking_rules = rules && checkShape(MASKING_RULES, rules, 'masking_rules');
    const res = await client.post<
      Schemas['BranchResponse'] & { endpoints: Schemas['Endpoint'][]; operations: Schemas['Operation'][] }
    >('/projects/{project_id}/branch_anonymized', {
      path: { project_id },
      body: defined({
        branch_create: {
          branch: defined({ name, parent_id }),
          ...(compute ? { endpoints: [{ type: 'read_write' as const }] } : {}),
        },
        masking_rules,
        start_anonymization: start,
      }) satisfies Schemas['BranchAnonymizedCreateRequest'],
      signal,
    });
    await wait(res.operations);
    const branch_id = res.branch.id;
    const branch = (
      await client.get<Schemas['BranchResponse']>(branchPath, { path: { project_id, branch_id }, signal })
    ).branch;
    const anonymization = start
      ? await waitAnonymized(client, project_id, branch_id, ctx, true)
      : { status: await getStatus(client, project_id, branch_id, signal) };
    const endpoint = res.endpoints?.[0];
    return { branch, ...(endpoint ? { compute: summarizeEndpoint(endpoint) } : {}), ...anonymization };
  },
});

export const getBranchAnonymization = defineTool({
  name: 'get_branch_anonymization',
  title: 'Get branch anonymization',
  description: 'Get the anonymization state and masking rules of an anonymized branch.',
  toolset: 'branches',
  beta: true,
  operations: ['getAnonymizedBranchStatus', 'getMaskingRules'],
  input: { project_id: projectId, branch_id: branchId },
  output: output({ status: anyObject, masking_rules: z.array(anyObject) }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const [status, rules] = await Promise.all([
      getStatus(client, project_id, branch_id, signal),
      client.get<Schemas['MaskingRulesResponse']>(`${branchPath}/masking_rules`, {
        path: { project_id, branch_id },
        signal,
      }),
    ]);
    return { status, masking_rules: rules.masking_rules };
  },
});

export const updateMaskingRules = defineTool({
  name: 'update_masking_rules',
  title: 'Update masking rules',
  description: 'Replace all masking rules of an anonymized branch; start_anonymization applies them.',
  toolset: 'branches',
  beta: true,
  operations: ['updateMaskingRules'],
  input: { project_id: projectId, branch_id: branchId, masking_rules: maskingRules },
  output: output({ masking_rules: z.array(anyObject) }),
  hints: UPDATE,
  async handler({ project_id, branch_id, masking_rules: rules }, { client, signal }) {
    const masking_rules = checkShape(MASKING_RULES, rules, 'masking_rules');
    const res = await client.patch<Schemas['MaskingRulesResponse']>(`${branchPath}/masking_rules`, {
      path: { project_id, branch_id },
      body: { masking_rules } satisfies Schemas['MaskingRulesUpdateRequest'],
      signal,
    });
    return { masking_rules: res.masking_rules };
  },
});

export const startAnonymization = defineTool({
  name: 'start_anonymization',
  title: 'Start anonymization',
  description: "Mask an anonymized branch's data with its rules (overwrites it); waits until done.",
  toolset: 'branches',
  beta: true,
  operations: ['startAnonymization', 'getAnonymizedBranchStatus'],
  input: { project_id: projectId, branch_id: branchId },
  output: output({ status: anyObject, note: z.string().optional() }),
  // Rewrites the branch's column data in place (on purpose: it is the masked copy).
  hints: { ...ACT, destructiveHint: true },
  async handler({ project_id, branch_id }, ctx) {
    await ctx.client.post<Status>(`${branchPath}/anonymize`, {
      path: { project_id, branch_id },
      signal: ctx.signal,
    });
    return waitAnonymized(ctx.client, project_id, branch_id, ctx);
  },
});

export const anonymizationTools: ToolDef[] = [
  createAnonymizedBranch,
  getBranchAnonymization,
  updateMaskingRules,
  startAnonymization,
];
