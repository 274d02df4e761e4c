#!/usr/bin/env node
/**
 * `npm run conformance`: the MCP conformance suite's generic server scenarios against the built
 * server, reproducibly from the repository, on any supported Node.js.
 *
 * 1. Installs @modelcontextprotocol/conformance (SUITE_VERSION, its whole tree pinned by
 *    scripts/conformance-lock.json) into .bench-cache/conformance/ with `npm ci`.
 * 2. The suite imports `fs.globSync`, which Node 20 lacks: when this Node is older than 22 it runs
 *    the suite on a Node 22 binary (NODE_VERSION) from the npm registry's `node-<platform>-<arch>`
 *    package, cached in .bench-cache/node/ exactly as .ci/node-matrix.sh does (the two share it).
 *    The server under test still runs on this Node. Nothing in the suite is patched.
 * 3. Builds neon-mcp (bench/lib.mjs: tsc and the tool schemas, copied to .bench-cache/ours), starts
 *    the fake Neon API on loopback HTTP (test/mock/http-server.ts, one seeded project, requests
 *    validated against Neon's OpenAPI description) and scripts/conformance-bridge.mjs around the
 *    built stdio server: no real key, nothing leaves the machine.
 * 4. Runs each scenario, prints one line per scenario and a closing count, and exits 1 when one
 *    fails, when the server sent a request the Neon API would not accept, or when it wrote anything
 *    but JSON to stdout.
 *
 *   npm run conformance -- --http               test remote mode itself: the built server started as
 *                                               `neon-mcp --http 127.0.0.1:0` (port 0: the kernel
 *                                               picks a free one, read back from its start-up line)
 *                                               with a key of its own (the suite sends no credentials;
 *                                               a loopback bind needs no access token), no bridge;
 *                                               scenarios HTTP_SCENARIOS (SCENARIOS and
 *                                               dns-rebinding-protection). It fails too when the server
 *                                               writes anything to stdout or does not exit cleanly on
 *                                               SIGTERM.
 *   CONFORMANCE_URL=http://127.0.0.1:3000/mcp   test that server instead (nothing built or started)
 *   CONFORMANCE_SCENARIOS="ping tools-list"     other scenarios (default: SCENARIOS below)
 *   CONFORMANCE_NODE=/path/to/node              a Node >= 22 for the suite (no download)
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { buildOurs, CACHE, loadMock, OURS_DIR, ROOT } from '../bench/lib.mjs';
import { startBridge } from './conformance-bridge.mjs';

const SUITE_VERSION = '0.1.16';
const NODE_VERSION = '22.23.5';
/**
 * The generic server scenarios: they check the protocol itself, not the suite's fixture server. The
 * other server scenarios call tools, resources and prompts only that fixture has (`test_simple_text`,
 * `test://static-text`, …). `completion-complete` is one of those (see docs/TESTING.md): it asks to
 * complete `arg1` of the fixture's prompt `test_prompt_with_arguments`, which neon-mcp answers with
 * the spec's invalid-params error.
 */
const SCENARIOS = [
  'server-initialize',
  'ping',
  'tools-list',
  'resources-list',
  'prompts-list',
  'logging-set-level',
];
/**
 * Against `neon-mcp --http` directly, the same scenarios plus the one of the HTTP transport itself,
 * which over the bridge would test the bridge: `dns-rebinding-protection` (Host/Origin checks on a
 * loopback bind). Not `server-sse-polling`: it checks SSE resumability (SEP-1699: a session ID, event
 * IDs, `retry`, resuming with Last-Event-ID) through the fixture tool `test_reconnection`, all of it
 * SHOULDs that need per-session state on one instance, which a stateless server has not by design; it
 * ends with 3 warnings and no success (docs/TESTING.md).
 */
const HTTP_SCENARIOS = [...SCENARIOS, 'dns-rebinding-protection'];
const SUITE_DIR = join(CACHE, 'conformance');
const LOCK = join(ROOT, 'scripts/conformance-lock.json');
const KEY = 'napi_conformance_fake_key_0123456789';

function say(message) {
  process.stderr.write(`[conformance] ${message}\n`);
}

