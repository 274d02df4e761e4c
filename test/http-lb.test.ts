/**
 * neon-mcp --http scaled out behind a real load balancer: nginx (installed from Debian's packages by
 * this file when absent) round-robins over three instances, each taking a third of Neon's rate limits
 * (--rate-limit-share 1/3), in front of the loopback fake with Neon's limits enforced. 20 concurrent
 * MCP clients × 25 calls: all answered, no 429 reaches an agent. A migration prepared through one
 * instance is completed through another. Then one instance is killed mid-run: calls in flight on it
 * fail with an error the client sees (none silently lost), calls after it succeed on the others.
 * Figures go to docs/BENCHMARKS.md ("Remote mode behind a load balancer").
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connections } from '../src/sql/pools.js';
import { TEST_KEY, text } from './helpers.js';
import { buildRunDir, httpClient, type Instance, startInstance } from './http-run.js';
import { type MockHttpServer, startMockHttpServer } from './mock/http-server.js';
import { createRoles, useBranchDatabases } from './pg/branches.js';
import { freePort, startPostgres, type TestPostgres } from './pg/server.js';

const CLIENTS = 20;
const CALLS = 25;
/** Calls per client in the run where an instance is killed (shorter: the point is what fails). */
const KILL_CALLS = 10;
const OTHER_KEY = 'napi_lb_second_account_key_0123456789';
let runDir: string;
let mock: MockHttpServer;
let pg: TestPostgres;
let instances: Instance[] = [];
let nginx: ChildProcess | undefined;
let nginxDir: string;
let lbUrl: string;

/** nginx's binary: found, or installed from Debian's packages (as root); otherwise the test fails saying why. */
function ensureNginx(): string {
  const find = () => ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  const found = find();
  if (found) return found;
  if (process.getuid?.() !== 0)
    throw new Error(
      'nginx is not installed and this test is not running as root, so it cannot install it (apt-get install nginx-light).',
    );
  // Installing must not start nginx as a service (on port 80, left running): policy-rc.d says no.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => execFileSync('apt-get', args, { env, stdio: 'pipe', timeout: 180_000 });
  const errors: string[] = [];
  try {
    for (const attempt of [['nginx-light'], ['nginx'], ['update'], ['nginx-light'], ['nginx']]) {
      try {
        apt(attempt[0] === 'update' ? ['update'] : ['install', '-y', '--no-install-recommends', attempt[0]]);
        if (find()) break;
      } catch (error) {
        errors.push(
          `apt-get ${attempt.join(' ')}: ${String((error as { stderr?: Buffer }).stderr ?? error).slice(0, 300)}`,
        );
      }
    }
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
  const installed = find();
  if (!installed)
    throw new Error(`nginx could not be installed from Debian's packages:\n${errors.join('\n')}`);
  return installed;
}

beforeAll(async () => {
  const binary = ensureNginx();
  runDir = buildRunDir('http-lb');
  mock = await startMockHttpServer({ rateLimit: true });
  pg = await startPostgres({});
  await createRoles(pg);
  instances = await Promise.all(
    [0, 1, 2].map(() =>
      startInstance(runDir, ['--rate-limit-share', '1/3'], {
        NEON_API_URL: mock.baseUrl,
        NEON_MCP_TOOLSETS: 'all',
      }),
    ),
  );
  const port = await freePort();
  nginxDir = join(runDir, 'nginx');
  mkdirSync(join(nginxDir, 'logs'), { recursive: true });
  const upstreams = instances.map((i) => `    server ${new URL(i.url).host};`).join('\n');
  writeFileSync(
    join(nginxDir, 'nginx.conf'),
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${nginxDir}/nginx.pid;
error_log ${nginxDir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  log_format upstream '$upstream_addr $status';
  access_log ${nginxDir}/logs/access.log upstream;
  client_body_temp_path ${nginxDir}/body;
  proxy_temp_path ${nginxDir}/proxy;
  fastcgi_temp_path ${nginxDir}/fastcgi;
  uwsgi_temp_path ${nginxDir}/uwsgi;
  scgi_temp_path ${nginxDir}/scgi;
  # No keep-alive to the instances: a new connection per request. With a pool of idle connections
  # (keepalive 32) two races made this file flaky under load, each a 502 for a POST that nginx, having
  # sent it, may not retry: an idle connection reused just as Node closed it (Node's keep-alive timeout
  # is 5 s, nginx's 60 s; the clients' first request after the migration test, their version probe,
  # met it), and one to the killed instance reused before nginx had read its close. A fresh connect to
  # an instance that is gone is refused before anything is sent, and nginx passes the request on.
  upstream neon_mcp {
${upstreams}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://neon_mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection close;
      proxy_set_header Host $host;
      # Streamed answers (SSE: progress, then the result) pass through as they come.
      proxy_buffering off;
      proxy_read_timeout 120s;
    }
  }
}
`,
  );
  nginx = spawn(binary, ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let nginxErr = '';
  nginx.stderr?.on('data', (d) => {
    nginxErr += d;
  });
  lbUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${lbUrl}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 100 || nginx.exitCode !== null) throw new Error(`nginx did not start:\n${nginxErr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 300_000);

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx?.once('exit', r));
  }
  await Promise.all(instances.map((i) => i.stop('SIGKILL')));
  for (const i of instances) {
    expect(i.stderr()).not.toContain(TEST_KEY);
    expect(i.stderr()).not.toContain(OTHER_KEY);
  }
  await connections.closeAll();
  await pg?.stop();
  await mock?.close();
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});

