/** Consumption history and the organization's spending limit. */
import * as z from 'zod';
import type { Schemas } from '../client/neon-client.js';
import { branchId, cursor, limit, orgId, projectId, timestamp } from './fields.js';
import { anyObject, defineTool, output, READ, UPDATE } from './framework.js';

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
const BRANCH_METRICS = V2_METRICS.slice(0, 6) as unknown as readonly [string, ...string[]];
const LEGACY_METRICS = [
  'active_time_seconds',
  'compute_time_seconds',
  'written_data_bytes',
  'synthetic_storage_size_bytes',
  'data_storage_bytes_hour',
  'logical_size_bytes',
  'logical_size_bytes_hour',
] as const;

const period = {
  from: timestamp('Start'),
  to: timestamp('End'),
  granularity: z
    .enum(['hourly', 'daily', 'monthly'])
    .describe('hourly (last 7 days), daily (60 days), monthly (1 year)'),
};
const projectIds = z.array(projectId).max(100);

type PageOf<T> = T & { pagination?: Schemas['Pagination'] };
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

export const getProjectConsumption = defineTool({
  name: 'get_project_consumption',
  title: 'Get project consumption',
  description:
    'Usage metrics per project over time for an organization on a usage-based plan. Legacy plans: get_legacy_consumption.',
  toolset: 'billing',
  accountLevel: true,
  operations: ['getConsumptionHistoryPerProjectV2'],
  input: {
    org_id: orgId,
    ...period,
    project_ids: projectIds.optional().describe('Only these projects'),
    metrics: z.array(z.enum(V2_METRICS)).min(1).optional().describe('Default: all'),
    limit: limit(100),
    cursor,
  },
  output: output({ projects: z.array(anyObject), next_cursor: z.string().optional() }),
  hints: READ,
  async handler(args, { client, signal }) {
    const pageSize = args.limit ?? 10;
    const res = await client.get<PageOf<Schemas['ConsumptionHistoryPerProjectV2Response']>>(
      '/consumption_history/v2/projects',
      {
        query: {
          org_id: args.org_id,
          from: args.from,
          to: args.to,
          granularity: args.granularity,
          project_ids: args.project_ids,
          metrics: args.metrics ?? V2_METRICS,
          limit: pageSize,
          cursor: args.cursor,
        },
        signal,
      },
    );
    const projects = (res.projects ?? []).map((p) => ({
      project_id: p.project_id,
      periods: compactPeriods(p.periods),
    }));
    return { projects, ...nextCursor(projects.length, pageSize, res) };
  },
});

export const getBranchConsumption = defineTool({
  name: 'get_branch_consumption',
  title: 'Get branch consumption',
  description: 'Usage metrics per branch over time for the given projects of an organization.',
  toolset: 'billing',
  accountLevel: true,
  beta: true,
  operations: ['getConsumptionHistoryPerBranchV2'],
  input: {
    org_id: orgId,
    ...period,
    project_ids: projectIds.min(1).describe('Projects whose branches to report'),
    branch_ids: z.array(branchId).max(100).optional().describe('Only these branches'),
    metrics: z.array(z.enum(BRANCH_METRICS)).min(1).optional().describe('Default: all'),
    limit: limit(1000),
    cursor,
  },
  output: output({ branches: z.array(anyObject), next_cursor: z.string().optional() }),
  hints: READ,
  async handler(args, { client, signal }) {
    const pageSize = args.limit ?? 100;
    const res = await client.get<PageOf<Schemas['ConsumptionHistoryPerBranchV2Response']>>(
      '/consumption_history/v2/branches',
      {
        query: {
          org_id: args.org_id,
          from: args.from,
          to: args.to,
          granularity: args.granularity,
          project_ids: args.project_ids,
          branch_ids: args.branch_ids,
          metrics: args.metrics ?? BRANCH_METRICS,
          limit: pageSize,
          cursor: args.cursor,
        },
        signal,
      },
    );
    const branches = (res.branches ?? []).map((b) => ({
      project_id: b.project_id,
      branch_id: b.branch_id,
      periods: compactPeriods(b.periods),
    }));
    return { branches, ...nextCursor(branches.length, pageSize, res) };
  },
});

