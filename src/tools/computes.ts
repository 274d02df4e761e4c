/**
 * Computes (Neon "endpoints"): the Postgres servers attached to a branch. Every change waits for its
 * Neon operations and answers with the compute as it is afterwards.
 */
import * as z from 'zod';
import { InvalidArgumentError } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { summarizeEndpoint } from '../neon/resources.js';
import { defined } from '../neon/util.js';
import {
  checkCuRange,
  computeId,
  filterBranchId,
  maxCu,
  minCu,
  onBranchId,
  projectId,
  suspendTimeout,
  text,
} from './fields.js';
import { ACT, CREATE, DESTROY, defineTool, item, output, READ, type ToolDef, UPDATE } from './framework.js';

const endpointRoute = '/projects/{project_id}/endpoints/{endpoint_id}' as const;

async function getEndpoint(client: NeonClient, project_id: string, endpoint_id: string, signal: AbortSignal) {
  const res = await client.get(endpointRoute, {
    path: { project_id, endpoint_id },
    signal,
  });
  return res.endpoint;
}

/** A compute by what it is known and reached by. */
const compute = item({ id: z.string(), host: z.string() });
const computeOut = output({ compute });

export const listComputes = defineTool({
  name: 'list_computes',
  title: 'List computes',
  description: 'List computes (endpoints) of a project or branch.',
  toolset: 'computes',
  operations: ['listProjectEndpoints', 'listProjectBranchEndpoints'],
  input: { project_id: projectId, branch_id: filterBranchId },
  output: output({ computes: z.array(compute) }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const res = branch_id
      ? await client.get('/projects/{project_id}/branches/{branch_id}/endpoints', {
          path: { project_id, branch_id },
          signal,
        })
      : await client.get('/projects/{project_id}/endpoints', {
          path: { project_id },
          signal,
        });
    return { computes: res.endpoints.map(summarizeEndpoint) };
  },
});

export const getCompute = defineTool({
  name: 'get_compute',
  title: 'Get compute',
  description: 'Get a compute (endpoint) and its settings.',
  toolset: 'computes',
  operations: ['getProjectEndpoint'],
  input: { project_id: projectId, compute_id: computeId },
  output: computeOut,
  hints: READ,
  async handler({ project_id, compute_id }, { client, signal }) {
    return { compute: await getEndpoint(client, project_id, compute_id, signal) };
  },
});

export const createCompute = defineTool({
  name: 'create_compute',
  title: 'Create compute',
  description: 'Add a compute to a branch (read_only: a replica).',
  toolset: 'computes',
  operations: ['createProjectEndpoint', 'getProjectEndpoint'],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    type: z.enum(['read_write', 'read_only']).describe('Type'),
    min_cu: minCu,
    max_cu: maxCu,
    suspend_timeout_seconds: suspendTimeout.optional(),
    pooler: z.boolean().optional().describe('Pooler'),
    name: text(64).optional().describe('Name'),
  },
  output: computeOut,
  hints: CREATE,
  async handler(args, { client, signal, wait }) {
    checkCuRange(args.min_cu, args.max_cu);
    const body: Schemas['EndpointCreateRequest'] = {
      endpoint: {
        branch_id: args.branch_id,
        type: args.type,
        ...defined({
          autoscaling_limit_min_cu: args.min_cu,
          autoscaling_limit_max_cu: args.max_cu,
          suspend_timeout_seconds: args.suspend_timeout_seconds,
          pooler_enabled: args.pooler,
          name: args.name,
        }),
      },
    };
    const res = await client.post('/projects/{project_id}/endpoints', {
      path: { project_id: args.project_id },
      body,
      signal,
    });
    await wait(res.operations);
    return { compute: await getEndpoint(client, args.project_id, res.endpoint.id, signal) };
  },
});

