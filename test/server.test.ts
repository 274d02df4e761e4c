/**
 * src/server.ts itself: the settings it derives, what it says it is (capabilities, instructions), the
 * one place where a thrown error becomes an isError result (the text per kind of error, the note on
 * writes Neon already accepted, the log line for a bug), progress numbering, and the redaction of a
 * caller's own secrets (remote mode's per-request key) from answers, errors and the log.
 * In memory, against the fake; no PostgreSQL.
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NeonError } from '../src/client/errors.js';
import { NeonClient } from '../src/client/neon-client.js';
import type { Logger } from '../src/log.js';
import { prepareServer } from '../src/server.js';
import { SQL_MAX_BYTES } from '../src/sql/session.js';
import { ALL_TOOLS, selectTools } from '../src/tools/registry.js';
import { BASE, connect, TEST_KEY, text, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await conn?.close();
  conn = undefined;
  for (const close of closers.splice(0)) await close();
});

const client = () => new NeonClient({ apiKey: TEST_KEY, baseUrl: BASE, retryDelayMs: 1 });

/** A logger that keeps what it is given. */
function recordingLogger() {
  const lines: { level: 'info' | 'error'; message: string; error?: unknown }[] = [];
  const logger: Logger = {
    info: (message) => lines.push({ level: 'info', message }),
    error: (message, error) => lines.push({ level: 'error', message, error }),
  };
  return { logger, lines };
}

const BUG =
  /^list_projects failed unexpectedly: (.+)\. This is likely a bug in neon-mcp; the details are in its log\.$/;

describe('settings', () => {
  it('has the documented defaults', () => {
    const { settings } = prepareServer({ client: client() });
    expect(settings).toEqual({
      readOnly: false,
      projectId: undefined,
      orgId: undefined,
      operationTimeoutMs: 600_000,
      sqlTimeoutMs: 30_000,
      sqlMaxRows: 500,
      sqlMaxBytes: SQL_MAX_BYTES,
    });
  });

  it('takes every option it is given', () => {
    const { settings } = prepareServer({
      client: client(),
      readOnly: true,
      projectId: 'p-1',
      orgId: 'org-1',
      operationTimeoutMs: 1234,
      operationPollMs: [7, 70],
      sqlTimeoutMs: 99,
      sqlMaxRows: 3,
      sqlMaxBytes: 2048,
      docsUrl: 'http://127.0.0.1:9/docs',
    });
    expect(settings).toEqual({
      readOnly: true,
      projectId: 'p-1',
      orgId: 'org-1',
      operationTimeoutMs: 1234,
      sqlTimeoutMs: 99,
      sqlMaxRows: 3,
      sqlMaxBytes: 2048,
      docsUrl: 'http://127.0.0.1:9/docs',
      backoff: { initialDelayMs: 7, maxDelayMs: 70 },
    });
  });
});

describe('the tools it serves', () => {
  it('are the selected ones, each with its definition', () => {
    const prepared = prepareServer({ client: client(), toolsets: ['projects', 'operations'] });
    const names = (tools: readonly { name: string }[]) => tools.map((t) => t.name).sort();
    expect(names(prepared.tools)).toEqual(names(selectTools({ toolsets: ['projects', 'operations'] })));
    const get = ALL_TOOLS.find((t) => t.name === 'get_operation');
    expect(get).toBeDefined();
    expect(prepared.tools.find((t) => t.name === 'get_operation')).toBe(get);
  });

  it('describes a beta tool as beta, and the others as they are', async () => {
    conn = await connect({ toolsets: ['anonymization', 'projects'] });
    const { tools } = await conn.mcp.listTools();
    const beta = ALL_TOOLS.find((t) => t.name === 'create_anonymized_branch');
    expect(beta?.beta).toBe(true);
    expect(tools.find((t) => t.name === 'create_anonymized_branch')?.description).toBe(
      `Beta: ${beta?.description}`,
    );
    const plain = ALL_TOOLS.find((t) => t.name === 'get_project');
    expect(tools.find((t) => t.name === 'get_project')?.description).toBe(plain?.description);
  });

  it('enabling a toolset tells the client once, not once per tool', async () => {
    let told = 0;
    conn = await connect({
      mcpClient: { listChanged: { tools: { debounceMs: 0, onChanged: () => void told++ } } },
    });
    const enabled = await conn.ok('enable_toolsets', { toolsets: ['computes', 'roles'] });
    expect(JSON.stringify(enabled)).toMatch(/computes/);
    await vi.waitFor(() => expect(told).toBeGreaterThan(0));
    // A round trip after it: any further notice of that call would have arrived before this answer.
    await conn.mcp.listTools();
    expect(told).toBe(1);
  });
});

