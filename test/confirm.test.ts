/**
 * Confirmation before the irreversible (src/mcp/confirm.ts, framework.ts confirmIrreversible): through
 * elicitation where the client declared it, in both protocol eras, the `confirm` argument then ignored;
 * otherwise only through the one-time token of the call's own refusal. Nothing is changed until
 * confirmed.
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { afterEach, describe, expect, it } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { type ConfirmCall, confirmKey, issueToken, spendToken, TOKEN_TTL_MS } from '../src/mcp/confirm.js';
import { prepareServer } from '../src/server.js';
import { confirmed, confirmToken, tokenFrom } from './confirm-token.js';
import { connect, TEST_KEY, text, useMockApi } from './helpers.js';
import { BASE } from './mock/neon-fake.js';

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
      expect(asked[0].message).toMatch(
        /the server keeps it \(up to 24 h\) as this change's restore point \(undo_change puts it back/,
      );
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

  it('an accepted form without content, or a declined one with the box ticked, is not a confirmation', async () => {
    const { project } = api.fake.seedProject('keep-me');
    for (const reply of [
      { action: 'accept' as const },
      { action: 'decline' as const, content: { confirm: true } },
    ]) {
      const { conn } = await elicitingClient('modern', () => reply);
      expect(await conn.fails('delete_project', { project_id: project.id })).toMatch(/did not confirm/);
      await conn.close();
    }
    expect(api.count('DELETE', `/projects/${project.id}`)).toBe(0);
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

describe('with a form, the confirm argument is ignored', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: declined, a name or a token in confirm does not delete (the form is asked each time)`, async () => {
      const { project } = api.fake.seedProject('keep-me');
      // A token as a client without forms would get it (same key: the same API key).
      const other = await connect({ toolsets: ['all'] });
      const token = await confirmToken(other, 'delete_project', { project_id: project.id });
      await other.close();
      const { conn, asked } = await elicitingClient(era, () => ({ action: 'decline' }));
      for (const confirm of [undefined, 'keep-me', token]) {
        const err = await conn.fails('delete_project', { project_id: project.id, confirm });
        expect(err).toMatch(/did not confirm/);
      }
      expect(asked).toHaveLength(3);
      expect(api.fake.projects.has(project.id)).toBe(true);
      expect(api.count('DELETE', `/projects/${project.id}`)).toBe(0);
    });
  }
});

describe('without elicitation: a one-time token', () => {
  it('refuses with a token; a name no longer confirms; the token does, once', async () => {
    const { project, branch } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    conn = await connect();
    const route = `/projects/${project.id}/branches/${dev.id}/restore`;
    const args = { project_id: project.id, branch_id: dev.id };
    const first = await conn.fails('reset_branch_from_parent', args);
    expect(first).toMatch(/Reset branch "dev"/);
    expect(first).toMatch(
      /the server keeps it \(up to 24 h\) as this change's restore point \(undo_change puts it back/,
    );
    expect(first).toMatch(/Ask the user/);
    const token = tokenFrom(first);
    const named = await conn.fails('reset_branch_from_parent', { ...args, confirm: 'dev' });
    expect(named).toMatch(/not a confirmation token/);
    expect(api.count('POST', route)).toBe(0);
    const out = await conn.ok('reset_branch_from_parent', { ...args, confirm: token });
    expect(out.branch.id).toBe(dev.id);
    expect(api.count('POST', route)).toBe(1);
    const again = await conn.fails('reset_branch_from_parent', { ...args, confirm: token });
    expect(again).toMatch(/already used/);
    // The refusal hands out a fresh token, which works.
    expect(
      (await conn.ok('reset_branch_from_parent', { ...args, confirm: tokenFrom(again) })).branch.id,
    ).toBe(dev.id);
    expect(api.count('POST', route)).toBe(2);
  });

  it('a token is bound to its tool and arguments', async () => {
    const { project: a, branch } = api.fake.seedProject('alpha');
    const b = api.fake.seedProject('beta').project;
    conn = await connect({ toolsets: ['all'] });
    const token = await confirmToken(conn, 'delete_project', { project_id: a.id });
    // Another project, the same project by another spelling of the call, another tool: refused.
    expect(await conn.fails('delete_project', { project_id: b.id, confirm: token })).toMatch(
      /not issued for this tool with these arguments/,
    );
    expect(
      await conn.fails('restore_branch', {
        project_id: a.id,
        branch_id: branch.id,
        source_timestamp: '2026-01-31T12:00:00Z',
        preserve_under_name: 'before',
        confirm: token,
      }),
    ).toMatch(/not issued/);
    expect(api.fake.projects.has(a.id) && api.fake.projects.has(b.id)).toBe(true);
    // Still unspent: it confirms the call it was made for.
    await conn.ok('delete_project', { project_id: a.id, confirm: token });
    expect(api.fake.projects.has(a.id)).toBe(false);
    expect(api.fake.projects.has(b.id)).toBe(true);
  });

  it('one instance accepts the token of another serving the same key (as --http behind a balancer), not of another key', async () => {
    const p = api.fake.seedProject('shared').project;
    const one = await connect({ toolsets: ['all'] });
    const token = await confirmToken(one, 'delete_project', { project_id: p.id });
    await one.close();
    conn = await connect({ toolsets: ['all'], secrets: ['another-key-entirely'] });
    expect(await conn.fails('delete_project', { project_id: p.id, confirm: token })).toMatch(/not issued/);
    await conn.close();
    conn = await connect({ toolsets: ['all'] });
    await conn.ok('delete_project', { project_id: p.id, confirm: token });
    expect(api.fake.projects.has(p.id)).toBe(false);
  });

  it('--http: each caller key gets its own tokens, and every instance serving that key accepts them', async () => {
    const p = api.fake.seedProject('tenant').project;
    const KEY_A = 'napi_caller_a_0123456789abcdef';
    const KEY_B = 'napi_caller_b_0123456789abcdef';
    // Two instances as --http builds them (prepared separately, each call served for its caller).
    const instance = async (key: string) => {
      const prepared = prepareServer({
        client: new NeonClient({ apiKey: TEST_KEY, baseUrl: BASE }),
        toolsets: ['all'],
      });
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      const handle = serveStdio(
        () => prepared.createFor({ client: new NeonClient({ apiKey: key, baseUrl: BASE }), secrets: [key] }),
        { transport: serverSide },
      );
      const mcp = new Client(
        { name: 't', version: '1' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await mcp.connect(clientSide);
      const call = async (name: string, args: Record<string, unknown>) =>
        mcp.callTool({ name, arguments: args });
      return {
        fails: async (name: string, args: Record<string, unknown> = {}) => {
          const res = await call(name, args);
          expect(res.isError, text(res)).toBe(true);
          return text(res);
        },
        ok: async (name: string, args: Record<string, unknown> = {}) => {
          const res = await call(name, args);
          expect(res.isError, text(res)).toBeFalsy();
          return res.structuredContent as any;
        },
        close: async () => {
          await mcp.close();
          await handle.close();
        },
      };
    };
    const one = await instance(KEY_A);
    const two = await instance(KEY_A);
    const other = await instance(KEY_B);
    try {
      const token = await confirmToken(one, 'delete_project', { project_id: p.id });
      expect(token).not.toContain(KEY_A);
      // Caller B's instance refuses A's token; A's other instance takes it.
      expect(await other.fails('delete_project', { project_id: p.id, confirm: token })).toMatch(/not issued/);
      expect(api.fake.projects.has(p.id)).toBe(true);
      await two.ok('delete_project', { project_id: p.id, confirm: token });
      expect(api.fake.projects.has(p.id)).toBe(false);
    } finally {
      await Promise.all([one.close(), two.close(), other.close()]);
    }
  });

  it('the refusal and its token show no secret', async () => {
    const { project } = api.fake.seedProject('x1');
    conn = await connect({ toolsets: ['all'] });
    const res = await conn.call('delete_project', { project_id: project.id });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/Ask the user/);
    expect(text(res)).not.toContain(TEST_KEY);
    expect(text(res)).not.toContain(confirmKey([TEST_KEY]).toString('base64url'));
    expect(text(res)).not.toContain(confirmKey([TEST_KEY]).toString('hex'));
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
    tokenFrom(restore);
    const del = await conn.fails('delete_project', { project_id: project.id, confirm: 'shop' });
    tokenFrom(del);
    expect(api.count('DELETE', `/projects/${project.id}`)).toBe(0);
    // delete_database keeps its behaviour.
    expect(
      (await conn.ok('delete_database', { project_id: project.id, branch_id: branch.id, database: 'neondb' }))
        .deleted,
    ).toBe(true);
    // And the helper the other tests use confirms.
    expect((await confirmed(conn, 'delete_project', { project_id: project.id })).project.id).toBe(project.id);
  });

  it('read-only mode has none of these tools', async () => {
    conn = await connect({ readOnly: true, toolsets: ['all'] });
    const names = (await conn.mcp.listTools()).tools.map((t) => t.name);
    for (const n of ['delete_project', 'delete_branch', 'reset_branch_from_parent', 'restore_branch'])
      expect(names).not.toContain(n);
  });
});

describe('tokens (unit)', () => {
  const call: ConfirmCall = { tool: 'delete_project', args: { project_id: 'p-1' }, key: confirmKey(['k']) };

  it('expire after their time', () => {
    const t0 = Date.now();
    expect(spendToken(issueToken(call, t0), call, t0 + TOKEN_TTL_MS + 1)).toMatch(/expired/);
    expect(spendToken(issueToken(call, t0), call, t0 + TOKEN_TTL_MS - 1)).toBeUndefined();
  });

  it('do not depend on the order of arguments, nor on the confirm argument itself', () => {
    const token = issueToken({ ...call, args: { a: 1, b: { y: 2, x: [1, 2] } } });
    expect(
      spendToken(token, { ...call, args: { confirm: token, b: { x: [1, 2], y: 2 }, a: 1 } }),
    ).toBeUndefined();
    const other = issueToken({ ...call, args: { a: 1, b: { y: 2, x: [1, 2] } } });
    expect(spendToken(other, { ...call, args: { a: 1, b: { y: 2, x: [2, 1] } } })).toMatch(/not issued/);
  });

  it('a forged or altered token is refused as a whole', () => {
    const token = issueToken(call);
    const [p, exp, nonce, mac] = token.split('.') as [string, string, string, string];
    const later = (Number.parseInt(exp, 36) + TOKEN_TTL_MS).toString(36);
    expect(spendToken(`${p}.${later}.${nonce}.${mac}`, call)).toMatch(/not issued/);
    expect(spendToken(`${p}.${exp}.${nonce}x.${mac}`, call)).toMatch(/not issued/);
    expect(spendToken(`${p}.${exp}.${nonce}.${mac.slice(0, -2)}`, call)).toMatch(/not issued/);
    expect(spendToken(token, { ...call, key: confirmKey(['other']) })).toMatch(/not issued/);
    expect(spendToken(token, { ...call, tool: 'delete_branch' })).toMatch(/not issued/);
    expect(spendToken(token, call)).toBeUndefined();
  });

  it('with no secret, the key is per process and random', () => {
    expect(confirmKey([])).toHaveLength(32);
    expect(confirmKey([]).equals(confirmKey(['']))).toBe(false);
    expect(confirmKey(['a']).equals(confirmKey(['a']))).toBe(true);
  });
});

describe('the form, and which clients get it', () => {
  /** A client declaring `elicitation` as given, recording what it is asked and declining. */
  async function declaring(elicitation: Record<string, unknown>) {
    const asked: Asked[] = [];
    conn = await connect({
      toolsets: ['all'],
      mcpClient: { capabilities: { elicitation } as any },
      beforeConnect: (mcp: Client) =>
        mcp.setRequestHandler('elicitation/create', async (request) => {
          const params = request.params as any;
          asked.push({ message: params.message, schema: params.requestedSchema });
          return { action: 'decline' } as any;
        }),
    });
    return { conn, asked };
  }

  it('says the action as a question, what is lost as a sentence, and one required box', async () => {
    const { project, branch } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    const { conn, asked } = await declaring({ form: {} });
    await conn.fails('reset_branch_from_parent', { project_id: project.id, branch_id: dev.id });
    const action = `Reset branch "dev" (${dev.id}) to its parent's latest data`;
    const loses =
      "the branch's current data is replaced; the server keeps it (up to 24 h) as this change's restore point (undo_change puts it back; preserve_under_name would keep it as a branch of yours)";
    expect(asked).toEqual([
      {
        message: `${action}? T${loses.slice(1)}.`,
        schema: {
          type: 'object',
          properties: {
            confirm: {
              type: 'boolean',
              title: `Yes, r${action.slice(1)}`,
              description: `What is lost: ${loses}.`,
            },
          },
          required: ['confirm'],
        },
      },
    ]);
  });

  it('a bare elicitation capability (its older form) is asked; one without form mode gets a token', async () => {
    const { project } = api.fake.seedProject('keep-me');
    const bare = await declaring({});
    expect(await bare.conn.fails('delete_project', { project_id: project.id })).toMatch(/did not confirm/);
    expect(bare.asked).toHaveLength(1);
    await bare.conn.close();
    const urlOnly = await declaring({ url: {} });
    tokenFrom(await urlOnly.conn.fails('delete_project', { project_id: project.id }));
    expect(urlOnly.asked).toEqual([]);
    expect(api.fake.projects.has(project.id)).toBe(true);
  });
});

