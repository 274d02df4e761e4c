#!/usr/bin/env node
/**
 * `npm run bench`: neon-mcp side by side with Neon's own MCP server (@neondatabase/mcp-server-neon
 * 0.6.5, installed into .bench-cache/ by this script), both run from their built JavaScript as child
 * processes on stdio, both pointed at the same fake Neon API on loopback HTTP (test/mock/).
 *
 * Figures: cold start (spawn → first tools/list answered), peak RSS, tools/list size, per-call
 * overhead over the raw HTTP request, operation wait (finished → answer), and 1,000 concurrent calls
 * under Neon's rate limits. Results go to the `bench:run` section of docs/BENCHMARKS.md (and
 * .bench-cache/bench-run.json). Then the size cases of issue 10, neon-mcp alone on each Node version
 * found (bench/sizes.mjs: peak RSS of large SQL results and API answers against real PostgreSQL), to
 * the `bench:sizes` section. These are measurements, not tests: nothing here fails on a miss.
 *
 *   BENCH_RUNS=15        cold-start runs per server (median reported; at least 10 advised)
 *   BENCH_CALLS=500      calls measured for the per-call overhead
 *   BENCH_SKIP=...       comma-separated sections to skip: cold,rss,overhead,operations,throughput,sizes
 *   BENCH_SIZE_RUNS, BENCH_NODES: see bench/sizes.mjs
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import {
  buildOurs,
  CACHE,
  connectStdio,
  fmt,
  installNeon,
  KEY,
  loadMock,
  log,
  machine,
  median,
  NEON_PACKAGE,
  NEON_VERSION,
  OURS_DIR,
  peakRss,
  percentile,
  serverSpec,
  writeSection,
} from './lib.mjs';
import { measureSizes, reportSizes } from './sizes.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
// Paced at 25 calls/s to stay under 40/s per route, and at most 600 so the 700/min budget is not hit:
// the figure is the server's own cost, not time spent queueing in its rate limiter.
const CALLS = Math.min(600, Number(process.env.BENCH_CALLS ?? 500));
const PACE_MS = 40;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));

buildOurs();
const mockLib = await loadMock();
const neonInstall = installNeon();
const haveNeon = Boolean(neonInstall.entry);
if (!haveNeon) log(`Neon's server is not available: ${neonInstall.error}`);
const servers = haveNeon ? ['ours', 'neon'] : ['ours'];
const LABEL = { ours: 'neon-mcp', neon: `${NEON_PACKAGE} ${NEON_VERSION}` };

const results = { machine: await machine(), date: new Date().toISOString(), neon: neonInstall };

/** A mock server with a seeded project, answering both servers' start-up and tool requests. */
async function startMock(options = {}) {
  const server = await mockLib.startMockHttpServer(options);
  const seeded = server.api.fake.seedProject('bench');
  return { server, ...seeded };
}

/** A representative one-request read per server, and its arguments. */
function readCall(which, w) {
  return which === 'ours'
    ? { name: 'get_project', arguments: { project_id: w.project.id } }
    : {
        // Neon's server has no get-project tool that makes one request (describe_project makes two);
        // list_branch_computes with both IDs is exactly one GET.
        name: 'list_branch_computes',
        arguments: { params: { projectId: w.project.id, branchId: w.branch.id } },
      };
}

// 1. Cold start: spawn → first tools/list answered through the SDK's stdio client.
if (!SKIP.has('cold')) {
  const { server } = await startMock();
  const spec = (which, extra) =>
    serverSpec(which, server.baseUrl, { neonEntry: neonInstall.entry, ...extra });
  const variants = [
    ...servers.map((which) => ({ key: which, which, era: 'legacy' })),
    { key: 'ours-modern', which: 'ours', era: 'modern' },
  ];
  const times = Object.fromEntries(variants.map((v) => [v.key, []]));
  log(`cold start: ${RUNS} runs each (plus one warm-up), interleaved`);
  for (let run = -1; run < RUNS; run++) {
    for (const v of variants) {
      const t0 = performance.now();
      const c = await connectStdio(spec(v.which), v.era);
      await c.client.listTools();
      const t = performance.now() - t0;
      await c.client.close();
      if (run >= 0) times[v.key].push(t);
    }
  }
  results.cold = Object.fromEntries(
    Object.entries(times).map(([k, xs]) => [
      k,
      { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs },
    ]),
  );
  await server.close();
}

