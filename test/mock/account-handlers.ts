/**
 * msw handlers for the account-level parts of the Neon API (API keys, organizations, users, regions,
 * consumption, spending limits, VPC endpoints, JWKS, project sharing, transfers, recovery, advisor),
 * backed by a small store kept next to each {@link NeonFake}.
 *
 * Register `accountHandlers` with `registerHandlers(...)`. `accountOverrides` serve paths the core
 * handlers would otherwise claim (`/projects/shared`, `?recoverable=true`, recording deletions) and must
 * go first: add them per test with `api.use(...accountOverrides(api.fake))`.
 */
import { randomUUID } from 'node:crypto';
import { HttpResponse, http } from 'msw';
import { BASE, type NeonFake, neonError } from './neon-fake.js';

type Json = Record<string, any>;
type Params = Record<string, string>;

export interface FakeOrg {
  org: Json;
  apiKeys: Json[];
  members: { member: Json; user: Json }[];
  invitations: Json[];
  spendingLimitCents: number | null;
  /** region → VPC endpoint ID → { label, state } */
  vpcEndpoints: Map<string, Map<string, { label: string; state: string }>>;
  /** Projects the plan allows at most (transfers beyond it answer 406). */
  projectLimit?: number;
}

export interface AccountStore {
  auth: Json;
  user: Json;
  regions: Json[];
  apiKeys: Json[];
  orgs: Map<string, FakeOrg>;
  /** Projects shared with the user (owned by someone else). */
  shared: Json[];
  /** Deleted projects still recoverable, with their branches. */
  deleted: Map<string, { project: Json; branches: Json[] }>;
  permissions: Map<string, Json[]>;
  transfers: Map<string, Json>;
  /** project ID → integration name; such projects cannot be moved between organizations. */
  integrations: Map<string, string>;
  advisorIssues: Json[];
  projectVpc: Map<string, Map<string, string>>;
  jwks: Json[];
  nextKeyId: number;
}

const stores = new WeakMap<NeonFake, AccountStore>();

/** The account store of a fake (created on first use). */
export function accountStore(fake: NeonFake): AccountStore {
  let s = stores.get(fake);
  if (!s) {
    s = {
      auth: { account_id: 'user-1', auth_method: 'api_key_user', auth_data: 'key 1' },
      user: {
        id: 'user-1',
        email: 'ada@example.com',
        login: 'ada',
        name: 'Ada',
        last_name: 'Lovelace',
        image: '',
        plan: 'launch',
        projects_limit: 100,
        branches_limit: 5000,
        max_autoscaling_limit: 16,
        active_seconds_limit: 0,
        compute_seconds_limit: 0,
        auth_accounts: [
          { provider: 'github', email: 'ada@example.com', name: 'Ada', login: 'ada', image: '' },
        ],
        billing_account: {
          state: 'active',
          subscription_type: 'launch',
          payment_source: { type: 'card' },
          payment_method: 'stripe',
          quota_reset_at_last: '2026-11-01T00:00:00Z',
          name: 'Ada Lovelace',
          email: 'billing@example.com',
          address_city: 'London',
          address_country: 'GB',
          address_line1: '1 Analytical Row',
          address_line2: '',
          address_postal_code: 'N1',
          address_state: '',
        },
      },
      regions: [
        {
          region_id: 'aws-us-east-2',
          name: 'AWS US East 2 (Ohio)',
          default: true,
          geo_lat: '',
          geo_long: '',
        },
        {
          region_id: 'aws-eu-central-1',
          name: 'AWS Europe Central 1',
          default: false,
          geo_lat: '',
          geo_long: '',
        },
        { region_id: 'azure-eastus2', name: 'Azure East US 2', default: false, geo_lat: '', geo_long: '' },
      ],
      apiKeys: [],
      orgs: new Map(),
      shared: [],
      deleted: new Map(),
      permissions: new Map(),
      transfers: new Map(),
      integrations: new Map(),
      advisorIssues: [],
      projectVpc: new Map(),
      jwks: [],
      nextKeyId: 1000,
    };
    stores.set(fake, s);
  }
  return s;
}

