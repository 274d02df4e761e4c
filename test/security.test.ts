/**
 * Security properties, checked across the whole registry:
 * - the API key never appears in a tool result (text or structured) or on stderr, over a run of many
 *   calls that includes errors, Neon echoing the key back, and unexpected failures that get logged;
 * - role passwords do not leak into error messages or logs (only the tools that exist to return them
 *   do, and list/get tools never do);
 * - read-only mode cannot be escaped: nothing with readOnlyHint false is listed (not even when named
 *   with --tools), calling a hidden tool by name fails as unknown and sends nothing, list_toolsets
 *   says why they are hidden, and the tools that are listed send no write request;
 * - project scoping cannot be escaped: another project_id is refused with a clear message and no
 *   request, account-level tools are not listed nor callable, and every request of every listed tool
 *   stays inside the scoped project.
 */
import { HttpResponse, http } from 'msw';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { RateLimiter } from '../src/client/rate-limiter.js';
import { stderrLogger } from '../src/log.js';
import { TOOLSETS, type ToolDef } from '../src/tools/framework.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, TEST_KEY, text } from './helpers.js';
import { BASE, MockNeonApi, neonError } from './mock/http-server.js';
import type { NeonFake } from './mock/neon-fake.js';

const mock = new MockNeonApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
let stderr: string[] = [];
let world: ReturnType<typeof seed>;

const PASSWORD = 'pw-Very-Secret-0123456789';
const OTHER_PASSWORD = 'pw-Other-Secret-9876543210';

function seed(fake: NeonFake) {
  const { project, branch, endpoint } = fake.seedProject('secure');
  const owner = fake.rolesOf(branch.id).find((r) => r.name === 'neondb_owner')!;
  owner.password = PASSWORD;
  fake.makeRole(branch.id, 'app', { password: OTHER_PASSWORD });
  const other = fake.seedProject('someone-elses');
  const [op] = fake.startOperations(project.id, [{ action: 'apply_config', branch_id: branch.id }]);
  op.status = 'finished';
  // SQL tools get a URI with the password, to a port where nothing listens.
  fake.connectionUri = ({ role, database }) =>
    `postgresql://${role}:${role === 'app' ? OTHER_PASSWORD : PASSWORD}@127.0.0.1:1/${database}?sslmode=disable`;
  return { project, branch, endpoint, op, other: other.project };
}

beforeEach(() => {
  mock.reset();
  world = seed(mock.fake);
  stderr = [];
  // The real logger (with its redaction) writing to a captured stderr.
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
});
afterEach(async () => {
  await conn?.close();
  conn = undefined;
  vi.restoreAllMocks();
});
afterAll(() => vi.restoreAllMocks());

async function open(options: Parameters<typeof connect>[0] = {}) {
  conn = await connect({
    toolsets: ['all'],
    logger: stderrLogger([TEST_KEY]),
    clientOptions: {
      fetch: mock.fetch,
      retries: 1,
      retryDelayMs: 1,
      maxRetryDelayMs: 5,
      // Neon's 700 requests a minute would hold the key-leak run (>700 requests) for most of a minute;
      // rate limiting is tested in concurrency.test.ts, not here.
      limiter: new RateLimiter({ perMinute: 1e9, perSecondPerRoute: 1e9 }),
    },
    operationTimeoutMs: 500,
    sqlTimeoutMs: 2_000,
    ...options,
  });
  return conn;
}

/** Required arguments of a tool from its input shape: IDs of the seeded world, else the first valid guess. */
function argsFor(tool: ToolDef, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const w = world;
  const named: Record<string, unknown> = {
    project_id: w.project.id,
    branch_id: w.branch.id,
    compute_id: w.endpoint.id,
    operation_id: w.op.id,
    database: 'neondb',
    role: 'neondb_owner',
    owner: 'neondb_owner',
    name: 'made_here',
    sql: 'select 1',
    statements: ['select 1'],
    migration_sql: 'create table t (id int)',
    table: 't',
    org_id: 'org-1',
  };
  const args: Record<string, unknown> = {};
  for (const [field, schema] of Object.entries(tool.input) as [string, z.ZodType][]) {
    if (field in overrides) {
      args[field] = overrides[field];
      continue;
    }
    if (schema.safeParse(undefined).success) continue;
    const guess = [named[field], 'x-1', 1, true, ['x-1'], {}].find(
      (c) => c !== undefined && schema.safeParse(c).success,
    );
    if (guess !== undefined) args[field] = guess;
  }
  return args;
}