export const updateCompute = defineTool({
  name: 'update_compute',
  title: 'Update compute',
  description: "Change a compute's settings, or disable it.",
  toolset: 'computes',
  operations: ['updateProjectEndpoint', 'getProjectEndpoint'],
  input: {
    project_id: projectId,
    compute_id: computeId,
    min_cu: minCu,
    max_cu: maxCu,
    suspend_timeout_seconds: suspendTimeout.optional(),
    disabled: z.boolean().optional().describe('Blocks connections'),
    pooler: z.boolean().optional().describe('Pooler'),
    name: text(64).optional().describe('Name'),
  },
  output: computeOut,
  hints: UPDATE,
  async handler(args, { client, signal, wait }) {
    checkCuRange(args.min_cu, args.max_cu);
    const changes = defined({
      autoscaling_limit_min_cu: args.min_cu,
      autoscaling_limit_max_cu: args.max_cu,
      suspend_timeout_seconds: args.suspend_timeout_seconds,
      disabled: args.disabled,
      pooler_enabled: args.pooler,
      name: args.name,
    });
    if (Object.keys(changes).length === 0) {
      throw new InvalidArgumentError(
        'Nothing to change: give at least one of min_cu, max_cu, suspend_timeout_seconds, disabled, pooler, name.',
      );
    }
    const body: Schemas['EndpointUpdateRequest'] = { endpoint: changes };
    const res = await client.patch(endpointRoute, {
      path: { project_id: args.project_id, endpoint_id: args.compute_id },
      body,
      signal,
    });
    await wait(res.operations);
    return { compute: await getEndpoint(client, args.project_id, args.compute_id, signal) };
  },
});

export const deleteCompute = defineTool({
  name: 'delete_compute',
  title: 'Delete compute',
  description: "Delete a compute; the branch's data stays.",
  toolset: 'computes',
  operations: ['deleteProjectEndpoint'],
  input: { project_id: projectId, compute_id: computeId },
  // Also returns deleted: true.
  output: computeOut,
  hints: DESTROY,
  async handler({ project_id, compute_id: endpoint_id }, { client, signal, wait }) {
    // 204 (no body) means it was already gone.
    const res = await client.delete(endpointRoute, {
      path: { project_id, endpoint_id },
      signal,
    });
    await wait(res?.operations);
    return { deleted: true, compute: res ? summarizeEndpoint(res.endpoint) : { id: endpoint_id } };
  },
});

/** start / suspend / restart: same shape, different verb. */
function lifecycleTool(
  verb: 'start' | 'suspend' | 'restart',
  operation: string,
  description: string,
): ToolDef {
  const title = `${verb[0].toUpperCase()}${verb.slice(1)} compute`;
  return defineTool({
    name: `${verb}_compute`,
    title,
    description,
    toolset: 'computes',
    operations: [operation, 'getProjectEndpoint'],
    input: { project_id: projectId, compute_id: computeId },
    output: computeOut,
    hints: ACT,
    async handler({ project_id, compute_id: endpoint_id }, { client, signal, wait }) {
      const route =
        verb === 'start'
          ? '/projects/{project_id}/endpoints/{endpoint_id}/start'
          : verb === 'suspend'
            ? '/projects/{project_id}/endpoints/{endpoint_id}/suspend'
            : '/projects/{project_id}/endpoints/{endpoint_id}/restart';
      const res = await client.post(route, { path: { project_id, endpoint_id }, signal });
      await wait(res.operations);
      return { compute: await getEndpoint(client, project_id, endpoint_id, signal) };
    },
  });
}

export const startCompute = lifecycleTool('start', 'startProjectEndpoint', 'Start a suspended compute now.');
export const suspendCompute = lifecycleTool(
  'suspend',
  'suspendProjectEndpoint',
  'Suspend a compute now; connections drop.',
);
export const restartCompute = lifecycleTool(
  'restart',
  'restartProjectEndpoint',
  'Restart a compute; connections drop.',
);

export const computeTools: ToolDef[] = [
  listComputes,
  getCompute,
  createCompute,
  updateCompute,
  deleteCompute,
  startCompute,
  suspendCompute,
  restartCompute,
];
