/**
 * The built server as a child process, facing what it cannot read and being told to stop (issue 10):
 * a line over the 10 MiB read limit, unparsable JSON and 10,000 lines of `{}` get an error or one log
 * line, never an exit, while other calls in flight are answered; out-of-range numeric flags exit 2;
 * SIGTERM cancels a running query on PostgreSQL before exiting; a 20 MB API answer keeps RSS low.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LineProblem, lineGuard } from '../src/transport.js';
import { ENTRY, useBuiltServer } from './built-server.js';
import { TEST_KEY } from './helpers.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

// Built once for this file into a directory of its own; Neon is the loopback fake (test/built-server.ts).
const { runDir: RUN_DIR, mock } = useBuiltServer('transport-test');

/** A raw JSON-RPC peer of a spawned server: every stdout line is parsed, answers found by id. */
class Peer {
  readonly child: ChildProcessWithoutNullStreams;
  stderr = '';
  readonly lines: string[] = [];
  private partial = '';
  private readonly waiters = new Map<string | number, (msg: any) => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[] = [], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [ENTRY, ...args], {
      cwd: RUN_DIR,
      env: { PATH: process.env.PATH ?? '', NEON_API_URL: mock.baseUrl, NEON_API_KEY: TEST_KEY, ...env },
    }) as ChildProcessWithoutNullStreams;
    this.child.stdout.on('data', (d: Buffer) => {
      this.partial += d.toString('utf8');
      const parts = this.partial.split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) {
        this.lines.push(line);
        const msg = JSON.parse(line);
        if (msg.id !== undefined) this.waiters.get(msg.id)?.(msg);
      }
    });
    this.child.stderr.on('data', (d) => {
      this.stderr += d;
    });
    // Writes to a child that exited must not crash the test process.
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => resolve({ code, signal })),
    );
  }

  send(line: string) {
    this.child.stdin.write(`${line}\n`);
  }

  /** The answer to `id`, or a rejection naming the exit if the server exits first. */
  answer(id: string | number): Promise<any> {
    return Promise.race([
      new Promise((resolve) => this.waiters.set(id, resolve)),
      this.exited.then(({ code, signal }) => {
        throw new Error(`neon-mcp exited (${code ?? signal}) before answering ${id}: ${this.stderr}`);
      }),
    ]);
  }

  request(id: number, method: string, params: unknown = {}) {
    const answered = this.answer(id);
    this.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return answered;
  }

  async initialize() {
    const init = await this.request(1, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'transport-test', version: '0' },
    });
    expect(init.result.protocolVersion).toBe('2025-11-25');
    this.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  }

  async stop() {
    this.child.stdin.end();
    const until = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(until);
  }
}

describe('lineGuard (in process)', () => {
  /** Feeds chunks through a guard with a small limit; returns the lines passed on and the problems. */
  async function feed(chunks: string[], max = 64) {
    const problems: LineProblem[] = [];
    const guard = lineGuard((p) => problems.push(p), max);
    const out: string[] = [];
    guard.on('data', (d: Buffer) => out.push(d.toString('utf8')));
    for (const c of chunks) guard.write(c);
    guard.end();
    await new Promise((r) => guard.on('end', r));
    return { out, problems };
  }

  it('passes complete lines one at a time, whatever the chunking', async () => {
    const { out, problems } = await feed(['{"a":', '1}\n{"b":2}\r\n{"c"', ':3}\n{"partial":']);
    expect(out).toEqual(['{"a":1}\n', '{"b":2}\r\n', '{"c":3}\n']);
    expect(problems).toEqual([]);
  });

  it('skips a line over the limit across chunks without keeping it, reading its id from the start', async () => {
    const big = `{"jsonrpc":"2.0","id":"req-7","method":"x","params":"${'z'.repeat(200)}"}`;
    const { out, problems } = await feed([
      big.slice(0, 40),
      big.slice(40, 120),
      `${big.slice(120)}\n{"ok":1}\n`,
    ]);
    expect(out).toEqual(['{"ok":1}\n']);
    expect(problems).toEqual([{ kind: 'too large', id: 'req-7', bytes: big.length }]);
  });

  it('reports an unparsable line with its id when it has one, ignores blank lines', async () => {
    const { out, problems } = await feed(['\n  \n{"id": 12, "method": \n[1,2\n']);
    expect(out).toEqual([]);
    expect(problems).toEqual([
      { kind: 'not JSON', id: 12, bytes: 21 },
      { kind: 'not JSON', id: undefined, bytes: 4 },
    ]);
  });
});

