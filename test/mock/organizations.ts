/**
 * Organizations: details, API keys, members, invitations, project transfers between them.
 * Serves src/tools/organizations.ts; seed with `seedOrg` and `addMember` (stores.ts).
 */
import { randomUUID } from 'node:crypto';
import { HttpResponse, http, type RequestHandler } from 'msw';
import { type Json, jsonBody, notFound, now, type Params } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { accountStore } from './stores.js';

export function organizationHandlers(fake: NeonFake): RequestHandler[] {
  const s = accountStore(fake);
  const _project = (p: Params) => fake.projects.get(p.project_id);
  const org = (p: Params) => s.orgs.get(p.org_id);
  return [
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
  ];
}
