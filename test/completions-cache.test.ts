/**
 * Completer (src/mcp/completions.ts) on its own, against a recording stand-in for the client: what is
 * asked of Neon and when (the cache's lifetime, a failed load retried, lists per project and branch,
 * the default branch and its fallback), which completions.test.ts sees only through a client. Values
 * are typed as ID prefixes and IDs have Neon's shapes, so what is offered is the ID.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NeonClient } from '../src/client/neon-client.js';
import { Completer, safely } from '../src/mcp/completions.js';
import type { Settings } from '../src/neon/context.js';

const P1 = 'calm-bird-11111111';
const P2 = 'calm-fish-22222222';

interface Call {
  what: string;
  options: unknown;
}

/** A client whose lists come from `data`, recording each call; `fail` makes the next loads throw. */
function fakeClient(data: {
  projects?: { id: string; name: string }[];
  branches?: Record<string, { id: string; name: string; default?: boolean }[]>;
  databases?: Record<string, string[]>;
  roles?: Record<string, string[]>;
}) {
  const calls: Call[] = [];
  let failing = 0;
  const client = {
    async listAll(path: string, key: string, options: { path?: { project_id: string }; maxItems?: number }) {
      calls.push({ what: `listAll ${path} ${key}`, options });
      if (failing > 0) {
        failing--;
        throw new Error('Neon is down');
      }
      if (key === 'projects') return data.projects ?? [];
      return data.branches?.[options.path?.project_id ?? ''] ?? [];
    },
    async get(path: string, options: { path: { project_id: string; branch_id: string } }) {
      calls.push({ what: `get ${path}`, options });
      if (failing > 0) {
        failing--;
        throw new Error('Neon is down');
      }
      const b = options.path.branch_id;
      if (path.endsWith('/databases'))
        return { databases: (data.databases?.[b] ?? []).map((name) => ({ name })) };
      return { roles: (data.roles?.[b] ?? []).map((name) => ({ name })) };
    },
  };
  return {
    client: client as unknown as NeonClient,
    calls,
    failNext(n = 1) {
      failing = n;
    },
  };
}

const settings = (s: Partial<Settings> = {}) => ({ readOnly: false, ...s }) as Settings;
afterEach(() => vi.useRealTimers());

