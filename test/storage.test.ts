import { http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, connect, neonError, useMockApi } from './helpers.js';
import { features, seedObject } from './mock/stores.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

function setup(storage = true) {
  const { project, branch } = api.fake.seedProject('files');
  if (storage) features(api.fake).storageBranches.add(branch.id);
  return { project_id: project.id, branch_id: branch.id };
}

describe('storage status and buckets', () => {
  it('reports storage unavailable with Neon’s reason instead of failing, and lists nothing', async () => {
    const ids = setup(false);
    conn = await connect({ toolsets: ['storage'] });
    const out = await conn.ok('get_storage', ids);
    expect(out.storage).toEqual({
      enabled: false,
      reason: 'org_not_entitled',
      message: 'organization is not entitled to storage',
    });
    expect(out.buckets).toBeUndefined();
    expect(api.count('GET', /\/buckets$/)).toBe(0);
  });

  it('still fails on an unknown branch', async () => {
    const ids = setup();
    conn = await connect({ toolsets: ['storage'] });
    const err = await conn.fails('get_storage', { ...ids, branch_id: 'br-missing' });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/branch "br-missing"/);
  });

  it('creates, lists (with inherited buckets) and deletes buckets', async () => {
    const ids = setup();
    conn = await connect({ toolsets: ['storage'] });
    const created = await conn.ok('create_bucket', { ...ids, name: 'avatars', public_read: true });
    expect(created.bucket).toMatchObject({ name: 'avatars', access_level: 'public_read' });
    expect(api.requests.find((r) => r.method === 'POST')?.body).toEqual({
      name: 'avatars',
      access_level: 'public_read',
    });
    await conn.ok('create_bucket', { ...ids, name: 'docs' });
    const child = api.fake.makeBranch(ids.project_id, { parent_id: ids.branch_id });
    features(api.fake).storageBranches.add(child.id);
    const seen = await conn.ok('get_storage', { ...ids, branch_id: child.id });
    expect(seen.storage).toMatchObject({ enabled: true, region: 'us-east-2' });
    expect(seen.buckets.map((b: any) => b.name).sort()).toEqual(['avatars', 'docs']);

    expect(await conn.ok('delete_bucket', { ...ids, bucket: 'docs' })).toEqual({ deleted: 'docs' });
    const after = await conn.ok('get_storage', ids);
    expect(after.buckets.map((b: any) => b.name)).toEqual(['avatars']);
    expect(await conn.fails('delete_bucket', { ...ids, bucket: 'docs' })).toMatch(/HTTP 404/);
  });

  it('refuses a bucket name that would be path navigation', async () => {
    const ids = setup();
    conn = await connect({ toolsets: ['storage'] });
    expect(await conn.fails('delete_bucket', { ...ids, bucket: '..' })).toMatch(
      /must not be empty, "\." or "\.\."/,
    );
    expect(api.requests).toHaveLength(0);
  });
});

