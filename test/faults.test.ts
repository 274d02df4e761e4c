/**
 * Fault matrix: the Neon API misbehaves in every way we know of (429 with and without Retry-After,
 * 423, 500, 502, 503, 504, a timeout, a dropped connection, malformed JSON, an unexpected body) for
 * the core tool families. The agent always gets a clear `isError` or the retried success, the server
 * never crashes, and a write (POST/PATCH/PUT/DELETE) is sent more than once only when Neon's answer
 * guarantees nothing happened (423, 429). Then operations: one that fails, one that never
 * finishes, and one whose wait the client cancels.
 */
import { delay, HttpResponse, http, type RequestHandler } from 'msw';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type * as z from 'zod';
import type { ToolDef } from '../src/tools/framework.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { BASE, connect, text, useMockApi } from './helpers.js';
import { type NeonFake, neonError } from './mock/neon-fake.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

const FAMILIES = ['projects', 'branches', 'computes', 'databases', 'roles', 'operations'] as const;
const TOOLS = new Map(ALL_TOOLS.map((t) => [t.name, t]));
/** Retries the client is configured with here (its default is 4): a write is sent at most 1 + this. */
const RETRIES = 2;
/** Client options of every call: few, short retries and a per-attempt timeout only where it is the fault. */
const clientOptions = (fault?: FaultKind) => ({
  retries: RETRIES,
  maxRetryDelayMs: 50,
  timeoutMs: fault === 'timeout' ? 250 : 30_000,
});

type FaultKind =
  | '429'
  | '429 Retry-After'
  | '423'
  | '500'
  | '502'
  | '503'
  | '504'
  | 'timeout'
  | 'dropped connection'
  | 'malformed JSON'
  | 'unexpected shape';
const FAULTS: FaultKind[] = [
  '429',
  '429 Retry-After',
  '423',
  '500',
  '502',
  '503',
  '504',
  'timeout',
  'dropped connection',
  'malformed JSON',
  'unexpected shape',
];

/** Statuses and failures after which a request may be sent again (NeonClient's contract). */
const RETRYABLE: Record<'read' | 'write', FaultKind[]> = {
  read: ['429', '429 Retry-After', '500', '502', '503', '504', 'timeout', 'dropped connection'],
  write: ['423', '429', '429 Retry-After'],
};

/** Faults after which a write may have reached Neon: any 5xx (503 included), a timeout, a dropped connection. */
const MAYBE_APPLIED: FaultKind[] = ['500', '502', '503', '504', 'timeout', 'dropped connection'];

/** What the agent must be told for each fault when the tool gives up. */
const MESSAGE: Record<FaultKind, RegExp> = {
  '429': /HTTP 429/,
  '429 Retry-After': /HTTP 429/,
  '423': /HTTP 423.*locked/,
  '500': /HTTP 500/,
  '502': /HTTP 502/,
  '503': /HTTP 503/,
  '504': /HTTP 504/,
  timeout: /timed out after \d+ ms/,
  'dropped connection': /could not reach the Neon API/,
  'malformed JSON': /not valid JSON/,
  'unexpected shape': /./,
};

function faultResponse(kind: FaultKind, method: string): Promise<Response> | Response {
  switch (kind) {
    case '429':
      return neonError(429, 'too many requests', 'TOO_MANY_REQUESTS');
    case '429 Retry-After':
      return HttpResponse.json(
        { code: 'TOO_MANY_REQUESTS', message: 'too many requests', request_id: 'req-429' },
        { status: 429, headers: { 'Retry-After': '1' } },
      );
    case '423':
      return neonError(423, 'project already has running operations', 'LOCKED');
    case '500':
    case '502':
    case '503':
    case '504':
      return neonError(Number(kind), `upstream said ${kind}`);
    case 'timeout':
      return delay('infinite').then(() => HttpResponse.json({}));
    case 'dropped connection':
      return HttpResponse.error();
    case 'malformed JSON':
      return new HttpResponse('{"project": {"id": "p-1", ', {
        status: method === 'POST' ? 201 : 200,
        headers: { 'content-type': 'application/json' },
      });
    case 'unexpected shape':
      return HttpResponse.json(
        { unexpected: ['this', 'is', 'not', 'what', 'Neon', 'sends'] },
        { status: method === 'POST' ? 201 : 200 },
      );
  }
}

/**
 * Injects `kind` into the tool's target requests: its writes for a write tool, its reads for a read
 * tool. `first`: only the first one fails (then the fake answers); `always`: every one fails.
 * Returns the method and path of the first request hit, to count attempts on it.
 */
