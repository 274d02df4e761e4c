/**
 * Organization VPC endpoints, project VPC restrictions and JWKS. Serves src/tools/networking.ts.
 */
import { randomUUID } from 'node:crypto';
import { HttpResponse, http, type RequestHandler } from 'msw';
import { jsonBody, notFound, now, type Params } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { accountStore } from './stores.js';

export function networkingHandlers(fake: NeonFake): RequestHandler[] {
  const s = accountStore(fake);
  const project = (p: Params) => fake.projects.get(p.project_id);
  const org = (p: Params) => s.orgs.get(p.org_id);
  return [
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
  ];
}
