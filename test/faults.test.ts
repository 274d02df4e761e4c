/**
 * Fault matrix: the Neon API misbehaves in every way we know of (429 with and without Retry-After,
 * 423, 500, 502, 503, 504, a timeout, a dropped connection, malformed JSON, an unexpected body) for
 * the core tool families. The agent always gets a clear `isError` or the retried success, the server
 * never crashes, and a write (POST/PATCH/PUT/DELETE) is sent more than once only when Neon's answer
 * guarantees nothing happened (423, 429). Then operations: one that fails, one that never
 * finishes, and one whose wait the client cancels.
 */
import { delay, HttpResponse, http, type RequestHandler } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as z from 'zod';
import { confirmKey, issueToken } from '../src/mcp/confirm.js';
import type { ToolDef } from '../src/tools/framework.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { BASE, connect, TEST_KEY, text, useMockApi } from './helpers.js';
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
  // No one text: what a tool makes of a body that is not Neon's depends on the tool (tables below).
  'unexpected shape': /(?!)/,
};

/**
 * What a tool answers: an error whose text matches every pattern, or a success whose structured
 * content passes `ok`. Every row of the matrix states one; a tool without one fails its row.
 */
type Outcome = { error: RegExp[] } | { ok: (out: any, w: World) => void };
const fails = (...patterns: RegExp[]): Outcome => ({ error: patterns });

/** Appended when a call fails after Neon accepted a write in it (src/server.ts). */
const ACCEPTED_NOTE =
  /Note: Neon had already accepted (?:(?:POST|PATCH|PUT|DELETE) \/\S+ )+in this call, so the change may have been applied: check/;
/** A tool that tripped over the body: a bug text for the agent, the details in the log. */
const bug = (tool: string) =>
  new RegExp(
    `^${tool} failed unexpectedly: .+\\. This is likely a bug in neon-mcp; the details are in its log\\.`,
  );
/** The handler returned something its output schema refuses (the SDK's words). */
const badOutput = (tool: string) =>
  new RegExp(`^Output validation error: Invalid structured content for tool ${tool}: `);
const NO_BRANCHES = /^Project \S+ has no branches\./;

/**
 * The representatives when only the target requests (a write tool's writes, a read tool's reads) get
 * a 2xx whose body is not Neon's. Two writes re-read the resource afterwards and answer with it.
 */
const MATRIX_SHAPE: Record<string, Outcome> = {
  list_projects: fails(bug('list_projects')),
  get_project: fails(badOutput('get_project')),
  create_project: fails(bug('create_project'), ACCEPTED_NOTE),
  update_project: {
    // The PATCH never reached the fake, so the re-read project still has its old name.
    ok: (out, w) => expect(out.project).toMatchObject({ id: w.project.id, name: 'faults' }),
  },
  // The confirmation step reads the project (for its name) first: that answer lacks it, nothing is sent.
  delete_project: fails(bug('delete_project')),
  get_branch: fails(badOutput('get_branch')),
  list_branches: fails(bug('list_branches')),
  create_branch: fails(bug('create_branch'), ACCEPTED_NOTE),
  delete_branch: fails(bug('delete_branch'), ACCEPTED_NOTE),
  get_compute: fails(badOutput('get_compute')),
  create_compute: fails(bug('create_compute'), ACCEPTED_NOTE),
  restart_compute: { ok: (out, w) => expect(out.compute).toMatchObject({ id: w.endpoint.id }) },
  list_databases: fails(bug('list_databases')),
  create_database: fails(bug('create_database'), ACCEPTED_NOTE),
  delete_database: fails(bug('delete_database'), ACCEPTED_NOTE),
  list_roles: fails(bug('list_roles')),
  create_role: fails(bug('create_role'), ACCEPTED_NOTE),
  reset_role_password: fails(bug('reset_role_password'), ACCEPTED_NOTE),
  list_operations: fails(bug('list_operations')),
  get_operation: fails(badOutput('get_operation')),
};

