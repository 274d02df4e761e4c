import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { withToolTable } from '../src/tools/docs.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, useMockApi } from './helpers.js';

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
});