const BY_NAME = new Map(ALL_TOOLS.map((t) => [t.name, t]));
/** The definition of a tool that must exist: a renamed or removed tool fails the test, not skips it. */
function def(name: string): ToolDef {
  const found = BY_NAME.get(name);
  expect(found, `tool ${name} is missing from the registry`).toBeDefined();
  return found!;
}
/** The session's own tools, listed beside the registry's (they touch nothing at Neon). */
const META = ['list_toolsets', 'enable_toolsets'];
/** The definitions of the listed tools; the two session tools are the only listed tools without one. */
function defsOf(tools: { name: string }[]): ToolDef[] {
  expect(tools.filter((t) => !BY_NAME.has(t.name)).map((t) => t.name)).toEqual(META);
  return tools.filter((t) => !META.includes(t.name)).map((t) => def(t.name));
}

/** Everything an agent or operator could see from a call: text, structured content, and stderr. */
function visible(res: { content?: unknown; structuredContent?: unknown }): string {
  return `${JSON.stringify(res.content ?? null)}\n${JSON.stringify(res.structuredContent ?? null)}`;
}

describe('the API key never leaks', () => {
  it('appears in no result and nowhere on stderr over every tool, healthy and failing, with Neon echoing it', {
    timeout: 30_000,
  }, async () => {
    const c = await open();
    const seen: string[] = [];
    const scenarios: { name: string; install(): void }[] = [
      { name: 'healthy', install: () => undefined },
      {
        name: 'Neon echoes the key in an error',
        install: () =>
          mock.use(
            http.all(`${BASE}/*`, ({ request }) =>
              HttpResponse.json(
                {
                  code: 'UNAUTHORIZED',
                  message: `invalid key: ${request.headers.get('authorization')} (key ${TEST_KEY})`,
                },
                { status: 401 },
              ),
            ),
          ),
      },
      {
        name: 'Neon echoes the key in a 500 that is not JSON',
        install: () =>
          mock.use(
            http.all(
              `${BASE}/*`,
              ({ request }) =>
                new HttpResponse(`proxy error for ${request.headers.get('authorization')}`, { status: 500 }),
            ),
          ),
      },
      {
        name: 'Neon echoes the key in a successful body',
        install: () => {
          for (const p of mock.fake.projects.values()) p.name = `named ${TEST_KEY}`;
          for (const b of mock.fake.branches.values()) b.name = `branch ${TEST_KEY}`;
        },
      },
      {
        name: 'unexpected bodies make tools fail unexpectedly (and log it)',
        install: () =>
          mock.use(
            http.all(`${BASE}/*`, () =>
              HttpResponse.json({ surprise: TEST_KEY, nested: { deeper: [TEST_KEY] } }, { status: 200 }),
            ),
          ),
      },
    ];
    let requests = 0;
    let authorized = true;
    for (const scenario of scenarios) {
      requests += mock.requests.length;
      authorized &&= mock.requests.every((r) => r.headers.get('authorization') === `Bearer ${TEST_KEY}`);
      mock.reset();
      world = seed(mock.fake);
      scenario.install();
      for (const tool of ALL_TOOLS) {
        const res = await c.call(tool.name, argsFor(tool));
        seen.push(`${scenario.name} / ${tool.name}: ${visible(res)}`);
      }
      // Invalid arguments echo what was passed: pass the key as a value.
      const res = await c.call('get_project', { project_id: TEST_KEY });
      seen.push(`${scenario.name} / invalid: ${visible(res)}`);
    }
    requests += mock.requests.length;
    expect(requests).toBeGreaterThan(ALL_TOOLS.length * 2);
    // The server did log something (unexpected failures), so the check below means something.
    expect(stderr.join('').length).toBeGreaterThan(0);
    const leaks = seen.filter((s) => s.includes(TEST_KEY));
    expect(leaks.map((l) => l.slice(0, 300))).toEqual([]);
    expect(stderr.join('')).not.toContain(TEST_KEY);
    // It was sent where it belongs: as the bearer token of every request.
    expect(authorized).toBe(true);
  });
});