// 2. Peak RSS after tools/list and after 100 tool calls; tools/list size (default configuration).
if (!SKIP.has('rss')) {
  results.rss = {};
  results.list = {};
  for (const which of servers) {
    const w = await startMock();
    const c = await connectStdio(serverSpec(which, w.server.baseUrl, { neonEntry: neonInstall.entry }));
    const list = await c.client.listTools();
    const afterList = peakRss(c.pid);
    const json = JSON.stringify(list);
    results.list[which] = {
      tools: list.tools.length,
      bytes: Buffer.byteLength(json),
      tokens: countTokens(json),
    };
    const call = readCall(which, w);
    const listProjects =
      which === 'ours'
        ? { name: 'list_projects', arguments: {} }
        : { name: 'list_projects', arguments: { params: {} } };
    for (let i = 0; i < 100; i++) {
      const res = await c.client.callTool(i % 2 ? call : listProjects);
      if (res.isError) throw new Error(`${which} ${call.name} failed: ${JSON.stringify(res.content)}`);
    }
    results.rss[which] = { afterList, after100: peakRss(c.pid) };
    await c.client.close();
    await w.server.close();
  }
}

// 3. Per-call overhead over the raw HTTP request to the mock (same route, same process, keep-alive).
if (!SKIP.has('overhead')) {
  results.overhead = {};
  for (const which of servers) {
    const w = await startMock();
    const c = await connectStdio(serverSpec(which, w.server.baseUrl, { neonEntry: neonInstall.entry }));
    const call = readCall(which, w);
    const rawUrl =
      which === 'ours'
        ? `${w.server.baseUrl}/projects/${w.project.id}`
        : `${w.server.baseUrl}/projects/${w.project.id}/branches/${w.branch.id}/endpoints`;
    const raw = async () => {
      const t0 = performance.now();
      const res = await fetch(rawUrl, {
        headers: { authorization: `Bearer ${KEY}`, accept: 'application/json' },
      });
      await res.text();
      return performance.now() - t0;
    };
    const tool = async () => {
      const t0 = performance.now();
      const res = await c.client.callTool(call);
      if (res.isError) throw new Error(`${which} ${call.name} failed: ${JSON.stringify(res.content)}`);
      return performance.now() - t0;
    };
    // The MCP round trip alone: a call refused by input validation, so no HTTP at all.
    const refused =
      which === 'ours' ? { name: call.name, arguments: {} } : { name: call.name, arguments: {} };
    const floor = async () => {
      const t0 = performance.now();
      const res = await c.client.callTool(refused).catch((error) => ({ isError: true, error }));
      if (!res.isError) throw new Error(`${which}: a call without arguments did not fail`);
      return performance.now() - t0;
    };
    for (let i = 0; i < 50; i++) {
      await raw();
      await tool();
      await floor();
      await sleep(PACE_MS);
    }
    const rawTimes = [];
    const toolTimes = [];
    const floorTimes = [];
    const before = w.server.api.requests.length;
    for (let i = 0; i < CALLS; i++) {
      rawTimes.push(await raw());
      toolTimes.push(await tool());
      floorTimes.push(await floor());
      await sleep(PACE_MS);
    }
    // Requests the tool made per call (the raw ones are one each; refused calls make none).
    const perCall = (w.server.api.requests.length - before - CALLS) / CALLS;
    const base = median(rawTimes);
    const over = toolTimes.map((t) => t - base * perCall);
    results.overhead[which] = {
      tool: call.name,
      requestsPerCall: perCall,
      rawMedian: base,
      callMedian: median(toolTimes),
      callP99: percentile(toolTimes, 99),
      overheadMedian: median(over),
      overheadP99: percentile(over, 99),
      floorMedian: median(floorTimes),
      floorP99: percentile(floorTimes, 99),
    };
    await c.client.close();
    await w.server.close();
  }
}