/** Every tool of the core families when every request gets a 2xx whose body is not Neon's. */
/** Irreversible tools whose confirmation step reads the target (its name) before any write. */
const READS_TARGET_FIRST = ['delete_project', 'restore_branch'];
const SWEEP_SHAPE: Record<string, Outcome> = {
  list_projects: fails(bug('list_projects')),
  get_project: fails(badOutput('get_project')),
  create_project: fails(bug('create_project'), ACCEPTED_NOTE),
  update_project: fails(badOutput('update_project')),
  // The confirmation step reads the project (for its name) first: that answer lacks it, nothing is sent.
  delete_project: fails(bug('delete_project')),
  recover_project: fails(badOutput('recover_project')),
  // Not "no libraries": the answer is what is wrong.
  list_preload_libraries: fails(
    /^Neon's answer to GET \/projects\/\S+\/available_preload_libraries has no list of libraries \(an unexpected answer\)\./,
  ),
  list_advisor_issues: fails(bug('list_advisor_issues')),
  list_branches: fails(bug('list_branches')),
  count_branches: fails(badOutput('count_branches')),
  get_branch: fails(bug('get_branch')),
  create_branch: fails(bug('create_branch'), ACCEPTED_NOTE),
  update_branch: fails(badOutput('update_branch')),
  delete_branch: fails(bug('delete_branch'), ACCEPTED_NOTE),
  // It reads the branch first, and trips over that answer before any write.
  reset_branch_from_parent: fails(bug('reset_branch_from_parent')),
  // As delete_project: the confirmation reads the target branch first, so nothing is restored.
  restore_branch: fails(bug('restore_branch')),
  set_default_branch: fails(badOutput('set_default_branch')),
  recover_branch: fails(badOutput('recover_branch')),
  finalize_restore_branch: fails(badOutput('finalize_restore_branch')),
  list_computes: fails(bug('list_computes')),
  get_compute: fails(badOutput('get_compute')),
  create_compute: fails(bug('create_compute'), ACCEPTED_NOTE),
  update_compute: fails(badOutput('update_compute')),
  delete_compute: fails(bug('delete_compute'), ACCEPTED_NOTE),
  start_compute: fails(badOutput('start_compute')),
  suspend_compute: fails(badOutput('suspend_compute')),
  restart_compute: fails(badOutput('restart_compute')),
  list_databases: fails(bug('list_databases')),
  get_database: fails(badOutput('get_database')),
  create_database: fails(bug('create_database')),
  update_database: fails(badOutput('update_database')),
  delete_database: fails(bug('delete_database'), ACCEPTED_NOTE),
  list_roles: fails(bug('list_roles')),
  get_role: fails(bug('get_role')),
  create_role: fails(bug('create_role'), ACCEPTED_NOTE),
  delete_role: fails(bug('delete_role'), ACCEPTED_NOTE),
  // Not a success without a password: an error that says the answer lacked it.
  reveal_role_password: fails(
    /^Neon's answer to GET \/projects\/\S+\/reveal_password has no password for role neondb_owner\. Nothing was changed/,
  ),
  reset_role_password: fails(bug('reset_role_password'), ACCEPTED_NOTE),
  get_connection_string: fails(bug('get_connection_string')),
  list_operations: fails(bug('list_operations')),
  get_operation: fails(badOutput('get_operation')),
};

/** Optional arguments without which a tool refuses before sending anything (the sweep must reach Neon). */
const SWEEP_EXTRA: Record<string, (w: World) => Record<string, unknown>> = {
  update_branch: () => ({ name: 'renamed' }),
  restore_branch: (w) => ({ source_branch_id: w.branch.id }),
  update_compute: () => ({ suspend_timeout_seconds: 300 }),
  update_database: () => ({ name: 'renamed' }),
};

/** Asserts a result is the stated outcome; a missing statement fails. */
function expectOutcome(
  res: { isError?: boolean; structuredContent?: unknown; content?: unknown },
  outcome: Outcome | undefined,
  where: string,
) {
  expect(outcome, `${where}: no outcome stated for this tool`).toBeDefined();
  if ('error' in outcome!) {
    expect(res.isError, `${where}: ${text(res)}`).toBe(true);
    for (const pattern of outcome.error) expect(text(res), where).toMatch(pattern);
  } else {
    expect(res.isError, `${where}: ${text(res)}`).toBeFalsy();
    outcome!.ok(res.structuredContent, world);
  }
}

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
  const handler: RequestHandler = http.all(`${BASE}/*`, async ({ request }) => {
    const isWrite = request.method !== 'GET';
    if (isWrite !== (target === 'write')) return undefined;
    const path = new URL(request.url).pathname.slice(new URL(BASE).pathname.length);
    // The change ledger's copy before a write (src/neon/ledger.ts) is not the tool's own request: its
    // failure leaves the write unrecorded, as the write's answer says (test/safety-ops.test.ts).
    if (request.method === 'POST' && path.endsWith('/branches')) {
      const body = (await request
        .clone()
        .json()
        .catch(() => undefined)) as { branch?: { name?: string } } | undefined;
      if (String(body?.branch?.name ?? '').startsWith('mcp-change-')) return undefined;
    }
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

/**
 * Required arguments of a tool derived from its input shape (named values first, then by type), and
 * `branch_id` where it is optional too: left out, the server first reads the default branch, and the
 * sweep is about the tool's own requests.
 */
function deriveArgs(tool: ToolDef, w: World): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [field, schema] of Object.entries(tool.input) as [string, z.ZodType][]) {
    if (schema.safeParse(undefined).success && field !== 'branch_id') continue;
    const candidates = [namedValue(field, w), `x-${seq}`, 1, true, {}, []];
    const ok = candidates.find((c) => c !== undefined && schema.safeParse(c).success);
    if (ok !== undefined) args[field] = ok;
  }
  return args;
}