describe('objects', () => {
  it('lists objects with folders and pages with next_cursor', async () => {
    const ids = setup();
    for (const k of ['a.txt', 'b.txt', 'c.txt', 'img/1.png', 'img/2.png'])
      seedObject(api.fake, ids.branch_id, 'b', k, k);
    conn = await connect({ toolsets: ['storage'] });
    const all = await conn.ok('list_bucket_objects', { ...ids, bucket: 'b', delimiter: '/' });
    expect(all.folders).toEqual(['img/']);
    expect(all.objects.map((o: any) => o.key)).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(all.objects[0]).toEqual({ key: 'a.txt', size: 5, last_modified: expect.any(String) });
    expect(all.next_cursor).toBeUndefined();

    for (let i = 0; i < 250; i++)
      seedObject(api.fake, ids.branch_id, 'b', `z/${String(i).padStart(3, '0')}`, '');
    const p1 = await conn.ok('list_bucket_objects', { ...ids, bucket: 'b' });
    expect(p1.objects).toHaveLength(200);
    expect(p1.next_cursor).toBe('z/194');
    const p2 = await conn.ok('list_bucket_objects', { ...ids, bucket: 'b', cursor: p1.next_cursor });
    expect(p2.objects.map((o: any) => o.key)).toEqual(Array.from({ length: 55 }, (_, i) => `z/${i + 195}`));
    expect(p2.next_cursor).toBeUndefined();
    const inFolder = await conn.ok('list_bucket_objects', { ...ids, bucket: 'b', prefix: 'img/' });
    expect(inFolder.objects.map((o: any) => o.key)).toEqual(['img/1.png', 'img/2.png']);
  });

  it('reads a nested key as one %2F-encoded path segment and returns its text', async () => {
    const ids = setup();
    seedObject(api.fake, ids.branch_id, 'docs', 'notes/2026/today.md', '# Hello\nnaïve ✓');
    conn = await connect({ toolsets: ['storage'] });
    const out = await conn.ok('read_bucket_object', { ...ids, bucket: 'docs', key: 'notes/2026/today.md' });
    expect(out).toEqual({ size: 18, text: '# Hello\nnaïve ✓' });
    expect(api.requests[0].path).toBe(
      `/projects/${ids.project_id}/branches/${ids.branch_id}/buckets/docs/objects/notes%2F2026%2Ftoday.md/download`,
    );
  });

  it('keeps a key full of dots and slashes inside the object path', async () => {
    const ids = setup();
    const key = '../../../../api_keys';
    seedObject(api.fake, ids.branch_id, 'docs', key, 'not an escape');
    conn = await connect({ toolsets: ['storage'] });
    const out = await conn.ok('read_bucket_object', { ...ids, bucket: 'docs', key });
    expect(out.text).toBe('not an escape');
    expect(api.requests[0].path).toMatch(/\/buckets\/docs\/objects\/..%2F..%2F..%2F..%2Fapi_keys\/download$/);
  });

  it('returns only the size of a binary object, and the start of a large text', async () => {
    const ids = setup();
    seedObject(
      api.fake,
      ids.branch_id,
      'b',
      'pic.png',
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 0xff]),
    );
    seedObject(api.fake, ids.branch_id, 'b', 'even.log', 'é'.repeat(40_000));
    seedObject(api.fake, ids.branch_id, 'b', 'odd.log', `a${'é'.repeat(40_000)}`);
    conn = await connect({ toolsets: ['storage'] });
    expect(await conn.ok('read_bucket_object', { ...ids, bucket: 'b', key: 'pic.png' })).toEqual({ size: 8 });
    // 64 KiB end exactly between two-byte characters: all of them are kept.
    const even = await conn.ok('read_bucket_object', { ...ids, bucket: 'b', key: 'even.log' });
    expect([even.size, even.truncated, even.text.length]).toEqual([80_000, true, 32_768]);
    expect(even.text.endsWith('é')).toBe(true);
    // Here the cut splits a character: its first byte is dropped rather than shown as garbage.
    const odd = await conn.ok('read_bucket_object', { ...ids, bucket: 'b', key: 'odd.log' });
    expect([odd.size, odd.truncated, odd.text.length]).toEqual([80_001, true, 32_768]);
    expect(odd.text.endsWith('é')).toBe(true);
  });

  it('turns a missing object into a 404 naming it', async () => {
    const ids = setup();
    seedObject(api.fake, ids.branch_id, 'b', 'x', 'x');
    conn = await connect({ toolsets: ['storage'] });
    const err = await conn.fails('read_bucket_object', { ...ids, bucket: 'b', key: 'dir/nope.txt' });
    expect(err).toMatch(/HTTP 404: object dir\/nope.txt not found/);
    expect(err).toMatch(/object key "dir\/nope.txt"/);
  });

  it('retries a download after a transient 503', async () => {
    const ids = setup();
    seedObject(api.fake, ids.branch_id, 'b', 'x.txt', 'ok');
    let calls = 0;
    api.use(
      http.get(`${BASE}/projects/:p/branches/:b/buckets/:bucket/objects/:key/download`, () =>
        ++calls === 1 ? neonError(503, 'busy') : undefined,
      ),
    );
    conn = await connect({ toolsets: ['storage'] });
    expect((await conn.ok('read_bucket_object', { ...ids, bucket: 'b', key: 'x.txt' })).text).toBe('ok');
    expect(calls).toBe(2);
  });

  it('deletes one object by key or a folder by prefix', async () => {
    const ids = setup();
    for (const k of ['keep.txt', 'app/avatars/1.png', 'app/avatars/2.png', 'app/avatarsX.png'])
      seedObject(api.fake, ids.branch_id, 'b', k, k);
    conn = await connect({ toolsets: ['storage'] });
    expect(await conn.ok('delete_bucket_objects', { ...ids, bucket: 'b', key: 'keep.txt' })).toEqual({
      deleted: 1,
    });
    expect(await conn.ok('delete_bucket_objects', { ...ids, bucket: 'b', prefix: 'app/avatars/' })).toEqual({
      deleted: 2,
    });
    const left = features(api.fake).buckets.get(ids.branch_id)?.get('b')?.objects;
    expect([...(left?.keys() ?? [])]).toEqual(['app/avatarsX.png']);
  });

  it('refuses a prefix that is not a folder, and key together with prefix', async () => {
    const ids = setup();
    conn = await connect({ toolsets: ['storage'] });
    expect(await conn.fails('delete_bucket_objects', { ...ids, bucket: 'b', prefix: 'app/avatars' })).toMatch(
      /prefix must end with '\/'/,
    );
    expect(
      await conn.fails('delete_bucket_objects', { ...ids, bucket: 'b', key: 'a', prefix: 'a/' }),
    ).toMatch(/Give key or prefix/);
    expect(api.requests).toHaveLength(0);
  });

  it('presigns an upload with its content type, labelled as a secret', async () => {
    const ids = setup();
    seedObject(api.fake, ids.branch_id, 'b', 'x', 'x');
    conn = await connect({ toolsets: ['storage'] });
    const out = await conn.ok('presign_bucket_object', {
      ...ids,
      bucket: 'b',
      key: 'up/file.csv',
      upload: true,
      content_type: 'text/csv',
    });
    expect(out.presigned).toMatchObject({ method: 'PUT', headers: { 'Content-Type': 'text/csv' } });
    expect(out.presigned.url).toContain('X-Amz-Signature');
    expect(out.warning).toMatch(/^SECRET/);
    expect(api.requests[0].body).toEqual({
      operation: 'upload',
      content_type: 'text/csv',
    });
    const dl = await conn.ok('presign_bucket_object', { ...ids, bucket: 'b', key: 'x' });
    expect(dl.presigned.method).toBe('GET');
  });
});

