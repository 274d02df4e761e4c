/**
 * Confirmation before the irreversible (src/mcp/confirm.ts, framework.ts confirmIrreversible): through
 * elicitation where the client declared it, in both protocol eras; otherwise through the `confirm`
 * argument repeating the target's name. Nothing is changed until confirmed.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, text, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

interface Asked {
  message: string;
  schema: any;
}

/** A client that can be asked, answering as `answer` says and recording what it was asked. */
async function elicitingClient(
  era: 'modern' | 'legacy',
  answer: (asked: Asked) => { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, unknown> },
) {
  const asked: Asked[] = [];
  conn = await connect({
    era,
    toolsets: ['all'],
    mcpClient: { capabilities: { elicitation: { form: {} } } },
    beforeConnect: (mcp: Client) =>
      mcp.setRequestHandler('elicitation/create', async (request) => {
        const params = request.params as any;
        const q = { message: params.message, schema: params.requestedSchema };
        asked.push(q);
        return answer(q) as any;
      }),
  });
  return { conn, asked };
}

describe('through elicitation', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: asks before resetting a branch, naming what is lost, and resets once accepted`, async () => {
      const { project, branch } = api.fake.seedProject();
      const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
      const { conn, asked } = await elicitingClient(era, () => ({
        action: 'accept',
        content: { confirm: true },
      }));
      const out = await conn.ok('reset_branch_from_parent', { project_id: project.id, branch_id: dev.id });
      expect(out.branch.id).toBe(dev.id);
      expect(asked).toHaveLength(1);
      expect(asked[0].message).toContain('Reset branch "dev"');
      expect(asked[0].message).toMatch(/not kept anywhere/);
      expect(asked[0].schema.properties.confirm.type).toBe('boolean');
      expect(api.count('POST', `/projects/${project.id}/branches/${dev.id}/restore`)).toBe(1);
    });

    it(`${era}: asks before deleting a protected branch; declined, nothing is sent`, async () => {
      const { project, branch } = api.fake.seedProject();
      const prod = api.fake.makeBranch(project.id, { name: 'prod', parent_id: branch.id, protected: true });
      const { conn, asked } = await elicitingClient(era, () => ({ action: 'cancel' }));
      const err = await conn.fails('delete_branch', { project_id: project.id, branch_id: prod.id });
      expect(asked[0].message).toContain('protected branch "prod"');
      expect(asked[0].message).toMatch(/data, its computes/);
      expect(err).toMatch(/cancelled/);
      expect(api.count('DELETE', `/projects/${project.id}/branches/${prod.id}`)).toBe(0);
    });

    it(`${era}: a declined confirmation changes nothing and says so`, async () => {
      const { project } = api.fake.seedProject('keep-me');
      const { conn, asked } = await elicitingClient(era, () => ({ action: 'decline' }));
      const err = await conn.fails('delete_project', { project_id: project.id });
      expect(asked).toHaveLength(1);
      expect(asked[0].message).toContain('Delete project "keep-me"');
      expect(err).toMatch(/did not confirm/);
      expect(err).toMatch(/Nothing was changed/);
      expect(api.fake.projects.has(project.id)).toBe(true);
      expect(api.count('DELETE', `/projects/${project.id}`)).toBe(0);
    });
  }

  it('an accepted form with the box unticked is not a confirmation', async () => {
    const { project, branch } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    const { conn } = await elicitingClient('modern', () => ({
      action: 'accept',
      content: { confirm: false },
    }));
    const err = await conn.fails('reset_branch_from_parent', { project_id: project.id, branch_id: dev.id });
    expect(err).toMatch(/not ticked/);
    expect(api.count('POST', `/projects/${project.id}/branches/${dev.id}/restore`)).toBe(0);
  });

  it('does not ask for a branch that is neither default nor protected', async () => {
    const { project, branch } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    const { conn, asked } = await elicitingClient('modern', () => ({ action: 'decline' }));
    expect((await conn.ok('delete_branch', { project_id: project.id, branch_id: dev.id })).deleted).toBe(
      true,
    );
    expect(asked).toEqual([]);
  });
});

describe('without elicitation: the confirm argument', () => {
  it('refuses until confirm repeats the name, then does it', async () => {
    const { project, branch } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    conn = await connect();
    const route = `/projects/${project.id}/branches/${dev.id}/restore`;
    const first = await conn.fails('reset_branch_from_parent', { project_id: project.id, branch_id: dev.id });
    expect(first).toMatch(/Reset branch "dev"/);
    expect(first).toMatch(/not kept anywhere/);
    expect(first).toContain('confirm: "dev"');
    const wrong = await conn.fails('reset_branch_from_parent', {
      project_id: project.id,
      branch_id: dev.id,
      confirm: 'main',
    });
    expect(wrong).toMatch(/takes confirm: "dev" exactly/);
    expect(api.count('POST', route)).toBe(0);
    const out = await conn.ok('reset_branch_from_parent', {
      project_id: project.id,
      branch_id: dev.id,
      confirm: 'dev',
    });
    expect(out.branch.id).toBe(dev.id);
    expect(api.count('POST', route)).toBe(1);
  });

  it('restore_branch and delete_project ask too; other destructive tools do not', async () => {
    const { project, branch } = api.fake.seedProject('shop');
    conn = await connect({ toolsets: ['all'] });
    const restore = await conn.fails('restore_branch', {
      project_id: project.id,
      branch_id: branch.id,
      source_timestamp: '2026-01-31T12:00:00Z',
      preserve_under_name: 'before',
    });
    expect(restore).toMatch(/Restore branch "main"/);
    expect(restore).toMatch(/a branch "before" keeps a copy/);
    const del = await conn.fails('delete_project', { project_id: project.id });
    expect(del).toContain('confirm: "shop"');
    expect(api.count('DELETE', `/projects/${project.id}`)).toBe(0);
    // delete_database keeps its behaviour.
    expect(
      (await conn.ok('delete_database', { project_id: project.id, branch_id: branch.id, database: 'neondb' }))
        .deleted,
    ).toBe(true);
  });

  it('read-only mode has none of these tools', async () => {
    conn = await connect({ readOnly: true, toolsets: ['all'] });
    const names = (await conn.mcp.listTools()).tools.map((t) => t.name);
    for (const n of ['delete_project', 'delete_branch', 'reset_branch_from_parent', 'restore_branch'])
      expect(names).not.toContain(n);
  });

  it('a confirmation error is a tool error the agent can read', async () => {
    const { project } = api.fake.seedProject('x1');
    conn = await connect();
    const res = await conn.call('delete_project', { project_id: project.id });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/Ask the user/);
  });
});