function inject(kind: FaultKind, target: 'read' | 'write', mode: 'first' | 'always') {
  const hit: { method?: string; path?: string } = {};
  const handler: RequestHandler = http.all(`${BASE}/*`, ({ request }) => {
    const isWrite = request.method !== 'GET';
    if (isWrite !== (target === 'write')) return undefined;
    const path = new URL(request.url).pathname.slice(new URL(BASE).pathname.length);
    if (hit.path === undefined) Object.assign(hit, { method: request.method, path });
    else if (mode === 'first' || hit.path !== path || hit.method !== request.method) return undefined;
    return faultResponse(kind, request.method);
  });
  api.use(handler);
  return hit;
}

/** A project with a default branch (compute, database, role), a child branch and an operation. */
function seedWorld(fake: NeonFake) {
  const { project, branch, endpoint } = fake.seedProject('faults');
  const child = fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
  fake.makeDatabase(child.id, 'neondb', 'neondb_owner');
  fake.makeRole(child.id, 'neondb_owner');
  const [op] = fake.startOperations(project.id, [{ action: 'apply_config', branch_id: branch.id }]);
  op.status = 'finished';
  return { project, branch, endpoint, child, op };
}
type World = ReturnType<typeof seedWorld>;

let seq = 0;
/** Arguments by field name, for any tool: IDs of the seeded world and plausible values. */
function namedValue(field: string, w: World): unknown {
  seq++;
  const byName: Record<string, unknown> = {
    project_id: w.project.id,
    branch_id: w.child.id,
    compute_id: w.endpoint.id,
    operation_id: w.op.id,
    parent_id: w.branch.id,
    source_branch_id: w.branch.id,
    database: 'neondb',
    role: 'neondb_owner',
    owner: 'neondb_owner',
    name: `fault_${seq}`,
    type: 'read_only',
    email: 'someone@example.com',
    permission_id: 'perm-1',
    request_id: 'req-1',
  };
  return byName[field];
}

/** Required arguments of a tool derived from its input shape (named values first, then by type). */
function deriveArgs(tool: ToolDef, w: World): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [field, schema] of Object.entries(tool.input) as [string, z.ZodType][]) {
    if (schema.safeParse(undefined).success) continue;
    const candidates = [namedValue(field, w), `x-${seq}`, 1, true, {}, []];
    const ok = candidates.find((c) => c !== undefined && schema.safeParse(c).success);
    if (ok !== undefined) args[field] = ok;
  }
  return args;
}

/** Representative calls per family: arguments that succeed against the healthy fake. */
const REPRESENTATIVES: { tool: string; args: (w: World) => Record<string, unknown> }[] = [
  { tool: 'list_projects', args: () => ({}) },
  { tool: 'get_project', args: (w) => ({ project_id: w.project.id }) },
  { tool: 'create_project', args: () => ({ name: 'made-under-fire' }) },
  { tool: 'update_project', args: (w) => ({ project_id: w.project.id, name: 'renamed' }) },
  // Confirmed by repeating the project's name (the client of these tests cannot be asked).
  { tool: 'delete_project', args: (w) => ({ project_id: w.project.id, confirm: w.project.name }) },
  { tool: 'get_branch', args: (w) => ({ project_id: w.project.id, branch_id: w.branch.id }) },
  { tool: 'list_branches', args: (w) => ({ project_id: w.project.id }) },
  { tool: 'create_branch', args: (w) => ({ project_id: w.project.id, name: 'feature' }) },
  { tool: 'delete_branch', args: (w) => ({ project_id: w.project.id, branch_id: w.child.id }) },
  { tool: 'get_compute', args: (w) => ({ project_id: w.project.id, compute_id: w.endpoint.id }) },
  {
    tool: 'create_compute',
    args: (w) => ({ project_id: w.project.id, branch_id: w.child.id, type: 'read_only' }),
  },
  { tool: 'restart_compute', args: (w) => ({ project_id: w.project.id, compute_id: w.endpoint.id }) },
  { tool: 'list_databases', args: (w) => ({ project_id: w.project.id, branch_id: w.branch.id }) },
  {
    tool: 'create_database',
    args: (w) => ({ project_id: w.project.id, branch_id: w.branch.id, name: 'shop', owner: 'neondb_owner' }),
  },
  {
    tool: 'delete_database',
    args: (w) => ({ project_id: w.project.id, branch_id: w.child.id, database: 'neondb' }),
  },
  { tool: 'list_roles', args: (w) => ({ project_id: w.project.id, branch_id: w.branch.id }) },
  { tool: 'create_role', args: (w) => ({ project_id: w.project.id, branch_id: w.branch.id, name: 'app' }) },
  {
    tool: 'reset_role_password',
    args: (w) => ({ project_id: w.project.id, branch_id: w.branch.id, role: 'neondb_owner' }),
  },
  { tool: 'list_operations', args: (w) => ({ project_id: w.project.id }) },
  { tool: 'get_operation', args: (w) => ({ project_id: w.project.id, operation_id: w.op.id }) },
];

