import { HttpResponse, http, type RequestHandler } from 'msw';
import { branchScoped, jsonBody, notFound, now } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { features } from './stores.js';

export function dataApiHandlers(fake: NeonFake): RequestHandler[] {
  const s = features(fake);
  const withBranch = branchScoped(fake);
  const B = `${BASE}/projects/:project_id/branches/:branch_id`;
  return [
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
  ];
}