describe('role passwords', () => {
  const leaksPassword = (s: string) => s.includes(PASSWORD) || s.includes(OTHER_PASSWORD);

  it('never appear in error messages or logs, whatever fails around them', async () => {
    const c = await open();
    const errors: string[] = [];
    const sqlTools = ALL_TOOLS.filter((t) => t.toolset === 'sql' || t.toolset === 'schema');
    // Why each SQL or schema tool fails here: most reach the connection (with the password in its
    // URI), the rest stop earlier; every one is listed, so a new tool has to say which.
    const connects = /^Could not connect to branch \S+ \(database neondb, role (neondb_owner|app)\)/;
    const SQL_FAILURE: Record<string, RegExp> = {
      run_sql: connects,
      run_sql_readonly: connects,
      run_sql_transaction: connects,
      list_tables: connects,
      describe_table: connects,
      explain_sql: connects,
      list_slow_queries: connects,
      prepare_database_migration: connects,
      prepare_query_tuning: connects,
      get_branch_schema: /failed with HTTP 404/,
      // The seeded branch is a root branch: refused before any request.
      compare_schema: /is a root branch, so it has no parent to compare with/,
      complete_database_migration: /^Input validation error: .*migration_id/,
      discard_database_migration: /^Input validation error: .*migration_id/,
      complete_query_tuning: /^Input validation error: .*tuning_id/,
    };
    expect(sqlTools.map((t) => t.name).sort()).toEqual(Object.keys(SQL_FAILURE).sort());
    // The schema tools ask Neon (which reads the database itself); here the database is gone there.
    mock.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/schema`, () =>
        neonError(404, 'database neondb not found', 'NOT_FOUND'),
      ),
    );
    // 1. SQL tools get a URI with the password and cannot connect.
    for (const tool of sqlTools) {
      for (const role of ['neondb_owner', 'app']) {
        const res = await c.call(tool.name, argsFor(tool, 'role' in tool.input ? { role } : {}));
        expect(res.isError, `${tool.name}: ${text(res)}`).toBe(true);
        expect(text(res), tool.name).toMatch(SQL_FAILURE[tool.name]);
        errors.push(`${tool.name}: ${text(res)}`);
      }
    }
    // 2. Password tools whose operation then fails, or whose wait times out. The two that start an
    // operation fail; the two that only read answer with the password, which is what they are for.
    const PASSWORD_TOOLS: Record<string, 'fails' | 'returns the password'> = {
      reset_role_password: 'fails',
      create_role: 'fails',
      reveal_role_password: 'returns the password',
      get_connection_string: 'returns the password',
    };
    for (const [name, expected] of Object.entries(PASSWORD_TOOLS)) {
      const tool = def(name);
      for (const setup of [
        () => {
          mock.fake.failNextOperation = `failed while setting ${PASSWORD}`;
        },
        () => {
          mock.fake.operationPolls = 1_000_000;
        },
        () =>
          mock.use(
            http.get(`${BASE}/projects/:project_id/operations/:operation_id`, () =>
              HttpResponse.json({ code: 'X', message: 'boom' }, { status: 500 }),
            ),
          ),
      ]) {
        mock.reset();
        world = seed(mock.fake);
        setup();
        const res = await c.call(name, argsFor(tool, name === 'create_role' ? { name: 'fresh' } : {}));
        if (expected === 'fails') {
          expect(res.isError, `${name}: ${text(res)}`).toBe(true);
          errors.push(`${name}: ${text(res)}`);
        } else {
          expect(res.isError, `${name}: ${text(res)}`).toBeFalsy();
          expect(visible(res), name).toContain(PASSWORD);
        }
      }
    }
    expect(errors).toHaveLength(sqlTools.length * 2 + 2 * 3);
    // Neon's own message may contain what Neon put there (the failNextOperation text above); strip it.
    const ours = errors.map((e) => e.replace(`failed while setting ${PASSWORD}`, '<neon message>'));
    expect(ours.filter(leaksPassword)).toEqual([]);
    expect(leaksPassword(stderr.join(''))).toBe(false);
  });

  it('are not in list or get results; only the tools that exist to return them do', async () => {
    const c = await open();
    const mayReturn = new Set([
      'reveal_role_password',
      'reset_role_password',
      'create_role',
      'get_connection_string',
      'create_project',
      'create_branch',
    ]);
    const leaks: string[] = [];
    for (const tool of ALL_TOOLS.filter((t) => t.hints.readOnlyHint && !mayReturn.has(t.name))) {
      const res = await c.call(tool.name, argsFor(tool));
      if (leaksPassword(visible(res))) leaks.push(tool.name);
    }
    expect(leaks).toEqual([]);
    for (const name of mayReturn) def(name);
    const revealed = await c.call('reveal_role_password', argsFor(def('reveal_role_password')));
    expect(visible(revealed)).toContain(PASSWORD);
  });
});

describe('read-only mode cannot be escaped', () => {
  const mutating = ALL_TOOLS.filter((t) => !t.hints.readOnlyHint);

  it('lists no tool with readOnlyHint false, even when named with --tools', async () => {
    const c = await open({ readOnly: true, tools: mutating.map((t) => t.name) });
    const { tools } = await c.mcp.listTools();
    expect(tools.length).toBeGreaterThan(5);
    for (const t of tools) expect(t.annotations?.readOnlyHint, t.name).toBe(true);
    const listed = new Set(tools.map((t) => t.name));
    for (const t of mutating) expect(listed.has(t.name), t.name).toBe(false);
  });

  it('refuses every hidden mutating tool called by name as unknown, sending nothing', async () => {
    const c = await open({ readOnly: true });
    for (const tool of mutating) {
      const outcome = await c.call(tool.name, argsFor(tool)).then(
        (res) => ({ isError: res.isError, message: text(res) }),
        (error: Error) => ({ isError: true, message: error.message }),
      );
      expect(outcome.isError, tool.name).toBe(true);
      expect(outcome.message, tool.name).toMatch(/not found|unknown|no such tool/i);
    }
    expect(mock.requests).toEqual([]);
  });

  it('enable_toolsets cannot bring a mutating tool back', async () => {
    const c = await open({ readOnly: true, toolsets: ['projects'] });
    const added = await c.ok('enable_toolsets', { toolsets: Object.keys(TOOLSETS) });
    expect(added.added.length).toBeGreaterThan(0);
    const { tools } = await c.mcp.listTools();
    // More tools than before, and still none that writes.
    expect(tools.length).toBeGreaterThan(ALL_TOOLS.filter((t) => t.toolset === 'projects').length);
    for (const t of tools) expect(t.annotations?.readOnlyHint, t.name).toBe(true);
    expect(mock.requests).toEqual([]);
  });

  it('list_toolsets shows the mutating tools as hidden by read-only mode', async () => {
    const c = await open({ readOnly: true });
    const out = await c.ok('list_toolsets');
    expect(out.read_only).toBe(true);
    // A line per toolset names the tools read-only mode hides.
    const hiddenByReadOnly = new Set(
      out.toolsets.flatMap((l: string) => /read-only mode hides ([^;]+)/.exec(l)?.[1].split(', ') ?? []),
    );
    for (const t of mutating) expect(hiddenByReadOnly.has(t.name), t.name).toBe(true);
  });

  it('the tools it does list send no write request (POST/PATCH/PUT/DELETE) to Neon, nor hand out a password', async () => {
    const c = await open({ readOnly: true });
    const { tools } = await c.mcp.listTools();
    const writes: string[] = [];
    const leaks: string[] = [];
    for (const tool of defsOf(tools)) {
      const before = mock.requests.length;
      const res = await c.call(tool.name, argsFor(tool));
      for (const r of mock.requests.slice(before))
        if (r.method !== 'GET') writes.push(`${tool.name}: ${r.method} ${r.path}`);
      // The owner's and the app role's passwords (both can write) appear in no answer.
      const out = JSON.stringify(res);
      if (out.includes(PASSWORD) || out.includes(OTHER_PASSWORD)) leaks.push(tool.name);
    }
    expect(mock.requests.length).toBeGreaterThan(tools.length / 2);
    expect(writes).toEqual([]);
    expect(leaks).toEqual([]);
  });
});

describe('project scoping cannot be escaped', () => {
  const accountLevel = ALL_TOOLS.filter((t) => t.accountLevel);

  it('lists no account-level tool and no project_id argument', async () => {
    const c = await open({ projectId: world.project.id });
    const { tools } = await c.mcp.listTools();
    const listed = new Set(tools.map((t) => t.name));
    expect(accountLevel.length).toBeGreaterThan(0);
    for (const t of accountLevel) expect(listed.has(t.name), t.name).toBe(false);
    for (const t of tools) {
      const props = (t.inputSchema as { properties?: Record<string, unknown> }).properties ?? {};
      expect(Object.keys(props), t.name).not.toContain('project_id');
    }
  });

  it('refuses another project_id in every tool with a clear message and sends nothing', async () => {
    const c = await open({ projectId: world.project.id });
    const { tools } = await c.mcp.listTools();
    // Shaped like an ID, or not a string: refused by validation, before any request.
    const attempts = [world.other.id, null, 42, [world.other.id], { id: world.other.id }];
    let refused = 0;
    // Every listed tool takes a project_id (account-level ones are not listed), but the docs tools,
    // which read Neon's documentation site and no project.
    const all = defsOf(tools);
    expect(all.filter((d) => !('project_id' in d.input)).map((d) => d.name)).toEqual([
      'list_docs',
      'get_doc',
    ]);
    const defs = all.filter((d) => d.toolset !== 'docs');
    for (const tool of defs) {
      for (const project_id of attempts) {
        const res = await c.call(tool.name, { ...argsFor(tool), project_id });
        expect(res.isError, `${tool.name} with ${JSON.stringify(project_id)}`).toBe(true);
        expect(text(res)).toMatch(new RegExp(`scoped to project ${world.project.id}`));
        expect(text(res)).toMatch(/Omit project_id/);
        refused++;
      }
    }
    expect(refused).toBe(attempts.length * defs.length);
    expect(mock.requests).toEqual([]);
  });

  it("takes any other string as a project name: refused unless it is the scoped project's, reading only that project", async () => {
    const c = await open({ projectId: world.project.id });
    const { tools } = await c.mcp.listTools();
    const names = [
      world.project.id.toUpperCase(),
      ` ${world.project.id}`,
      `${world.project.id}/../${world.other.id}`,
      `${world.project.id}%2F..%2F${world.other.id}`,
      world.other.name,
    ];
    let refused = 0;
    for (const t of tools) {
      const def = ALL_TOOLS.find((d) => d.name === t.name);
      if (!def || !('project_id' in def.input)) continue;
      // Only where the other arguments are valid: else validation refuses them first (no request either).
      const args = argsFor(def, { email: 'eve@example.com' });
      if (!z.object(def.input).safeParse(args).success) continue;
      for (const project_id of names) {
        const res = await c.call(t.name, { ...args, project_id });
        expect(res.isError, `${t.name} with ${JSON.stringify(project_id)}`).toBe(true);
        expect(text(res), `${t.name} with ${JSON.stringify(project_id)}`).toMatch(
          new RegExp(
            `scoped to project ${world.project.id} \\("${world.project.name}"\\); .* is not its name\\. Omit project_id`,
          ),
        );
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(names.length * 5);
    expect(mock.requests.length).toBeGreaterThan(0);
    expect(
      mock.requests.filter((r) => r.method !== 'GET' || r.path !== `/projects/${world.project.id}`),
    ).toEqual([]);
  });

  it('accepts its own project_id (dropped) and no project_id at all', async () => {
    const c = await open({ projectId: world.project.id });
    const same = await c.call('get_project', { project_id: world.project.id });
    expect(same.isError, text(same)).toBeFalsy();
    const implied = await c.call('get_project', {});
    expect((implied.structuredContent as any).project.id).toBe(world.project.id);
    const byName = await c.call('get_project', { project_id: world.project.name });
    expect((byName.structuredContent as any)?.project?.id, text(byName)).toBe(world.project.id);
  });

  it('enable_toolsets cannot bring an account-level tool back', async () => {
    const c = await open({ projectId: world.project.id, toolsets: ['projects'] });
    await c.ok('enable_toolsets', { toolsets: Object.keys(TOOLSETS) });
    const { tools } = await c.mcp.listTools();
    const listed = new Set(tools.map((t) => t.name));
    expect(listed.has('list_branches')).toBe(true);
    for (const t of accountLevel) expect(listed.has(t.name), t.name).toBe(false);
    expect(mock.requests).toEqual([]);
  });

  it('refuses account-level tools called by name as unknown, sending nothing', async () => {
    const c = await open({ projectId: world.project.id });
    for (const tool of accountLevel) {
      const outcome = await c.call(tool.name, argsFor(tool)).then(
        (res) => ({ isError: res.isError, message: text(res) }),
        (error: Error) => ({ isError: true, message: error.message }),
      );
      expect(outcome.isError, tool.name).toBe(true);
      expect(outcome.message, tool.name).toMatch(/not found|unknown|no such tool/i);
    }
    expect(mock.requests).toEqual([]);
  });

  it('every request of every listed tool stays inside the scoped project', async () => {
    const c = await open({ projectId: world.project.id });
    const { tools } = await c.mcp.listTools();
    for (const tool of defsOf(tools)) {
      const { project_id: _, ...args } = argsFor(tool);
      await c.call(tool.name, args);
    }
    expect(mock.requests.length).toBeGreaterThan(tools.length / 2);
    const outside = mock.requests.filter(
      (r) =>
        !r.path.startsWith(`/projects/${world.project.id}/`) && r.path !== `/projects/${world.project.id}`,
    );
    expect(outside.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });
});
