/**
 * The built `neon-mcp` command end to end: a child process on stdio, talking real HTTP to the fake
 * Neon API on loopback. Proves both protocol eras work through the SDK's own stdio client, that stdout
 * carries JSON-RPC and nothing else, that stderr says what it should and never the key, and that the
 * CLI flags behave.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { describe, expect, it } from 'vitest';
import { ENTRY, useBuiltServer } from './built-server.js';
import { TEST_KEY, text } from './helpers.js';
import { freePort } from './pg/server.js';

const VERSION = (await import('../package.json', { with: { type: 'json' } })).default.version;

// Built once for this file into a directory of its own; Neon is the loopback fake (test/built-server.ts).
const { runDir: RUN_DIR, mock } = useBuiltServer('stdio-test');

/** A minimal environment: nothing (in particular no NEON_API_KEY) leaks in from the test's own. */
function env(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NEON_API_URL: mock.baseUrl,
    ...extra,
  };
  return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
}

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs the CLI to completion with stdin closed. */
function run(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, ...args], { cwd: RUN_DIR, env: env(extraEnv) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end();
  });
}

/** Connects the SDK's stdio client to a fresh child process. */
async function sdkClient(era: 'modern' | 'legacy', extraEnv: Record<string, string | undefined> = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [ENTRY],
    cwd: RUN_DIR,
    env: env({ NEON_API_KEY: TEST_KEY, ...extraEnv }),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => {
    stderr += d;
  });
  const client = new Client(
    { name: 'stdio-test', version: '1.0.0' },
    { versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' } },
  );
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

describe('neon-mcp over stdio (built dist/, real HTTP to the loopback mock)', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`serves a ${era === 'modern' ? '2026-07-28' : '2025-11-25 (initialize)'} client: tools/list, list_projects, create_project`, async () => {
      mock.api.fake.seedProject('stdio-app');
      const { client, stderr } = await sdkClient(era);
      try {
        expect(client.getNegotiatedProtocolVersion()).toBe(era === 'modern' ? '2026-07-28' : '2025-11-25');
        expect(client.getServerVersion()).toMatchObject({ name: 'neon-mcp', version: VERSION });

        const { tools } = await client.listTools();
        const names = tools.map((t) => t.name);
        expect(names).toContain('list_projects');
        expect(names).toContain('create_project');
        expect(names[0]).toBe('list_toolsets');

        const listed = await client.callTool({ name: 'list_projects', arguments: {} });
        expect(listed.isError).toBeFalsy();
        expect((listed.structuredContent as any).projects.map((p: any) => p.name)).toEqual(['stdio-app']);

        const created = await client.callTool({
          name: 'create_project',
          arguments: { name: `via-${era}`, database: 'appdb', role: 'app_owner' },
        });
        expect(created.isError, text(created)).toBeFalsy();
        const out = created.structuredContent as any;
        expect(out.project.name).toBe(`via-${era}`);
        expect(out.connection_uri).toMatch(/^postgresql:\/\/app_owner:/);
        expect(mock.api.count('POST', '/projects')).toBe(1);
        // It waited for Neon: every operation it started was polled to the end.
        const ops = [...mock.api.fake.operations.values()];
        expect(ops.length).toBeGreaterThan(0);
        expect(ops.every((o) => o.status === 'finished')).toBe(true);

        // The start-up line: version, tool count, read-only, key set, and never the key itself.
        const line = stderr()
          .split('\n')
          .find((l) => l.includes('on stdio'));
        expect(line).toBeDefined();
        expect(line).toContain(`v${VERSION}`);
        expect(line).toContain(`${tools.length} tools`);
        expect(line).toMatch(/read-only off/);
        expect(line).toMatch(/API key set/);
        expect(stderr()).not.toContain(TEST_KEY);
        // Every request carried the key as a bearer token.
        for (const r of mock.api.requests) expect(r.headers.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
      } finally {
        await client.close();
      }
    });
  }

  for (const era of ['modern', 'legacy'] as const) {
    it(`${era}: resources, prompts, completions, logging and enable_toolsets over stdio`, async () => {
      const { project, branch } = mock.api.fake.seedProject('surface');
      const { client } = await sdkClient(era);
      try {
        const caps = client.getServerCapabilities();
        expect(caps?.resources).toBeDefined();
        expect(caps?.prompts).toBeDefined();
        expect(caps?.completions).toBeDefined();
        expect(caps?.logging).toBeDefined();
        expect(caps?.tools?.listChanged).toBe(true);

        const { resources } = await client.listResources();
        expect(resources.map((r) => r.uri)).toContain(`neon://projects/${project.id}`);
        const read = await client.readResource({ uri: `neon://projects/${project.id}` });
        expect(JSON.parse(String((read.contents[0] as any).text)).branches[0].id).toBe(branch.id);
        const { prompts } = await client.listPrompts();
        expect(prompts.map((p) => p.name)).toContain('safe_migration');
        const done = await client.complete({
          ref: { type: 'ref/resource', uri: 'neon://projects/{project_id}' },
          argument: { name: 'project_id', value: 'surf' },
        });
        expect(done.completion.values).toEqual([project.name]);

        const changed = new Promise<void>((resolve) =>
          client.setNotificationHandler('notifications/tools/list_changed', () => resolve()),
        );
        if (era === 'legacy') await client.setLoggingLevel('info');
        const res = await client.callTool({ name: 'enable_toolsets', arguments: { toolsets: ['computes'] } });
        expect(res.isError, text(res)).toBeFalsy();
        if (era === 'legacy') await changed;
        const names = (await client.listTools()).tools.map((t) => t.name);
        expect(names).toContain('list_computes');
      } finally {
        await client.close();
      }
    });
  }

  it('writes nothing but JSON-RPC to stdout (raw spawn, both eras, hostile input)', async () => {
    mock.api.fake.seedProject('raw');
    const child = spawn(process.execPath, [ENTRY], {
      cwd: RUN_DIR,
      env: env({ NEON_API_KEY: TEST_KEY }),
    }) as ChildProcessWithoutNullStreams;
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    const waiters = new Map<string | number, (msg: any) => void>();
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        try {
          const msg = JSON.parse(line);
          if (msg.id !== undefined && waiters.has(msg.id)) waiters.get(msg.id)!(msg);
        } catch {
          // Checked below: every line must parse.
        }
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const send = (msg: unknown) =>
      child.stdin.write(`${typeof msg === 'string' ? msg : JSON.stringify(msg)}\n`);
    let exitedEarly: ((error: Error) => void) | undefined;
    const early = new Promise<never>((_, reject) => {
      exitedEarly = reject;
    });
    early.catch(() => undefined);
    child.on('exit', (code) =>
      exitedEarly?.(new Error(`neon-mcp exited (${code}) before answering: ${stderr}`)),
    );
    const request = (id: number, method: string, params: unknown = {}) => {
      const answered = new Promise<any>((resolve) => waiters.set(id, resolve));
      send({ jsonrpc: '2.0', id, method, params });
      return Promise.race([answered, early]);
    };

    const init = await request(1, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'raw', version: '0' },
    });
    expect(init.result.protocolVersion).toBe('2025-11-25');
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const list = await request(2, 'tools/list');
    expect(list.result.tools.length).toBeGreaterThan(1);
    const call = await request(3, 'tools/call', { name: 'list_projects', arguments: {} });
    expect(call.result.isError).toBeFalsy();
    const bad = await request(4, 'tools/call', { name: 'get_project', arguments: { project_id: 42 } });
    expect(bad.result).toEqual({
      isError: true,
      content: [
        {
          type: 'text',
          text: 'Input validation error: Invalid arguments for tool get_project: project_id: Invalid input: expected string, received number',
        },
      ],
    });
    const unknown = await request(5, 'tools/call', { name: 'no_such_tool', arguments: {} });
    expect(unknown.error).toEqual({ code: -32602, message: 'Tool no_such_tool not found' });
    // Garbage on stdin must not produce anything but JSON-RPC on stdout.
    send('this is not json');
    send('{"jsonrpc":"2.0","id":');
    send({ hello: 'world' });
    // A message the transport refuses (its error is logged by its first line only, here "[").
    send({ [TEST_KEY]: true });
    // A response to nothing, with the key as its id (the SDK drops it without a log line).
    send({ jsonrpc: '2.0', id: TEST_KEY, result: {} });
    send({ jsonrpc: '2.0', id: 6, method: 'no/such/method', params: {} });
    const ping = await request(7, 'ping');
    expect(ping.result).toEqual({});
    const failing = await request(8, 'tools/call', {
      name: 'get_project',
      arguments: { project_id: 'no-such-project' },
    });
    expect(failing.result.isError).toBe(true);
    exitedEarly = undefined;
    child.stdin.end();
    // stdin closed: the server exits on its own.
    expect(await exited).toBe(0);

    if (partial) lines.push(partial);
    expect(lines.length).toBeGreaterThanOrEqual(8);
    for (const line of lines) {
      let msg: any;
      expect(
        () => {
          msg = JSON.parse(line);
        },
        `stdout line is not JSON: ${line.slice(0, 200)}`,
      ).not.toThrow();
      expect(msg.jsonrpc, line.slice(0, 200)).toBe('2.0');
      expect('id' in msg || 'method' in msg, line.slice(0, 200)).toBe(true);
    }
    expect(lines.join('\n')).not.toContain(TEST_KEY);
    // The transport's error about the keyed message was reported, by its first line only (the SDK's
    // message is a JSON list of issues quoting the input): the input, key included, stays out of the log.
    // That the CLI's logger redacts a key that does reach it is pinned in process by cli.test.ts.
    expect(stderr).toMatch(/^\[neon-mcp\] transport: \[$/m);
    expect(stderr).not.toContain(TEST_KEY);
  });

  it('a 2026-07-28 session over raw pipes: every stdout line is JSON-RPC', async () => {
    mock.api.fake.seedProject('raw-modern');
    // A Client on a custom stdio-shaped transport (probes in place), recording every stdout line.
    const child = spawn(process.execPath, [ENTRY], {
      cwd: RUN_DIR,
      env: env({ NEON_API_KEY: TEST_KEY }),
    }) as ChildProcessWithoutNullStreams;
    const lines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const transport = {
      onmessage: undefined as ((m: any) => void) | undefined,
      onclose: undefined as (() => void) | undefined,
      onerror: undefined as ((e: Error) => void) | undefined,
      async start() {
        let partial = '';
        child.stdout.on('data', (d: Buffer) => {
          partial += d.toString('utf8');
          const parts = partial.split('\n');
          partial = parts.pop() ?? '';
          for (const line of parts) {
            lines.push(line);
            try {
              transport.onmessage?.(JSON.parse(line));
            } catch (error) {
              transport.onerror?.(error as Error);
            }
          }
        });
        child.on('close', () => transport.onclose?.());
      },
      async send(message: unknown) {
        child.stdin.write(`${JSON.stringify(message)}\n`);
      },
      async close() {
        child.stdin.end();
      },
    };
    const client = new Client(
      { name: 'raw-modern', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await client.connect(transport as any);
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect((await client.listTools()).tools.length).toBeGreaterThan(1);
    const res = await client.callTool({ name: 'list_projects', arguments: {} });
    expect((res.structuredContent as any).projects[0].name).toBe('raw-modern');
    const err = await client.callTool({ name: 'get_project', arguments: { project_id: 'nope' } });
    expect(err.isError).toBe(true);
    await client.close();
    expect(await exited).toBe(0);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      const msg = JSON.parse(line);
      expect(msg.jsonrpc).toBe('2.0');
    }
    expect(stderr).not.toContain(TEST_KEY);
  });

  it('passes --api-key on the command line without ever printing it', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [ENTRY, '--api-key', TEST_KEY],
      cwd: RUN_DIR,
      env: env(),
      stderr: 'pipe',
    });
    let err = '';
    transport.stderr?.on('data', (d) => {
      err += d;
    });
    const c = new Client({ name: 'flag', version: '1' });
    await c.connect(transport);
    const res = await c.callTool({ name: 'get_project', arguments: { project_id: 'missing-1' } });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/HTTP 404/);
    expect(text(res)).not.toContain(TEST_KEY);
    await c.close();
    expect(err).toMatch(/API key set/);
    expect(err).not.toContain(TEST_KEY);
    expect(mock.api.requests.at(-1)?.headers.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
  });

  it('starts without a key: tools/list works, a call explains NEON_API_KEY, nothing is sent', async () => {
    const { client, stderr } = await sdkClient('modern', { NEON_API_KEY: undefined });
    try {
      const { tools } = await client.listTools();
      expect(tools.length).toBeGreaterThan(1);
      const res = await client.callTool({ name: 'list_projects', arguments: {} });
      expect(res.isError).toBe(true);
      expect(text(res)).toMatch(/NEON_API_KEY/);
      expect(mock.api.requests).toHaveLength(0);
      expect(stderr()).toMatch(/API key NOT set/);
    } finally {
      await client.close();
    }
  });

  it('a write whose connection was refused says nothing was sent, not that it may have reached Neon', async () => {
    const port = await freePort();
    const { client } = await sdkClient('modern', { NEON_API_URL: `http://127.0.0.1:${port}/api/v2` });
    try {
      const res = await client.callTool({ name: 'create_project', arguments: { name: 'x' } });
      expect(res.isError).toBe(true);
      expect(text(res)).toMatch(/could not reach the Neon API \(connect ECONNREFUSED/);
      expect(text(res)).toMatch(/Check the network connection/);
      expect(text(res)).not.toMatch(/may have (reached Neon|been applied)/);
    } finally {
      await client.close();
    }
  });

  it('read-only and project scope from the environment: only read tools, no project_id, and it says so', async () => {
    const { project } = mock.api.fake.seedProject('scoped');
    const { client, stderr } = await sdkClient('legacy', {
      NEON_MCP_READ_ONLY: 'true',
      NEON_PROJECT_ID: project.id,
      NEON_ORG_ID: 'org-from-env',
      NEON_MCP_TOOLSETS: 'all',
    });
    try {
      const { tools } = await client.listTools();
      expect(tools.length).toBeGreaterThan(3);
      for (const t of tools) {
        expect(t.annotations?.readOnlyHint, t.name).toBe(true);
        expect(Object.keys((t.inputSchema as any).properties ?? {}), t.name).not.toContain('project_id');
      }
      const names = tools.map((t) => t.name);
      expect(names).not.toContain('list_projects');
      expect(names).not.toContain('delete_project');
      const res = await client.callTool({ name: 'get_project', arguments: {} });
      expect((res.structuredContent as any).project.id).toBe(project.id);
      const line = stderr()
        .split('\n')
        .find((l) => l.includes('on stdio'));
      expect(line).toMatch(/read-only on/);
      expect(line).toContain(`scoped to project ${project.id}`);
      expect(line).toContain('organization org-from-env');
      for (const t of tools)
        expect(Object.keys((t.inputSchema as any).properties ?? {}), t.name).not.toContain('org_id');
      expect(line).toContain(`${tools.length} tools`);
    } finally {
      await client.close();
    }
  });

  it('--help and --version print on stdout (for `| cat`, `| grep`) and exit 0', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout).toMatch(/Usage: neon-mcp/);
    expect(help.stdout).toMatch(/--read-only/);
    const version = await run(['--version']);
    expect(version.code).toBe(0);
    expect(version.stderr).toBe('');
    expect(version.stdout).toBe(`${VERSION}\n`);
  });

  it('an unknown flag exits 2 with the problem and the usage on stderr, nothing on stdout', async () => {
    const res = await run(['--bogus-flag'], { NEON_API_KEY: TEST_KEY });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/--bogus-flag/);
    expect(res.stderr).toMatch(/Usage: neon-mcp/);
    expect(res.stderr).not.toContain(TEST_KEY);
  });

  it('a bad flag value or toolset name exits 2 and never prints the key', async () => {
    const badNumber = await run(['--sql-timeout', 'soon', '--api-key', TEST_KEY]);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toMatch(/--sql-timeout must be a positive whole number/);
    expect(badNumber.stderr).not.toContain(TEST_KEY);
    const badToolset = await run(['--toolsets', 'nope'], { NEON_API_KEY: TEST_KEY });
    expect(badToolset.code).toBe(2);
    expect(badToolset.stderr).toMatch(/Unknown toolset "nope"/);
    expect(badToolset.stdout).toBe('');
  });
});
