/** get_connection_string: the URI of a database, with the defaults filled in (src/neon/connection.ts). */
import * as z from 'zod';
import { resolveConnection } from '../neon/connection.js';
import { connectionFields, endpointField, pooledField } from './fields.js';
import { defineTool, output, READ, type ToolDef } from './framework.js';

export const getConnectionString = defineTool({
  name: 'get_connection_string',
  title: 'Get connection string',
  description: 'Get a postgresql:// URI with password (default: first database, its owner).',
  toolset: 'databases',
  operations: ['getConnectionURI', 'listProjectBranches', 'listProjectBranchDatabases'],
  input: { ...connectionFields, endpoint_id: endpointField, pooled: pooledField },
  // Also returns project_id, branch_id, database, role and pooled (left out of the schema to save tokens).
  output: output({ uri: z.string() }),
  // Changes nothing; the URI is what connecting (also in read-only mode) needs.
  hints: READ,
  async handler(args, { client, signal }) {
    const { uri, ...resolved } = await resolveConnection(client, args, signal);
    return { uri, ...resolved };
  },
});

/** The get_connection_string tool. */
export const connectionTools: ToolDef[] = [getConnectionString];