export const getLegacyConsumption = defineTool({
  name: 'get_legacy_consumption',
  title: 'Get consumption (legacy plans)',
  description: 'Usage metrics per project over time on legacy Scale, Business or Enterprise plans.',
  toolset: 'billing',
  accountLevel: true,
  operations: ['getConsumptionHistoryPerProject'],
  input: {
    org_id: orgId.optional().describe('Organization (default: your own projects)'),
    ...period,
    project_ids: projectIds.optional().describe('Only these projects'),
    metrics: z
      .array(z.enum(LEGACY_METRICS))
      .min(1)
      .optional()
      .describe('Default: active time, compute time, written data, synthetic storage'),
    limit: limit(100),
    cursor,
  },
  output: output({ projects: z.array(anyObject), next_cursor: z.string().optional() }),
  hints: READ,
  async handler(args, { client, signal }) {
    const pageSize = args.limit ?? 10;
    const res = await client.get<PageOf<Schemas['ConsumptionHistoryPerProjectResponse']>>(
      '/consumption_history/projects',
      {
        query: {
          org_id: args.org_id,
          from: args.from,
          to: args.to,
          granularity: args.granularity,
          project_ids: args.project_ids,
          metrics: args.metrics,
          limit: pageSize,
          cursor: args.cursor,
        },
        signal,
      },
    );
    const projects = (res.projects ?? []).map((p) => ({
      project_id: p.project_id,
      periods: (p.periods ?? []).map(({ period_id: _, ...rest }) => rest),
    }));
    return { projects, ...nextCursor(projects.length, pageSize, res) };
  },
});

export const getSpendingLimit = defineTool({
  name: 'get_spending_limit',
  title: 'Get spending limit',
  description: "An organization's monthly spending limit in US cents (null: none). Launch and Scale plans.",
  toolset: 'billing',
  accountLevel: true,
  beta: true,
  operations: ['getOrganizationSpendingLimit'],
  input: { org_id: orgId },
  output: output({ spending_limit_cents: z.number().nullable() }),
  hints: READ,
  async handler({ org_id }, { client, signal }) {
    const res = await client.get<Schemas['SpendingLimitResponse']>(
      '/organizations/{org_id}/billing/spending_limit',
      { path: { org_id }, signal },
    );
    return { spending_limit_cents: res.spending_limit_cents ?? null };
  },
});

export const setSpendingLimit = defineTool({
  name: 'set_spending_limit',
  title: 'Set spending limit',
  description:
    'Set or remove (null) the monthly spending limit. Alerts at 80% and 100%; computes keep running.',
  toolset: 'billing',
  accountLevel: true,
  beta: true,
  operations: ['setOrganizationSpendingLimit', 'deleteOrganizationSpendingLimit'],
  input: {
    org_id: orgId,
    spending_limit_cents: z
      .number()
      .int()
      .min(1)
      .max(1e12)
      .nullable()
      .describe('Monthly cap in US cents, or null to remove'),
  },
  output: output({ spending_limit_cents: z.number().nullable() }),
  hints: UPDATE,
  async handler({ org_id, spending_limit_cents }, { client, signal }) {
    const route = '/organizations/{org_id}/billing/spending_limit' as const;
    if (spending_limit_cents === null) {
      await client.delete(route, { path: { org_id }, signal });
      return { spending_limit_cents: null };
    }
    const res = await client.put<Schemas['SpendingLimitResponse']>(route, {
      path: { org_id },
      body: { spending_limit_cents } satisfies Schemas['SpendingLimitUpdateRequest'],
      signal,
    });
    return { spending_limit_cents: res.spending_limit_cents ?? null };
  },
});

export const billingTools = [
  getProjectConsumption,
  getBranchConsumption,
  getLegacyConsumption,
  getSpendingLimit,
  setSpendingLimit,
];
