/**
 * msw handlers for the branch features beyond the core: snapshots and backup schedules, anonymized
 * branches, the Data API, object storage and credentials, functions and the AI gateway. State lives
 * in a small store per {@link NeonFake} (see {@link features}) so tests can seed and inspect it.
 * Neon Auth is in `branch-feature-auth-handlers.ts`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HttpResponse, http } from 'msw';
import { BASE, type NeonFake, neonError, publicOperation } from './neon-fake.js';

type Json = Record<string, any>;
type Params = Record<string, string>;

export interface StoredObject {
  data: Uint8Array;
  last_modified: string;
  etag: string;
}
export interface StoredFunction extends Json {
  slug: string;
  branch_id: string;
  deployments: Json[];
  /** GETs of the function still to answer the newest deployment as `building`. */
  buildPolls: number;
  /** When set, the newest deployment fails with this error once built. */
  failBuild?: string;
}

/** Per-test state of the branch features, keyed by branch ID where it belongs to a branch. */
export interface FeatureStore {
  snapshots: Map<string, Json>;
  schedules: Map<string, Json[]>;
  anonymized: Map<string, { status: Json; rules: Json[]; polls: number }>;
  dataApis: Map<string, Json>;
  /** Branches with storage; others answer 404 with reason `org_not_entitled`. */
  storageBranches: Set<string>;
  buckets: Map<string, Map<string, { bucket: Json; objects: Map<string, StoredObject> }>>;
  credentials: Map<string, Json[]>;
  functions: Map<string, StoredFunction>;
  gatewayBranches: Set<string>;
  /** Multipart deployment bodies as received, for assertions. */
  deploymentForms: { slug: string; fields: Record<string, string>; zip?: Uint8Array }[];
  /** Polls of anonymization status that still answer `anonymizing`. */
  anonymizePolls: number;
}

const stores = new WeakMap<NeonFake, FeatureStore>();
export function features(fake: NeonFake): FeatureStore {
  let s = stores.get(fake);
  if (!s) {
    s = {
      snapshots: new Map(),
      schedules: new Map(),
      anonymized: new Map(),
      dataApis: new Map(),
      storageBranches: new Set(),
      buckets: new Map(),
      credentials: new Map(),
      functions: new Map(),
      gatewayBranches: new Set(),
      deploymentForms: [],
      anonymizePolls: 1,
    };
    stores.set(fake, s);
  }
  return s;
}

/** Seeds an object in a bucket (creating the bucket) on a branch with storage. */
export function seedObject(
  fake: NeonFake,
  branchId: string,
  bucket: string,
  key: string,
  data: string | Uint8Array,
) {
  const s = features(fake);
  s.storageBranches.add(branchId);
  const perBranch = s.buckets.get(branchId) ?? new Map();
  s.buckets.set(branchId, perBranch);
  const b = perBranch.get(bucket) ?? {
    bucket: { name: bucket, access_level: 'private', created_at: new Date().toISOString() },
    objects: new Map(),
  };
  perBranch.set(bucket, b);
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  b.objects.set(key, {
    data: bytes,
    last_modified: new Date().toISOString(),
    etag: createHash('md5').update(bytes).digest('hex'),
  });
}

async function jsonBody(request: Request): Promise<Json> {
  const text = await request.text();
  return text ? JSON.parse(text) : {};
}

const now = () => new Date().toISOString();

export function branchFeatureHandlers(fake: NeonFake) {
  const s = features(fake);
  const notFound = (what: string) => neonError(404, `${what} not found`, 'NOT_FOUND');
  const ops = (projectId: string, actions: { action: string; branch_id?: string }[]) =>
    fake.startOperations(projectId, actions).map(publicOperation);

  /** Runs `fn` with the project and branch of the path, answering 404 for what is missing. */
  const withBranch =
    (
      fn: (a: {
        params: Params;
        request: Request;
        project: Json;
        branch: Json;
      }) => Response | Promise<Response>,
    ) =>
    ({ params: raw, request }: { params: Record<string, unknown>; request: Request }) => {
      const params = raw as Params;
      const project = fake.projects.get(params.project_id);
      if (!project) return notFound(`project ${params.project_id}`);
      const branch = fake.branches.get(params.branch_id);
      if (!branch || branch.project_id !== project.id) return notFound(`branch ${params.branch_id}`);
      return fn({ params, request, project, branch });
    };
  const withProject =
    (fn: (a: { params: Params; request: Request; project: Json }) => Response | Promise<Response>) =>
    ({ params: raw, request }: { params: Record<string, unknown>; request: Request }) => {
      const params = raw as Params;
      const project = fake.projects.get(params.project_id);
      if (!project) return notFound(`project ${params.project_id}`);
      return fn({ params, request, project });
    };

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

  const publicSnapshot = ({ project_id: _p, ...rest }: Json) => rest;

  return [
    // Snapshots and backup schedules
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

    // Storage
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

    // Credentials
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