/** `args` with a fresh one-time token for `tool`, as the server of `connect` (key TEST_KEY) would issue. */
function tokened(tool: string, args: Record<string, unknown>): Record<string, unknown> {
  return { ...args, confirm: issueToken({ tool, args, key: confirmKey([TEST_KEY]) }) };
}

/** Representative calls per family: arguments that succeed against the healthy fake. */
const REPRESENTATIVES: { tool: string; args: (w: World) => Record<string, unknown> }[] = [
  { tool: 'list_projects', args: () => ({}) },
  { tool: 'get_project', args: (w) => ({ project_id: w.project.id }) },
  { tool: 'create_project', args: () => ({ name: 'made-under-fire' }) },
  { tool: 'update_project', args: (w) => ({ project_id: w.project.id, name: 'renamed' }) },
  // Confirmed by a token (the client of these tests cannot be asked): made as the server makes it for the
  // tests' key, since each call of the matrix needs its own and a refusal cannot be had under a fault.
  { tool: 'delete_project', args: (w) => tokened('delete_project', { project_id: w.project.id }) },
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
        // Retried and answered by the healthy fake: the same result as the baseline.
        expect(res.isError, text(res)).toBeFalsy();
        expect(res.structuredContent).toBeDefined();
        expect(attempts).toBe(2);
      } else {
        expectFailure(res, def, fault, kind);
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
      expectFailure(res, def, fault, kind);
      expect(api.count(hit.method!, hit.path!)).toBe(retryable ? RETRIES + 1 : 1);
      expectNoRepeatedWrites(fault);
      await expectStillServing();
    });
  }
});

/** The outcome of a fault the tool cannot retry away: the stated one for an unexpected shape, else a clear error. */
function expectFailure(
  res: { isError?: boolean; structuredContent?: unknown; content?: unknown },
  def: ToolDef,
  fault: FaultKind,
  kind: 'read' | 'write',
) {
  if (fault === 'unexpected shape')
    return expectOutcome(res, MATRIX_SHAPE[def.name], `${def.name} / ${fault}`);
  expect(res.isError, text(res)).toBe(true);
  expectClearError(text(res), fault, kind);
}

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
  // A write that re-reads the resource and answers with it is fine: its row says so.
  const writes = REPS.filter((r) => kindOf(r.def) === 'write');
  const MAY_BE_APPLIED =
    /was accepted by Neon \(HTTP 20[01]\) but its answer is not valid JSON\. The change may have been applied: check the resource/;
  it('covers the write representatives', () => {
    expect(writes.map((r) => r.def.name)).toEqual([
      'create_project',
      'update_project',
      'delete_project',
      'create_branch',
      'delete_branch',
      'create_compute',
      'restart_compute',
      'create_database',
      'delete_database',
      'create_role',
      'reset_role_password',
    ]);
  });
  for (const fault of ['malformed JSON', 'unexpected shape'] as const) {
    for (const { def, args } of writes) {
      it(`${fault}: ${def.name}`, async () => {
        api.use(
          http.all(`${BASE}/*`, ({ request }) =>
            request.method === 'GET' ? undefined : faultResponse(fault, request.method),
          ),
        );
        const res = await callTool(def.name, args(world), fault);
        const outcome =
          fault === 'malformed JSON' ? fails(MAY_BE_APPLIED, ACCEPTED_NOTE) : MATRIX_SHAPE[def.name];
        expectOutcome(res, outcome, `${def.name} / ${fault}`);
      });
    }
  }
});

// Retry-After itself (honoured, and capped at maxRetryDelayMs) is pinned on a fake clock in
// test/client.test.ts; through MCP, the matrix's "429 Retry-After" rows show it retried and answered.

