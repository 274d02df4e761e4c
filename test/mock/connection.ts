/**
 * The connection URI of a branch, database and role (`fake.connectionUri` points it at a real
 * server in SQL tests). Serves src/tools/connection.ts and the SQL tools.
 */
import { HttpResponse, http, type RequestHandler } from 'msw';
import { notFound, type Params } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';

export function connectionHandlers(fake: NeonFake): RequestHandler[] {
  const project = (p: Params) => fake.projects.get(p.project_id);
  return [
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
