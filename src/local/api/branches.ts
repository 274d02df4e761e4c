/** Branches: list, count, create (a copy of the parent as it is now), get, rename or protect, delete, set as default. */
import type { Doc } from '../catalog.js';
import { annotationOf, LocalApiError, type LocalCore, now, visible } from './core.js';
import { moveRestorePoints } from './restore-from.js';

/**
 * A child branch: the parent's roles again (same names and passwords, new login roles on the server),
 * then a copy of each of the parent's databases, whose objects are handed to the new roles.
 */
async function createBranch(api: LocalCore, projectId: string, body: Doc): Promise<[number, Doc]> {
  const spec = body.branch ?? {};
  for (const field of ['parent_lsn', 'parent_timestamp', 'init_source'] as const) {
    if (spec[field] !== undefined && !(field === 'init_source' && spec[field] === 'parent-data'))
      throw new LocalApiError(
        400,
        `branch.${field} is not available in local mode (neon-mcp --local): a branch is a copy of its parent as it is now.`,
      );
  }
  const branches = api.branchesOf(projectId);
  const parent = spec.parent_id ? api.branch(projectId, spec.parent_id) : branches.find((b) => b.default);
  if (!parent) throw new LocalApiError(400, `project ${projectId} has no default branch to branch from`);
  if (spec.name && branches.some((b) => b.name === spec.name))
    throw new LocalApiError(409, `branch ${spec.name} already exists`);
  const branch = await api.makeBranch(projectId, {
    name: spec.name,
    parent_id: parent.id,
    parent_timestamp: now(),
    ...(spec.protected !== undefined ? { protected: Boolean(spec.protected) } : {}),
    ...(spec.expires_at ? { expires_at: spec.expires_at } : {}),
    // Kept as given and answered on get and list, as Neon does: pending migrations and tunings keep
    // their record there (src/neon/pending.ts).
    ...(body.annotation_value ? { _annotations: { ...body.annotation_value } } : {}),
  });
  const endpoints: Doc[] = [];
  try {
    await api.copyFromParent(branch, parent);
    for (const e of (body.endpoints as Doc[] | undefined) ?? []) {
      if (e.type === 'read_write' && endpoints.some((x) => x.type === 'read_write'))
        throw new LocalApiError(400, 'a branch can have one read_write compute');
      endpoints.push(await api.makeEndpoint(branch, e.type ?? 'read_write'));
    }
  } catch (e) {
    await api.dropBranch(branch).catch(() => undefined);
    throw e;
  }
  const actions = [
    { action: 'create_branch', branch_id: branch.id },
    ...endpoints.map((e) => ({ action: 'start_compute', branch_id: branch.id, endpoint_id: e.id })),
  ];
  return [
    201,
    {
      branch: visible(branch),
      endpoints: endpoints.map(visible),
      operations: api.ops(projectId, actions),
      roles: api.rolesOf(branch.id).map(visible),
      databases: api.databasesOf(branch.id).map(visible),
      connection_uris: endpoints.length ? api.connectionUris(branch) : [],
    },
  ];
}

export function branchRoutes(api: LocalCore): void {
  const P = '/projects/{project_id}';
  const B = `${P}/branches/{branch_id}`;

  api.on('GET', `${P}/branches`, ({ params, query }) => {
    api.project(params.project_id);
    const search = query.get('search');
    const all = api
      .branchesOf(params.project_id)
      .filter((b) => !search || b.name.includes(search) || b.id.includes(search));
    // AnnotationsMapResponse: the annotations of the listed branches that have any, by branch ID.
    const annotations = Object.fromEntries(
      all.filter((b) => b._annotations).map((b) => [b.id, annotationOf(b)]),
    );
    return [200, { branches: all.map(visible), annotations }];
  });
  api.on('GET', `${P}/branches/count`, ({ params }) => {
    api.project(params.project_id);
    return [200, { count: api.branchesOf(params.project_id).length }];
  });
  api.on('POST', `${P}/branches`, ({ params, body }) => {
    api.project(params.project_id);
    return createBranch(api, params.project_id, body);
  });
  api.on('GET', B, ({ params }) => {
    const b = api.branch(params.project_id, params.branch_id);
    return [200, { branch: visible(b), annotation: annotationOf(b) }];
  });
  api.on('PATCH', B, async ({ params, body }) => {
    const b = api.branch(params.project_id, params.branch_id);
    const spec = body.branch ?? {};
    if (spec.name && api.branchesOf(b.project_id).some((x) => x.name === spec.name && x.id !== b.id))
      throw new LocalApiError(409, `branch ${spec.name} already exists`);
    const updated = await api.catalog.put('branch', b.id, {
      ...b,
      ...(spec.name ? { name: spec.name } : {}),
      ...(spec.protected !== undefined ? { protected: Boolean(spec.protected) } : {}),
      ...(spec.expires_at !== undefined ? { expires_at: spec.expires_at ?? undefined } : {}),
      updated_at: now(),
    });
    return [200, { branch: visible(updated), operations: [] }];
  });
  api.on('DELETE', B, async ({ params }) => {
    const b = api.branch(params.project_id, params.branch_id);
    if (b.default)
      throw new LocalApiError(400, `branch ${b.id} is the project's default branch and cannot be deleted`);
    if (b.protected) throw new LocalApiError(400, `branch ${b.id} is protected and cannot be deleted`);
    await moveRestorePoints(api, b, 'drop');
    const child = api.branchesOf(b.project_id).find((x) => x.parent_id === b.id);
    if (child)
      throw new LocalApiError(400, `branch ${b.id} has child branches (${child.id}): delete them first`);
    const endpoints = api.endpointsOf(b.project_id, b.id);
    await api.opts.beforeCopy?.(b.id);
    await api.dropBranch(b);
    return [
      200,
      {
        branch: visible({ ...b, current_state: 'deleted' }),
        operations: api.ops(b.project_id, [
          ...endpoints.map((e) => ({ action: 'suspend_compute', branch_id: b.id, endpoint_id: e.id })),
          { action: 'delete_timeline', branch_id: b.id },
        ]),
      },
    ];
  });
  api.on('POST', `${B}/set_as_default`, async ({ params }) => {
    const b = api.branch(params.project_id, params.branch_id);
    for (const x of api.branchesOf(b.project_id).filter((x) => x.default && x.id !== b.id))
      await api.catalog.put('branch', x.id, { ...x, default: false, updated_at: now() });
    const updated = await api.catalog.put('branch', b.id, { ...b, default: true, updated_at: now() });
    return [200, { branch: visible(updated), operations: [] }];
  });
}
