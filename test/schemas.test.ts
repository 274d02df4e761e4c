import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { withToolTable } from '../src/tools/readme-table.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, outputChecker, useMockApi } from './helpers.js';

useMockApi();
const SNAP_DIR = new URL('./__toolsnaps__/', import.meta.url);
/**
 * Set by `npm run snapshots` only. Snapshots are never written as a side effect of a test run (vitest
 * writes a missing file snapshot whenever CI is unset): a missing or stale one fails, everywhere.
 */
const UPDATE = process.env.UPDATE_TOOLSNAPS === '1';

describe('what the agent sees', () => {
  let conn: Awaited<ReturnType<typeof connect>>;
  afterAll(() => conn?.close());

  it('matches the committed JSON schema snapshot of every tool (update on purpose with `npm run snapshots`)', async () => {
    conn = await connect({ toolsets: ['all'] });
    const { tools } = await conn.mcp.listTools();
    const names = new Set(tools.map((t) => `${t.name}.json`));
    const stale = readdirSync(SNAP_DIR).filter((f) => !names.has(f));
    if (UPDATE) {
      for (const tool of tools)
        writeFileSync(new URL(`${tool.name}.json`, SNAP_DIR), `${JSON.stringify(tool, null, 2)}\n`);
      for (const f of stale) rmSync(new URL(f, SNAP_DIR));
      return;
    }
    const missing = tools.filter((t) => !existsSync(new URL(`${t.name}.json`, SNAP_DIR))).map((t) => t.name);
    expect(missing, 'tools without a snapshot: run `npm run snapshots` and review the new files').toEqual([]);
    for (const tool of tools) {
      const committed = readFileSync(new URL(`${tool.name}.json`, SNAP_DIR), 'utf8');
      expect(
        `${JSON.stringify(tool, null, 2)}\n`,
        `${tool.name}: run \`npm run snapshots\` and review the diff`,
      ).toBe(committed);
    }
    expect(stale, 'snapshots of tools that no longer exist: run `npm run snapshots`').toEqual([]);
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
    type Node = {
      type?: unknown;
      properties?: Record<string, Node>;
      items?: Node;
      description?: string;
      additionalProperties?: unknown;
    };
    const types = (n: Node) => (Array.isArray(n.type) ? n.type : n.type === undefined ? [] : [n.type]);
    /** A schema that says nothing of what it holds: an array without items, an object without fields. */
    const shell = (n: Node): string | undefined => {
      const t = types(n);
      if (t.includes('array') && !n.items) return 'array without items';
      // A map whose keys are data (a row by column name) says so by additionalProperties or its description.
      const objectLike = t.includes('object') || n.properties !== undefined;
      if (objectLike && !n.properties && !n.description && n.additionalProperties === undefined)
        return 'object without properties';
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
