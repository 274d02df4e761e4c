/**
 * The domain helpers of src/neon called directly: names resolved to IDs (refs.ts) with the exact
 * errors that list candidates, the checks of unadvertised argument shapes (shape.ts), branch feature
 * statuses (features.ts), status polls (status.ts), and the small pickers (util.ts, resources.ts).
 * The Neon API is the fake (useMockApi).
 */
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { NeonApiError } from '../src/client/errors.js';
import { NeonClient } from '../src/client/neon-client.js';
import type { NeonContext, Settings } from '../src/neon/context.js';
import { featureStatus } from '../src/neon/features.js';
import { resolveBranch, resolveProject, resolveRefs } from '../src/neon/refs.js';
import { keySummary } from '../src/neon/resources.js';
import { checkShape } from '../src/neon/shape.js';
import { pollStatus } from '../src/neon/status.js';
import { defined, pick } from '../src/neon/util.js';
import { BASE, TEST_KEY, useMockApi } from './helpers.js';

const api = useMockApi();
const signal = new AbortController().signal;

function context(settings: Partial<Settings> = {}): NeonContext {
  return {
    client: new NeonClient({ apiKey: TEST_KEY, baseUrl: BASE, retries: 0 }),
    signal,
    progress: async () => undefined,
    wait: async () => [],
    settings: {
      readOnly: false,
      operationTimeoutMs: 5_000,
      sqlTimeoutMs: 5_000,
      sqlMaxRows: 100,
      sqlMaxBytes: 1e5,
      ...settings,
    },
  };
}

async function requests() {
  await api.settle();
  return api.requests.map((r) => `${r.method} ${r.path}${r.query.size ? `?${r.query}` : ''}`);
}

/** The message a promise rejects with (it must reject). */
async function refusal(p: Promise<unknown>): Promise<string> {
  return p.then(
    (v) => {
      throw new Error(`resolved to ${JSON.stringify(v)}`);
    },
    (e: Error) => e.message,
  );
}

describe('resolveRefs', () => {
  it('leaves a default branch unset when there is no project to look it up in', async () => {
    const out = await resolveRefs(context(), { branch_id: 'default-branch' }, { name: 'x' });
    expect(out).toEqual({ name: 'x' });
    expect(await requests()).toEqual([]);
  });

  it('fills a left-out default branch from the project, and keeps a given one', async () => {
    const { project, branch } = api.fake.seedProject('shop');
    const fields = { project_id: 'project', branch_id: 'default-branch' } as const;
    expect(await resolveRefs(context(), fields, { project_id: 'shop' })).toEqual({
      project_id: project.id,
      branch_id: branch.id,
    });
    const given = await resolveRefs(context(), fields, { project_id: project.id, branch_id: 'br-given-1' });
    expect(given).toEqual({ project_id: project.id, branch_id: 'br-given-1' });
  });

  it('refuses branch names when no project says where to look, naming every such field', async () => {
    const fields = { branch_id: 'branch', parent_id: 'branch', other_id: 'branch' } as const;
    const err = await refusal(
      resolveRefs(context(), fields, { branch_id: 'main', parent_id: 'dev', other_id: 'br-ok-1' }),
    );
    expect(err).toBe('branch_id, parent_id must be a branch ID (br-…) here.');
    expect(await requests()).toEqual([]);
  });
});

describe('resolveProject', () => {
  it('takes the scoped project as is, whatever its shape, without a request', async () => {
    expect(await resolveProject(context({ projectId: 'legacyproject' }), 'legacyproject')).toBe(
      'legacyproject',
    );
    expect(await requests()).toEqual([]);
  });

  it('searches by name, then lists the first projects when nothing is similar', async () => {
    for (let i = 0; i < 25; i++) api.fake.makeProject({ name: `p${String(i).padStart(2, '0')}` });
    const ids = [...api.fake.projects.keys()].sort();
    const err = await refusal(resolveProject(context(), 'nothing like it'));
    // The 20 of the first page: the page holds no more, so no count of others.
    expect(err).toBe(
      'No project is named "nothing like it", and it is not a project ID. Existing: ' +
        `${ids
          .slice(0, 20)
          .map((id) => `${id} (${api.fake.projects.get(id)?.name})`)
          .join(', ')}. Pass one of these names or IDs (list_projects shows all).`,
    );
    expect(await requests()).toEqual([
      'GET /projects?search=nothing+like+it&limit=100',
      'GET /projects?limit=20',
    ]);
  });

  it('shows only the similar projects the search found', async () => {
    const a = api.fake.makeProject({ name: 'analytics' });
    const b = api.fake.makeProject({ name: 'analytics-staging' });
    api.fake.makeProject({ name: 'shop' });
    const err = await refusal(resolveProject(context(), 'analytic'));
    expect(err).toBe(
      `No project is named "analytic", and it is not a project ID. Similar: ${a.id} (analytics), ${b.id} (analytics-staging). ` +
        'Pass one of these names or IDs (list_projects shows all).',
    );
    expect(await requests()).toEqual(['GET /projects?search=analytic&limit=100']);
  });

  it('says so when the key sees no project at all', async () => {
    expect(await refusal(resolveProject(context(), 'shop'))).toBe(
      'No project is named "shop", and it is not a project ID. There are no projects to choose from (list_projects).',
    );
  });

  it('names the count of projects that share a name', async () => {
    const one = api.fake.makeProject({ name: 'twin' });
    const two = api.fake.makeProject({ name: 'twin' });
    expect(await refusal(resolveProject(context(), 'twin'))).toBe(
      `2 projects are named "twin": ${one.id} (twin), ${two.id} (twin). Pass the ID of the one you mean.`,
    );
  });
});