/** An organization with one admin (the current user); more members with `addMember`. */
export function seedOrg(fake: NeonFake, id: string, fields: Json = {}): FakeOrg {
  const t = new Date().toISOString();
  const org: FakeOrg = {
    org: {
      id,
      name: fields.name ?? id,
      handle: `${id}-handle`,
      plan: fields.plan ?? 'scale',
      created_at: t,
      updated_at: t,
      managed_by: 'console',
    },
    apiKeys: [],
    members: [],
    invitations: [],
    spendingLimitCents: null,
    vpcEndpoints: new Map(),
    projectLimit: fields.projectLimit,
  };
  accountStore(fake).orgs.set(id, org);
  addMember(org, 'ada@example.com', 'admin');
  return org;
}

export function addMember(org: FakeOrg, email: string, role: string): Json {
  const member = {
    id: randomUUID(),
    user_id: randomUUID(),
    org_id: org.org.id,
    role,
    joined_at: new Date(Date.now() + org.members.length).toISOString(),
  };
  org.members.push({ member, user: { email, has_mfa: false } });
  return member;
}

async function jsonBody(request: Request): Promise<Json> {
  const text = await request.text();
  return text ? JSON.parse(text) : {};
}

const notFound = (what: string) => neonError(404, `${what} not found`, 'NOT_FOUND');
const now = () => new Date().toISOString();

/** Handlers that must come before the core ones; see the file comment. */
export function accountOverrides(fake: NeonFake) {
  const s = accountStore(fake);
  return [
    http.get(`${BASE}/projects/shared`, ({ request }) => {
      const q = new URL(request.url).searchParams;
      const search = q.get('search');
      const limit = Number(q.get('limit') ?? 10);
      const cursor = q.get('cursor');
      let all = [...s.shared].sort((a, b) => a.id.localeCompare(b.id));
      if (search) all = all.filter((p) => p.name.includes(search) || p.id.includes(search));
      if (cursor) all = all.filter((p) => p.id > cursor);
      const page = all.slice(0, limit);
      return HttpResponse.json({ projects: page, pagination: { cursor: page.at(-1)?.id ?? 'end' } });
    }),
    http.get(`${BASE}/projects`, ({ request }) => {
      const q = new URL(request.url).searchParams;
      if (q.get('recoverable') !== 'true') return undefined; // the core handler answers
      const projects = [...s.deleted.values()].map((d) => d.project);
      return HttpResponse.json({ projects, pagination: { cursor: projects.at(-1)?.id ?? 'end' } });
    }),
    // Remembers what the core handler is about to delete, so it can be recovered.
    http.delete(`${BASE}/projects/:project_id`, ({ params }) => {
      const p = fake.projects.get(params.project_id as string);
      if (p) s.deleted.set(p.id, { project: p, branches: fake.branchesOf(p.id) });
      return undefined;
    }),
  ];
}

