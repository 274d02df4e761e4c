/** Consumption history and the organization's spending limit. */
import * as z from 'zod';
import { InvalidArgumentError } from '../client/errors.js';
import type { Schemas } from '../client/neon-client.js';
import { cursor, neonIdList, orgId, timestamp } from './fields.js';
import { defineTool, items, output, READ, UPDATE } from './framework.js';

const V2_METRICS = [
  'compute_unit_seconds',
  'root_branch_bytes_month',
  'child_branch_bytes_month',
  'instant_restore_bytes_month',
  'public_network_transfer_bytes',
  'private_network_transfer_bytes',
  'extra_branches_month',
  'snapshot_storage_bytes_month',
] as const;
/** The branch endpoint supports the first six only. */
const BRANCH_METRICS = V2_METRICS.slice(0, 6);

const org = orgId;

type PeriodV2 = Schemas['ConsumptionHistoryPerPeriodV2'];

/** Periods with each timeframe's metrics as named fields instead of a list of name/value pairs. */
function compactPeriods(periods: PeriodV2[] | undefined) {
  return (periods ?? []).map((p) => ({
    period_plan: p.period_plan,
    period_start: p.period_start,
    ...(p.period_end ? { period_end: p.period_end } : {}),
    consumption: p.consumption.map((t) => ({
      timeframe_start: t.timeframe_start,
      timeframe_end: t.timeframe_end,
      ...Object.fromEntries((t.metrics ?? []).map((m) => [m.metric_name, m.value])),
    })),
  }));
}

/** The next cursor, only when the page was full (Neon returns a cursor on the last page too). */
function nextCursor(count: number, pageSize: number, page: { pagination?: Schemas['Pagination'] }) {
  const next = count === pageSize ? page.pagination?.cursor : undefined;
  return next ? { next_cursor: next } : {};
}

export const getConsumption = defineTool({
  name: 'get_consumption',
  title: 'Get consumption',
  description: 'Usage metrics over time, per project or branch.',
  toolset: 'billing',
  accountLevel: true,
  operations: [
    'getConsumptionHistoryPerProjectV2',
    'getConsumptionHistoryPerBranchV2',
    'getConsumptionHistoryPerProject',
  ],
  input: {
    org_id: org.optional().describe('Required unless legacy'),
    from: timestamp('From'),
    to: timestamp('To'),
    granularity: z.enum(['hourly', 'daily', 'monthly']).describe('Lookback 7d/60d/1y'),
    per: z.enum(['project', 'branch']).optional().describe('Per'),
    project_ids: neonIdList('project', 0, 100).optional().describe('Required per branch'),
    branch_ids: neonIdList('branch', 0, 100).optional().describe('Branch IDs'),
    legacy: z.boolean().optional().describe('Legacy Scale/Business plan'),
    cursor: cursor.describe('Cursor'),
  },
  // Also returns next_cursor when there is another page.
  output: output({
    projects: items({ project_id: z.string() }).optional(),
    branches: items({ branch_id: z.string() }).optional(),
  }),
  hints: READ,
  async handler(args, { client, signal }) {
    const perBranch = args.per === 'branch';
    const bad = (m: string) => new InvalidArgumentError(`get_consumption: ${m}`);
    if (perBranch && args.legacy) throw bad('per=branch is not available for legacy plans.');
    if (perBranch && !args.project_ids?.length) throw bad('per=branch needs project_ids (1 to 100).');
    if (args.branch_ids && !perBranch) throw bad('branch_ids needs per=branch.');
    if (!args.org_id && !args.legacy) throw bad('org_id is required (list_organizations shows yours).');
    const pageSize = 100;
    const query = {
      org_id: args.org_id,
      from: args.from,
      to: args.to,
      granularity: args.granularity,
      project_ids: args.project_ids,
      limit: pageSize,
      cursor: args.cursor,
    };
    if (args.legacy) {
      // Neon's default metrics for these plans: active time, compute time, written data, synthetic storage.
      const res = await client.get('/consumption_history/projects', { query, signal });
      const projects = (res.projects ?? []).map((p) => ({
        project_id: p.project_id,
        periods: (p.periods ?? []).map(({ period_id: _, ...rest }) => rest),
      }));
      return { projects, ...nextCursor(projects.length, pageSize, res) };
    }
    if (perBranch) {
      const res = await client.get('/consumption_history/v2/branches', {
        query: { ...query, branch_ids: args.branch_ids, metrics: BRANCH_METRICS },
        signal,
      });
      const branches = (res.branches ?? []).map((b) => ({
        project_id: b.project_id,
        branch_id: b.branch_id,
        periods: compactPeriods(b.periods),
      }));
      return { branches, ...nextCursor(branches.length, pageSize, res) };
    }
    const res = await client.get('/consumption_history/v2/projects', {
      query: { ...query, metrics: V2_METRICS },
      signal,
    });
    const projects = (res.projects ?? []).map((p) => ({
      project_id: p.project_id,
      periods: compactPeriods(p.periods),
    }));
    return { projects, ...nextCursor(projects.length, pageSize, res) };
  },
});

export const getSpendingLimit = defineTool({
  name: 'get_spending_limit',
  title: 'Get spending limit',
  description: "Get an organization's monthly spending limit (US cents).",
  toolset: 'billing',
  accountLevel: true,
  beta: true,
  operations: ['getOrganizationSpendingLimit'],
  input: { org_id: org },
  output: output({ spending_limit_cents: z.number().nullable() }),
  hints: READ,
  async handler({ org_id }, { client, signal }) {
    const res = await client.get('/organizations/{org_id}/billing/spending_limit', {
      path: { org_id },
      signal,
    });
    return { spending_limit_cents: res.spending_limit_cents ?? null };
  },
});

export const setSpendingLimit = defineTool({
  name: 'set_spending_limit',
  title: 'Set spending limit',
  description: 'Set the monthly spending alert in US cents; null removes it.',
  toolset: 'billing',
  accountLevel: true,
  beta: true,
  operations: ['setOrganizationSpendingLimit', 'deleteOrganizationSpendingLimit'],
  input: {
    org_id: org,
    // Integer checked by the refinement: `.int()` would turn the advertised nullable type into an anyOf.
    spending_limit_cents: z
      .number()
      .refine((v) => Number.isInteger(v) && v >= 1, {
        message: 'must be a whole number of cents, at least 1 (null removes the limit)',
      })
      .nullable()
      .describe('Spending limit cents'),
  },
  output: output({ spending_limit_cents: z.number().nullable() }),
  hints: UPDATE,
  async handler({ org_id, spending_limit_cents }, { client, signal }) {
    const route = '/organizations/{org_id}/billing/spending_limit' as const;
    if (spending_limit_cents === null) {
      await client.delete(route, { path: { org_id }, signal });
      return { spending_limit_cents: null };
    }
    const res = await client.put(route, {
      path: { org_id },
      body: { spending_limit_cents } satisfies Schemas['SpendingLimitUpdateRequest'],
      signal,
    });
    return { spending_limit_cents: res.spending_limit_cents ?? null };
  },
});

export const billingTools = [getConsumption, getSpendingLimit, setSpendingLimit];
