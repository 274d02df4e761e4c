/**
 * Object storage of a branch (buckets, objects, presigned URLs) and branch credentials.
 * Serves src/tools/storage.ts; seed objects with `seedObject` (stores.ts).
 */
import { randomBytes } from 'node:crypto';
import { HttpResponse, http, type RequestHandler } from 'msw';
import { branchScoped, type Json, jsonBody, notFound, now, type Params } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { features, type StoredObject } from './stores.js';

export function storageHandlers(fake: NeonFake): RequestHandler[] {
  const s = features(fake);
  const withBranch = branchScoped(fake);
  const B = `${BASE}/projects/:project_id/branches/:branch_id`;

  /** The buckets of a branch, with those of its ancestors (inherited, read-only here). */
  const bucketsOf = (branchId: string) => {
    const all = new Map<string, { bucket: Json; objects: Map<string, StoredObject> }>();
    const chain: string[] = [];
    for (
      let b = fake.branches.get(branchId);
      b;
      b = b.parent_id ? fake.branches.get(b.parent_id) : undefined
    ) {
      chain.unshift(b.id);
    }
    for (const id of chain) for (const [name, v] of s.buckets.get(id) ?? []) all.set(name, v);
    return all;
  };
  const withStorage = (
    fn: (a: {
      params: Params;
      request: Request;
      project: Json;
      branch: Json;
    }) => Response | Promise<Response>,
  ) =>
    withBranch((a) => {
      if (!s.storageBranches.has(a.branch.id)) return neonError(404, 'storage is not enabled', 'NOT_FOUND');
      return fn(a);
    });
  const withBucket = (
    fn: (a: {
      params: Params;
      request: Request;
      branch: Json;
      bucket: { bucket: Json; objects: Map<string, StoredObject> };
    }) => Response | Promise<Response>,
  ) =>
    withStorage((a) => {
      const bucket = bucketsOf(a.branch.id).get(a.params.bucket_name);
      if (!bucket) return notFound(`bucket ${a.params.bucket_name}`);
      return fn({ ...a, bucket });
    });

  return [
    http.get(
      `${B}/storage`,
      withBranch(({ branch }) =>
        s.storageBranches.has(branch.id)
          ? HttpResponse.json({
              enabled: true,
              s3_endpoint: `https://${branch.id}.storage.example.test`,
              region: 'us-east-2',
              force_path_style: false,
            })
          : HttpResponse.json(
              {
                code: 'NOT_FOUND',
                message: 'organization is not entitled to storage',
                reason: 'org_not_entitled',
              },
              { status: 404 },
            ),
      ),
    ),
    http.get(
      `${B}/buckets`,
      withStorage(({ branch }) =>
        HttpResponse.json({ buckets: [...bucketsOf(branch.id).values()].map((b) => b.bucket) }),
      ),
    ),
    http.post(
      `${B}/buckets`,
      withStorage(async ({ request, branch }) => {
        const body = await jsonBody(request);
        const perBranch = s.buckets.get(branch.id) ?? new Map();
        s.buckets.set(branch.id, perBranch);
        if (bucketsOf(branch.id).has(body.name))
          return neonError(409, `bucket ${body.name} already exists`, 'CONFLICT');
        const bucket = { name: body.name, access_level: body.access_level ?? 'private', created_at: now() };
        perBranch.set(body.name, { bucket, objects: new Map() });
        return HttpResponse.json({ bucket }, { status: 201 });
      }),
    ),
    http.delete(
      `${B}/buckets/:bucket_name`,
      withStorage(({ params, branch }) => {
        if (!s.buckets.get(branch.id)?.delete(params.bucket_name))
          return notFound(`bucket ${params.bucket_name}`);
        return new HttpResponse(null, { status: 204 });
      }),
    ),
    http.get(
      `${B}/buckets/:bucket_name/objects`,
      withBucket(({ request, bucket }) => {
        const q = new URL(request.url).searchParams;
        const prefix = q.get('prefix') ?? '';
        const delimiter = q.get('delimiter');
        const limit = Number(q.get('limit') ?? 1000);
        const after = q.get('cursor') ?? '';
        const keys = [...bucket.objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
        const folders = new Set<string>();
        const objects: Json[] = [];
        let last = '';
        for (const key of keys) {
          if (folders.size + objects.length >= limit) break;
          const rest = key.slice(prefix.length);
          const cut = delimiter ? rest.indexOf(delimiter) : -1;
          if (cut >= 0) folders.add(prefix + rest.slice(0, cut + delimiter!.length));
          else {
            const o = bucket.objects.get(key)!;
            objects.push({ key, size: o.data.length, last_modified: o.last_modified, etag: o.etag });
          }
          last = key;
        }
        const truncated = keys.length > 0 && last !== keys.at(-1);
        return HttpResponse.json({
          folders: [...folders],
          objects,
          prefix,
          is_truncated: truncated,
          ...(truncated ? { next_cursor: last } : {}),
        });
      }),
    ),
    http.get(
      `${B}/buckets/:bucket_name/objects/:object_key/download`,
      withBucket(({ params, bucket }) => {
        const o = bucket.objects.get(params.object_key);
        if (!o) return notFound(`object ${params.object_key}`);
        return new HttpResponse(o.data, {
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(o.data.length),
            etag: o.etag,
          },
        });
      }),
    ),
    http.delete(
      `${B}/buckets/:bucket_name/objects/:object_key`,
      withBucket(({ params, bucket }) =>
        bucket.objects.delete(params.object_key)
          ? new HttpResponse(null, { status: 204 })
          : notFound(`object ${params.object_key}`),
      ),
    ),
    http.delete(
      `${B}/buckets/:bucket_name/objects-by-prefix`,
      withBucket(({ request, bucket }) => {
        const prefix = new URL(request.url).searchParams.get('prefix') ?? '';
        if (!prefix.endsWith('/')) return neonError(400, 'prefix must end with /', 'BAD_REQUEST');
        let deleted = 0;
        for (const key of [...bucket.objects.keys()]) {
          if (key.startsWith(prefix)) {
            bucket.objects.delete(key);
            deleted++;
          }
        }
        return HttpResponse.json({ deleted });
      }),
    ),
    http.post(
      `${B}/buckets/:bucket_name/objects/:object_key/presign`,
      withBucket(async ({ request, params, branch }) => {
        const body = await jsonBody(request);
        const upload = body.operation === 'upload';
        const expires = new Date(Date.now() + (body.expires_in_seconds ?? 900) * 1000).toISOString();
        return HttpResponse.json({
          url: `https://${branch.id}.storage.example.test/${params.bucket_name}/${encodeURIComponent(params.object_key)}?X-Amz-Signature=sig${randomBytes(4).toString('hex')}`,
          method: upload ? 'PUT' : 'GET',
          headers: upload && body.content_type ? { 'Content-Type': body.content_type } : {},
          expires_at: expires,
        });
      }),
    ),
    http.get(
      `${B}/credentials`,
      withBranch(({ branch }) => HttpResponse.json({ credentials: s.credentials.get(branch.id) ?? [] })),
    ),
    http.post(
      `${B}/credentials`,
      withBranch(async ({ request, branch }) => {
        const body = await jsonBody(request);
        const hex = randomBytes(16).toString('hex');
        const meta = {
          token_id: `nak_live_${hex}`,
          token_id_short: hex.slice(0, 12),
          ...(body.name ? { name: body.name } : {}),
          scopes: body.scopes,
          branch_id: branch.id,
          principal_type: body.principal_type,
          created_at: now(),
        };
        s.credentials.set(branch.id, [...(s.credentials.get(branch.id) ?? []), meta]);
        return HttpResponse.json(
          {
            ...meta,
            api_token: `napi_tok_${randomBytes(12).toString('hex')}`,
            s3_secret_access_key: `nsk_live_${randomBytes(32).toString('hex')}`,
          },
          { status: 201 },
        );
      }),
    ),
    http.delete(
      `${B}/credentials/:token_id`,
      withBranch(({ params, branch }) => {
        const list = s.credentials.get(branch.id) ?? [];
        const c = list.find((x) => x.token_id === params.token_id);
        if (!c) return notFound(`credential ${params.token_id}`);
        c.revoked_at ??= now();
        return new HttpResponse(null, { status: 204 });
      }),
    ),
  ];
}