describe('tokens (unit): what they are bound to', () => {
  const key = confirmKey(['k']);
  const bound = (args: Record<string, unknown>, other: Record<string, unknown>) =>
    spendToken(issueToken({ tool: 't', args, key }), { tool: 't', args: other, key });

  it('arrays, nulls and absent members are told apart as JSON tells them apart', () => {
    expect(bound({ a: [1, 2] }, { a: { 0: 1, 1: 2 } })).toMatch(/not issued/);
    expect(bound({ a: [1, 2] }, { a: [12] })).toMatch(/not issued/);
    expect(bound({ a: null }, { a: null })).toBeUndefined();
    expect(bound({ a: null }, { a: 'null' })).toMatch(/not issued/);
    // An optional argument left undefined is the same call as one without it.
    expect(bound({ a: 1 }, { a: 1, b: undefined })).toBeUndefined();
  });

  it('text of another shape, or with another prefix, is no token', () => {
    const call = { tool: 't', args: {}, key };
    const [, exp, nonce, mac] = issueToken(call).split('.') as [string, string, string, string];
    expect(spendToken('dev', call)).toMatch(/not a confirmation token/);
    expect(spendToken(`nmc2.${exp}.${nonce}.${mac}`, call)).toMatch(/not a confirmation token/);
    expect(spendToken(`nmc1.${exp}.${nonce}`, call)).toMatch(/not a confirmation token/);
  });

  it("the caller's secrets are kept apart when joined", () => {
    expect(confirmKey(['ab', 'c']).equals(confirmKey(['a', 'bc']))).toBe(false);
  });
});