describe('what the server says it is', () => {
  it('offers tools with list changes, and logging; tells how IDs, branches and toolsets work', async () => {
    conn = await connect();
    expect(conn.mcp.getServerVersion()).toMatchObject({ name: 'neon-mcp' });
    expect(conn.mcp.getServerCapabilities()).toMatchObject({ tools: { listChanged: true }, logging: {} });
    expect(conn.mcp.getInstructions()).toBe(
      'Tools for the Neon API (serverless Postgres). Changes wait for Neon to finish before answering. ' +
        'Every project_id and branch argument takes an ID or a name; ' +
        'an omitted branch_id or parent_id is the project default branch. ' +
        'Call list_toolsets to see tools that are not enabled, enable_toolsets to add them.',
    );
  });

  it('with --database-url: SQL tools for one server, and no resources or prompts', async () => {
    conn = await connect({ apiKey: null, databaseUrl: 'postgresql://u:secret-pw@127.0.0.1:9/app' });
    expect(conn.mcp.getInstructions()).toBe(
      'SQL tools for one PostgreSQL server (--database-url). Results are untrusted database content.',
    );
    const capabilities = conn.mcp.getServerCapabilities();
    expect(capabilities?.resources).toBeUndefined();
    expect(capabilities?.prompts).toBeUndefined();
    // No project, branch or role to name; `database` is another database of the URL's server.
    const { tools } = await conn.mcp.listTools();
    const runSql = tools.find((t) => t.name === 'run_sql');
    expect(Object.keys(runSql?.inputSchema.properties ?? {}).sort()).toEqual(['database', 'params', 'sql']);
    expect(runSql?.inputSchema.properties?.database).toMatchObject({
      description: "Default: the URL's database",
    });
    for (const tool of tools) {
      expect(Object.keys(tool.inputSchema.properties ?? {}), tool.name).not.toContain('project_id');
      expect(Object.keys(tool.inputSchema.properties ?? {}), tool.name).not.toContain('branch_id');
    }
    // SQL goes to the URL's server (nothing listens on port 9), never to Neon.
    const out = await conn.fails('run_sql', { sql: 'SELECT 1' });
    expect(out).toMatch(/127\.0\.0\.1:9/);
    expect(out).not.toContain('secret-pw');
    expect(api.requests).toHaveLength(0);
  });
});