/** Core family tools: the representatives that exist, or every tool of the family when none does. */
function representatives(): { def: ToolDef; args: (w: World) => Record<string, unknown> }[] {
  const out: { def: ToolDef; args: (w: World) => Record<string, unknown> }[] = [];
  for (const family of FAMILIES) {
    const inFamily = ALL_TOOLS.filter((t) => t.toolset === family);
    const chosen = REPRESENTATIVES.filter((r) => TOOLS.get(r.tool)?.toolset === family);
    if (chosen.length) for (const r of chosen) out.push({ def: TOOLS.get(r.tool)!, args: r.args });
    else for (const def of inFamily) out.push({ def, args: (w) => deriveArgs(def, w) });
  }
  return out;
}
const REPS = representatives();
const kindOf = (def: ToolDef): 'read' | 'write' => (def.hints.readOnlyHint ? 'read' : 'write');

let world: World;
beforeEach(() => {
  world = seedWorld(api.fake);
});

async function callTool(
  name: string,
  args: Record<string, unknown>,
  fault?: FaultKind,
  options: Partial<Parameters<typeof connect>[0]> = {},
) {
  conn = await connect({ toolsets: ['all'], clientOptions: clientOptions(fault), ...options });
  return conn.call(name, args);
}

describe('the representative tools work against the healthy fake (baseline of the matrix)', () => {
  it('covers every core family with at least one tool, and a write wherever the family has one', () => {
    for (const family of FAMILIES) {
      const reps = REPS.filter((r) => r.def.toolset === family);
      expect(reps.length, family).toBeGreaterThan(0);
      if (ALL_TOOLS.some((t) => t.toolset === family && !t.hints.readOnlyHint))
        expect(
          reps.some((r) => kindOf(r.def) === 'write'),
          family,
        ).toBe(true);
    }
  });
  for (const { def, args } of REPS) {
    it(`${def.name}`, async () => {
      const res = await callTool(def.name, args(world));
      expect(res.isError, text(res)).toBeFalsy();
    });
  }
});

describe.each(REPS.map((r) => [r.def.name, r] as const))('fault matrix: %s', (_name, { def, args }) => {
  const kind = kindOf(def);
  for (const fault of FAULTS) {
    const retryable = RETRYABLE[kind].includes(fault);

    it(`${fault} once → ${retryable ? 'retried, succeeds' : 'clear error, not repeated'}`, async () => {
      const hit = inject(fault, kind, 'first');
      const res = await callTool(def.name, args(world), fault);
      await api.settle();
      expect(hit.path, 'the fault was injected').toBeDefined();
      const attempts = api.count(hit.method!, hit.path!);
      if (retryable) {
        expect(res.isError, text(res)).toBeFalsy();
        expect(attempts).toBe(2);
      } else {
        if (fault !== 'unexpected shape') expect(res.isError, text(res)).toBe(true);
        if (res.isError) expectClearError(text(res), fault, kind);
        expect(attempts).toBe(1);
      }
      expectNoRepeatedWrites(fault);
      await expectStillServing();
    });

    it(`${fault} every time → clear error after ${retryable ? `${RETRIES + 1} attempts` : 'one attempt'}`, async () => {
      const hit = inject(fault, kind, 'always');
      const res = await callTool(def.name, args(world), fault);
      await api.settle();
      expect(hit.path, 'the fault was injected').toBeDefined();
      if (fault !== 'unexpected shape') {
        expect(res.isError, text(res)).toBe(true);
      }
      if (res.isError) expectClearError(text(res), fault, kind);
      expect(api.count(hit.method!, hit.path!)).toBe(retryable ? RETRIES + 1 : 1);
      expectNoRepeatedWrites(fault);
      await expectStillServing();
    });
  }
});