describe('input the transport cannot take', () => {
  it('a line over 10 MiB gets a JSON-RPC error; the call in flight and later calls are answered', async () => {
    mock.api.fake.seedProject('busy');
    const peer = new Peer(['--toolsets', 'all']);
    try {
      await peer.initialize();
      // A call that is still waiting for Neon when the oversized line arrives.
      mock.api.fault = (r) => (r.method === 'GET' && r.path === '/projects' ? { delayMs: 1_500 } : undefined);
      const inFlight = peer.request(3, 'tools/call', { name: 'list_projects', arguments: {} });
      await new Promise((r) => setTimeout(r, 300));
      const huge = JSON.stringify({
        jsonrpc: '2.0',
        id: 4,
        method: 'tools/call',
        params: {
          name: 'deploy_function',
          arguments: { project_id: 'p', branch_id: 'b', slug: 's', zip_base64: 'A'.repeat(12_000_000) },
        },
      });
      const refused = peer.answer(4);
      peer.send(huge);
      const error = await refused;
      expect(error.error.code).toBe(-32600);
      expect(error.error.message).toMatch(/exceeds the limit of one stdio message \(10485760 bytes\)/);
      const listed = await inFlight;
      expect(listed.result.isError, JSON.stringify(listed)).toBeFalsy();
      expect(listed.result.structuredContent.projects.map((p: any) => p.name)).toEqual(['busy']);
      const ping = await peer.request(5, 'ping');
      expect(ping.result).toEqual({});
      expect(peer.stderr).toMatch(/a message over the size limit was dropped/);
    } finally {
      await peer.stop();
    }
  });

  it('a zip_base64 that fits the transport but not the field is refused naming the limit', async () => {
    const peer = new Peer(['--toolsets', 'all']);
    try {
      await peer.initialize();
      const res = await peer.request(2, 'tools/call', {
        name: 'deploy_function',
        arguments: { project_id: 'p', branch_id: 'b', slug: 's', zip_base64: 'A'.repeat(9_500_000) },
      });
      const message = JSON.stringify(res);
      expect(message).toMatch(/at most 9,000,000 characters/);
      expect(message).toMatch(/10 MiB/);
    } finally {
      await peer.stop();
    }
  });

  it('unparsable JSON is answered when its id can be read, logged once, and the server goes on', async () => {
    const peer = new Peer();
    try {
      await peer.initialize();
      const refused = peer.answer(9);
      peer.send('this is not json');
      peer.send('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{');
      expect((await refused).error.code).toBe(-32700);
      expect((await peer.request(10, 'ping')).result).toEqual({});
      await new Promise((r) => setTimeout(r, 1_300));
      const lines = peer.stderr.split('\n').filter((l) => /not JSON/.test(l));
      expect(lines).toEqual([
        '[neon-mcp] transport: a line that is not JSON was dropped',
        '[neon-mcp] transport: a line that is not JSON was dropped (repeated 1 more times)',
      ]);
    } finally {
      await peer.stop();
    }
  });

  it('10,000 lines of {} are logged once with a count, not 10,000 times', async () => {
    const peer = new Peer();
    try {
      await peer.initialize();
      const before = peer.stderr.length;
      peer.child.stdin.write('{}\n'.repeat(10_000));
      expect((await peer.request(2, 'ping')).result).toEqual({});
      await new Promise((r) => setTimeout(r, 1_300));
      const logged = peer.stderr.slice(before);
      expect(logged.length).toBeLessThan(2_000);
      expect(logged).toMatch(/repeated 9999 more times/);
      expect(logged.trim().split('\n')).toHaveLength(2);
    } finally {
      await peer.stop();
    }
  });
});

