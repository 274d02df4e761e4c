import { http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, connect, neonError, useMockApi } from './helpers.js';
import { features } from './mock/stores.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

function setup() {
  const { project, branch, endpoint } = api.fake.seedProject('snaps');
  return { project_id: project.id, branch_id: branch.id, endpoint_id: endpoint.id };
}

describe('snapshots', () => {
  it('creates a snapshot at a past time, waiting for its operation, then lists, renames and deletes it', async () => {
    const { project_id, branch_id } = setup();
    conn = await connect({ toolsets: ['snapshots'] });
    const created = await conn.ok('create_snapshot', {
      project_id,
      branch_id,
      name: 'before-migration',
      timestamp: '2026-01-31T12:00:00Z',
      expires_at: '2026-12-31T00:00:00Z',
    });
    expect(created.snapshot).toMatchObject({
      name: 'before-migration',
      source_branch_id: branch_id,
      timestamp: '2026-01-31T12:00:00Z',
      expires_at: '2026-12-31T00:00:00Z',
    });
    const post = api.requests.find((r) => r.method === 'POST')!;
    expect(Object.fromEntries(post.query)).toEqual({
      name: 'before-migration',
      timestamp: '2026-01-31T12:00:00Z',
      expires_at: '2026-12-31T00:00:00Z',
    });
    expect([...api.fake.operations.values()].every((o) => o.status === 'finished')).toBe(true);

    const id = created.snapshot.id;
    expect((await conn.ok('list_snapshots', { project_id })).snapshots.map((x: any) => x.id)).toEqual([id]);
    const renamed = await conn.ok('rename_snapshot', { project_id, snapshot_id: id, name: 'golden' });
    expect(renamed.snapshot.name).toBe('golden');
    expect(features(api.fake).snapshots.get(id)?.name).toBe('golden');

    expect(await conn.ok('delete_snapshot', { project_id, snapshot_id: id })).toEqual({ deleted: id });
    expect((await conn.ok('list_snapshots', { project_id })).snapshots).toEqual([]);
    const deleteOp = [...api.fake.operations.values()].find((o) => o.action === 'delete_timeline');
    expect(deleteOp?.status).toBe('finished');
    expect(await conn.fails('delete_snapshot', { project_id, snapshot_id: id })).toMatch(/HTTP 404/);
  });

  it('refuses timestamp together with lsn, and a timestamp that is not ISO 8601, before sending anything', async () => {
    const { project_id, branch_id } = setup();
    conn = await connect({ toolsets: ['snapshots'] });
    const err = await conn.fails('create_snapshot', {
      project_id,
      branch_id,
      timestamp: '2026-01-31T12:00:00Z',
      lsn: '0/16B3748',
    });
    expect(err).toMatch(/timestamp or lsn, not both/);
    const notIso = await conn.fails('create_snapshot', { project_id, branch_id, timestamp: 'yesterday' });
    expect(notIso).toMatch(/timestamp.*ISO 8601/);
    expect(api.requests).toHaveLength(0);
  });

  it('reports a failed snapshot operation instead of a snapshot', async () => {
    const { project_id, branch_id } = setup();
    api.fake.failNextOperation = 'pageserver unavailable';
    conn = await connect({ toolsets: ['snapshots'] });
    const err = await conn.fails('create_snapshot', { project_id, branch_id });
    expect(err).toMatch(/ended with status "failed": pageserver unavailable/);
  });
});

