/**
 * Databases of a branch. Serves src/tools/databases.ts.
 */
import { HttpResponse, http, type RequestHandler } from 'msw';
import { jsonBody, notFound, resourceKit } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';

export function databaseHandlers(fake: NeonFake): RequestHandler[] {
  const { withBranch, ops } = resourceKit(fake);
  return [
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/databases`,
      withBranch(({ branch: b }) => HttpResponse.json({ databases: fake.databasesOf(b.id) })),
    ),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/databases`,
      withBranch(async ({ request, branch: b, project: p }) => {
        const { name, owner_name } = (await jsonBody(request)).database ?? {};
        if (fake.databasesOf(b.id).some((d) => d.name === name))
          return neonError(409, `database "${name}" already exists`);
        if (!fake.rolesOf(b.id).some((r) => r.name === owner_name)) return notFound(`role ${owner_name}`);
        const db = fake.makeDatabase(b.id, name, owner_name);
        return HttpResponse.json(
          { database: db, operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]) },
          { status: 201 },
        );
      }),
    ),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/databases/:database_name`,
      withBranch(({ params, branch: b }) => {
        const db = fake.databasesOf(b.id).find((d) => d.name === params.database_name);
        return db ? HttpResponse.json({ database: db }) : notFound(`database ${params.database_name}`);
      }),
    ),
    http.patch(
      `${BASE}/projects/:project_id/branches/:branch_id/databases/:database_name`,
      withBranch(async ({ params, request, branch: b, project: p }) => {
        const db = fake.databasesOf(b.id).find((d) => d.name === params.database_name);
        if (!db) return notFound(`database ${params.database_name}`);
        Object.assign(db, (await jsonBody(request)).database ?? {});
        return HttpResponse.json({
          database: db,
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),
    http.delete(
      `${BASE}/projects/:project_id/branches/:branch_id/databases/:database_name`,
      withBranch(({ params, branch: b, project: p }) => {
        const db = fake.databasesOf(b.id).find((d) => d.name === params.database_name);
        if (!db) return notFound(`database ${params.database_name}`);
        fake.databases.splice(fake.databases.indexOf(db), 1);
        return HttpResponse.json({
          database: db,
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),
  ];
}
