/**
 * Projects: CRUD, projects shared with the user, deleted-project recovery, access (permissions),
 * transfer requests, preload libraries and the advisor. Serves src/tools/projects.ts.
 *
 * `/projects/shared` comes before `/projects/:project_id`, which would otherwise claim it.
 */
import { randomUUID } from 'node:crypto';
import { HttpResponse, http, type RequestHandler } from 'msw';
import { jsonBody, notFound, now, type Params, resourceKit } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { accountStore } from './stores.js';

export function projectHandlers(fake: NeonFake): RequestHandler[] {
  const s = accountStore(fake);
  const project = (p: Params) => fake.projects.get(p.project_id);
  const { ops } = resourceKit(fake);
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
      const url = new URL(request.url);
      if (url.searchParams.get('recoverable') === 'true') {
        const projects = [...s.deleted.values()].map((d) => d.project);
        return HttpResponse.json({ projects, pagination: { cursor: projects.at(-1)?.id ?? 'end' } });
      }
      const search = url.searchParams.get('search');
      const limit = Number(url.searchParams.get('limit') ?? 10);
      const cursor = url.searchParams.get('cursor');
      let all = [...fake.projects.values()].sort((a, b) => a.id.localeCompare(b.id));
      if (search) all = all.filter((p) => p.name.includes(search) || p.id.includes(search));
      if (cursor) all = all.filter((p) => p.id > cursor);
      const page = all.slice(0, limit);
      return HttpResponse.json({
        projects: page,
        pagination: { cursor: page.at(-1)?.id ?? cursor ?? 'end' },
      });
    }),
    http.post(`${BASE}/projects`, async ({ request }) => {
      const body = (await jsonBody(request)).project ?? {};
      const p = fake.makeProject({
        name: body.name,
        region_id: body.region_id,
        pg_version: body.pg_version,
        org_id: body.org_id,
      });
      const b = fake.makeBranch(p.id, { name: body.branch?.name ?? 'main', default: true });
      const e = fake.makeEndpoint(p.id, b.id, 'read_write');
      const db = fake.makeDatabase(
        b.id,
        body.branch?.database_name ?? 'neondb',
        body.branch?.role_name ?? 'neondb_owner',
      );
      const role = fake.makeRole(b.id, body.branch?.role_name ?? 'neondb_owner');
      return HttpResponse.json(
        {
          project: p,
          branch: b,
          endpoints: [e],
          databases: [db],
          roles: [role],
          operations: ops(p.id, [
            { action: 'create_timeline', branch_id: b.id },
            { action: 'start_compute', branch_id: b.id, endpoint_id: e.id },
          ]),
          connection_uris: [
            {
              connection_uri: `postgresql://${role.name}:${role.password}@${e.host}/${db.name}?sslmode=require`,
              connection_parameters: {
                database: db.name,
                password: role.password,
                role: role.name,
                host: e.host,
                pooler_host: e.host,
              },
            },
          ],
        },
        { status: 201 },
      );
    }),
    http.get(`${BASE}/projects/:project_id`, ({ params }) => {
      const p = project(params as Params);
      return p ? HttpResponse.json({ project: p }) : notFound(`project ${params.project_id}`);
    }),
    http.patch(`${BASE}/projects/:project_id`, async ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const changes = (await jsonBody(request)).project ?? {};
      Object.assign(p, changes, { updated_at: new Date().toISOString() });
      return HttpResponse.json({ project: p, operations: [] });
    }),
    http.delete(`${BASE}/projects/:project_id`, ({ params }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      // Kept, with its branches, so it can be recovered.
      s.deleted.set(p.id, { project: p, branches: fake.branchesOf(p.id) });
      fake.projects.delete(p.id);
      return HttpResponse.json({ project: p });
    }),
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
  ];
}
