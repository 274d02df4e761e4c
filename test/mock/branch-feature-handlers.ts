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

/** The public shape of a stored function (no test-only fields). */
export function publicFunction(f: StoredFunction): Json {
  const { branch_id: _b, deployments, buildPolls: _p, failBuild: _f, ...rest } = f;
  const active = [...deployments].reverse().find((d) => d.status === 'completed');
  return {
    ...rest,
    ...(deployments.length ? { current_deployment: deployments.at(-1) } : {}),
    ...(active ? { active_deployment: active } : {}),
  };
}

/**
 * Serves POST …/functions/{slug}/deployments, a multipart request that the JSON-only request check of
 * the msw layer cannot read: tests route it here through the client's `fetch` option, and this checks
 * the form against the spec's FunctionDeployRequest itself (fields, runtime enum, environment JSON).
 */
export async function handleDeployment(fake: NeonFake, request: Request): Promise<Response> {
  const m = /\/projects\/([^/]+)\/branches\/([^/]+)\/functions\/([^/]+)\/deployments$/.exec(
    new URL(request.url).pathname,
  );
  if (!m || request.method !== 'POST') return neonError(404, 'not a deployment request');
  const [, projectId, branchId, slug] = m.map(decodeURIComponent);
  const branch = fake.branches.get(branchId);
  if (!fake.projects.get(projectId) || !branch || branch.project_id !== projectId)
    return neonError(404, `branch ${branchId} not found`, 'NOT_FOUND');
  if (!/^multipart\/form-data; boundary=/.test(request.headers.get('content-type') ?? ''))
    return neonError(415, 'expected multipart/form-data');
  const form = await request.formData();
  const problems: string[] = [];
  const fields: Record<string, string> = {};
  let zip: Uint8Array | undefined;
  for (const [name, value] of form.entries()) {
    if (name === 'zip') {
      if (typeof value === 'string') problems.push('zip must be a file part');
      else zip = new Uint8Array(await value.arrayBuffer());
    } else if (name === 'runtime' || name === 'environment') {
      if (typeof value !== 'string') problems.push(`${name} must be a text part`);
      else fields[name] = value;
    } else problems.push(`unknown part ${name}`);
  }
  if (fields.runtime !== undefined && fields.runtime !== 'nodejs24')
    problems.push('runtime must be nodejs24');
  if (fields.environment !== undefined) {
    try {
      const env = JSON.parse(fields.environment);
      if (!env || typeof env !== 'object' || Object.values(env).some((v) => typeof v !== 'string'))
        problems.push('environment must be a JSON object of strings');
    } catch {
      problems.push('environment is not JSON');
    }
  }
  if (!zip && Object.keys(fields).length === 0) problems.push('at least one field must be supplied');
  const s = features(fake);
  s.deploymentForms.push({ slug, fields, zip });
  if (problems.length) return neonError(400, problems.join('; '), 'BAD_REQUEST');
  const key = `${branchId}/${slug}`;
  let fn = s.functions.get(key);
  if (!fn) {
    if (!zip) return neonError(400, 'the first deployment of a function must include zip', 'BAD_REQUEST');
    fn = {
      id: `fn-${slug}`,
      slug,
      name: slug,
      invocation_url: `https://${slug}-${branchId}.functions.example.test`,
      created_at: now(),
      branch_id: branchId,
      deployments: [],
      buildPolls: 1,
    };
    s.functions.set(key, fn);
  }
  const previous = fn.deployments.at(-1);
  const env = fields.environment ? Object.keys(JSON.parse(fields.environment)) : previous?.environment;
  const deployment = {
    id: (previous?.id ?? 0) + 1,
    status: 'building',
    memory_mib: 256,
    runtime: fields.runtime ?? previous?.runtime ?? 'nodejs24',
    created_at: now(),
    ...(env ? { environment: env } : {}),
  };
  fn.deployments.push(deployment);
  fn.buildPolls = Math.max(fn.buildPolls, 1);
  return HttpResponse.json({ deployment }, { status: 201 });
}

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

    // Anonymized branches
    http.post(
      `${BASE}/projects/:project_id/branch_anonymized`,
      withProject(async ({ request, project }) => {
        const body = await jsonBody(request);
        const create = body.branch_create ?? {};
        const parent = create.branch?.parent_id
          ? fake.branches.get(create.branch.parent_id)
          : fake.branchesOf(project.id).find((b) => b.default);
        if (!parent || parent.project_id !== project.id)
          return notFound(`branch ${create.branch?.parent_id}`);
        const branch = fake.makeBranch(project.id, {
          name: create.branch?.name,
          parent_id: parent.id,
          current_state: 'init',
        });
        for (const d of fake.databasesOf(parent.id)) fake.makeDatabase(branch.id, d.name, d.owner_name);
        const endpoints = (create.endpoints ?? []).map((e: Json) =>
          fake.makeEndpoint(project.id, branch.id, e.type),
        );
        const t = now();
        s.anonymized.set(branch.id, {
          status: {
            project_id: project.id,
            branch_id: branch.id,
            state: body.start_anonymization ? 'anonymizing' : 'initialized',
            created_at: t,
            updated_at: t,
          },
          rules: body.masking_rules ?? [],
          polls: s.anonymizePolls,
        });
        const answer = {
          branch: { ...branch },
          endpoints,
          operations: ops(project.id, [
            { action: 'create_branch', branch_id: branch.id },
            ...endpoints.map(() => ({ action: 'start_compute', branch_id: branch.id })),
          ]),
          roles: [],
          databases: fake.databasesOf(branch.id),
        };
        branch.current_state = 'ready';
        return HttpResponse.json(answer, { status: 201 });
      }),
    ),
    http.get(
      `${B}/anonymized_status`,
      withBranch(({ branch }) => {
        const a = s.anonymized.get(branch.id);
        if (!a) return neonError(404, `branch ${branch.id} is not an anonymized branch`, 'NOT_FOUND');
        if (a.status.state === 'anonymizing') {
          if (a.polls > 0) a.polls--;
          else {
            const bad = a.rules.find((r) => r.masking_function?.startsWith('anon.broken'));
            a.status.state = bad ? 'error' : 'anonymized';
            a.status.updated_at = now();
            if (bad) a.status.status_message = `function ${bad.masking_function} does not exist`;
            else {
              delete a.status.status_message;
              a.status.last_run = { started_at: a.status.updated_at, masked_columns: a.rules.length };
            }
          }
        }
        return HttpResponse.json(a.status);
      }),
    ),
    http.get(
      `${B}/masking_rules`,
      withBranch(({ branch }) => {
        const a = s.anonymized.get(branch.id);
        if (!a) return neonError(404, `branch ${branch.id} is not an anonymized branch`, 'NOT_FOUND');
        return HttpResponse.json({ masking_rules: a.rules });
      }),
    ),
    http.patch(
      `${B}/masking_rules`,
      withBranch(async ({ request, branch }) => {
        const a = s.anonymized.get(branch.id);
        if (!a) return neonError(404, `branch ${branch.id} is not an anonymized branch`, 'NOT_FOUND');
        a.rules = (await jsonBody(request)).masking_rules;
        return HttpResponse.json({ masking_rules: a.rules });
      }),
    ),
    http.post(
      `${B}/anonymize`,
      withBranch(({ branch }) => {
        const a = s.anonymized.get(branch.id);
        if (!a) return neonError(404, `branch ${branch.id} is not an anonymized branch`, 'NOT_FOUND');
        if (!['initialized', 'error', 'anonymized'].includes(a.status.state))
          return neonError(409, `cannot start anonymization in state ${a.status.state}`, 'CONFLICT');
        a.status.state = 'anonymizing';
        a.status.updated_at = now();
        a.polls = s.anonymizePolls;
        return HttpResponse.json(a.status);
      }),
    ),

    // Data API
    http.get(
      `${B}/data-api/:database_name`,
      withBranch(({ params, branch }) => {
        const d = s.dataApis.get(`${branch.id}/${params.database_name}`);
        return d ? HttpResponse.json(d) : notFound(`data API for database ${params.database_name}`);
      }),
    ),
    http.post(
      `${B}/data-api/:database_name`,
      withBranch(async ({ params, request, branch }) => {
        if (!fake.databasesOf(branch.id).some((d) => d.name === params.database_name))
          return notFound(`database ${params.database_name}`);
        const key = `${branch.id}/${params.database_name}`;
        if (s.dataApis.has(key)) return neonError(409, 'data API already exists', 'CONFLICT');
        const body = await jsonBody(request);
        const url = `https://${branch.id}.apirest.example.test/${encodeURIComponent(params.database_name)}/rest/v1`;
        s.dataApis.set(key, {
          url,
          status: 'ready',
          settings: { db_schemas: ['public'], db_anon_role: 'anonymous', ...body.settings },
          available_schemas: ['public', 'neon_auth'],
        });
        return HttpResponse.json({ url }, { status: 201 });
      }),
    ),
    http.patch(
      `${B}/data-api/:database_name`,
      withBranch(async ({ params, request, branch }) => {
        const d = s.dataApis.get(`${branch.id}/${params.database_name}`);
        if (!d) return notFound(`data API for database ${params.database_name}`);
        Object.assign(d.settings, (await jsonBody(request)).settings ?? {});
        d.schema_cache_refreshed_at = now();
        return HttpResponse.json({}, { status: 201 });
      }),
    ),
    http.delete(
      `${B}/data-api/:database_name`,
      withBranch(({ params, branch }) =>
        s.dataApis.delete(`${branch.id}/${params.database_name}`)
          ? HttpResponse.json({})
          : notFound(`data API for database ${params.database_name}`),
      ),
    ),

    // Functions and the AI gateway
    http.get(
      `${B}/functions`,
      withBranch(({ request, branch }) => {
        const q = new URL(request.url).searchParams;
        const limit = Number(q.get('limit') ?? 100);
        const offset = Number(q.get('cursor') ?? 0);
        const all = [...s.functions.values()].filter((f) => f.branch_id === branch.id);
        const page = all.slice(offset, offset + limit);
        return HttpResponse.json({
          functions: page.map(publicFunction),
          pagination: offset + limit < all.length ? { next: String(offset + limit) } : {},
        });
      }),
    ),
    http.get(
      `${B}/functions/:slug`,
      withBranch(({ params, branch }) => {
        const f = s.functions.get(`${branch.id}/${params.slug}`);
        if (!f) return notFound(`function ${params.slug}`);
        const newest = f.deployments.at(-1);
        if (newest?.status === 'building') {
          if (f.buildPolls > 0) f.buildPolls--;
          else if (f.failBuild) {
            newest.status = 'failed';
            newest.error = f.failBuild;
            f.failBuild = undefined;
          } else newest.status = 'completed';
        }
        return HttpResponse.json({ function: publicFunction(f) });
      }),
    ),
    http.patch(
      `${B}/functions/:slug`,
      withBranch(async ({ params, request, branch }) => {
        const f = s.functions.get(`${branch.id}/${params.slug}`);
        if (!f) return notFound(`function ${params.slug}`);
        const { name } = await jsonBody(request);
        f.name = name === null ? f.slug : String(name).trim();
        return HttpResponse.json({ function: publicFunction(f) });
      }),
    ),
    http.delete(
      `${B}/functions/:slug`,
      withBranch(({ params, branch }) =>
        s.functions.delete(`${branch.id}/${params.slug}`)
          ? new HttpResponse(null, { status: 204 })
          : notFound(`function ${params.slug}`),
      ),
    ),
    http.get(
      `${B}/ai_gateway`,
      withBranch(({ branch }) =>
        s.gatewayBranches.has(branch.id)
          ? HttpResponse.json({ enabled: true, base_url: `https://${branch.id}.ai.example.test/v1` })
          : HttpResponse.json(
              {
                code: 'NOT_FOUND',
                message: 'AI gateway is not served in this region',
                reason: 'ai_gateway_unavailable',
              },
              { status: 404 },
            ),
      ),
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