describe('numeric flags', () => {
  /** Runs the CLI with stdin closed and returns its exit code and stderr. */
  async function run(args: string[], env: Record<string, string> = {}) {
    const peer = new Peer(args, env);
    peer.child.stdin.end();
    const { code } = await peer.exited;
    return { code, stderr: peer.stderr };
  }

  it('reject values out of range with exit 2 and a message', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ['--sql-timeout', '1073741824'],
        {},
        /--sql-timeout must be a positive whole number, at most 86400000/,
      ],
      [['--sql-timeout', '0'], {}, /--sql-timeout must be a positive whole number/],
      [
        ['--operation-timeout', '1e12'],
        {},
        /--operation-timeout must be a positive whole number, at most 86400000/,
      ],
      [
        [],
        { NEON_MCP_SQL_MAX_ROWS: '1000000' },
        /--sql-max-rows must be a positive whole number, at most 100000/,
      ],
    ];
    for (const [args, env, message] of cases) {
      const { code, stderr } = await run(args, env);
      expect(code, args.join(' ') || JSON.stringify(env)).toBe(2);
      expect(stderr).toMatch(message);
    }
    // In range: starts and exits 0 when stdin closes.
    expect((await run(['--sql-timeout', '86400000', '--sql-max-rows', '100000'])).code).toBe(0);
  });
});

describe('SIGTERM', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  const running = async () =>
    (
      await pg.query(
        'postgres',
        "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()",
      )
    ).length;

  it('cancels the running query on the server and exits', async () => {
    const { project } = mock.api.fake.seedProject('sql');
    mock.api.fake.connectionUri = () => pg.uri('postgres');
    const peer = new Peer();
    await peer.initialize();
    const call = peer.request(2, 'tools/call', {
      name: 'run_sql',
      arguments: { project_id: project.id, sql: 'SELECT pg_sleep(60)' },
    });
    call.catch(() => undefined);
    const until = Date.now() + 15_000;
    while ((await running()) === 0) {
      if (Date.now() > until) throw new Error(`the query never started: ${peer.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const stopped = Date.now();
    peer.child.kill('SIGTERM');
    const { code } = await peer.exited;
    expect(code).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(5_000);
    // Cancelled on the server, not left to run until its statement timeout.
    const gone = Date.now() + 2_000;
    while ((await running()) > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toBe(0);
    expect(peer.stderr).toMatch(/SIGTERM: stopping \(calls in flight are finished or cancelled\)/);
  }, 60_000);
});

describe('large answers', () => {
  it('a 20 MB API answer is refused with a message naming the limit, and the server goes on', async () => {
    const item = JSON.stringify({ id: 'p-1', name: 'x'.repeat(1_000) });
    const body = `{"projects":[${Array.from({ length: 20_000 }, () => item).join(',')}]}`;
    mock.api.fault = (r) =>
      r.method === 'GET' && r.path === '/projects'
        ? new Response(body, { headers: { 'content-type': 'application/json' } })
        : undefined;
    const peer = new Peer();
    try {
      await peer.initialize();
      const res = await peer.request(2, 'tools/call', { name: 'list_projects', arguments: {} });
      expect(res.result.isError).toBe(true);
      expect(res.result.content[0].text).toMatch(/larger than neon-mcp reads/);
      // Peak memory of this case is measured by `npm run bench` (docs/BENCHMARKS.md), not here.
      const next = await peer.request(3, 'tools/list', {});
      expect(next.result.tools.length).toBeGreaterThan(0);
    } finally {
      await peer.stop();
    }
  });
});