describe('restore_snapshot', () => {
  async function snapshotOf(project_id: string, branch_id: string) {
    return (await conn.ok('create_snapshot', { project_id, branch_id })).snapshot.id as string;
  }

  it('restores as a new branch for preview, re-reads it after the operations and says how to finalize', async () => {
    const { project_id, branch_id } = setup();
    conn = await connect({ toolsets: ['snapshots'] });
    const snapshot_id = await snapshotOf(project_id, branch_id);
    const out = await conn.ok('restore_snapshot', { project_id, snapshot_id, name: 'preview' });
    expect(out.branch).toMatchObject({ name: 'preview', current_state: 'ready', restored_from: snapshot_id });
    expect(out.computes).toEqual([]);
    expect(out.note).toMatch(/finalize_restore_branch/);
    expect(api.requests.find((r) => r.path.endsWith('/restore'))?.body).toEqual({ name: 'preview' });
    expect(api.fake.branches.get(branch_id)?.name).toBe('main');
  });

  it('finalizes onto the source: the restored branch takes its name and computes', async () => {
    const { project_id, branch_id, endpoint_id } = setup();
    conn = await connect({ toolsets: ['snapshots'] });
    const snapshot_id = await snapshotOf(project_id, branch_id);
    const out = await conn.ok('restore_snapshot', { project_id, snapshot_id, finalize: true });
    expect(out.branch.name).toBe('main');
    expect(out.branch.id).not.toBe(branch_id);
    expect(out.computes).toEqual([expect.objectContaining({ id: endpoint_id, branch_id: out.branch.id })]);
    expect(out.note).toBeUndefined();
    expect(api.fake.branches.get(branch_id)?.name).toBe('main (old)');
    expect(api.requests.find((r) => r.path.endsWith('/restore'))?.body).toEqual({ finalize_restore: true });
  });

  it('restores into another target branch', async () => {
    const { project_id, branch_id } = setup();
    const other = api.fake.makeBranch(project_id, { name: 'staging' });
    conn = await connect({ toolsets: ['snapshots'] });
    const snapshot_id = await snapshotOf(project_id, branch_id);
    const out = await conn.ok('restore_snapshot', { project_id, snapshot_id, target_branch_id: other.id });
    expect(out.branch.parent_id).toBe(other.id);
  });

  it('names the snapshot that does not exist', async () => {
    const { project_id } = setup();
    conn = await connect({ toolsets: ['snapshots'] });
    const err = await conn.fails('restore_snapshot', { project_id, snapshot_id: 'snap-nope' });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/snapshot "snap-nope"/);
  });
});

describe('backup schedule', () => {
  it('sets a schedule with the body the spec expects and reads it back', async () => {
    const { project_id, branch_id } = setup();
    conn = await connect({ toolsets: ['snapshots'] });
    expect(await conn.ok('get_snapshot_schedule', { project_id, branch_id })).toEqual({ schedule: [] });
    const schedule = [
      { frequency: 'daily', hour: 3, retention_seconds: 7 * 86_400 },
      { frequency: 'monthly', day: 1, hour: 0 },
    ];
    expect(await conn.ok('set_snapshot_schedule', { project_id, branch_id, schedule })).toEqual({ schedule });
    expect(api.requests.find((r) => r.method === 'PUT')?.body).toEqual({ schedule });
    expect(await conn.ok('get_snapshot_schedule', { project_id, branch_id })).toEqual({ schedule });
    // An empty list turns automatic snapshots off.
    expect(await conn.ok('set_snapshot_schedule', { project_id, branch_id, schedule: [] })).toEqual({
      schedule: [],
    });
  });

  it('refuses out-of-range values and unknown frequencies before sending', async () => {
    const { project_id, branch_id } = setup();
    conn = await connect({ toolsets: ['snapshots'] });
    expect(
      await conn.fails('set_snapshot_schedule', {
        project_id,
        branch_id,
        schedule: [{ frequency: 'daily', hour: 24 }],
      }),
    ).toMatch(/hour: must be from 0 to 23/);
    expect(
      await conn.fails('set_snapshot_schedule', {
        project_id,
        branch_id,
        schedule: [{ frequency: 'minutely' }],
      }),
    ).toMatch(/frequency/);
    expect(
      await conn.fails('set_snapshot_schedule', {
        project_id,
        branch_id,
        schedule: [{ frequency: 'daily', retention_seconds: 60 }],
      }),
    ).toMatch(/retention_seconds/);
    // The entry fields are not advertised (tokens), so a refusal lists them.
    expect(
      await conn.fails('set_snapshot_schedule', {
        project_id,
        branch_id,
        schedule: [{ frequency: 'daily', at: 3 }],
      }),
    ).toMatch(/Accepted fields: frequency \(hourly\|daily\|weekly\|monthly\|yearly\), hour\?/);
    expect(api.requests).toHaveLength(0);
  });

  it('passes Neon’s refusal through', async () => {
    const { project_id, branch_id } = setup();
    api.use(
      http.put(`${BASE}/projects/:p/branches/:b/backup_schedule`, () =>
        neonError(422, 'hourly snapshots are not available on your plan'),
      ),
    );
    conn = await connect({ toolsets: ['snapshots'] });
    const err = await conn.fails('set_snapshot_schedule', {
      project_id,
      branch_id,
      schedule: [{ frequency: 'hourly' }],
    });
    expect(err).toMatch(/HTTP 422: hourly snapshots are not available on your plan/);
  });
});
