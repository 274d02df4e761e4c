/** Projects: list, create (with its first branch), get, rename, delete. */
import type { Doc } from '../catalog.js';
import { type LocalCore, now, visible } from './core.js';

/** The project's first branch with its compute, database and owner role. */
export async function createProject(api: LocalCore, body: Doc): Promise<[number, Doc]> {
  const project = await api.makeProject(body);
  const spec = body.branch ?? {};
  const branch = await api.makeBranch(project.id, { name: spec.name ?? 'main', default: true });
  const endpoint = await api.makeEndpoint(branch);
  const role = await api.makeRole(branch, spec.role_name ?? 'neondb_owner');
  const database = await api.makeDatabase(branch, spec.database_name ?? 'neondb', role.name);
  return [
    201,
    {
      project: visible(project),
      branch: visible(branch),
      endpoints: [visible(endpoint)],
      databases: [visible(database)],
      roles: [{ ...visible(role), password: role._password }],
      operations: api.ops(project.id, [
        { action: 'create_timeline', branch_id: branch.id },
        { action: 'start_compute', branch_id: branch.id, endpoint_id: endpoint.id },
      ]),
      connection_uris: api.connectionUris(branch),
    },
  ];
}

export function projectRoutes(api: LocalCore): void {
  const P = '/projects/{project_id}';

  api.on('GET', '/projects', ({ query }) => {
    const search = query.get('search');
    const all = api.catalog.list(
      'project',
      (p) => !search || p.name.includes(search) || p.id.includes(search),
    );
    const { items, cursor } = api.page(all, query);
    return [
      200,
      {
        projects: items.map(visible),
        pagination: { cursor: cursor ?? query.get('cursor') ?? '' },
        applications: {},
        integrations: {},
      },
    ];
  });
  api.on('POST', '/projects', ({ body }) => createProject(api, body.project ?? {}));
  api.on('GET', P, ({ params }) => [200, { project: visible(api.project(params.project_id)) }]);
  api.on('PATCH', P, async ({ params, body }) => {
    const p = api.project(params.project_id);
    const name = body.project?.name;
    const updated = await api.catalog.put('project', p.id, {
      ...p,
      ...(typeof name === 'string' ? { name } : {}),
      updated_at: now(),
    });
    return [200, { project: visible(updated), operations: [] }];
  });
  api.on('DELETE', P, async ({ params }) => {
    const p = api.project(params.project_id);
    // Children first: a database copy's objects never depend on the parent, but roles are dropped
    // branch by branch.
    const branches = api.branchesOf(p.id).sort((a, b) => b.created_at.localeCompare(a.created_at));
    for (const b of branches) await api.dropBranch(b);
    await api.catalog.remove('project', p.id);
    return [200, { project: visible(p) }];
  });
}