describe('resolveBranch', () => {
  it('uses a branch ID as is, without listing', async () => {
    const { project } = api.fake.seedProject('shop');
    expect(await resolveBranch(context(), project.id, 'br-some-thing-1')).toBe('br-some-thing-1');
    expect(await requests()).toEqual([]);
  });

  it('lists the similar branches, 20 at most, and counts the others', async () => {
    const { project, branch: main } = api.fake.seedProject('shop');
    const previews = Array.from({ length: 25 }, (_, i) =>
      api.fake.makeBranch(project.id, { name: `preview-${i}`, parent_id: main.id }),
    );
    const err = await refusal(resolveBranch(context(), project.id, 'preview'));
    expect(err).toBe(
      `No branch is named "preview" in project ${project.id}, and it is not a branch ID. Similar: ` +
        `${previews
          .slice(0, 20)
          .map((b) => `${b.id} (${b.name})`)
          .join(', ')} and 5 more. Pass one of these names or IDs (list_branches shows all).`,
    );
    expect(err).not.toContain(`(main)`);
    expect(await requests()).toEqual([`GET /projects/${project.id}/branches?search=preview&limit=100`]);
  });

  it('lists the first 20 branches when none is similar', async () => {
    const { project, branch: main } = api.fake.seedProject('shop');
    for (let i = 0; i < 24; i++) api.fake.makeBranch(project.id, { name: `b${i}`, parent_id: main.id });
    const all = api.fake.branchesOf(project.id);
    const err = await refusal(resolveBranch(context(), project.id, 'staging'));
    expect(err).toBe(
      `No branch is named "staging" in project ${project.id}, and it is not a branch ID. Existing: ` +
        `${all
          .slice(0, 20)
          .map((b) => `${b.id} (${b.name})`)
          .join(', ')}. Pass one of these names or IDs (list_branches shows all).`,
    );
  });

  it('says so when the project has no branch', async () => {
    const project = api.fake.makeProject({ name: 'bare' });
    expect(await refusal(resolveBranch(context(), project.id, 'main'))).toBe(
      `No branch is named "main" in project ${project.id}, and it is not a branch ID. ` +
        'There are no branches to choose from (list_branches).',
    );
  });
});

describe('checkShape', () => {
  const item = z.object({
    name: z.string(),
    mode: z.enum(['fast', 'safe']).optional(),
    kind: z.literal(['a', 'b']),
    tags: z.array(z.enum(['x', 'y'])).optional(),
    note: z.string().optional(),
  });

  it('returns the value it accepts', () => {
    expect(checkShape(item, { name: 'n', kind: 'a' }, 'item')).toEqual({ name: 'n', kind: 'a' });
  });

  it('names each issue by its path and lists the accepted fields with their values', () => {
    expect(() => checkShape(item, { name: 1, kind: 'c' }, 'item')).toThrow(
      /^Invalid item: item\.name: .+; item\.kind: .+\. Accepted fields: name, mode\? \(fast\|safe\), kind \(a\|b\), tags\? \(\[x\|y\]\), note\?\.$/,
    );
  });

  it("lists an array's item fields, and each object of a union", () => {
    expect(() => checkShape(z.array(item), [{}], 'items')).toThrow(
      /Accepted fields: name, mode\? \(fast\|safe\), kind \(a\|b\), tags\? \(\[x\|y\]\), note\?\.$/,
    );
    const either = z.union([z.object({ a: z.string() }), z.string(), z.object({ b: z.literal('on') })]);
    expect(() => checkShape(either, 5, 'either')).toThrow(/Accepted fields: \{a\} or \{b \(on\)\}\.$/);
  });

  it('lists no fields for a schema without any', () => {
    let message = '';
    try {
      checkShape(z.string(), 5, 'text');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Invalid text: text: [^.]+\.$/);
    expect(message).not.toContain('Accepted');
  });
});

