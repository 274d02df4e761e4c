/**
 * msw handlers for the core of the Neon API (projects, branches, endpoints, databases, roles,
 * operations, connection URIs), backed by a {@link NeonFake}.
 */
import { HttpResponse, http } from 'msw';
import { BASE, type NeonFake, neonError, publicOperation, publicRole } from './neon-fake.js';

type Json = Record<string, any>;
type Params = Record<string, string>;

async function jsonBody(request: Request): Promise<Json> {
  const text = await request.text();
  return text ? JSON.parse(text) : {};
}

export function coreHandlers(fake: NeonFake) {
  const project = (p: Params) => fake.projects.get(p.project_id);
  const branch = (p: Params) => {
    const b = fake.branches.get(p.branch_id);
    return b && b.project_id === p.project_id ? b : undefined;
  };
  const endpoint = (p: Params) => {
    const e = fake.endpoints.get(p.endpoint_id);
    return e && e.project_id === p.project_id ? e : undefined;
  };
  const notFound = (what: string) => neonError(404, `${what} not found`, 'NOT_FOUND');
  const ops = (projectId: string, actions: { action: string; branch_id?: string; endpoint_id?: string }[]) =>
    fake.startOperations(projectId, actions).map(publicOperation);

  /** Runs `fn` with the project and (when named) the branch, answering 404 for what is missing. */
  const withBranch =
    (
      fn: (args: {
        params: Params;
        request: Request;
        project: Json;
        branch: Json;
      }) => Response | Promise<Response>,
    ) =>
    ({ params: raw, request }: { params: Record<string, unknown>; request: Request }) => {
      const params = raw as Params;
      const p = project(params);
      if (!p) return notFound(`project ${params.project_id}`);
      const b = branch(params);
      if (!b) return notFound(`branch ${params.branch_id}`);
      return fn({ params, request, project: p, branch: b });
    };

  return [
    // Projects
    http.get(`${BASE}/projects`, ({ request }) => {
      const url = new URL(request.url);
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
      fake.projects.delete(p.id);
      return HttpResponse.json({ project: p });
    }),

    // Operations
    http.get(`${BASE}/projects/:project_id/operations`, ({ params, request }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      const url = new URL(request.url);
      const limit = Number(url.searchParams.get('limit') ?? 10);
      const cursor = url.searchParams.get('cursor');
      let all = [...fake.operations.values()].filter((o) => o.project_id === params.project_id).reverse();
      if (cursor) all = all.slice(all.findIndex((o) => o.id === cursor) + 1);
      const page = all.slice(0, limit);
      return HttpResponse.json({
        operations: page.map(publicOperation),
        pagination: { cursor: page.at(-1)?.id ?? 'end' },
      });
    }),
    http.get(`${BASE}/projects/:project_id/operations/:operation_id`, ({ params }) => {
      const op = fake.operations.get(params.operation_id as string);
      if (!op || op.project_id !== params.project_id) return notFound(`operation ${params.operation_id}`);
      return HttpResponse.json({ operation: fake.pollOperation(op) });
    }),

    // Branches
    http.get(`${BASE}/projects/:project_id/branches`, ({ params, request }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      const url = new URL(request.url);
      const search = url.searchParams.get('search');
      const limit = Number(url.searchParams.get('limit') ?? 10000);
      const offset = Number(url.searchParams.get('cursor') ?? 0);
      let all = fake.branchesOf(params.project_id as string);
      if (search) all = all.filter((b) => b.name.includes(search) || b.id.includes(search));
      if (url.searchParams.get('include_deleted') === 'true') {
        for (const d of fake.deletedBranches.values()) {
          if (d.branch.project_id !== params.project_id) continue;
          if (search && !d.branch.name.includes(search) && !d.branch.id.includes(search)) continue;
          const until = new Date(Date.parse(d.deleted_at) + 7 * 86_400_000).toISOString();
          all = [
            ...all,
            {
              ...d.branch,
              recovery: { deleted_at: d.deleted_at, recoverable_until: until, deletion_method: 'user' },
            },
          ];
        }
      }
      const page = all.slice(offset, offset + limit);
      const more = offset + limit < all.length;
      return HttpResponse.json({ branches: page, pagination: more ? { next: String(offset + limit) } : {} });
    }),
    http.get(`${BASE}/projects/:project_id/branches/count`, ({ params, request }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      const search = new URL(request.url).searchParams.get('search');
      const all = fake.branchesOf(params.project_id as string);
      return HttpResponse.json({ count: all.filter((b) => !search || b.name.includes(search)).length });
    }),
    http.post(`${BASE}/projects/:project_id/branches`, async ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const body = await jsonBody(request);
      const parent = body.branch?.parent_id
        ? fake.branches.get(body.branch.parent_id)
        : fake.branchesOf(p.id).find((b) => b.default);
      if (!parent) return notFound(`parent branch ${body.branch?.parent_id}`);
      if (body.branch?.name && fake.branchesOf(p.id).some((b) => b.name === body.branch.name)) {
        return neonError(
          409,
          `branch with name "${body.branch.name}" already exists`,
          'BRANCH_ALREADY_EXISTS',
        );
      }
      const b = fake.makeBranch(p.id, {
        name: body.branch?.name,
        parent_id: parent.id,
        protected: body.branch?.protected ?? false,
        current_state: 'init',
      });
      for (const d of fake.databasesOf(parent.id)) fake.makeDatabase(b.id, d.name, d.owner_name);
      for (const r of fake.rolesOf(parent.id)) fake.makeRole(b.id, r.name, { password: r.password });
      const endpoints = (body.endpoints ?? []).map((e: Json) =>
        fake.makeEndpoint(p.id, b.id, e.type, {
          autoscaling_limit_min_cu: e.autoscaling_limit_min_cu,
          autoscaling_limit_max_cu: e.autoscaling_limit_max_cu,
          suspend_timeout_seconds: e.suspend_timeout_seconds,
        }),
      );
      b.current_state = 'ready';
      const operations = ops(p.id, [
        { action: 'create_branch', branch_id: b.id },
        ...endpoints.map((e: Json) => ({ action: 'start_compute', branch_id: b.id, endpoint_id: e.id })),
      ]);
      return HttpResponse.json(
        {
          branch: b,
          endpoints,
          operations,
          databases: fake.databasesOf(b.id),
          roles: fake.rolesOf(b.id).map(publicRole),
        },
        { status: 201 },
      );
    }),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id`,
      withBranch(({ branch: b }) => HttpResponse.json({ branch: b })),
    ),
    http.patch(
      `${BASE}/projects/:project_id/branches/:branch_id`,
      withBranch(async ({ request, branch: b, project: p }) => {
        const changes = (await jsonBody(request)).branch ?? {};
        Object.assign(b, changes, { updated_at: new Date().toISOString() });
        return HttpResponse.json({
          branch: b,
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),
    http.delete(
      `${BASE}/projects/:project_id/branches/:branch_id`,
      withBranch(({ branch: b, project: p }) => {
        if (b.default) return neonError(422, 'cannot delete the default branch', 'BRANCH_IS_DEFAULT');
        if (b.protected) return neonError(422, 'cannot delete a protected branch', 'BRANCH_PROTECTED');
        if (fake.branchesOf(p.id).some((c) => c.parent_id === b.id)) {
          return neonError(422, 'branch has children', 'BRANCH_HAS_CHILDREN');
        }
        fake.deletedBranches.set(b.id, {
          branch: b,
          endpoints: fake.endpointsOf(p.id, b.id),
          deleted_at: new Date().toISOString(),
        });
        fake.branches.delete(b.id);
        for (const e of fake.endpointsOf(p.id, b.id)) fake.endpoints.delete(e.id);
        return HttpResponse.json({
          branch: b,
          operations: ops(p.id, [{ action: 'delete_timeline', branch_id: b.id }]),
        });
      }),
    ),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/restore`,
      withBranch(async ({ request, branch: b, project: p }) => {
        const body = await jsonBody(request);
        if (!fake.branches.get(body.source_branch_id)) return notFound(`branch ${body.source_branch_id}`);
        if (body.preserve_under_name)
          fake.makeBranch(p.id, { name: body.preserve_under_name, parent_id: b.id });
        b.updated_at = new Date().toISOString();
        b.last_reset_at = b.updated_at;
        return HttpResponse.json({
          branch: b,
          operations: ops(p.id, [{ action: 'create_timeline', branch_id: b.id }]),
        });
      }),
    ),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/set_as_default`,
      withBranch(({ branch: b, project: p }) => {
        for (const other of fake.branchesOf(p.id)) other.default = other.id === b.id;
        return HttpResponse.json({ branch: b, operations: [] });
      }),
    ),

    http.post(`${BASE}/projects/:project_id/branches/:branch_id/recover`, ({ params }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const d = fake.deletedBranches.get(params.branch_id as string);
      if (!d || d.branch.project_id !== p.id) return notFound(`deleted branch ${params.branch_id}`);
      fake.deletedBranches.delete(d.branch.id);
      const { expires_at: _ttl, ...b } = d.branch;
      fake.branches.set(b.id, b);
      for (const e of d.endpoints) {
        e.current_state = 'idle';
        fake.endpoints.set(e.id, e);
      }
      return HttpResponse.json({ branch: b, endpoints: d.endpoints });
    }),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/finalize_restore`,
      withBranch(async ({ request, branch: b, project: p }) => {
        if (b.restore_status !== 'restored' || !b.restored_as) {
          return neonError(422, 'branch is not a restored branch awaiting finalization', 'INVALID_STATE');
        }
        const original = fake.branches.get(b.restored_as);
        if (!original) return notFound(`branch ${b.restored_as}`);
        const body = await jsonBody(request);
        const originalName = original.name;
        original.name = body.name ?? `${originalName}_old_${Date.now()}`;
        b.name = originalName;
        b.restore_status = 'finalized';
        for (const e of fake.endpointsOf(p.id, original.id)) e.branch_id = b.id;
        return HttpResponse.json({
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),

    // Endpoints (computes)
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

    // Databases
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/databases`,
      withBranch(({ branch: b }) => HttpResponse.json({ databases: fake.databasesOf(b.id) })),
    ),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/databases`,
      withBranch(async ({ request, branch: b, project: p }) => {
        const { name, owner_name } = (await jsonBody(request)).database ?? {};
        if (fake.databasesOf(b.id).some((d) => d.name === name))
          return neonError(409, `database "${name}" already exists`);
        if (!fake.rolesOf(b.id).some((r) => r.name === owner_name)) return notFound(`role ${owner_name}`);
        const db = fake.makeDatabase(b.id, name, owner_name);
        return HttpResponse.json(
          { database: db, operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]) },
          { status: 201 },
        );
      }),
    ),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/databases/:database_name`,
      withBranch(({ params, branch: b }) => {
        const db = fake.databasesOf(b.id).find((d) => d.name === params.database_name);
        return db ? HttpResponse.json({ database: db }) : notFound(`database ${params.database_name}`);
      }),
    ),
    http.patch(
      `${BASE}/projects/:project_id/branches/:branch_id/databases/:database_name`,
      withBranch(async ({ params, request, branch: b, project: p }) => {
        const db = fake.databasesOf(b.id).find((d) => d.name === params.database_name);
        if (!db) return notFound(`database ${params.database_name}`);
        Object.assign(db, (await jsonBody(request)).database ?? {});
        return HttpResponse.json({
          database: db,
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),
    http.delete(
      `${BASE}/projects/:project_id/branches/:branch_id/databases/:database_name`,
      withBranch(({ params, branch: b, project: p }) => {
        const db = fake.databasesOf(b.id).find((d) => d.name === params.database_name);
        if (!db) return notFound(`database ${params.database_name}`);
        fake.databases.splice(fake.databases.indexOf(db), 1);
        return HttpResponse.json({
          database: db,
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),

    // Roles
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/roles`,
      withBranch(({ branch: b }) => HttpResponse.json({ roles: fake.rolesOf(b.id).map(publicRole) })),
    ),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/roles`,
      withBranch(async ({ request, branch: b, project: p }) => {
        const { name, no_login } = (await jsonBody(request)).role ?? {};
        if (fake.rolesOf(b.id).some((r) => r.name === name))
          return neonError(409, `role "${name}" already exists`);
        const role = fake.makeRole(b.id, name, no_login ? { no_login } : {});
        return HttpResponse.json(
          { role, operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]) },
          { status: 201 },
        );
      }),
    ),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name`,
      withBranch(({ params, branch: b }) => {
        const role = fake.rolesOf(b.id).find((r) => r.name === params.role_name);
        return role ? HttpResponse.json({ role: publicRole(role) }) : notFound(`role ${params.role_name}`);
      }),
    ),
    http.delete(
      `${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name`,
      withBranch(({ params, branch: b, project: p }) => {
        const role = fake.rolesOf(b.id).find((r) => r.name === params.role_name);
        if (!role) return notFound(`role ${params.role_name}`);
        fake.roles.splice(fake.roles.indexOf(role), 1);
        return HttpResponse.json({
          role: publicRole(role),
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name/reveal_password`,
      withBranch(({ params, branch: b }) => {
        const role = fake.rolesOf(b.id).find((r) => r.name === params.role_name);
        return role ? HttpResponse.json({ password: role.password }) : notFound(`role ${params.role_name}`);
      }),
    ),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name/reset_password`,
      withBranch(({ params, branch: b, project: p }) => {
        const role = fake.rolesOf(b.id).find((r) => r.name === params.role_name);
        if (!role) return notFound(`role ${params.role_name}`);
        role.password = `pw-reset-${Date.now().toString(36)}`;
        return HttpResponse.json({
          role,
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),

    // Connection URI
    http.get(`${BASE}/projects/:project_id/connection_uri`, ({ params, request }) => {
      const p = project(params as Params);
      if (!p) return notFound(`project ${params.project_id}`);
      const q = new URL(request.url).searchParams;
      const b = q.get('branch_id')
        ? fake.branches.get(q.get('branch_id')!)
        : fake.branchesOf(p.id).find((x) => x.default);
      if (!b || b.project_id !== p.id) return notFound(`branch ${q.get('branch_id')}`);
      const database = q.get('database_name')!;
      const roleName = q.get('role_name')!;
      const role = fake.rolesOf(b.id).find((r) => r.name === roleName);
      if (!role) return notFound(`role ${roleName}`);
      if (!fake.databasesOf(b.id).some((d) => d.name === database)) return notFound(`database ${database}`);
      const pooled = q.get('pooled') === 'true';
      if (fake.connectionUri) {
        return HttpResponse.json({
          uri: fake.connectionUri({ project_id: p.id, branch_id: b.id, database, role: roleName, pooled }),
        });
      }
      const ep = fake.endpointsOf(p.id, b.id).find((e) => e.type === 'read_write');
      if (!ep) return neonError(404, `branch ${b.id} has no read-write endpoint`);
      const host = pooled ? ep.host.replace(ep.id, `${ep.id}-pooler`) : ep.host;
      return HttpResponse.json({
        uri: `postgresql://${roleName}:${role.password}@${host}/${database}?sslmode=require`,
      });
    }),
  ];
}