// Last in the file: the 10,000 spends are slow, and a mutant killed by a test above ends its run first.
describe('tokens (unit): the edges', () => {
  const call: ConfirmCall = { tool: 'delete_project', args: { project_id: 'p-2' }, key: confirmKey(['k']) };

  it('a token is refused from the instant it expires', () => {
    const t0 = Date.now();
    expect(spendToken(issueToken(call, t0), call, t0 + TOKEN_TTL_MS)).toMatch(/expired/);
  });

  it('past 10,000 pending confirmations it refuses (fails closed), and expired ones free their place', () => {
    // Far enough ahead that every token spent by the tests above has expired (the first spend purges them).
    const t0 = Date.now() + 3 * TOKEN_TTL_MS;
    for (let i = 0; i < 10_000; i++) expect(spendToken(issueToken(call, t0), call, t0)).toBeUndefined();
    expect(spendToken(issueToken(call, t0), call, t0)).toMatch(/too many confirmations/);
    // At their expiry the 10,000 are forgotten: a token issued then is accepted (and the map left small).
    const t1 = t0 + TOKEN_TTL_MS;
    expect(spendToken(issueToken(call, t1), call, t1)).toBeUndefined();
    // Each spend sweeps the spent map: 10,000 of them take seconds, more under mutation testing.
  }, 120_000);
});
