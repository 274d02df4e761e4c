/**
 * Endpoints (computes): list, create, update, delete, start, suspend, restart. Serves src/tools/computes.ts.
 */
import { HttpResponse, http, type RequestHandler } from 'msw';
import { branchScoped, jsonBody, notFound, type Params, resourceKit } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';

export function computeHandlers(fake: NeonFake): RequestHandler[] {
  const project = (p: Params) => fake.projects.get(p.project_id);
  const withBranch = branchScoped(fake);
  const endpoint = (p: Params) => {
    const e = fake.endpoints.get(p.endpoint_id);
    return e && e.project_id === p.project_id ? e : undefined;
  };
  const { ops } = resourceKit(fake);
  return [
    http.get(`${BASE}/projects/:project_id/endpoints`, ({ params }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      return HttpResponse.json({ endpoints: fake.endpointsOf(params.project_id as string) });
    }),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/endpoints`,
      withBranch(({ project: p, branch: b }) =>
        HttpResponse.json({ endpoints: fake.endpointsOf(p.id, b.id) }),
      ),
    ),
    http.post(`${BASE}/projects/:project_id/endpoints`, async ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const body = (await jsonBody(request)).endpoint ?? {};
      const b = fake.branches.get(body.branch_id);
      if (!b) return notFound(`branch ${body.branch_id}`);
      if (body.type === 'read_write' && fake.endpointsOf(p.id, b.id).some((e) => e.type === 'read_write')) {
        return neonError(409, 'branch already has a read-write endpoint', 'ENDPOINTS_LIMIT_EXCEEDED');
      }
      const { branch_id: _b, type, ...rest } = body;
      const e = fake.makeEndpoint(p.id, b.id, type, rest);
      return HttpResponse.json(
        {
          endpoint: e,
          operations: ops(p.id, [{ action: 'start_compute', branch_id: b.id, endpoint_id: e.id }]),
        },
        { status: 201 },
      );
    }),
    http.get(`${BASE}/projects/:project_id/endpoints/:endpoint_id`, ({ params }) => {
      const e = endpoint(params as Params);
      return e ? HttpResponse.json({ endpoint: e }) : notFound(`endpoint ${params.endpoint_id}`);
    }),
    http.patch(`${BASE}/projects/:project_id/endpoints/:endpoint_id`, async ({ params, request }) => {
      const e = endpoint(params as Params);
      if (!e) return notFound(`endpoint ${params.endpoint_id}`);
      Object.assign(e, (await jsonBody(request)).endpoint ?? {}, { updated_at: new Date().toISOString() });
      return HttpResponse.json({
        endpoint: e,
        operations: ops(e.project_id, [
          { action: 'apply_config', branch_id: e.branch_id, endpoint_id: e.id },
        ]),
      });
    }),
    http.delete(`${BASE}/projects/:project_id/endpoints/:endpoint_id`, ({ params }) => {
      const e = endpoint(params as Params);
      if (!e) return notFound(`endpoint ${params.endpoint_id}`);
      fake.endpoints.delete(e.id);
      return HttpResponse.json({
        endpoint: e,
        operations: ops(e.project_id, [
          { action: 'suspend_compute', branch_id: e.branch_id, endpoint_id: e.id },
        ]),
      });
    }),
    ...(['start', 'suspend', 'restart'] as const).map((verb) =>
      http.post(`${BASE}/projects/:project_id/endpoints/:endpoint_id/${verb}`, ({ params }) => {
        const e = endpoint(params as Params);
        if (!e) return notFound(`endpoint ${params.endpoint_id}`);
        e.current_state = verb === 'suspend' ? 'idle' : 'active';
        const actions =
          verb === 'restart'
            ? ['suspend_compute', 'start_compute']
            : [verb === 'start' ? 'start_compute' : 'suspend_compute'];
        return HttpResponse.json({
          endpoint: e,
          operations: ops(
            e.project_id,
            actions.map((action) => ({ action, branch_id: e.branch_id, endpoint_id: e.id })),
          ),
        });
      }),
    ),
  ];
}