// The fake keeps its state across the tests of this file (one account behind the balancer); the
// branch databases of the migration are wired to PostgreSQL for each test.
beforeEach(() => undefined);
useBranchDatabases(
  {
    get fake() {
      return mock.api.fake;
    },
    use: (...h: any[]) => mock.api.use(...h),
  },
  () => pg,
);

interface Call {
  client: number;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  error?: string;
}

/** `clients` SDK clients through the balancer, each making `calls` calls one after the other. */
async function drive(
  clients: number,
  calls: number,
  projectId: string,
  {
    key = TEST_KEY,
    during,
  }: {
    key?: string;
    /** Runs beside the calls, told the time since they began and how many have settled. */
    during?: (elapsedMs: () => number, settled: () => number) => Promise<void>;
  } = {},
) {
  const conns: Client[] = await Promise.all(
    Array.from({ length: clients }, () =>
      httpClient(`${lbUrl}/mcp`, 'modern', { authorization: `Bearer ${key}` }),
    ),
  );
  const t0 = performance.now();
  const results: Call[] = [];
  const tools = [
    { name: 'list_projects', arguments: {} },
    { name: 'list_branches', arguments: { project_id: projectId } },
    { name: 'get_project', arguments: { project_id: projectId } },
  ];
  const one = async (c: number) => {
    for (let k = 0; k < calls; k++) {
      const startedAt = performance.now() - t0;
      const call: Call = { client: c, startedAt, endedAt: 0, ok: false };
      try {
        // A call must settle: one that never answers would be silently lost.
        const r = await Promise.race([
          conns[c].callTool(tools[(c + k) % tools.length]),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error('LOST: no answer in 30 s')), 30_000),
          ),
        ]);
        call.ok = !r.isError;
        if (r.isError) call.error = `tool error: ${text(r)}`;
      } catch (error) {
        call.error = error instanceof Error ? error.message : String(error);
      }
      call.endedAt = performance.now() - t0;
      results.push(call);
    }
  };
  await Promise.all([
    ...conns.map((_, c) => one(c)),
    during?.(
      () => performance.now() - t0,
      () => results.length,
    ),
  ]);
  const wall = performance.now() - t0;
  await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  const ms = results.map((r) => r.endedAt - r.startedAt).sort((a, b) => a - b);
  const pct = (p: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))]);
  const figures = {
    calls: results.length,
    ok: results.filter((r) => r.ok).length,
    errors: results.filter((r) => !r.ok).length,
    wallMs: Math.round(wall),
    callsPerSecond: Math.round((results.length / wall) * 1000 * 10) / 10,
    p50Ms: pct(50),
    p99Ms: pct(99),
  };
  return { results, figures };
}

function upstreamCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  const log = readFileSync(join(nginxDir, 'logs/access.log'), 'utf8');
  for (const line of log.split('\n').filter(Boolean)) {
    const addr = line.split(' ')[0];
    counts.set(addr, (counts.get(addr) ?? 0) + 1);
  }
  return counts;
}