describe('branch credentials', () => {
  it('creates a credential whose secrets appear only in the create result, lists and revokes it', async () => {
    const ids = setup();
    conn = await connect({ toolsets: ['storage'] });
    const created = await conn.ok('create_branch_credential', {
      ...ids,
      scopes: ['storage:read', 'storage:write', 'storage:read'],
      name: 'uploader',
    });
    expect(created.credential).toMatchObject({ name: 'uploader', scopes: ['storage:read', 'storage:write'] });
    expect(created.credential.token_id).toMatch(/^nak_live_/);
    expect(created.secrets.api_token).toMatch(/^napi_tok_/);
    expect(created.secrets.s3_secret_access_key).toMatch(/^nsk_live_/);
    expect(created.warning).toMatch(/^SECRET/);
    expect(api.requests[0].body).toEqual({
      name: 'uploader',
      scopes: ['storage:read', 'storage:write'],
      principal_type: 'user',
    });

    const listed = await conn.ok('list_branch_credentials', ids);
    expect(listed.credentials).toEqual([
      expect.objectContaining({ token_id: created.credential.token_id, name: 'uploader' }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(created.secrets.s3_secret_access_key);

    expect(
      await conn.ok('revoke_branch_credential', { ...ids, token_id: created.credential.token_id }),
    ).toEqual({
      revoked: created.credential.token_id,
    });
    const after = await conn.ok('list_branch_credentials', ids);
    expect(after.credentials[0].revoked_at).toEqual(expect.any(String));
  });

  it('refuses an unknown scope before sending anything', async () => {
    const ids = setup();
    conn = await connect({ toolsets: ['storage'] });
    expect(await conn.fails('create_branch_credential', { ...ids, scopes: ['storage:admin'] })).toMatch(
      /scopes/,
    );
    expect(api.requests).toHaveLength(0);
  });
});