describe('featureStatus', () => {
  const route = '/projects/{project_id}/branches/{branch_id}/storage' as const;
  const storage = `${BASE}/projects/:project_id/branches/:branch_id/storage`;
  const path = { project_id: 'p-1', branch_id: 'br-1' };

  it('asks for JSON and returns the status Neon gives', async () => {
    const accept: (string | null)[] = [];
    api.use(
      http.get(storage, ({ request }) => {
        accept.push(request.headers.get('accept'));
        return HttpResponse.json({ enabled: true, s3_endpoint: 'https://s3.example.test' });
      }),
    );
    expect(await featureStatus(context().client, route, path, signal)).toEqual({
      enabled: true,
      s3_endpoint: 'https://s3.example.test',
    });
    expect(accept).toEqual(['application/json']);
  });

  it('answers a 404 with a reason as the feature being unavailable', async () => {
    api.use(
      http.get(storage, () =>
        HttpResponse.json(
          { code: 'NOT_FOUND', message: 'not entitled', reason: 'org_not_entitled' },
          { status: 404 },
        ),
      ),
    );
    expect(await featureStatus(context().client, route, path, signal)).toEqual({
      enabled: false,
      reason: 'org_not_entitled',
      message: 'not entitled',
    });
  });

  it('throws for a 404 of an unknown branch, or without a reason', async () => {
    for (const body of [
      { code: 'NOT_FOUND', message: 'no branch', reason: 'branch_not_found' },
      { code: 'NOT_FOUND', message: 'gone' },
    ]) {
      api.use(http.get(storage, () => HttpResponse.json(body, { status: 404 })));
      const err = await featureStatus(context().client, route, path, signal).catch((e) => e);
      expect(err).toBeInstanceOf(NeonApiError);
      expect(err).toMatchObject({
        method: 'GET',
        route,
        path: '/projects/p-1/branches/br-1/storage',
        status: 404,
        code: 'NOT_FOUND',
        neonMessage: body.message,
        attempts: 1,
      });
    }
  });
});

describe('pollStatus', () => {
  it('reports progress for each unsettled state, not for the settled one', async () => {
    const states = ['queued', 'running', 'done'];
    const seen: string[] = [];
    const ctx = {
      signal,
      progress: async (m: string) => {
        seen.push(m);
      },
      settings: { ...context().settings, backoff: { initialDelayMs: 1, maxDelayMs: 1 } },
    };
    const out = await pollStatus(
      ctx,
      async () => states.shift() as string,
      (s) => s === 'done',
      (s) => `state ${s}`,
    );
    expect(out).toEqual({ value: 'done', timedOut: false });
    expect(seen).toEqual(['state queued', 'state running']);
  });
});

describe('pick, defined, keySummary', () => {
  it('copies only the keys that are present', () => {
    expect(pick({ a: 1, b: undefined, c: 3 }, ['a', 'b', 'd'])).toStrictEqual({ a: 1, b: undefined });
    expect(defined({ a: 1, b: undefined })).toStrictEqual({ a: 1 });
  });

  it("summarises a listed key: its fields and its creator's name, never more", () => {
    const key = {
      id: 7,
      name: 'ci',
      created_at: '2026-01-01T00:00:00Z',
      last_used_at: '2026-01-02T00:00:00Z',
      last_used_from_addr: '203.0.113.5',
      project_id: 'p-1',
      created_by: { id: 'u-1', name: 'Ada', image: '' },
      token: 'never-shown',
    };
    expect(keySummary(key as any)).toStrictEqual({
      id: 7,
      name: 'ci',
      created_at: '2026-01-01T00:00:00Z',
      last_used_at: '2026-01-02T00:00:00Z',
      last_used_from_addr: '203.0.113.5',
      project_id: 'p-1',
      created_by: 'Ada',
    });
    expect(keySummary({ id: 8, name: 'old', created_at: 'x' } as any)).toStrictEqual({
      id: 8,
      name: 'old',
      created_at: 'x',
      created_by: undefined,
    });
  });
});
