/** Operations: all finished by the time their answer was sent, known to the process that made them. */
import { LocalApiError, type LocalCore } from './core.js';

export function operationRoutes(api: LocalCore): void {
  const P = '/projects/{project_id}';

  api.on('GET', `${P}/operations`, ({ params }) => {
    api.project(params.project_id);
    const ops = [...api.operations.values()].filter((o) => o.project_id === params.project_id).reverse();
    return [200, { operations: ops, pagination: { cursor: '' } }];
  });
  api.on('GET', `${P}/operations/{operation_id}`, ({ params }) => {
    api.project(params.project_id);
    const op = api.operations.get(params.operation_id);
    if (!op || op.project_id !== params.project_id)
      throw new LocalApiError(404, `operation ${params.operation_id} not found`);
    return [200, { operation: op }];
  });
}