// 3b. Where neon-mcp's per-call time goes, in one process (no stdio, no scheduling between processes):
// the mock alone, NeonClient (ky + fetch) on top, then a whole tool call through an in-memory MCP pair.
if (!SKIP.has('overhead')) {
  const dist = (f) => pathToFileURL(join(OURS_DIR, 'dist', f)).href;
  const { NeonClient } = await import(dist('client/neon-client.js'));
  const { prepareServer } = await import(dist('server.js'));
  const { InMemoryTransport } = await import('@modelcontextprotocol/server');
  const { serveStdio } = await import('@modelcontextprotocol/server/stdio');
  const { Client } = await import('@modelcontextprotocol/client');
  const api = new mockLib.MockNeonApi();
  const { project } = api.fake.seedProject('inproc');
  const url = `${mockLib.BASE}/projects/${project.id}`;
  const { RateLimiter } = await import(dist('client/rate-limiter.js'));
  // No rate limit here: this measures CPU per call back to back (the limiter's bookkeeping still runs).
  const limiter = new RateLimiter({ perMinute: 1e9, perSecondPerRoute: 1e9 });
  const client = new NeonClient({ apiKey: KEY, baseUrl: mockLib.BASE, fetch: api.fetch, limiter });
  const prepared = prepareServer({ client, secrets: [KEY] });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const handle = serveStdio(prepared.create, { transport: b });
  const mcp = new Client({ name: 'bench', version: '1' });
  await mcp.connect(a);
  const steps = {
    mock: async () => (await api.fetch(url, { headers: { authorization: `Bearer ${KEY}` } })).text(),
    client: () => client.get('/projects/{project_id}', { path: { project_id: project.id } }),
    tool: () => mcp.callTool({ name: 'get_project', arguments: { project_id: project.id } }),
    refused: () => mcp.callTool({ name: 'get_project', arguments: {} }),
  };
  const t = {};
  for (const [name, fn] of Object.entries(steps)) {
    for (let i = 0; i < 200; i++) await fn();
    const xs = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await fn();
      xs.push(performance.now() - t0);
    }
    t[name] = median(xs);
  }
  results.inProcess = t;
  await mcp.close();
  await handle.close();
}

