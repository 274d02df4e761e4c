import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { withToolTable } from '../src/tools/docs.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, useMockApi } from './helpers.js';

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
});