describe('three neon-mcp --http instances behind nginx (round-robin)', () => {
  let projectId: string;

  it(`${CLIENTS} clients × ${CALLS} calls with Neon's limits enforced: every call answered, no 429 surfaced`, async () => {
    projectId = mock.api.fake.seedProject('lb-app').project.id as string;
    const { results, figures } = await drive(CLIENTS, CALLS, projectId);
    console.log(
      `[http-lb] steady: ${JSON.stringify({ ...figures, neonRequests: mock.api.requests.length, neon429s: mock.api.limited })}`,
    );
    expect(results.filter((r) => !r.ok).map((r) => r.error)).toEqual([]);
    expect(figures.calls).toBe(CLIENTS * CALLS);
    // Each instance took its third of Neon's limits: the fake had no reason to answer 429 at all.
    expect(mock.api.limited).toBe(0);
    // Round-robin reached every instance.
    const counts = upstreamCounts();
    for (const i of instances) expect(counts.get(new URL(i.url).host) ?? 0).toBeGreaterThan(50);
  }, 120_000);

  // Passes once migration handles carry their state (branch `stateless`); on its own this branch keeps
  // a prepared migration in the memory of the instance that prepared it.
  it('a migration prepared through one instance is completed through another', async () => {
    const seeded = mock.api.fake.seedProject('lb-migrate');
    const project_id = seeded.project.id as string;
    const via = async (i: Instance) =>
      httpClient(`${i.url}/mcp`, 'modern', { authorization: `Bearer ${TEST_KEY}` });
    const first = await via(instances[0]);
    const second = await via(instances[1]);
    try {
      const setup = await first.callTool({
        name: 'run_sql',
        arguments: { project_id, sql: 'CREATE TABLE items (id int PRIMARY KEY)' },
      });
      expect(setup.isError, text(setup)).toBeFalsy();
      const prep = await first.callTool({
        name: 'prepare_database_migration',
        arguments: { project_id, migration_sql: 'ALTER TABLE items ADD COLUMN name text' },
      });
      expect(prep.isError, text(prep)).toBeFalsy();
      const { migration_id } = prep.structuredContent as { migration_id: string };
      const done = await second.callTool({
        name: 'complete_database_migration',
        arguments: { project_id, migration_id },
      });
      expect(done.isError, text(done)).toBeFalsy();
      expect(done.structuredContent).toMatchObject({ applied: true });
    } finally {
      await first.close();
      await second.close();
    }
  }, 60_000);

  it('one instance killed mid-run: its calls in flight fail visibly, later calls succeed on the others', async () => {
    projectId ??= mock.api.fake.seedProject('lb-app').project.id as string;
    // Slower answers from Neon keep calls in flight on every instance when one is killed.
    mock.api.fault = (r) => (r.method === 'GET' ? { delayMs: 100 } : undefined);
    // The first test spent this minute of Neon's budget for TEST_KEY (in the fake and in each instance's
    // limiter): this run is another account's, with a key and windows of its own.
    mock.api.setLimits(true);
    const victim = instances[2];
    let killedAt = Number.POSITIVE_INFINITY;
    /** When its exit was seen: a call begun between the signal and this moment may still reach it. */
    let deadAt = Number.POSITIVE_INFINITY;
    const { results, figures } = await drive(CLIENTS, KILL_CALLS, projectId, {
      key: OTHER_KEY,
      // Killed once a fifth of the calls have settled (not after a fixed time: on a busy machine most
      // calls could be done by then), so that calls are in flight on it and most are still to come.
      during: async (elapsed, settled) => {
        while (settled() < (CLIENTS * KILL_CALLS) / 5) await new Promise((r) => setTimeout(r, 10));
        killedAt = elapsed();
        victim.child.kill('SIGKILL');
        await victim.exited;
        deadAt = elapsed();
      },
    });
    mock.api.fault = undefined;
    const failed = results.filter((r) => !r.ok);
    console.log(
      `[http-lb] kill: ${JSON.stringify({ ...figures, killedAtMs: Math.round(killedAt), deadAtMs: Math.round(deadAt), neon429s: mock.api.limited })}`,
    );
    console.log(`[http-lb] kill errors: ${[...new Set(failed.map((f) => f.error))].join(' | ')}`);
    // None lost: every call settled, answered or failed with an error its client saw.
    expect(results).toHaveLength(CLIENTS * KILL_CALLS);
    expect(failed.filter((f) => f.error?.startsWith('LOST'))).toEqual([]);
    // The killed instance had calls in flight, and they failed (a 502 from nginx: the client sees it).
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(f.startedAt).toBeLessThan(deadAt);
    // Calls begun once it was gone all succeeded on the two others.
    const after = results.filter((r) => r.startedAt > deadAt);
    expect(after.length).toBeGreaterThan(CLIENTS);
    expect(after.filter((r) => !r.ok)).toEqual([]);
  }, 120_000);
});
