/**
 * Roles of a branch, their passwords (reveal, reset). Serves src/tools/roles.ts.
 */
import { HttpResponse, http, type RequestHandler } from 'msw';
import { jsonBody, notFound, resourceKit } from './common.js';
import { BASE, type NeonFake, neonError, publicRole } from './neon-fake.js';

export function roleHandlers(fake: NeonFake): RequestHandler[] {
  const { withBranch, ops } = resourceKit(fake);
  return [
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/roles`,
      withBranch(({ branch: b }) => HttpResponse.json({ roles: fake.rolesOf(b.id).map(publicRole) })),
    ),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/roles`,
      withBranch(async ({ request, branch: b, project: p }) => {
        const { name, no_login } = (await jsonBody(request)).role ?? {};
        if (fake.rolesOf(b.id).some((r) => r.name === name))
          return neonError(409, `role "${name}" already exists`);
        const role = fake.makeRole(b.id, name, no_login ? { no_login } : {});
        return HttpResponse.json(
          { role, operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]) },
          { status: 201 },
        );
      }),
    ),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name`,
      withBranch(({ params, branch: b }) => {
        const role = fake.rolesOf(b.id).find((r) => r.name === params.role_name);
        return role ? HttpResponse.json({ role: publicRole(role) }) : notFound(`role ${params.role_name}`);
      }),
    ),
    http.delete(
      `${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name`,
      withBranch(({ params, branch: b, project: p }) => {
        const role = fake.rolesOf(b.id).find((r) => r.name === params.role_name);
        if (!role) return notFound(`role ${params.role_name}`);
        fake.roles.splice(fake.roles.indexOf(role), 1);
        return HttpResponse.json({
          role: publicRole(role),
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),
    http.get(
      `${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name/reveal_password`,
      withBranch(({ params, branch: b }) => {
        const role = fake.rolesOf(b.id).find((r) => r.name === params.role_name);
        return role ? HttpResponse.json({ password: role.password }) : notFound(`role ${params.role_name}`);
      }),
    ),
    http.post(
      `${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name/reset_password`,
      withBranch(({ params, branch: b, project: p }) => {
        const role = fake.rolesOf(b.id).find((r) => r.name === params.role_name);
        if (!role) return notFound(`role ${params.role_name}`);
        role.password = `pw-reset-${Date.now().toString(36)}`;
        return HttpResponse.json({
          role,
          operations: ops(p.id, [{ action: 'apply_config', branch_id: b.id }]),
        });
      }),
    ),
  ];
}