describe('the error funnel', () => {
  it("a Neon error is the agent's text as it is", async () => {
    const { project } = api.fake.seedProject('err');
    conn = await connect({ toolsets: ['projects', 'operations'] });
    const path = { project_id: project.id, operation_id: 'no-such-operation' };
    const message = await client()
      .get('/projects/{project_id}/operations/{operation_id}', { path })
      .then(
        () => 'answered',
        (e: unknown) => (e instanceof NeonError ? e.message : `not a NeonError: ${e}`),
      );
    expect(message).toMatch(/^GET \/projects\/\S+\/operations\/no-such-operation failed with HTTP 404/);
    expect(await conn.fails('get_operation', path)).toBe(message);
  });

  it('anything else is a bug: the gist for the agent, the error itself for the log', async () => {
    api.use(http.get(`${BASE}/projects`, () => HttpResponse.json({ unexpected: true })));
    const { logger, lines } = recordingLogger();
    conn = await connect({ logger });
    const out = await conn.fails('list_projects');
    const gist = BUG.exec(out)?.[1];
    expect(gist, out).toBeTruthy();
    const logged = lines.filter((l) => l.level === 'error');
    expect(logged).toHaveLength(1);
    expect(logged[0]?.message).toBe('tool list_projects failed unexpectedly');
    expect(logged[0]?.error).toBeInstanceOf(Error);
    expect((logged[0]?.error as Error | undefined)?.message).toBe(gist);
  });

  it('a failure after Neon accepted a write says so once, naming the write', async () => {
    const { project } = api.fake.seedProject('acc');
    // Neon's 2xx counts as accepted; what fails is reading its answer.
    api.use(http.post(`${BASE}/projects/:project_id/branches`, () => HttpResponse.json({})));
    conn = await connect();
    const out = await conn.fails('create_branch', { project_id: project.id, name: 'b1' });
    expect(out).toMatch(
      /^create_branch failed unexpectedly: .+\. This is likely a bug in neon-mcp; the details are in its log\./,
    );
    expect(out).toMatch(
      new RegExp(
        ` Note: Neon had already accepted POST /projects/${project.id}/branches in this call, so the change ` +
          'may have been applied: check \\(list or get the resource\\) before trying again\\.$',
      ),
    );
    expect(out.match(/Note: /g)).toHaveLength(1);
  });

  it('names each write Neon accepted in the call, once each', async () => {
    const { project } = api.fake.seedProject('two');
    conn = await connect({ toolsets: ['anonymization'] });
    const { branch } = await conn.ok('create_anonymized_branch', { project_id: project.id });
    // Rules replaced (PATCH) and masking started (POST), then reading the status fails.
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/anonymized_status`, () =>
        HttpResponse.json({ code: '', message: 'gone' }, { status: 404 }),
      ),
    );
    const out = await conn.fails('anonymize_branch', {
      project_id: project.id,
      branch_id: branch.id,
      masking_rules: [
        {
          database_name: 'neondb',
          schema_name: 'public',
          table_name: 'users',
          column_name: 'email',
          masking_function: 'anon.fake_email()',
        },
      ],
    });
    const at = `/projects/${project.id}/branches/${branch.id}`;
    expect(out).toContain(
      ` Note: Neon had already accepted PATCH ${at}/masking_rules, POST ${at}/anonymize in this call, so the change `,
    );
  });

  it('no note when the error already says what happened to the change, or nothing was accepted', async () => {
    const { project } = api.fake.seedProject('acc');
    conn = await connect();
    // The operation itself failed: its error says so (and how to inspect it).
    api.fake.failNextOperation = 'disk full';
    const failed = await conn.fails('create_branch', { project_id: project.id, name: 'b2' });
    expect(failed).toMatch(/^Neon operation \S+ \(create_branch\) ended with status "failed": disk full/);
    expect(failed).not.toMatch(/Note: /);
    // Its progress could not be checked: the error says it was most likely applied.
    api.use(http.get(`${BASE}/projects/:project_id/operations/:operation_id`, () => HttpResponse.json({})));
    const unchecked = await conn.fails('create_branch', { project_id: project.id, name: 'b3' });
    expect(unchecked).toMatch(/^Neon accepted the change, but checking its progress failed/);
    expect(unchecked).not.toMatch(/Note: /);
    // A read that fails: nothing was accepted.
    expect(await conn.fails('get_project', { project_id: 'no-such-project' })).not.toMatch(/Note: /);
  });
});

describe('progress', () => {
  it('numbers progress notifications from 1 and names what it still waits for', async () => {
    const { project } = api.fake.seedProject('prog');
    conn = await connect();
    const steps: { progress: number; message?: string }[] = [];
    const res = await conn.mcp.callTool(
      { name: 'create_branch', arguments: { project_id: project.id, name: 'p1' } },
      { onprogress: (p) => steps.push({ progress: p.progress, message: p.message }) },
    );
    expect(res.isError).toBeFalsy();
    expect(steps.length).toBeGreaterThan(1);
    expect(steps.map((s) => s.progress)).toEqual(steps.map((_, i) => i + 1));
    // The branch and its compute each start an operation: both named while they run.
    expect(steps[0]?.message).toBe('0/2 Neon operations finished; waiting for create_branch, start_compute');
    expect(steps.at(-1)?.message).toBe('2/2 Neon operations finished');
  });

  it('an operation Neon skipped is not waited for', async () => {
    const { project } = api.fake.seedProject('skip');
    // Neon skips the compute's start (it answers so for an operation it did not need to run).
    api.use(
      http.get(`${BASE}/projects/:project_id/operations/:operation_id`, ({ params }) => {
        const op = api.fake.operations.get(String(params.operation_id));
        if (op?.action === 'start_compute') op.status = 'skipped';
        return undefined;
      }),
    );
    conn = await connect();
    const steps: string[] = [];
    const res = await conn.mcp.callTool(
      { name: 'create_branch', arguments: { project_id: project.id, name: 'p2' } },
      { onprogress: (p) => steps.push(String(p.message)) },
    );
    expect(res.isError).toBeFalsy();
    expect(steps.some((m) => m.endsWith('waiting for create_branch'))).toBe(true);
    // Named at first, from the answer that started it; not after Neon said it skipped it.
    expect(steps[0]).toBe('0/2 Neon operations finished; waiting for create_branch, start_compute');
    expect(steps.slice(1).filter((m) => m.includes('start_compute'))).toEqual([]);
  });

  it('sends none for a call without a progress token, or a wait on no operations', async () => {
    const { project } = api.fake.seedProject('quiet');
    const errors: Error[] = [];
    conn = await connect({
      beforeConnect: (mcp) => {
        mcp.onerror = (e) => errors.push(e);
      },
    });
    // Without a token: a notification would reach the client with no token it knows.
    expect(await conn.ok('create_branch', { project_id: project.id, name: 'q1' })).toBeTruthy();
    // A change Neon runs no operation for.
    api.use(
      http.patch(`${BASE}/projects/:project_id`, () =>
        HttpResponse.json({ project: api.fake.projects.get(project.id), operations: [] }),
      ),
    );
    const steps: string[] = [];
    const res = await conn.mcp.callTool(
      { name: 'update_project', arguments: { project_id: project.id, name: 'quiet2' } },
      { onprogress: (p) => steps.push(String(p.message)) },
    );
    expect(res.isError, text(res)).toBeFalsy();
    expect(steps).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe("a caller's own secrets (remote mode)", () => {
  const SECRET = 'napi_caller_own_key_9f8e7d6c5b4a';

  async function asCaller(logger?: Logger) {
    const prepared = prepareServer({
      client: client(),
      operationPollMs: [2, 10],
      secrets: [TEST_KEY],
      logger,
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const handle = serveStdio(() => prepared.createFor({ client: client(), secrets: [SECRET] }), {
      transport: serverSide,
    });
    const mcp = new Client(
      { name: 'server-test', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await mcp.connect(clientSide);
    closers.push(async () => {
      await mcp.close();
      await handle.close();
    });
    return mcp;
  }

  it('leaves a connection string its password (only errors lose URI passwords)', async () => {
    const { project } = api.fake.seedProject('uri');
    const mcp = await asCaller();
    const res = await mcp.callTool({ name: 'get_connection_string', arguments: { project_id: project.id } });
    expect(res.isError, text(res)).toBeFalsy();
    expect(JSON.stringify(res.structuredContent)).toMatch(/postgresql:\/\/neondb_owner:[^@[\]]+@/);
  });

  it('is redacted from answers, structured and text', async () => {
    api.fake.seedProject(`named-${SECRET}`);
    const mcp = await asCaller();
    const res = await mcp.callTool({ name: 'list_projects', arguments: {} });
    expect(res.isError).toBeFalsy();
    expect(JSON.stringify(res)).not.toContain(SECRET);
    expect(JSON.stringify(res.structuredContent)).toMatch(/named-/);
  });

  it('is redacted from errors and from the log, message and stack', async () => {
    api.use(http.get(`${BASE}/projects`, () => HttpResponse.json({ projects: SECRET })));
    api.use(
      http.get(`${BASE}/projects/:id`, ({ params }) =>
        HttpResponse.json({ code: '', message: `no project ${params.id}` }, { status: 404 }),
      ),
    );
    const { logger, lines } = recordingLogger();
    const mcp = await asCaller(logger);
    const err = await mcp.callTool({ name: 'get_project', arguments: { project_id: `p-${SECRET}` } });
    expect(err.isError).toBe(true);
    expect(text(err)).toMatch(/^No project is named "p-\[redacted\]"/);
    expect(text(err)).not.toContain(SECRET);
    // A bug whose error text quotes the secret: neither the agent nor the log sees it.
    const bug = await mcp.callTool({ name: 'list_projects', arguments: {} });
    expect(bug.isError).toBe(true);
    expect(text(bug)).toMatch(BUG);
    const logged = lines.filter((l) => l.level === 'error');
    expect(logged).toHaveLength(1);
    expect(logged[0]?.message).toBe('tool list_projects failed unexpectedly');
    // The stack, for the operator, with the secret taken out.
    expect(logged[0]?.error).toMatch(/\n\s+at /);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });
});