/** The error text says what failed and, for a write that may have happened, to check first. */
function expectClearError(message: string, fault: FaultKind, kind: 'read' | 'write') {
  expect(message.length).toBeGreaterThan(20);
  expect(message).not.toMatch(/\[object Object\]/);
  expect(message).toMatch(MESSAGE[fault]);
  if (kind === 'write' && MAYBE_APPLIED.includes(fault)) {
    // Neon may have applied it: the agent is told to look before trying again, not just to retry.
    expect(message).toMatch(/\bmay\b/);
    expect(message).toMatch(/check/i);
  }
}

/** No write was sent twice unless the fault guarantees it was not applied. */
function expectNoRepeatedWrites(fault: FaultKind) {
  const writes = new Map<string, number>();
  for (const r of api.requests.filter((x) => x.method !== 'GET'))
    writes.set(`${r.method} ${r.path}`, (writes.get(`${r.method} ${r.path}`) ?? 0) + 1);
  const max = RETRYABLE.write.includes(fault) ? RETRIES + 1 : 1;
  for (const [write, n] of writes) expect(n, write).toBeLessThanOrEqual(max);
}

/** The server still answers (no crash, nothing wedged). */
async function expectStillServing() {
  const { tools } = await conn!.mcp.listTools();
  expect(tools.length).toBeGreaterThan(1);
}

describe('a write Neon accepted (2xx) but whose answer cannot be used', () => {
  // The change was applied. Telling the agent "try again later" or "a bug in neon-mcp" without saying
  // so invites a second create/delete; it must say the change may have been applied and to check.
  for (const fault of ['malformed JSON', 'unexpected shape'] as const) {
    it(`${fault}: every write tool says the change may have been applied and to check before retrying`, async () => {
      const problems: string[] = [];
      for (const { def, args } of REPS.filter((r) => kindOf(r.def) === 'write')) {
        api.use(
          http.all(`${BASE}/*`, ({ request }) =>
            request.method === 'GET' ? undefined : faultResponse(fault, request.method),
          ),
        );
        const res = await callTool(def.name, args(world), fault);
        await conn?.close();
        conn = undefined;
        if (!res.isError) continue; // it re-read the resource and answered with it: fine
        const message = text(res);
        if (!/\bmay\b|\bwas applied\b|\baccepted\b/i.test(message) || !/check/i.test(message))
          problems.push(`${def.name}: ${message}`);
      }
      expect(problems, 'writes whose error hides that Neon accepted them').toEqual([]);
    });
  }
});