describe('every tool of the core families survives persistent faults', () => {
  const family = ALL_TOOLS.filter((t) => (FAMILIES as readonly string[]).includes(t.toolset));
  it('has a stated unexpected-shape outcome for exactly the tools of the core families', () => {
    expect(Object.keys(SWEEP_SHAPE).sort()).toEqual(family.map((t) => t.name).sort());
  });
  const sweep: FaultKind[] = ['500', 'dropped connection', 'malformed JSON', 'unexpected shape', '503'];
  for (const def of family) {
    it(`${def.name}: ${sweep.join(', ')}`, async () => {
      // Bounded waits: a status that never reads as done is polled until the operation timeout.
      conn = await connect({ toolsets: ['all'], clientOptions: clientOptions(), operationTimeoutMs: 1_000 });
      for (const fault of sweep) {
        api.fake.operations.clear();
        const before = api.requests.length;
        api.use(http.all(`${BASE}/*`, ({ request }) => faultResponse(fault, request.method)));
        const args = { ...deriveArgs(def, world), ...SWEEP_EXTRA[def.name]?.(world) };
        const res = await conn.call(def.name, args);
        await api.settle();
        // Every tool reached Neon (no argument refused first) and got the stated answer.
        expect(api.requests.length, `${def.name} / ${fault}: sent nothing`).toBeGreaterThan(before);
        const outcome = fault === 'unexpected shape' ? SWEEP_SHAPE[def.name] : fails(MESSAGE[fault]);
        expectOutcome(res, outcome, `${def.name} / ${fault}`);
        expect(text(res)).not.toMatch(/\[object Object\]/);
        const writes = api.requests.slice(before).filter((r) => r.method !== 'GET');
        // A tool that asks for confirmation reads its target first: an answer without it stops the call.
        if (fault === 'unexpected shape' && READS_TARGET_FIRST.includes(def.name))
          expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual([]);
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

describe('the default branch looked up under an unexpected answer', () => {
  it('says the project has no branches, and sends nothing else', async () => {
    conn = await connect({ toolsets: ['all'], clientOptions: clientOptions() });
    const before = api.requests.length;
    api.use(http.all(`${BASE}/*`, ({ request }) => faultResponse('unexpected shape', request.method)));
    // No branch_id: the server first lists the project's branches to find the default one.
    const res = await conn.call('list_databases', { project_id: world.project.id });
    expectOutcome(res, fails(NO_BRANCHES), 'list_databases without branch_id / unexpected shape');
    expect(api.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /projects/${world.project.id}/branches`,
    ]);
    await expectStillServing();
  });
});

describe('operations', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
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
    // It would poll forever: that the call returns at all shows the timeout applied. The number of
    // polls (first delay 2 ms in tests) bounds how long it waited, without reading a clock.
    api.fake.operationPolls = 1_000_000;
    const { name, args } = writer();
    const res = await callTool(name, args, undefined, { operationTimeoutMs: 400 });
    expect(res.isError).toBe(true);
    const running = [...api.fake.operations.values()].filter((o) => o.status === 'running');
    expect(running.length).toBeGreaterThan(0);
    for (const op of running) expect(text(res)).toContain(op.id);
    // The limit as set (400 ms read "0 s" before).
    expect(text(res)).toMatch(/^Gave up waiting after 400 ms; /);
    expect(text(res)).toMatch(/get_operation/);
    expect(text(res)).toMatch(/still running/);
    await api.settle();
    const polls = api.requests.filter((r) => r.method === 'GET' && /\/operations\//.test(r.path)).length;
    expect(polls).toBeGreaterThan(1);
    expect(polls).toBeLessThanOrEqual(running.length * (400 / 2 + 1));
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('one the client cancels mid-wait: polling stops, nothing is sent after the abort settles', async () => {
    api.fake.operationPolls = 1_000_000;
    const { name, args } = writer();
    conn = await connect({ toolsets: ['all'] });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const polls = () =>
      api.requests.filter((r) => r.method === 'GET' && /\/operations\//.test(r.path)).length;
    const controller = new AbortController();
    const call = conn.call(name, args, { signal: controller.signal });
    call.catch(() => undefined);
    while (polls() < 3) {
      await vi.advanceTimersByTimeAsync(5);
      await api.settle();
    }
    controller.abort();
    await expect(call).rejects.toThrow();
    await vi.advanceTimersByTimeAsync(100); // an in-flight poll lands
    await api.settle();
    const after = api.requests.length;
    await vi.advanceTimersByTimeAsync(5_000); // hundreds of poll intervals (2–10 ms in tests)
    await api.settle();
    expect(api.requests.length).toBe(after);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    vi.useRealTimers();
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
