/**
 * Spending limits and made-up but deterministic consumption history. Serves src/tools/billing.ts.
 */
import { randomUUID } from 'node:crypto';
import { HttpResponse, http, type RequestHandler } from 'msw';
import { jsonBody, notFound, type Params } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { accountStore } from './stores.js';

export function billingHandlers(fake: NeonFake): RequestHandler[] {
  const s = accountStore(fake);
  const org = (p: Params) => s.orgs.get(p.org_id);
  return [
    http.get(`${BASE}/organizations/:org_id/billing/spending_limit`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      return HttpResponse.json({ spending_limit_cents: o.spendingLimitCents });
    }),
    http.put(`${BASE}/organizations/:org_id/billing/spending_limit`, async ({ params, request }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      if (o.org.plan === 'free') {
        return neonError(422, 'spending limits are available on Launch and Scale plans only');
      }
      o.spendingLimitCents = (await jsonBody(request)).spending_limit_cents;
      return HttpResponse.json({ spending_limit_cents: o.spendingLimitCents });
    }),
    http.delete(`${BASE}/organizations/:org_id/billing/spending_limit`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      o.spendingLimitCents = null;
      return HttpResponse.json({});
    }),
    ...(['/consumption_history/projects', '/consumption_history/v2/projects'] as const).map((path) =>
      http.get(`${BASE}${path}`, ({ request }) => consumption(fake, new URL(request.url), path)),
    ),
    http.get(`${BASE}/consumption_history/v2/branches`, ({ request }) =>
      consumption(fake, new URL(request.url), '/consumption_history/v2/branches'),
    ),
  ];
}

const STEP = { hourly: 3_600_000, daily: 86_400_000, monthly: 30 * 86_400_000 } as const;

/** Made-up but deterministic consumption: one period, one timeframe per granularity step. */
function consumption(fake: NeonFake, url: URL, path: string) {
  const q = url.searchParams;
  const from = Date.parse(q.get('from')!);
  const to = Date.parse(q.get('to')!);
  if (!(from < to)) return neonError(400, '"from" must be earlier than "to"', 'INVALID_RANGE');
  const step = STEP[q.get('granularity') as keyof typeof STEP];
  const orgId = q.get('org_id');
  if (orgId && !accountStore(fake).orgs.has(orgId)) return notFound(`organization ${orgId}`);
  const ids = q.getAll('project_ids').flatMap((v) => v.split(','));
  const metrics = q.getAll('metrics').flatMap((v) => v.split(','));
  const legacy = path === '/consumption_history/projects';
  let projects = [...fake.projects.values()].filter((p) => !orgId || p.org_id === orgId);
  if (ids.length) projects = projects.filter((p) => ids.includes(p.id));
  projects.sort((a, b) => a.id.localeCompare(b.id));
  const frames: { start: string; end: string }[] = [];
  for (let t = from; t < to && frames.length < 50; t += step) {
    frames.push({ start: new Date(t).toISOString(), end: new Date(Math.min(t + step, to)).toISOString() });
  }
  const period = (seed: number) => ({
    period_id: randomUUID(),
    period_plan: legacy ? 'scale' : 'launch',
    period_start: frames[0].start,
    consumption: frames.map((f, i) =>
      legacy
        ? {
            timeframe_start: f.start,
            timeframe_end: f.end,
            active_time_seconds: 100 * seed + i,
            compute_time_seconds: 10 * seed + i,
            written_data_bytes: 1000 * seed,
            synthetic_storage_size_bytes: 5000 * seed,
          }
        : {
            timeframe_start: f.start,
            timeframe_end: f.end,
            metrics: metrics.map((m, k) => ({ metric_name: m, value: seed * 1000 + k * 10 + i })),
          },
    ),
  });
  const limit = Number(q.get('limit') ?? (path.endsWith('branches') ? 100 : 10));
  const offset = Number(q.get('cursor') ?? 0);
  const next = (n: number) => ({ pagination: { cursor: String(offset + n) } });
  if (path.endsWith('branches')) {
    const branchIds = q.getAll('branch_ids').flatMap((v) => v.split(','));
    let branches = projects.flatMap((p) => fake.branchesOf(p.id));
    if (branchIds.length) branches = branches.filter((b) => branchIds.includes(b.id));
    const page = branches.slice(offset, offset + limit);
    return HttpResponse.json({
      branches: page.map((b, i) => ({
        project_id: b.project_id,
        branch_id: b.id,
        periods: [period(offset + i + 1)],
      })),
      ...next(page.length),
    });
  }
  const page = projects.slice(offset, offset + limit);
  return HttpResponse.json({
    projects: page.map((p, i) => ({ project_id: p.id, periods: [period(offset + i + 1)] })),
    ...next(page.length),
  });
}
