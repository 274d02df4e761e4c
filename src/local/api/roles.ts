/** Roles of a branch: list, create, get, delete, reveal and reset password. */
import { LocalApiError, type LocalCore, now, password, quote, visible } from './core.js';

export function roleRoutes(api: LocalCore): void {
  const P = '/projects/{project_id}';
  const B = `${P}/branches/{branch_id}`;

  api.on('GET', `${B}/roles`, ({ params }) => {
    api.branch(params.project_id, params.branch_id);
    return [200, { roles: api.rolesOf(params.branch_id).map(visible) }];
  });
  api.on('POST', `${B}/roles`, async ({ params, body }) => {
    const b = api.branch(params.project_id, params.branch_id);
    const r = await api.makeRole(b, body.role?.name);
    return [
      201,
      {
        role: { ...visible(r), password: r._password },
        operations: api.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
      },
    ];
  });
  api.on('GET', `${B}/roles/{role_name}`, ({ params }) => {
    api.branch(params.project_id, params.branch_id);
    return [200, { role: visible(api.role(params.branch_id, params.role_name)) }];
  });
  api.on('DELETE', `${B}/roles/{role_name}`, async ({ params }) => {
    const b = api.branch(params.project_id, params.branch_id);
    const r = api.role(b.id, params.role_name);
    const owns = api.databasesOf(b.id).filter((d) => d.owner_name === r.name);
    if (owns.length)
      throw new LocalApiError(
        409,
        `role ${r.name} owns database ${owns.map((d) => d.name).join(', ')}: give the database another owner or delete it first`,
      );
    // Objects and privileges of the role in the branch's databases go with it, as on Neon.
    for (const d of api.databasesOf(b.id)) {
      await api.cluster.query(d._physical, (c) => c.query(`DROP OWNED BY ${quote(r._physical)}`));
    }
    await api.cluster.dropRole(r._physical);
    await api.catalog.remove('role', `${b.id}/${r.name}`);
    return [
      200,
      {
        role: visible(r),
        operations: api.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
      },
    ];
  });
  api.on('GET', `${B}/roles/{role_name}/reveal_password`, ({ params }) => {
    api.branch(params.project_id, params.branch_id);
    return [200, { password: api.role(params.branch_id, params.role_name)._password }];
  });
  api.on('POST', `${B}/roles/{role_name}/reset_password`, async ({ params }) => {
    const b = api.branch(params.project_id, params.branch_id);
    const r = api.role(b.id, params.role_name);
    const pw = password();
    await api.cluster.setPassword(r._physical, pw);
    const updated = await api.catalog.put('role', `${b.id}/${r.name}`, {
      ...r,
      _password: pw,
      updated_at: now(),
    });
    return [
      200,
      {
        role: { ...visible(updated), password: pw },
        operations: api.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
      },
    ];
  });
}
