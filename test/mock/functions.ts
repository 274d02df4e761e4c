import { HttpResponse, http, type RequestHandler } from 'msw';
import { branchScoped, type Json, jsonBody, notFound, now } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { features, type StoredFunction } from './stores.js';

export function functionHandlers(fake: NeonFake): RequestHandler[] {
  const s = features(fake);
  const withBranch = branchScoped(fake);
  const B = `${BASE}/projects/:project_id/branches/:branch_id`;
  return [
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
  ];
}

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
