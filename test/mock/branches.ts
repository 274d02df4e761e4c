/**
 * Branches: list, count, create (copying the parent's databases and roles; annotations kept as given),
 * update, delete (kept for recovery), restore, set default, recover, finalize restore. Serves
 * src/tools/branches.ts, and the temporary branches of src/tools/schema.ts (their annotations).
 */
import { HttpResponse, http, type RequestHandler } from 'msw';
import { type Json, jsonBody, notFound, type Params, resourceKit } from './common.js';
import { BASE, type NeonFake, neonError, publicRole } from './neon-fake.js';

export function branchHandlers(fake: NeonFake): RequestHandler[] {
  const project = (p: Params) => fake.projects.get(p.project_id);
  const { withBranch, ops } = resourceKit(fake);
  return [
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
      // AnnotationsMapResponse: the annotations of the listed branches that have any, by branch ID.
      const annotations = Object.fromEntries(
        page.filter((b) => fake.annotations.has(b.id)).map((b) => [b.id, fake.annotationOf(b.id)]),
      );
      return HttpResponse.json({
        branches: page,
        annotations,
        pagination: more ? { next: String(offset + limit) } : {},
      });
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
      // As Neon: RFC 3339 with at most seconds' precision, in the future.
      const expires = body.branch?.expires_at;
      if (
        expires !== undefined &&
        (typeof expires !== 'string' ||
          !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/.test(expires) ||
          Date.parse(expires) <= Date.now())
      ) {
        return neonError(400, `invalid expires_at: ${expires}`, 'BAD_REQUEST');
      }
      const b = fake.makeBranch(p.id, {
        name: body.branch?.name,
        ...(expires ? { expires_at: expires } : {}),
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
      if (body.annotation_value) {
        const t = new Date().toISOString();
        fake.annotations.set(b.id, { value: { ...body.annotation_value }, created_at: t, updated_at: t });
      }
      b.current_state = 'ready';
      await fake.onBranchCreated?.(b);
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
      withBranch(({ branch: b }) => HttpResponse.json({ branch: b, annotation: fake.annotationOf(b.id) })),
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
        const source = fake.branches.get(body.source_branch_id);
        if (!source) return notFound(`branch ${body.source_branch_id}`);
        const pointInTime = body.source_lsn !== undefined || body.source_timestamp !== undefined;
        // As the description of BranchRestoreRequest says.
        if (source.id === b.id && !pointInTime)
          return neonError(400, 'source_timestamp or source_lsn is required to restore from own history');
        const children = fake.branchesOf(p.id).filter((c) => c.parent_id === b.id);
        if ((source.id === b.id || children.length) && !body.preserve_under_name)
          return neonError(400, 'preserve_under_name is required', 'BAD_REQUEST');
        let preserved: Json | undefined;
        if (body.preserve_under_name) {
          if (fake.branchesOf(p.id).some((x) => x.name === body.preserve_under_name))
            return neonError(409, `branch with name "${body.preserve_under_name}" already exists`);
          preserved = fake.makeBranch(p.id, { name: body.preserve_under_name, parent_id: b.id });
          for (const d of fake.databasesOf(b.id)) fake.makeDatabase(preserved.id, d.name, d.owner_name);
          for (const r of fake.rolesOf(b.id)) fake.makeRole(preserved.id, r.name, { password: r.password });
          // The branch's children go with its old state.
          for (const c of children) c.parent_id = preserved.id;
        }
        await fake.onRestore?.({ target: b.id, source: source.id, preserved: preserved?.id, pointInTime });
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
  ];
}
