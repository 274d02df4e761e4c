/**
 * Schemas that say what agents need (issue 26 item 5): valid toolset names as an enum, optional
 * arguments with their defaults, SQL rows declared as maps, at least one role for Neon Auth.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';

useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function schemaOf(name: string) {
  const { tools } = await conn.mcp.listTools();
  const tool = tools.find((t) => t.name === name);
  if (!tool) throw new Error(`${name} is not listed`);
  return tool as unknown as {
    inputSchema: { properties: Record<string, any> };
    outputSchema?: { properties: Record<string, any> };
  };
}

describe('tool schemas', () => {
  it('enable_toolsets lists the valid names, so no list_toolsets call is needed first', async () => {
    conn = await connect();
    const { inputSchema } = await schemaOf('enable_toolsets');
    expect(inputSchema.properties.toolsets.items.enum).toEqual(
      expect.arrayContaining(['all', 'computes', 'networking', 'auth']),
    );
  });

  it('states the defaults of optional arguments', async () => {
    conn = await connect({ toolsets: ['all'] });
    const desc = async (tool: string, arg: string) =>
      (await schemaOf(tool)).inputSchema.properties[arg].description as string;
    expect(await desc('create_project', 'database')).toMatch(/default: neondb/i);
    expect(await desc('create_project', 'role')).toMatch(/default: neondb_owner/i);
    expect(await desc('list_advisor_issues', 'database')).toMatch(/default: the only one/i);
    expect(await desc('list_computes', 'branch_id')).toMatch(/default: all/i);
    expect(await desc('add_jwks', 'branch_id')).toMatch(/default: all/i);
  });

  it('declares SQL rows as objects of any values', async () => {
    conn = await connect();
    for (const tool of ['run_sql', 'run_sql_readonly', 'run_sql_transaction']) {
      const { outputSchema } = await schemaOf(tool);
      const rows = JSON.stringify(outputSchema);
      expect(rows, tool).toMatch(/"type":"object","additionalProperties":true/);
    }
  });

  it('set_neon_auth_user_roles needs at least one role (Neon refuses none)', async () => {
    conn = await connect({ toolsets: ['all'] });
    const { inputSchema } = await schemaOf('set_neon_auth_user_roles');
    expect(inputSchema.properties.roles.minItems).toBe(1);
    const res = await conn.mcp.callTool({
      name: 'set_neon_auth_user_roles',
      arguments: { project_id: 'p-1', branch_id: 'br-1', user_id: 'u-1', roles: [] },
    });
    expect(res.isError).toBe(true);
    expect(JSON.stringify(res.content)).toMatch(/roles.*(>=1|at least 1)/i);
  });
});