export function accountHandlers(fake: NeonFake) {
  const s = accountStore(fake);
  const project = (p: Params) => fake.projects.get(p.project_id);
  const org = (p: Params) => s.orgs.get(p.org_id);

  return [
    // Users, auth, regions
    http.get(`${BASE}/auth`, () => HttpResponse.json(s.auth)),
    http.get(`${BASE}/users/me`, () =>
      s.auth.auth_method === 'api_key_org'
        ? neonError(404, 'user not found for an organization API key')
        : HttpResponse.json(s.user),
    ),
    http.get(`${BASE}/users/me/organizations`, () =>
      HttpResponse.json({ organizations: [...s.orgs.values()].map((o) => o.org) }),
    ),
    http.get(`${BASE}/regions`, ({ request }) => {
      const orgId = new URL(request.url).searchParams.get('org_id');
      if (orgId && !s.orgs.has(orgId)) return notFound(`organization ${orgId}`);
      // Organizations see AWS regions only, to make the filter observable.
      const regions = orgId ? s.regions.filter((r) => r.region_id.startsWith('aws-')) : s.regions;
      return HttpResponse.json({ regions });
    }),

    // Personal API keys
    http.get(`${BASE}/api_keys`, () =>
      HttpResponse.json(s.apiKeys.map(({ key: _k, revoked: _r, ...rest }) => rest)),
    ),
    http.post(`${BASE}/api_keys`, async ({ request }) => {
      const { key_name } = await jsonBody(request);
      const key = {
        id: s.nextKeyId++,
        name: key_name,
        key: `napi_${randomUUID().replace(/-/g, '')}`,
        created_at: now(),
        created_by: { id: randomUUID(), name: 'Ada Lovelace', image: '' },
        last_used_at: null,
        last_used_from_addr: '',
      };
      s.apiKeys.push(key);
      return HttpResponse.json({
        id: key.id,
        key: key.key,
        name: key.name,
        created_at: key.created_at,
        created_by: key.created_by.id,
      });
    }),
    http.delete(`${BASE}/api_keys/:key_id`, ({ params }) => {
      const i = s.apiKeys.findIndex((k) => String(k.id) === params.key_id);
      if (i < 0) return notFound(`API key ${params.key_id}`);
      const [k] = s.apiKeys.splice(i, 1);
      return HttpResponse.json({
        id: k.id,
        name: k.name,
        created_at: k.created_at,
        created_by: k.created_by.id,
        last_used_at: k.last_used_at,
        last_used_from_addr: k.last_used_from_addr,
        revoked: true,
      });
    }),

    // Organizations
    http.get(`${BASE}/organizations/:org_id`, ({ params }) => {
      const o = org(params as Params);
      return o ? HttpResponse.json(o.org) : notFound(`organization ${params.org_id}`);
    }),
    http.get(`${BASE}/organizations/:org_id/api_keys`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      return HttpResponse.json(o.apiKeys.map(({ key: _k, ...rest }) => rest));
    }),
    http.post(`${BASE}/organizations/:org_id/api_keys`, async ({ params, request }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const { key_name, project_id } = await jsonBody(request);
      if (project_id && fake.projects.get(project_id)?.org_id !== o.org.id) {
        return neonError(422, `project ${project_id} does not belong to organization ${o.org.id}`);
      }
      const key = {
        id: s.nextKeyId++,
        name: key_name,
        key: `napi_org_${randomUUID().replace(/-/g, '')}`,
        created_at: now(),
        created_by: { id: randomUUID(), name: 'Ada Lovelace', image: '' },
        last_used_at: null,
        last_used_from_addr: '',
        ...(project_id ? { project_id } : {}),
      };
      o.apiKeys.push(key);
      return HttpResponse.json({
        id: key.id,
        key: key.key,
        name: key.name,
        created_at: key.created_at,
        created_by: key.created_by.id,
        ...(project_id ? { project_id } : {}),
      });
    }),
    http.delete(`${BASE}/organizations/:org_id/api_keys/:key_id`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const i = o.apiKeys.findIndex((k) => String(k.id) === params.key_id);
      if (i < 0) return notFound(`API key ${params.key_id}`);
      const [{ key: _k, created_by, ...k }] = o.apiKeys.splice(i, 1);
      return HttpResponse.json({ ...k, created_by: created_by.id, revoked: true });
    }),

    http.get(`${BASE}/organizations/:org_id/members`, ({ params, request }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const q = new URL(request.url).searchParams;
      const limit = Number(q.get('limit') ?? 10);
      const offset = Number(q.get('cursor') ?? 0);
      const page = o.members.slice(offset, offset + limit);
      return HttpResponse.json({
        members: page,
        pagination: offset + limit < o.members.length ? { next: String(offset + limit) } : {},
      });
    }),
    http.get(`${BASE}/organizations/:org_id/members/:member_id`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const m = o.members.find((x) => x.member.id === params.member_id);
      return m ? HttpResponse.json(m.member) : notFound(`member ${params.member_id}`);
    }),
    http.patch(`${BASE}/organizations/:org_id/members/:member_id`, async ({ params, request }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const m = o.members.find((x) => x.member.id === params.member_id);
      if (!m) return notFound(`member ${params.member_id}`);
      const { role } = await jsonBody(request);
      const admins = o.members.filter((x) => x.member.role === 'admin');
      if (m.member.role === 'admin' && role !== 'admin' && admins.length === 1) {
        return neonError(422, 'the organization must keep at least one admin', 'LAST_ADMIN');
      }
      m.member.role = role;
      return HttpResponse.json(m.member);
    }),
    http.delete(`${BASE}/organizations/:org_id/members/:member_id`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const i = o.members.findIndex((x) => x.member.id === params.member_id);
      if (i < 0) return notFound(`member ${params.member_id}`);
      const admins = o.members.filter((x) => x.member.role === 'admin');
      if (o.members[i].member.role === 'admin' && admins.length === 1) {
        return neonError(422, 'cannot remove the last admin of the organization', 'LAST_ADMIN');
      }
      o.members.splice(i, 1);
      return HttpResponse.json({});
    }),

    http.get(`${BASE}/organizations/:org_id/invitations`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      return HttpResponse.json({ invitations: o.invitations });
    }),
    http.post(`${BASE}/organizations/:org_id/invitations`, async ({ params, request }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const { invitations } = await jsonBody(request);
      for (const inv of invitations) {
        if (o.members.some((m) => m.user.email === inv.email)) {
          return neonError(422, `${inv.email} is already a member`, 'ALREADY_MEMBER');
        }
      }
      const created = invitations.map((inv: Json) => ({
        id: randomUUID(),
        email: inv.email,
        org_id: o.org.id,
        invited_by: randomUUID(),
        invited_at: now(),
        role: inv.role,
      }));
      o.invitations.push(...created);
      return HttpResponse.json({ invitations: created });
    }),

    http.post(`${BASE}/organizations/:source_org_id/projects/transfer`, async ({ params, request }) => {
      const src = s.orgs.get(params.source_org_id as string);
      if (!src) return notFound(`organization ${params.source_org_id}`);
      const { destination_org_id, project_ids } = await jsonBody(request);
      const dst = s.orgs.get(destination_org_id);
      if (!dst) return notFound(`organization ${destination_org_id}`);
      for (const id of project_ids) {
        if (fake.projects.get(id)?.org_id !== src.org.id) return notFound(`project ${id}`);
      }
      const withIntegration = project_ids.filter((id: string) => s.integrations.has(id));
      if (withIntegration.length) {
        return HttpResponse.json(
          {
            projects: withIntegration.map((id: string) => ({ id, integration: s.integrations.get(id) })),
          },
          { status: 422 },
        );
      }
      const owned = [...fake.projects.values()].filter((p) => p.org_id === dst.org.id).length;
      if (dst.projectLimit !== undefined && owned + project_ids.length > dst.projectLimit) {
        return HttpResponse.json(
          {
            limits: [
              {
                name: 'projects_count',
                expected: String(dst.projectLimit),
                actual: String(owned + project_ids.length),
              },
            ],
          },
          { status: 406 },
        );
      }
      for (const id of project_ids) fake.projects.get(id)!.org_id = dst.org.id;
      return HttpResponse.json({});
    }),

    // Spending limit
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

    // Organization VPC endpoints
    http.get(`${BASE}/organizations/:org_id/vpc/vpc_endpoints`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const endpoints = [...o.vpcEndpoints].flatMap(([region_id, eps]) =>
        [...eps].map(([vpc_endpoint_id, e]) => ({ vpc_endpoint_id, label: e.label, region_id })),
      );
      return HttpResponse.json({ endpoints });
    }),
    http.get(`${BASE}/organizations/:org_id/vpc/region/:region_id/vpc_endpoints`, ({ params }) => {
      const o = org(params as Params);
      if (!o) return notFound(`organization ${params.org_id}`);
      const eps = o.vpcEndpoints.get(params.region_id as string) ?? new Map();
      return HttpResponse.json({
        endpoints: [...eps].map(([vpc_endpoint_id, e]) => ({ vpc_endpoint_id, label: e.label })),
      });
    }),
    http.get(
      `${BASE}/organizations/:org_id/vpc/region/:region_id/vpc_endpoints/:vpc_endpoint_id`,
      ({ params }) => {
        const o = org(params as Params);
        if (!o) return notFound(`organization ${params.org_id}`);
        const id = params.vpc_endpoint_id as string;
        const e = o.vpcEndpoints.get(params.region_id as string)?.get(id);
        if (!e) return notFound(`VPC endpoint ${id}`);
        const restricted = [...s.projectVpc].filter(([, eps]) => eps.has(id)).map(([p]) => p);
        return HttpResponse.json({
          vpc_endpoint_id: id,
          label: e.label,
          state: e.state,
          num_restricted_projects: restricted.length,
          example_restricted_projects: restricted.slice(0, 3),
        });
      },
    ),
    http.post(
      `${BASE}/organizations/:org_id/vpc/region/:region_id/vpc_endpoints/:vpc_endpoint_id`,
      async ({ params, request }) => {
        const o = org(params as Params);
        if (!o) return notFound(`organization ${params.org_id}`);
        const region = params.region_id as string;
        if (!s.regions.some((r) => r.region_id === region)) return notFound(`region ${region}`);
        if (region.startsWith('azure-')) return neonError(422, 'Azure regions are not supported');
        const { label } = await jsonBody(request);
        if (!o.vpcEndpoints.has(region)) o.vpcEndpoints.set(region, new Map());
        const eps = o.vpcEndpoints.get(region)!;
        const id = params.vpc_endpoint_id as string;
        eps.set(id, { label, state: eps.get(id)?.state ?? 'new' });
        return new HttpResponse(null, { status: 200 });
      },
    ),
    http.delete(
      `${BASE}/organizations/:org_id/vpc/region/:region_id/vpc_endpoints/:vpc_endpoint_id`,
      ({ params }) => {
        const o = org(params as Params);
        if (!o) return notFound(`organization ${params.org_id}`);
        const eps = o.vpcEndpoints.get(params.region_id as string);
        if (!eps?.delete(params.vpc_endpoint_id as string)) {
          return notFound(`VPC endpoint ${params.vpc_endpoint_id}`);
        }
        return new HttpResponse(null, { status: 200 });
      },
    ),

    // Project VPC restrictions
    http.get(`${BASE}/projects/:project_id/vpc_endpoints`, ({ params }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      const eps = s.projectVpc.get(params.project_id as string) ?? new Map();
      return HttpResponse.json({
        endpoints: [...eps].map(([vpc_endpoint_id, label]) => ({ vpc_endpoint_id, label })),
      });
    }),
    http.post(`${BASE}/projects/:project_id/vpc_endpoints/:vpc_endpoint_id`, async ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const id = params.vpc_endpoint_id as string;
      const assigned = s.orgs.get(p.org_id)?.vpcEndpoints.get(p.region_id)?.has(id);
      if (!assigned) {
        return neonError(
          422,
          `VPC endpoint ${id} is not assigned to the project's organization in ${p.region_id}`,
        );
      }
      if (!s.projectVpc.has(p.id)) s.projectVpc.set(p.id, new Map());
      s.projectVpc.get(p.id)!.set(id, (await jsonBody(request)).label);
      return new HttpResponse(null, { status: 200 });
    }),
    http.delete(`${BASE}/projects/:project_id/vpc_endpoints/:vpc_endpoint_id`, ({ params }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      if (!s.projectVpc.get(params.project_id as string)?.delete(params.vpc_endpoint_id as string)) {
        return notFound(`VPC endpoint ${params.vpc_endpoint_id}`);
      }
      return new HttpResponse(null, { status: 200 });
    }),

    // JWKS
    http.get(`${BASE}/projects/:project_id/jwks`, ({ params }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      return HttpResponse.json({ jwks: s.jwks.filter((j) => j.project_id === params.project_id) });
    }),
    http.post(`${BASE}/projects/:project_id/jwks`, async ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const body = await jsonBody(request);
      if (body.branch_id && fake.branches.get(body.branch_id)?.project_id !== p.id) {
        return notFound(`branch ${body.branch_id}`);
      }
      if (s.jwks.filter((j) => j.project_id === p.id).length >= 2) {
        return neonError(422, 'a project can have at most 2 JWKS URLs', 'JWKS_LIMIT');
      }
      const jwks = {
        id: randomUUID(),
        project_id: p.id,
        jwks_url: body.jwks_url,
        provider_name: body.provider_name,
        ...(body.branch_id ? { branch_id: body.branch_id } : {}),
        ...(body.jwt_audience ? { jwt_audience: body.jwt_audience } : {}),
        role_names: ['authenticator', 'authenticated', 'anonymous'],
        created_at: now(),
        updated_at: now(),
      };
      s.jwks.push(jwks);
      const main = fake.branchesOf(p.id).find((b) => b.default);
      const operations = fake
        .startOperations(p.id, [{ action: 'apply_config', branch_id: body.branch_id ?? main?.id }])
        .map(({ pollsLeft: _p, failWith: _f, ...op }) => op);
      return HttpResponse.json({ jwks, operations }, { status: 201 });
    }),
    http.delete(`${BASE}/projects/:project_id/jwks/:jwks_id`, ({ params }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      const i = s.jwks.findIndex((j) => j.id === params.jwks_id && j.project_id === params.project_id);
      if (i < 0) return notFound(`JWKS ${params.jwks_id}`);
      return HttpResponse.json(s.jwks.splice(i, 1)[0]);
    }),

    // Project sharing, recovery, transfers, preload libraries, advisor
    http.post(`${BASE}/projects/:project_id/recover`, ({ params }) => {
      const d = s.deleted.get(params.project_id as string);
      if (!d) return notFound(`deleted project ${params.project_id}`);
      s.deleted.delete(d.project.id);
      fake.projects.set(d.project.id, d.project);
      for (const b of d.branches) fake.branches.set(b.id, b);
      return HttpResponse.json({ project: d.project, branches: d.branches });
    }),
    http.get(`${BASE}/projects/:project_id/permissions`, ({ params }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      return HttpResponse.json({ project_permissions: s.permissions.get(params.project_id as string) ?? [] });
    }),
    http.post(`${BASE}/projects/:project_id/permissions`, async ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const { email } = await jsonBody(request);
      const list = s.permissions.get(p.id) ?? [];
      s.permissions.set(p.id, list);
      const existing = list.find((x) => x.granted_to_email === email);
      if (existing) return HttpResponse.json(existing);
      const permission = { id: randomUUID(), granted_to_email: email, granted_at: now() };
      list.push(permission);
      return HttpResponse.json(permission);
    }),
    http.delete(`${BASE}/projects/:project_id/permissions/:permission_id`, ({ params }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      const list = s.permissions.get(params.project_id as string) ?? [];
      const i = list.findIndex((x) => x.id === params.permission_id);
      if (i < 0) return notFound(`permission ${params.permission_id}`);
      const [permission] = list.splice(i, 1);
      return HttpResponse.json({ ...permission, revoked_at: now() });
    }),
    http.get(`${BASE}/projects/:project_id/available_preload_libraries`, ({ params }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      return HttpResponse.json({
        libraries: [
          {
            library_name: 'timescaledb',
            description: 'Time-series',
            is_default: false,
            is_experimental: false,
            version: '2.17',
          },
          {
            library_name: 'pg_cron',
            description: 'Job scheduler',
            is_default: false,
            is_experimental: p.pg_version >= 18,
            version: '1.6',
          },
        ],
      });
    }),
    http.post(`${BASE}/projects/:project_id/transfer_requests`, async ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const ttl = (await jsonBody(request)).ttl_seconds ?? 86_400;
      const created = new Date();
      const transfer = {
        id: randomUUID(),
        project_id: p.id,
        created_at: created.toISOString(),
        expires_at: new Date(created.getTime() + ttl * 1000).toISOString(),
      };
      s.transfers.set(transfer.id, transfer);
      return HttpResponse.json(transfer, { status: 201 });
    }),
    http.put(`${BASE}/projects/:project_id/transfer_requests/:request_id`, async ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const t = s.transfers.get(params.request_id as string);
      if (!t || t.project_id !== p.id) return notFound(`transfer request ${params.request_id}`);
      if (Date.parse(t.expires_at) < Date.now()) {
        return neonError(422, 'the transfer request has expired', 'TRANSFER_REQUEST_EXPIRED');
      }
      const { org_id } = await jsonBody(request);
      if (org_id) {
        const o = s.orgs.get(org_id);
        if (!o) return notFound(`organization ${org_id}`);
        const owned = [...fake.projects.values()].filter((x) => x.org_id === org_id).length;
        if (o.projectLimit !== undefined && owned + 1 > o.projectLimit) {
          return HttpResponse.json(
            { reasons: [{ code: 'projects_count', message: 'project limit reached' }] },
            { status: 406 },
          );
        }
      }
      p.org_id = org_id ?? `org-personal-${s.user.id}`;
      s.transfers.delete(t.id);
      return new HttpResponse(null, { status: 204 });
    }),
    http.get(`${BASE}/projects/:project_id/advisors`, ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const q = new URL(request.url).searchParams;
      const branchId = q.get('branch_id');
      if (branchId && fake.branches.get(branchId)?.project_id !== p.id) return notFound(`branch ${branchId}`);
      const levels = ['INFO', 'WARN', 'ERROR'];
      const min = levels.indexOf(q.get('min_severity') ?? 'INFO');
      const category = q.get('category');
      const issues = s.advisorIssues.filter(
        (i) => levels.indexOf(i.level) >= min && (!category || i.categories.includes(category)),
      );
      return HttpResponse.json({ issues });
    }),

    // Consumption
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
