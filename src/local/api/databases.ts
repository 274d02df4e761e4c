/** Databases of a branch: list, create, get, rename or change owner, delete. */
import { physicalName } from '../cluster.js';
import { LocalApiError, type LocalCore, now, visible } from './core.js';

export function databaseRoutes(api: LocalCore): void {
  const P = '/projects/{project_id}';
  const B = `${P}/branches/{branch_id}`;

  api.on('GET', `${B}/databases`, ({ params }) => {
    api.branch(params.project_id, params.branch_id);
    return [200, { databases: api.databasesOf(params.branch_id).map(visible) }];
  });
  api.on('POST', `${B}/databases`, async ({ params, body }) => {
    const b = api.branch(params.project_id, params.branch_id);
    const spec = body.database ?? {};
    const d = await api.makeDatabase(b, spec.name, spec.owner_name);
    return [
      201,
      {
        database: visible(d),
        operations: api.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
      },
    ];
  });
  api.on('GET', `${B}/databases/{database_name}`, ({ params }) => {
    api.branch(params.project_id, params.branch_id);
    return [200, { database: visible(api.database(params.branch_id, params.database_name)) }];
  });
  api.on('PATCH', `${B}/databases/{database_name}`, async ({ params, body }) => {
    const b = api.branch(params.project_id, params.branch_id);
    let d = api.database(b.id, params.database_name);
    const spec = body.database ?? {};
    if (spec.owner_name && spec.owner_name !== d.owner_name) {
      const owner = api.role(b.id, spec.owner_name);
      await api.cluster.setOwner(d._physical, owner._physical);
      d = { ...d, owner_name: owner.name };
    }
    if (spec.name && spec.name !== d.name) {
      api.checkName(spec.name, 'database');
      if (api.catalog.items.database.has(`${b.id}/${spec.name}`))
        throw new LocalApiError(409, `database ${spec.name} already exists on branch ${b.id}`);
      await api.opts.beforeCopy?.(b.id);
      const physical = physicalName(spec.name, b._tag);
      await api.cluster.renameDatabase(d._physical, physical);
      await api.catalog.remove('database', `${b.id}/${d.name}`);
      d = { ...d, name: spec.name, _physical: physical };
    }
    d = await api.catalog.put('database', `${b.id}/${d.name}`, { ...d, updated_at: now() });
    return [
      200,
      {
        database: visible(d),
        operations: api.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
      },
    ];
  });
  api.on('DELETE', `${B}/databases/{database_name}`, async ({ params }) => {
    const b = api.branch(params.project_id, params.branch_id);
    const d = api.database(b.id, params.database_name);
    await api.opts.beforeCopy?.(b.id);
    await api.cluster.dropDatabase(d._physical);
    await api.catalog.remove('database', `${b.id}/${d.name}`);
    return [
      200,
      {
        database: visible(d),
        operations: api.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
      },
    ];
  });
}