/** The suite's entry point, installed from the lockfile (again only when the lockfile changed). */
function installSuite() {
  const entry = join(SUITE_DIR, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
  const lock = readFileSync(LOCK);
  const stamp = join(SUITE_DIR, '.lock-sha256');
  const digest = createHash('sha256').update(lock).digest('hex');
  if (existsSync(entry) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return entry;
  say(`installing @modelcontextprotocol/conformance@${SUITE_VERSION} into .bench-cache/conformance`);
  rmSync(SUITE_DIR, { recursive: true, force: true });
  mkdirSync(SUITE_DIR, { recursive: true });
  const manifest = {
    name: 'neon-mcp-conformance',
    private: true,
    dependencies: { '@modelcontextprotocol/conformance': SUITE_VERSION },
  };
  writeFileSync(join(SUITE_DIR, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(LOCK, join(SUITE_DIR, 'package-lock.json'));
  execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: SUITE_DIR,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 600_000,
  });
  const installed = JSON.parse(readFileSync(join(dirname(dirname(entry)), 'package.json'), 'utf8')).version;
  if (installed !== SUITE_VERSION) throw new Error(`installed suite is ${installed}, not ${SUITE_VERSION}`);
  writeFileSync(stamp, digest);
  return entry;
}

/** A Node >= 22 to run the suite: this one, CONFORMANCE_NODE, or the pinned binary package. */
function suiteNode() {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  if (process.env.CONFORMANCE_NODE) return process.env.CONFORMANCE_NODE;
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(CACHE, 'node', NODE_VERSION);
  const bin = join(dir, 'node_modules', pkg, 'bin/node');
  if (!existsSync(bin)) {
    say(`Node ${process.versions.node} lacks fs.globSync: installing ${pkg}@${NODE_VERSION} into ${dir}`);
    mkdirSync(dir, { recursive: true });
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        `${pkg}@${NODE_VERSION}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 },
    );
  }
  return bin;
}

/** Every checks.json under dir (the suite writes one per scenario run). */
function readChecks(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === 'checks.json')
      out.push(...JSON.parse(readFileSync(join(e.parentPath ?? e.path, e.name), 'utf8')));
  }
  return out;
}

/**
 * Starts the built server as `neon-mcp --http 127.0.0.1:0` (the kernel picks a free port, so two runs
 * never race for one) and resolves, once its start-up line names the URL, to
 * `{ url, stdout(), stop() }`. Its stderr is copied to the file descriptor `log`. stop() sends SIGTERM
 * and resolves to how the process ended (`exit 0` when it drained and exited cleanly).
 */
function startHttp({ entry, env, log }) {
  const child = spawn(process.execPath, [entry, '--http', '127.0.0.1:0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`)),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    // The server drains for up to 10 s and gives itself 5 s more (src/modes/http.ts) before it exits.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const how = await exited;
    clearTimeout(timer);
    return how;
  };
  return new Promise((resolve, reject) => {
    let url;
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`neon-mcp --http wrote no start-up line within 30 s:\n${stderr}`));
    }, 30_000);
    child.stderr.on('data', (d) => {
      writeSync(log, d);
      if (url) return;
      stderr += d;
      const m = /on (http:\/\/[^\s/]+\/mcp)/.exec(stderr);
      if (m) {
        url = m[1];
        clearTimeout(timer);
        resolve({ url, stdout: () => stdout, stop });
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      if (!url) reject(new Error(`neon-mcp --http ended (${how}) before listening:\n${stderr}`));
    });
  });
}

/** Runs one scenario; resolves to { ok, checks, output }. */
function runScenario(node, entry, url, scenario, outDir) {
  return new Promise((resolve) => {
    const child = spawn(node, [entry, 'server', '--url', url, '--scenario', scenario, '-o', outDir], {
      cwd: SUITE_DIR,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill(), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      let checks = [];
      try {
        checks = readChecks(outDir);
      } catch {}
      const failed = checks.filter((c) => c.status === 'FAILURE');
      // A scenario passes when the suite says so and it recorded a success and no failure.
      const ok = code === 0 && failed.length === 0 && checks.some((c) => c.status === 'SUCCESS');
      resolve({ ok, checks, output, code });
    });
  });
}

