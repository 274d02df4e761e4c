/**
 * docs/FROM-NEON.md, the table for people coming from Neon's own MCP server: every tool name of Neon's
 * 0.6.5 is a row, every row names a tool this server has (in the toolset the row says), and the counts
 * of what this server adds are this server's.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, useMockApi } from './helpers.js';

/**
 * The 23 tool names of `@neondatabase/mcp-server-neon` 0.6.5 (the version docs/BENCHMARKS.md measures),
 * in the order it defines them: the `name:` fields of `src/tools/definitions.ts` at commit a328b96
 * ("0.6.5", 2025-09-16) of the GitHub repository neondatabase/mcp-server-neon.
 */
const NEON_065 = [
  'list_projects',
  'list_organizations',
  'list_shared_projects',
  'create_project',
  'delete_project',
  'describe_project',
  'run_sql',
  'run_sql_transaction',
  'describe_table_schema',
  'get_database_tables',
  'create_branch',
  'prepare_database_migration',
  'complete_database_migration',
  'describe_branch',
  'delete_branch',
  'reset_from_parent',
  'get_connection_string',
  'provision_neon_auth',
  'explain_sql_statement',
  'prepare_query_tuning',
  'complete_query_tuning',
  'list_slow_queries',
  'list_branch_computes',
];

const doc = readFileSync(new URL('../docs/FROM-NEON.md', import.meta.url), 'utf8');

/** The table's rows: Neon's name, ours, the toolset. */
const rows = [...doc.matchAll(/^\| `(\w+)` \| `(\w+)` \| (\w+) \|/gm)].map(([, neon, ours, toolset]) => ({
  neon: neon as string,
  ours: ours as string,
  toolset: toolset as string,
}));

const api = useMockApi();

describe('docs/FROM-NEON.md: Neon 0.6.5 tool names → ours', () => {
  it('has one row per Neon 0.6.5 tool, in its order, and no other', () => {
    expect(rows.map((r) => r.neon)).toEqual(NEON_065);
  });

  it('names in each row a tool of this server, in the toolset it is in', () => {
    const byName = new Map(ALL_TOOLS.map((t) => [t.name, t.toolset]));
    for (const row of rows) {
      expect(byName.has(row.ours), `${row.neon} → ${row.ours}: no such tool here`).toBe(true);
      expect(row.toolset, `${row.ours}'s toolset`).toBe(byName.get(row.ours));
    }
  });

  it('counts what this server adds, and every tool it names is one a server with every toolset lists', async () => {
    const mapped = new Set(rows.map((r) => r.ours));
    const toolsets = new Set(ALL_TOOLS.map((t) => t.toolset));
    expect(doc).toContain(
      `${ALL_TOOLS.length - mapped.size} tools Neon 0.6.5 does not have, in ${toolsets.size} toolsets`,
    );
    const auth = ALL_TOOLS.filter((t) => t.toolset === 'auth').length;
    expect(doc).toContain(`has ${auth - 1} more Neon Auth tools`);
    expect(doc).toContain(`14 keep their name and 9 have a new one`);
    expect(rows.filter((r) => r.neon === r.ours)).toHaveLength(14);

    const conn = await connect({ toolsets: ['all'] });
    try {
      const listed = new Set((await conn.mcp.listTools()).tools.map((t) => t.name));
      const named = [...doc.matchAll(/`([a-z]+(?:_[a-z]+)+)`/g)].map((m) => m[1] as string);
      const unknown = named.filter((n) => !listed.has(n) && !NEON_065.includes(n));
      // Argument names the text quotes are not tools.
      expect(
        unknown.filter((n) => !['project_id', 'branch_id', 'preserve_under_name', 'as_of'].includes(n)),
      ).toEqual([]);
    } finally {
      await conn.close();
    }
    await api.settle();
  });
});
