/** Computes (the one server, always on) and the connection URI of a branch's database and role. */
import type { Doc } from '../catalog.js';
import { LocalApiError, type LocalCore, type Params, type Request, visible } from './core.js';

export function computeRoutes(api: LocalCore): void {
  const P = '/projects/{project_id}';
  const B = `${P}/branches/{branch_id}`;

  const endpoints = ({ params }: Request): [number, Doc] => {
    api.project(params.project_id);
    if (params.branch_id) api.branch(params.project_id, params.branch_id);
    return [200, { endpoints: api.endpointsOf(params.project_id, params.branch_id).map(visible) }];
  };
  api.on('GET', `${B}/endpoints`, endpoints);
  api.on('GET', `${P}/endpoints`, endpoints);
  const endpoint = (params: Params): Doc => {
    api.project(params.project_id);
    const e = api.catalog.items.endpoint.get(params.endpoint_id);
    if (!e || e.project_id !== params.project_id)
      throw new LocalApiError(404, `endpoint ${params.endpoint_id} not found`);
    return e;
  };
  api.on('GET', `${P}/endpoints/{endpoint_id}`, ({ params }) => [
    200,
    { endpoint: visible(endpoint(params)) },
  ]);
  // Starting, suspending or restarting the one local server is not done for a compute: it is always on.
  for (const verb of ['start', 'suspend', 'restart'] as const) {
    api.on('POST', `${P}/endpoints/{endpoint_id}/${verb}`, ({ params }) => {
      const e = endpoint(params);
      const action = verb === 'suspend' ? 'suspend_compute' : 'start_compute';
      return [
        200,
        {
          endpoint: visible(e),
          operations: api.ops(e.project_id, [{ action, branch_id: e.branch_id, endpoint_id: e.id }]),
        },
      ];
    });
  }

  api.on('GET', `${P}/connection_uri`, ({ params, query }) => {
    const p = api.project(params.project_id);
    const branchId = query.get('branch_id') ?? api.branchesOf(p.id).find((b) => b.default)?.id ?? '';
    const b = api.branch(p.id, branchId);
    const endpointId = query.get('endpoint_id');
    if (endpointId && !api.endpointsOf(p.id, b.id).some((e) => e.id === endpointId))
      throw new LocalApiError(404, `endpoint ${endpointId} not found on branch ${b.id}`);
    const d = api.database(b.id, query.get('database_name') ?? '');
    const r = api.role(b.id, query.get('role_name') ?? '');
    return [200, { uri: api.uri(d, r) }];
  });
}
