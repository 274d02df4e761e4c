/** get_connection_string: the URI of a database, with the defaults filled in (src/neon/resolver.ts). */
import * as z from 'zod';
import { connectionFor, readOnlyConnection } from '../neon/role-access.js';
import { computeField, connectionFields, pooledField } from './fields.js';
import { defineTool, output, READ, type ToolDef } from './framework.js';

export const getConnectionString = defineTool({
  name: 'get_connection_string',
  title: 'Get connection string',
  description: 'Get a postgresql:// URI with password.',
  toolset: 'databases',
  operations: ['getConnectionURI', 'listProjectBranches', 'listProjectBranchDatabases'],
  input: { ...connectionFields, compute_id: computeField, pooled: pooledField },
  // Also returns project_id, branch_id, database, role and pooled (left out of the schema to save tokens),
  // in read-only mode password_omitted when the URI has no password, and password_note when the
  // password of a role made with SQL was reset to make the URI.
  output: output({ uri: z.string() }),
  // Changes nothing. In read-only mode it hands out no credential that can write (src/neon/role-access.ts).
  hints: READ,
  async handler(args, ctx) {
    if (ctx.settings.readOnly) return { ...(await readOnlyConnection(ctx, args)) };
    // A role made with SQL by create_role gets a new password (connectionFor says so in password_note).
    const { uri, ...resolved } = await connectionFor(ctx, args);
    return { uri, ...resolved };
  },
});

/** The get_connection_string tool. */
export const connectionTools: ToolDef[] = [getConnectionString];
