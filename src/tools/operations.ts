/** Neon operations: the asynchronous work behind every change (create_timeline, start_compute, …). */
import * as z from 'zod';
import { pick } from '../neon/util.js';
import { cursor, limit, operationId, projectId } from './fields.js';
import { defineTool, item, output, READ, type ToolDef } from './framework.js';

const OPERATION_SUMMARY = [
  'id',
  'action',
  'status',
  'branch_id',
  'endpoint_id',
  'error',
  'created_at',
  'total_duration_ms',
] as const;

/** An operation by what an agent checks: which, doing what, how far. */
const operation = item({ id: z.string(), action: z.string(), status: z.string() });

export const listOperations = defineTool({
  name: 'list_operations',
  title: 'List operations',
  description: "List a project's operations, newest first.",
  toolset: 'operations',
  operations: ['listProjectOperations'],
  input: { project_id: projectId, limit: limit(1000).describe('Limit'), cursor: cursor.describe('Cursor') },
  // Also returns next_cursor when there is another page (pass it as cursor).
  output: output({ operations: z.array(operation) }),
  hints: READ,
  async handler({ project_id, limit: size, cursor: after }, { client, signal }) {
    const pageSize = size ?? 20;
    const res = await client.get('/projects/{project_id}/operations', {
      path: { project_id },
      query: { limit: pageSize, cursor: after },
      signal,
    });
    const operations = res.operations.map((o) => pick(o, OPERATION_SUMMARY));
    // Neon returns a cursor even on the last page; a short page means there is no more.
    const next = operations.length === pageSize ? res.pagination?.cursor : undefined;
    return { operations, ...(next ? { next_cursor: next } : {}) };
  },
});

export const getOperation = defineTool({
  name: 'get_operation',
  title: 'Get operation',
  description: 'Get a Neon operation: action, status, error.',
  toolset: 'operations',
  operations: ['getProjectOperation'],
  input: { project_id: projectId, operation_id: operationId },
  output: output({ operation }),
  hints: READ,
  async handler({ project_id, operation_id }, { client, signal }) {
    return client.get('/projects/{project_id}/operations/{operation_id}', {
      path: { project_id, operation_id },
      signal,
    });
  },
});

export const operationTools: ToolDef[] = [listOperations, getOperation];
