import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { withToolTable } from '../src/tools/docs.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, outputChecker, useMockApi } from './helpers.js';

useMockApi();
const SNAP_DIR = new URL('./__toolsnaps__/', import.meta.url);

describe('what the agent sees', () => {
  let conn: Awaited<ReturnType<typeof connect>>;
  afterAll(() => conn?.close());

  it('matches the committed JSON schema snapshot of every tool (update with `npx vitest -u`)', async () => {
    conn = await connect({ toolsets: ['all'] });
    const { tools } = await conn.mcp.listTools();
    for (const tool of tools) {
      await expect(`${JSON.stringify(tool, null, 2)}\n`).toMatchFileSnapshot(
        `./__toolsnaps__/${tool.name}.json`,
      );
    }
    const names = new Set(tools.map((t) => `${t.name}.json`));
    const stale = readdirSync(SNAP_DIR).filter((f) => !names.has(f));
    expect(stale, 'snapshots of tools that no longer exist: delete them').toEqual([]);
  });

  it('has the README tool reference generated from the definitions (run `npm run docs`)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(withToolTable(readme, ALL_TOOLS)).toBe(readme);
  });

  it('has output schemas that describe the answers: no array without items, no object without properties, at two levels', async () => {
    const c = await connect({ toolsets: ['all'] });
    const { tools } = await c.mcp.listTools();
    await c.close();
    const shells: string[] = [];
    type Node = { type?: unknown; properties?: Record<string, Node>; items?: Node; description?: string };
    const types = (n: Node) => (Array.isArray(n.type) ? n.type : n.type === undefined ? [] : [n.type]);
    /** A schema that says nothing of what it holds: an array without items, an object without fields. */
    const shell = (n: Node): string | undefined => {
      const t = types(n);
      if (t.includes('array') && !n.items) return 'array without items';
      // A map whose keys are data (a row by column name) says so in its description instead.
      const objectLike = t.includes('object') || n.properties !== undefined;
      if (objectLike && !n.properties && !n.description) return 'object without properties';
      if (t.length === 0 && !n.properties && !n.items && !n.description) return 'says nothing';
      return undefined;
    };
    for (const tool of tools) {
      const root = tool.outputSchema as Node;
      if (!root?.properties || Object.keys(root.properties).length === 0) {
        shells.push(`${tool.name}: no properties`);
        continue;
      }
      for (const [key, prop] of Object.entries(root.properties)) {
        const why = shell(prop);
        if (why) shells.push(`${tool.name}.${key}: ${why}`);
        const inner = prop.items ? shell(prop.items) : undefined;
        if (inner) shells.push(`${tool.name}.${key}[]: ${inner}`);
      }
    }
    expect(shells).toEqual([]);
    // Items carry at least id and name where the resource has them.
    const branches = tools.find((t) => t.name === 'list_branches')!.outputSchema as Node;
    expect(Object.keys(branches.properties!.branches!.items!.properties!)).toEqual(['id', 'name']);
    const runSql = tools.find((t) => t.name === 'run_sql')!.outputSchema as Node;
    expect(Object.keys(runSql.properties!)).toEqual(
      expect.arrayContaining(['columns', 'rows', 'row_count', 'command', 'truncated']),
    );
  });

  it('checks every successful call against the advertised output schema (and the check can fail)', async () => {
    const c = await connect({ toolsets: ['all'] });
    const check = outputChecker(() => c.mcp.listTools());
    await expect(check('list_branches', { structuredContent: { branches: 'not an array' } })).rejects.toThrow(
      /list_branches: structuredContent does not match its advertised outputSchema/,
    );
    await expect(check('run_sql', { structuredContent: { row_count: 'many' } })).rejects.toThrow(/run_sql/);
    await expect(check('list_branches', { structuredContent: { branches: [{ id: 'br-1' }] } })).resolves.toBe(
      undefined,
    );
    // Error results carry no structured content to check.
    await expect(check('list_branches', { isError: true })).resolves.toBe(undefined);
    await c.close();
  });
});
