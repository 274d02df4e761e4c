import { HttpResponse, http, type RequestHandler } from 'msw';
import { type Json, jsonBody, notFound, now, resourceKit } from './common.js';
import { BASE, type NeonFake } from './neon-fake.js';
import { features } from './stores.js';

export function snapshotHandlers(fake: NeonFake): RequestHandler[] {
  const s = features(fake);
  const { withBranch, withProject, ops } = resourceKit(fake);
  const B = `${BASE}/projects/:project_id/branches/:branch_id`;
  const publicSnapshot = ({ project_id: _p, ...rest }: Json) => rest;
  return [
    http.post(
      `${B}/snapshot`,
      withBranch(({ request, project, branch }) => {
        const q = new URL(request.url).searchParams;
        const id = fake.id('snap');
        const t = now();
        const snap = {
          id,
          project_id: project.id,
          name: q.get('name') ?? `${branch.name}@${t}`,
          source_branch_id: branch.id,
          created_at: t,
          manual: true,
          ...(q.get('timestamp') ? { timestamp: q.get('timestamp') } : { lsn: q.get('lsn') ?? '0/1A2B3C4' }),
          ...(q.get('expires_at') ? { expires_at: q.get('expires_at') } : {}),
        };
        s.snapshots.set(id, snap);
        return HttpResponse.json({
          snapshot: publicSnapshot(snap),
          operations: ops(project.id, [{ action: 'create_branch', branch_id: branch.id }]),
        });
      }),
    ),
    http.get(
      `${BASE}/projects/:project_id/snapshots`,
      withProject(({ project }) =>
        HttpResponse.json({
          snapshots: [...s.snapshots.values()].filter((x) => x.project_id === project.id).map(publicSnapshot),
        }),
      ),
    ),
    http.patch(
      `${BASE}/projects/:project_id/snapshots/:snapshot_id`,
      withProject(async ({ params, request, project }) => {
        const snap = s.snapshots.get(params.snapshot_id);
        if (!snap || snap.project_id !== project.id) return notFound(`snapshot ${params.snapshot_id}`);
        Object.assign(snap, (await jsonBody(request)).snapshot ?? {});
        return HttpResponse.json({ snapshot: publicSnapshot(snap) });
      }),
    ),
    http.delete(
      `${BASE}/projects/:project_id/snapshots/:snapshot_id`,
      withProject(({ params, project }) => {
        const snap = s.snapshots.get(params.snapshot_id);
        if (!snap || snap.project_id !== project.id) return notFound(`snapshot ${params.snapshot_id}`);
        s.snapshots.delete(snap.id);
        return HttpResponse.json(
          { operations: ops(project.id, [{ action: 'delete_timeline', branch_id: snap.source_branch_id }]) },
          { status: 202 },
        );
      }),
    ),
    http.post(
      `${BASE}/projects/:project_id/snapshots/:snapshot_id/restore`,
      withProject(async ({ params, request, project }) => {
        const snap = s.snapshots.get(params.snapshot_id);
        if (!snap || snap.project_id !== project.id) return notFound(`snapshot ${params.snapshot_id}`);
        const body = await jsonBody(request);
        const target = fake.branches.get(body.target_branch_id ?? snap.source_branch_id);
        if (!target || target.project_id !== project.id) return notFound(`branch ${body.target_branch_id}`);
        const restored = fake.makeBranch(project.id, {
          name: body.name ?? `${target.name} (restored)`,
          parent_id: target.id,
          restored_from: snap.id,
          restore_status: 'restored',
          current_state: 'init',
        });
        let endpoints: Json[] = [];
        if (body.finalize_restore) {
          const oldName = target.name;
          target.name = `${oldName} (old)`;
          restored.name = oldName;
          endpoints = fake.endpointsOf(project.id, target.id);
          for (const e of endpoints) e.branch_id = restored.id;
          if (target.default) {
            target.default = false;
            restored.default = true;
          }
        }
        const operations = ops(project.id, [
          { action: 'create_branch', branch_id: restored.id },
          ...endpoints.map(() => ({ action: 'apply_config', branch_id: restored.id })),
        ]);
        const answer = { branch: { ...restored }, endpoints, operations };
        restored.current_state = 'ready';
        return HttpResponse.json(answer);
      }),
    ),
    http.get(
      `${B}/backup_schedule`,
      withBranch(({ branch }) => HttpResponse.json({ schedule: s.schedules.get(branch.id) ?? [] })),
    ),
    http.put(
      `${B}/backup_schedule`,
      withBranch(async ({ request, branch }) => {
        s.schedules.set(branch.id, (await jsonBody(request)).schedule);
        return HttpResponse.json({});
      }),
    ),
  ];
}