async function main() {
  const started = Date.now();
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--http');
  if (unknown.length) throw new Error(`unknown argument ${unknown[0]} (the only one is --http)`);
  const httpMode = args.includes('--http');
  if (httpMode && process.env.CONFORMANCE_URL)
    throw new Error('--http starts neon-mcp --http itself: leave out CONFORMANCE_URL');
  const scenarios =
    process.env.CONFORMANCE_SCENARIOS?.split(/[\s,]+/).filter(Boolean) ??
    (httpMode ? HTTP_SCENARIOS : SCENARIOS);
  const entry = installSuite();
  const node = suiteNode();
  say(`suite and Node ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const suiteNodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

  let url = process.env.CONFORMANCE_URL;
  let mock;
  let bridge;
  let http;
  // Apart from the stdio run's, so that after CI both runs' results are there to read.
  const outRoot = join(SUITE_DIR, httpMode ? 'results-http' : 'results');
  rmSync(outRoot, { recursive: true, force: true });
  mkdirSync(outRoot, { recursive: true });
  const serverLog = openSync(join(outRoot, 'server-stderr.log'), 'w');
  if (!url) {
    let t = Date.now();
    buildOurs();
    say(`built in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    t = Date.now();
    const mockLib = await loadMock();
    say(`mock compiled in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    mock = await mockLib.startMockHttpServer({ validate: true });
    // One project, so resources/list lists a project resource beside the docs index.
    mock.api.fake.seedProject('conformance');
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      // Over HTTP this makes the server single-tenant: the suite sends no Authorization header, and
      // on a loopback bind no access token is required (README, remote mode).
      NEON_API_KEY: KEY,
      NEON_API_URL: mock.baseUrl,
      // No scenario reads the docs; if one did, it would reach the loopback fake (a 404), not the web.
      NEON_MCP_DOCS_URL: mock.origin,
    };
    if (httpMode) {
      // A server that does not start must not leave the fake listening (the script would never end).
      http = await startHttp({ entry: join(OURS_DIR, 'dist/index.js'), env, log: serverLog }).catch(
        async (error) => {
          await mock.close();
          throw error;
        },
      );
      url = http.url;
      say(`neon-mcp --http on Node ${process.versions.node} at ${url}`);
    } else {
      // The server's stderr goes to a file beside the results, for when a scenario fails.
      bridge = await startBridge({ entry: join(OURS_DIR, 'dist/index.js'), env, stderr: serverLog });
      url = bridge.url;
      say(`neon-mcp on Node ${process.versions.node} over the stdio bridge at ${url}`);
    }
  } else say(`testing ${url}`);
  say(`suite @modelcontextprotocol/conformance ${SUITE_VERSION} on Node ${suiteNodeVersion.slice(1)}`);

  const results = [];
  let stopped;
  try {
    for (const scenario of scenarios) {
      const t = Date.now();
      const r = await runScenario(node, entry, url, scenario, join(outRoot, scenario));
      results.push({ scenario, ...r });
      const counts = ['SUCCESS', 'FAILURE', 'WARNING'].map(
        (s) => `${r.checks.filter((c) => c.status === s).length} ${s.toLowerCase()}`,
      );
      console.log(`${r.ok ? 'PASS' : 'FAIL'} ${scenario} (${counts.join(', ')}; ${Date.now() - t} ms)`);
      if (!r.ok) {
        for (const c of r.checks.filter((c) => c.status === 'FAILURE'))
          console.log(`     ${c.name}: ${c.errorMessage ?? c.description}`);
        if (!r.checks.length) console.log(r.output.trim().replace(/^/gm, '     '));
      }
    }
  } finally {
    stopped = await http?.stop();
    await bridge?.close();
    await mock?.close();
    closeSync(serverLog);
  }
  const violations = mock?.api.violations ?? [];
  for (const v of violations) console.log(`FAIL request not valid against the Neon API: ${v}`);
  const notJson = bridge?.notJson ?? [];
  for (const line of notJson) console.log(`FAIL not JSON-RPC on the server's stdout: ${line}`);
  // Over HTTP the protocol travels in HTTP bodies: stdout must stay empty.
  const httpStdout = http?.stdout().split('\n').filter(Boolean) ?? [];
  for (const line of httpStdout) console.log(`FAIL neon-mcp --http wrote to stdout: ${line.slice(0, 200)}`);
  const badExit = http && stopped !== 'exit 0';
  if (badExit) console.log(`FAIL neon-mcp --http did not exit cleanly on SIGTERM (${stopped})`);
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  say(
    `results in .bench-cache/conformance/${httpMode ? 'results-http' : 'results'}; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
  );
  console.log(`conformance: ${passed} passed, ${failed} failed`);
  process.exitCode =
    failed > 0 || violations.length > 0 || notJson.length > 0 || httpStdout.length > 0 || badExit ? 1 : 0;
}

await main();