describe('Retry-After', () => {
  /** Times at which the target route was requested. */
  function timed(status: number, retryAfter: string, times: number[]) {
    let n = 0;
    api.use(
      http.get(`${BASE}/projects/:project_id`, () => {
        times.push(performance.now());
        return n++ === 0
          ? HttpResponse.json(
              { code: 'X', message: 'wait' },
              { status, headers: { 'Retry-After': retryAfter } },
            )
          : undefined;
      }),
    );
  }

  it('is honoured: the retry comes no sooner than the server asked', async () => {
    const times: number[] = [];
    timed(429, '1', times);
    conn = await connect({ clientOptions: { maxRetryDelayMs: 5_000, retryDelayMs: 5 } });
    const res = await conn.call('get_project', { project_id: world.project.id });
    expect(res.isError, text(res)).toBeFalsy();
    expect(times).toHaveLength(2);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
  });

  it('is capped at maxRetryDelayMs so a huge Retry-After cannot stall a call for hours', async () => {
    const times: number[] = [];
    timed(503, '86400', times);
    conn = await connect({ clientOptions: { maxRetryDelayMs: 100, retryDelayMs: 5 } });
    const started = performance.now();
    const res = await conn.call('get_project', { project_id: world.project.id });
    expect(res.isError, text(res)).toBeFalsy();
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe('every tool of the core families survives persistent faults', () => {
  const family = ALL_TOOLS.filter((t) => (FAMILIES as readonly string[]).includes(t.toolset));
  const sweep: FaultKind[] = ['500', 'dropped connection', 'malformed JSON', 'unexpected shape', '503'];
  for (const def of family) {
    it(`${def.name}: ${sweep.join(', ')}`, async () => {
      // Bounded waits: a status that never reads as done is polled until the operation timeout.
      conn = await connect({ toolsets: ['all'], clientOptions: clientOptions(), operationTimeoutMs: 1_000 });
      for (const fault of sweep) {
        api.fake.operations.clear();
        const before = api.requests.length;
        api.use(http.all(`${BASE}/*`, ({ request }) => faultResponse(fault, request.method)));
        const res = await conn.call(def.name, deriveArgs(def, world));
        await api.settle();
        // A result, never a protocol error or a crash; an error says something useful.
        expect(typeof res.isError === 'boolean' || res.isError === undefined).toBe(true);
        if (res.isError) {
          expect(text(res).length, fault).toBeGreaterThan(20);
          expect(text(res)).not.toMatch(/\[object Object\]/);
        }
        const writes = api.requests.slice(before).filter((r) => r.method !== 'GET');
        const perRoute = new Map<string, number>();
        for (const r of writes)
          perRoute.set(`${r.method} ${r.path}`, (perRoute.get(`${r.method} ${r.path}`) ?? 0) + 1);
        for (const [route, n] of perRoute)
          expect(n, `${fault}: ${route}`).toBeLessThanOrEqual(
            RETRYABLE.write.includes(fault) ? RETRIES + 1 : 1,
          );
      }
      await expectStillServing();
    });
  }
});

describe('operations', () => {
  const writer = () =>
    TOOLS.has('create_branch')
      ? { name: 'create_branch', args: { project_id: world.project.id, name: 'op-test' } }
      : { name: 'create_project', args: { name: 'op-test' } };

  it('one that fails: the agent is told which operation failed, why, and how to inspect it', async () => {
    api.fake.failNextOperation = 'disk quota exceeded on the pageserver';
    const { name, args } = writer();
    const res = await callTool(name, args);
    expect(res.isError).toBe(true);
    const failed = [...api.fake.operations.values()].find((o) => o.status === 'failed');
    expect(failed).toBeDefined();
    expect(text(res)).toContain(failed!.id);
    expect(text(res)).toMatch(/disk quota exceeded on the pageserver/);
    expect(text(res)).toMatch(/get_operation/);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('one that never finishes: gives up at operationTimeoutMs and names the operation to check later', async () => {
    api.fake.operationPolls = 1_000_000;
    const { name, args } = writer();
    const started = Date.now();
    const res = await callTool(name, args, undefined, { operationTimeoutMs: 400 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(res.isError).toBe(true);
    const running = [...api.fake.operations.values()].filter((o) => o.status === 'running');
    expect(running.length).toBeGreaterThan(0);
    for (const op of running) expect(text(res)).toContain(op.id);
    expect(text(res)).toMatch(/get_operation/);
    expect(text(res)).toMatch(/still running/);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('one the client cancels mid-wait: polling stops, nothing is sent after the abort settles', async () => {
    api.fake.operationPolls = 1_000_000;
    const { name, args } = writer();
    conn = await connect({ toolsets: ['all'] });
    const polls = () =>
      api.requests.filter((r) => r.method === 'GET' && /\/operations\//.test(r.path)).length;
    const controller = new AbortController();
    const call = conn.call(name, args, { signal: controller.signal });
    call.catch(() => undefined);
    await vi_waitFor(() => polls() >= 3);
    controller.abort();
    await expect(call).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 100)); // let an in-flight poll land
    const after = api.requests.length;
    await new Promise((r) => setTimeout(r, 400)); // several poll intervals (2–10 ms in tests)
    expect(api.requests.length).toBe(after);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    await expectStillServing();
    // And the server still does work for this client.
    const ok = await conn.call('get_project', { project_id: world.project.id });
    expect(ok.isError, text(ok)).toBeFalsy();
  });

  it('a write whose operation polls keep failing: the error says the change was accepted, names the operation', async () => {
    // The POST succeeded, so Neon is doing the work. "Try again in a little while" would make the
    // agent create a second branch; it must hear that the change was accepted and how to follow it.
    api.use(http.get(`${BASE}/projects/:project_id/operations/:operation_id`, () => neonError(500, 'boom')));
    const { name, args } = writer();
    const res = await callTool(name, args);
    expect(res.isError).toBe(true);
    const started = [...api.fake.operations.values()].filter((o) => o.id !== world.op.id);
    expect(started.length).toBeGreaterThan(0);
    expect(started.some((o) => text(res).includes(o.id))).toBe(true);
    expect(text(res)).toMatch(/accepted|applied/i);
    expect(text(res)).toMatch(/get_operation/);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('a poll that fails transiently is retried and the wait completes', async () => {
    let n = 0;
    api.use(
      http.get(`${BASE}/projects/:project_id/operations/:operation_id`, () =>
        n++ % 2 === 0 ? neonError(503, 'busy') : undefined,
      ),
    );
    const { name, args } = writer();
    const res = await callTool(name, args);
    expect(res.isError, text(res)).toBeFalsy();
    expect([...api.fake.operations.values()].every((o) => o.status === 'finished')).toBe(true);
  });
});

async function vi_waitFor(cond: () => boolean, timeoutMs = 5_000) {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}