describe('Completer', () => {
  it('lists projects once within 30 s, again after; at most 1,000 walked', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const fake = fakeClient({ projects: [{ id: P1, name: 'one' }] });
    const c = new Completer(fake.client, settings());
    expect(await c.projects('calm')).toEqual([P1]);
    vi.setSystemTime(1_000_000 + 29_999);
    expect(await c.projects('calm-b')).toEqual([P1]);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toEqual({ what: 'listAll /projects projects', options: { maxItems: 1000 } });
    vi.setSystemTime(1_000_000 + 30_000);
    expect(await c.projects('calm')).toEqual([P1]);
    expect(fake.calls).toHaveLength(2);
  });

  it('a failed load answers nothing (safely) and is forgotten, so the next key stroke asks again', async () => {
    const fake = fakeClient({ projects: [{ id: P1, name: 'one' }] });
    const c = new Completer(fake.client, settings());
    fake.failNext();
    const complete = safely((v) => c.projects(v));
    expect(await complete('calm', undefined)).toEqual([]);
    expect(await complete('calm', undefined)).toEqual([P1]);
    expect(fake.calls).toHaveLength(2);
    // A value the SDK left undefined is the empty prefix.
    expect(await safely((v) => Promise.resolve([`<${v}>`]))(undefined as unknown as string)).toEqual(['<>']);
  });

  it('matches IDs and names by prefix in any case; the scope alone when scoped, without asking', async () => {
    const fake = fakeClient({
      projects: [
        { id: P1, name: 'Shop' },
        { id: P2, name: 'blog' },
      ],
    });
    const c = new Completer(fake.client, settings());
    expect(await c.projects('CALM-F')).toEqual([P2]);
    expect(await c.projects('zzz')).toEqual([]);
    const scoped = new Completer(fake.client, settings({ projectId: P1 }));
    expect(await scoped.projects('calm')).toEqual([P1]);
    expect(await scoped.projects('x')).toEqual([]);
    expect(fake.calls).toHaveLength(1);
  });

  it('branches: per project, cached per project, none without a project', async () => {
    const fake = fakeClient({
      branches: {
        [P1]: [{ id: 'br-one-1', name: 'main', default: true }],
        [P2]: [{ id: 'br-two-2', name: 'main', default: true }],
      },
    });
    const c = new Completer(fake.client, settings());
    expect(await c.branches('br-', undefined)).toEqual([]);
    expect(await c.branches('br-', { arguments: {} })).toEqual([]);
    expect(fake.calls).toHaveLength(0);
    expect(await c.branches('br-', { arguments: { project_id: P1 } })).toEqual(['br-one-1']);
    expect(await c.branches('br-', { arguments: { project_id: P2 } })).toEqual(['br-two-2']);
    expect(await c.branches('br-o', { arguments: { project_id: P1 } })).toEqual(['br-one-1']);
    expect(fake.calls.map((x) => x.options)).toEqual([
      { path: { project_id: P1 }, maxItems: 1000 },
      { path: { project_id: P2 }, maxItems: 1000 },
    ]);
    // Scoped: the scope, whatever the context says.
    const scoped = new Completer(fake.client, settings({ projectId: P2 }));
    expect(await scoped.branches('br-', { arguments: { project_id: P1 } })).toEqual(['br-two-2']);
  });

  it('databases and roles: of the branch given, else the default branch, else the first; none without branches', async () => {
    const fake = fakeClient({
      branches: {
        [P1]: [
          { id: 'br-first-1', name: 'first' },
          { id: 'br-default-2', name: 'main', default: true },
        ],
        [P2]: [{ id: 'br-only-3', name: 'only' }],
        'calm-none-33333333': [],
      },
      databases: { 'br-first-1': ['firstdb'], 'br-default-2': ['maindb', 'other'], 'br-only-3': ['onlydb'] },
      roles: { 'br-default-2': ['app_owner', 'app_reader'], 'br-first-1': ['first_owner'] },
    });
    const c = new Completer(fake.client, settings());
    expect(await c.databases('', { arguments: { project_id: P1 } })).toEqual(['maindb', 'other']);
    expect(await c.databases('o', { arguments: { project_id: P1 } })).toEqual(['other']);
    expect(await c.databases('', { arguments: { project_id: P1, branch_id: 'br-first-1' } })).toEqual([
      'firstdb',
    ]);
    expect(await c.databases('', { arguments: { project_id: P2 } })).toEqual(['onlydb']);
    expect(await c.databases('', { arguments: { project_id: 'calm-none-33333333' } })).toEqual([]);
    expect(await c.databases('', undefined)).toEqual([]);
    expect(await c.roles('app_r', { arguments: { project_id: P1 } })).toEqual(['app_reader']);
    expect(await c.roles('', { arguments: { project_id: P1, branch_id: 'br-first-1' } })).toEqual([
      'first_owner',
    ]);
    expect(await c.roles('', undefined)).toEqual([]);
    const asked = fake.calls.filter((x) => x.what.startsWith('get')).map((x) => [x.what, x.options]);
    expect(asked).toEqual([
      [
        'get /projects/{project_id}/branches/{branch_id}/databases',
        { path: { project_id: P1, branch_id: 'br-default-2' } },
      ],
      [
        'get /projects/{project_id}/branches/{branch_id}/databases',
        { path: { project_id: P1, branch_id: 'br-first-1' } },
      ],
      [
        'get /projects/{project_id}/branches/{branch_id}/databases',
        { path: { project_id: P2, branch_id: 'br-only-3' } },
      ],
      [
        'get /projects/{project_id}/branches/{branch_id}/roles',
        { path: { project_id: P1, branch_id: 'br-default-2' } },
      ],
      [
        'get /projects/{project_id}/branches/{branch_id}/roles',
        { path: { project_id: P1, branch_id: 'br-first-1' } },
      ],
    ]);
  });

  it('answers at most 100 values, in the order listed', async () => {
    const projects = Array.from({ length: 150 }, (_, i) => ({
      id: `calm-bird-${String(10_000_000 + i)}`,
      name: `n${i}`,
    }));
    const c = new Completer(fakeClient({ projects }).client, settings());
    const got = await c.projects('calm');
    expect(got).toHaveLength(100);
    expect(got).toEqual(projects.slice(0, 100).map((p) => p.id));
  });

  it('two completers on one cache share its lists; on their own caches they do not', async () => {
    const fake = fakeClient({ projects: [{ id: P1, name: 'one' }] });
    const shared = new Map();
    await new Completer(fake.client, settings(), shared).projects('c');
    await new Completer(fake.client, settings(), shared).projects('c');
    expect(fake.calls).toHaveLength(1);
    await new Completer(fake.client, settings()).projects('c');
    expect(fake.calls).toHaveLength(2);
  });
});