// 4. Operation wait: from the moment the mock marks the operations finished to the tool's answer.
if (!SKIP.has('operations')) {
  results.operations = {};
  // Deterministic durations, 400 ms to 3 s, like Neon's branch and compute operations.
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const durations = new Map();
  const N = 20;
  for (const which of servers) {
    seed = 42;
    const durationOf = (op) => {
      if (!durations.has(op.id)) durations.set(op.id, 400 + Math.round(rand() * 2600));
      return durations.get(op.id);
    };
    const w = await startMock({ operationDurationMs: durationOf });
    const c = await connectStdio(serverSpec(which, w.server.baseUrl, { neonEntry: neonInstall.entry }));
    const lags = [];
    const polls = [];
    const notWaited = [];
    const opsCounts = [];
    for (let i = 0; i < N; i++) {
      const opsBefore = new Set(w.server.api.fake.operations.keys());
      const pollsBefore = w.server.api.requests.filter((r) => /\/operations\//.test(r.path)).length;
      const args =
        which === 'ours'
          ? { project_id: w.project.id, name: `b${i}` }
          : { params: { projectId: w.project.id, branchName: `b${i}` } };
      const res = await c.client.callTool({ name: 'create_branch', arguments: args }, { timeout: 120_000 });
      const answeredAt = Date.now();
      if (res.isError) throw new Error(`${which} create_branch failed: ${JSON.stringify(res.content)}`);
      const mine = [...w.server.api.fake.operations.values()].filter((o) => !opsBefore.has(o.id));
      const finished = mine.map((o) => w.server.api.finishedAt.get(o.id));
      opsCounts.push(mine.length);
      polls.push(w.server.api.requests.filter((r) => /\/operations\//.test(r.path)).length - pollsBefore);
      if (finished.some((f) => f === undefined)) {
        // Answered while an operation was still running (by the time-based clock).
        const due = Math.max(...mine.map((o) => Date.parse(o.created_at) + durationOf(o)));
        notWaited.push(due - answeredAt);
      } else lags.push(answeredAt - Math.max(...finished));
    }
    results.operations[which] = {
      calls: N,
      waited: lags.length,
      opsPerCall: median(opsCounts),
      lagMedian: median(lags),
      lagP90: percentile(lags, 90),
      pollsMedian: median(polls),
      answeredEarlyMedian: notWaited.length ? median(notWaited) : undefined,
    };
    await c.client.close();
    await w.server.close();
  }
}

// 5. 1,000 concurrent calls under Neon's rate limits (700/min, 40/s per route; 429 past them).
if (!SKIP.has('throughput')) {
  results.throughput = {};
  for (const which of servers) {
    const w = await startMock({ rateLimit: true });
    const c = await connectStdio(serverSpec(which, w.server.baseUrl, { neonEntry: neonInstall.entry }));
    w.server.api.limited = 0;
    const startRequests = w.server.api.requests.length;
    const call = readCall(which, w);
    log(`throughput: 1,000 concurrent ${call.name} on ${LABEL[which]} (takes over a minute at 700/min)`);
    const t0 = performance.now();
    const settled = await Promise.allSettled(
      Array.from({ length: 1_000 }, () => c.client.callTool(call, { timeout: 600_000 })),
    );
    const wall = performance.now() - t0;
    const ok = settled.filter((s) => s.status === 'fulfilled' && !s.value.isError).length;
    results.throughput[which] = {
      tool: call.name,
      ok,
      failed: 1_000 - ok,
      wallMs: wall,
      served429: w.server.api.limited,
      requests: w.server.api.requests.length - startRequests,
      firstError: settled
        .map((s) =>
          s.status === 'rejected' ? String(s.reason) : s.value.isError ? JSON.stringify(s.value.content) : '',
        )
        .find(Boolean)
        ?.slice(0, 200),
    };
    await c.client.close();
    await w.server.close();
  }
}

// 6. The size cases of issue 10 (neon-mcp only, on every Node version found): see bench/sizes.mjs.
if (!SKIP.has('sizes')) {
  const sizes = await measureSizes({ mockLib });
  writeFileSync(
    join(CACHE, 'bench-sizes.json'),
    JSON.stringify({ date: results.date, machine: results.machine, ...sizes }, null, 2),
  );
  writeSection('bench:sizes', reportSizes(sizes, results.machine, results.date));
}

// A run of the size cases alone leaves the comparison with Neon's server as it was.
if (['cold', 'rss', 'overhead', 'operations', 'throughput'].some((s) => !SKIP.has(s))) {
  writeFileSync(join(CACHE, 'bench-run.json'), JSON.stringify(results, null, 2));
  writeSection('bench:run', report(results));
}
process.exit(0);

function report(r) {
  const out = [];
  const ours = LABEL.ours;
  const neon = LABEL.neon;
  out.push(
    `Measured ${r.date.slice(0, 10)} on ${r.machine}. Both servers run from their built JavaScript on stdio,`,
  );
  out.push(
    'against the same fake Neon API on loopback HTTP (test/mock/http-server.ts), through the MCP SDK stdio client.',
  );
  if (!haveNeon)
    out.push(`\n**${neon} could not be installed, so only neon-mcp was measured:** ${r.neon.error}`);
  const targets = [];

  if (r.cold) {
    const o = r.cold.ours.median;
    const n = r.cold.neon?.median;
    out.push('\n### Cold start (spawn → first `tools/list` answered)\n');
    out.push(`Median of ${RUNS} runs each, interleaved, after a warm-up run.\n`);
    out.push('| Server | Median | Min | Max |');
    out.push('|---|---:|---:|---:|');
    out.push(
      `| ${ours} (2025-11-25, \`initialize\`) | ${fmt.ms(o)} | ${fmt.ms(r.cold.ours.min)} | ${fmt.ms(r.cold.ours.max)} |`,
    );
    const m = r.cold['ours-modern'];
    out.push(
      `| ${ours} (2026-07-28, \`server/discover\` on a probe process first) | ${fmt.ms(m.median)} | ${fmt.ms(m.min)} | ${fmt.ms(m.max)} |`,
    );
    if (n !== undefined)
      out.push(
        `| ${neon} (2025 \`initialize\`; it calls \`GET /auth\` and \`/users/me\` first) | ${fmt.ms(n)} | ${fmt.ms(r.cold.neon.min)} | ${fmt.ms(r.cold.neon.max)} |`,
      );
    if (n !== undefined) {
      out.push(`\nRatio (same handshake): **${fmt.ratio(o, n)}** of Neon's.`);
      targets.push([
        'Cold start ≤ 1/3 of Neon’s',
        `${fmt.ms(o)} vs ${fmt.ms(n)} (${fmt.ratio(o, n)})`,
        o <= n / 3,
      ]);
    }
  }
  if (r.rss) {
    out.push('\n### Peak RSS of the server process (VmHWM)\n');
    out.push('| Server | After `tools/list` | After 100 tool calls |');
    out.push('|---|---:|---:|');
    for (const which of servers)
      out.push(`| ${LABEL[which]} | ${fmt.mb(r.rss[which].afterList)} | ${fmt.mb(r.rss[which].after100)} |`);
    // Both points are the target (issue 23): after tools/list and after the 100 calls.
    if (r.rss.neon) {
      for (const [point, key] of [
        ['after `tools/list`', 'afterList'],
        ['after 100 calls', 'after100'],
      ]) {
        const a = r.rss.ours[key];
        const b = r.rss.neon[key];
        targets.push([
          `Peak RSS ≤ 1/2 of Neon’s, ${point}`,
          `${fmt.mb(a)} vs ${fmt.mb(b)} (${fmt.ratio(a, b)})`,
          a <= b / 2,
        ]);
      }
    }
    out.push('\n### `tools/list` (default configuration of each)\n');
    out.push('| Server | Tools | Bytes | Tokens (o200k_base) |');
    out.push('|---|---:|---:|---:|');
    for (const which of servers) {
      const l = r.list[which];
      out.push(`| ${LABEL[which]} | ${l.tools} | ${fmt.int(l.bytes)} | ${fmt.int(l.tokens)} |`);
    }
    out.push('\nPer configuration and per tool: see the context section below (`npm run bench:context`).');
  }
  if (r.overhead) {
    out.push('\n### Per-call overhead over the raw HTTP request\n');
    out.push(
      `${CALLS} sequential calls after 50 warm-up calls, paced at 25/s (under the 40/s per-route limit, so no ` +
        'time is spent in the rate limiter), each next to the same request sent directly with `fetch` from the ' +
        'benchmark process. Overhead = call time − (raw request median × requests the tool made). ' +
        '"MCP round trip" is a call refused by input validation (no HTTP at all): the floor set by stdio, ' +
        'JSON-RPC and the SDKs on both ends.\n',
    );
    out.push(
      '| Server | Tool | Requests/call | Raw request (median) | Call (median / p99) | Overhead median | Overhead p99 | MCP round trip (median / p99) |',
    );
    out.push('|---|---|---:|---:|---:|---:|---:|---:|');
    for (const which of servers) {
      const x = r.overhead[which];
      out.push(
        `| ${LABEL[which]} | ${x.tool} | ${x.requestsPerCall.toFixed(2)} | ${fmt.ms(x.rawMedian)} | ${fmt.ms(x.callMedian)} / ${fmt.ms(x.callP99)} | ${fmt.ms(x.overheadMedian)} | ${fmt.ms(x.overheadP99)} | ${fmt.ms(x.floorMedian)} / ${fmt.ms(x.floorP99)} |`,
      );
    }
    if (r.inProcess) {
      const t = r.inProcess;
      out.push(
        '\nWhere neon-mcp’s time goes, measured in one process, back to back (in-memory MCP pair, the mock as ' +
          '`fetch`, no rate limit; medians of 300 after 200 warm-up):\n',
      );
      out.push('| Step | Median | Added by this layer |');
      out.push('|---|---:|---:|');
      out.push(`| The fake API answering (msw \`getResponse\`) | ${fmt.ms(t.mock)} | |`);
      out.push(
        `| \`NeonClient.get\` (ky, rate limiter, Request/AbortSignal, JSON) | ${fmt.ms(t.client)} | ${fmt.ms(t.client - t.mock)} |`,
      );
      out.push(
        `| \`get_project\` through MCP (SDK both ends, zod in/out, redaction) | ${fmt.ms(t.tool)} | ${fmt.ms(t.tool - t.client)} |`,
      );
      out.push(`| A call refused by input validation (MCP + zod only) | ${fmt.ms(t.refused)} | |`);
    }
    targets.push([
      'Per-call overhead ≤ 1 ms (median)',
      fmt.ms(r.overhead.ours.overheadMedian),
      r.overhead.ours.overheadMedian <= 1,
    ]);
  }
  if (r.operations) {
    out.push('\n### Waiting for Neon operations (`create_branch`)\n');
    out.push(
      'The mock finishes each operation 0.4–3 s after it was created (deterministic pseudo-random durations); ' +
        'lag = tool answer − the moment the last of its operations finished.\n',
    );
    out.push(
      '| Server | Calls | Operations/call | Waited for them | Lag median | Lag p90 | Polls per call (median) |',
    );
    out.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const which of servers) {
      const x = r.operations[which];
      const early =
        x.answeredEarlyMedian !== undefined
          ? ` (answered a median ${fmt.ms(x.answeredEarlyMedian)} before they finished)`
          : '';
      out.push(
        `| ${LABEL[which]} | ${x.calls} | ${x.opsPerCall} | ${x.waited}${early} | ${fmt.ms(x.lagMedian)} | ${fmt.ms(x.lagP90)} | ${x.pollsMedian} |`,
      );
    }
    const lag = r.operations.ours.lagMedian;
    targets.push(['Operation finished → answer ≤ 300 ms (median)', fmt.ms(lag), lag <= 300]);
  }
  if (r.throughput) {
    out.push('\n### 1,000 concurrent calls under Neon’s rate limits\n');
    out.push(
      'The mock enforces 700 requests/min overall and 40/s per route, answering 429 with `Retry-After` past them.\n',
    );
    out.push('| Server | Tool | Succeeded | Failed | Wall time | Calls/s | 429s served | Requests |');
    out.push('|---|---|---:|---:|---:|---:|---:|---:|');
    for (const which of servers) {
      const x = r.throughput[which];
      out.push(
        `| ${LABEL[which]} | ${x.tool} | ${x.ok} | ${x.failed} | ${fmt.ms(x.wallMs)} | ${(x.ok / (x.wallMs / 1000)).toFixed(1)} | ${x.served429} | ${x.requests} |`,
      );
    }
    for (const which of servers)
      if (r.throughput[which].firstError)
        out.push(`\nFirst failure (${LABEL[which]}): \`${r.throughput[which].firstError}\``);
  }
  if (targets.length) {
    out.push('\n### Targets\n');
    out.push('| Target | Measured | Met |');
    out.push('|---|---|:---:|');
    for (const [t, m, ok] of targets) out.push(`| ${t} | ${m} | ${ok ? 'yes' : '**no**'} |`);
  }
  return out.join('\n');
}
