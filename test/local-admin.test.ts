/**
 * Local mode as a product (issue #24 item 7): `--local --status` and `--local --stop` parsed by
 * src/config.ts and answered by src/local/admin.ts whether or not a server runs, and `--local-keep`,
 * which leaves PostgreSQL up after the last neon-mcp leaves. The configuration as a pure function; the
 * rest on a real embedded PostgreSQL started by startLocal({ dir }), in-process, as `neon-mcp --local
 * DIR` does.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, ConfigError, parseConfig } from '../src/config.js';
import { localStatus, stopLocalServer } from '../src/local/admin.js';
import { type LocalMode, runningServer, startLocal } from '../src/local/index.js';

function refused(argv: string[], env = {}): string {
  try {
    parseConfig(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}
const local = (argv: string[], env = {}) => {
  const c: Config = parseConfig(argv, env);
  expect(c.mode).toBe('local');
  return c as Extract<Config, { mode: 'local' }>;
};

describe('--status, --stop, --local-keep in the configuration', () => {
  it('parses them with --local', () => {
    expect(local(['--local', '/tmp/d', '--status'])).toMatchObject({
      dir: '/tmp/d',
      command: 'status',
      keep: false,
    });
    expect(local(['--local', '--stop'])).toMatchObject({ dir: undefined, command: 'stop' });
    expect(local(['--local'])).toMatchObject({ keep: false });
    expect(local(['--local']).command).toBeUndefined();
    expect(local(['--local', '--local-keep']).keep).toBe(true);
    expect(local(['--local'], { NEON_MCP_LOCAL_KEEP: 'yes' }).keep).toBe(true);
    expect(local(['--local'], { NEON_MCP_LOCAL_KEEP: 'off' }).keep).toBe(false);
    // The variable's server is not --status's: DIR's own is shown.
    expect(
      local(['--local', '--status'], { NEON_MCP_LOCAL_POSTGRES: 'postgresql://u:p@h/postgres' }).postgresUrl,
    ).toBeUndefined();
  });

  it('refuses them without --local, together, with --local-postgres, and an unknown keep word', () => {
    expect(refused(['--status'])).toBe(
      "--status needs --local (it is about local mode's PostgreSQL in DIR).",
    );
    expect(refused(['--stop'])).toMatch(/^--stop needs --local/);
    expect(refused(['--local-keep'])).toMatch(/^--local-keep needs --local/);
    expect(refused(['--local', '--status', '--stop'])).toBe(
      '--status and --stop cannot be combined: ask for one.',
    );
    expect(refused(['--local', '--local-postgres', 'postgresql://u:p@h/postgres', '--stop'])).toMatch(
      /^--stop is about the PostgreSQL local mode runs in DIR; with --local-postgres the server is yours/,
    );
    expect(refused(['--local'], { NEON_MCP_LOCAL_KEEP: 'forever' })).toMatch(
      /^NEON_MCP_LOCAL_KEEP must be one of/,
    );
  });
});

describe('--status and --stop on a real DIR', () => {
  let dir: string;
  const started: LocalMode[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'neon-mcp-local-admin-'));
    chmodSync(dir, 0o755);
  });
  afterAll(async () => {
    for (const m of started) await m.stop().catch(() => undefined);
    await stopLocalServer(dir).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers before any data exists, and for a missing DIR', async () => {
    expect(await localStatus(join(dir, 'nothing'))).toMatch(/data: {4}none: .*nothing does not exist/);
    expect(await stopLocalServer(join(dir, 'nothing'))).toMatch(/does not exist; nothing to stop/);
  });

  it('shows the server, its port and this process as its user; stops it and names the users', async () => {
    const m = await startLocal({ dir });
    started.push(m);
    const running = runningServer(join(dir, 'pg'));
    expect(running).toBeDefined();
    const status = await localStatus(dir);
    expect(status).toContain(`DIR ${dir}`);
    expect(status).toMatch(/data: {4}.*\/pg \(PostgreSQL 1\d\), \d+\.\d MiB on disk/);
    expect(status).toContain(`server:  running, pid ${running?.pid}, 127.0.0.1:${running?.port}`);
    expect(status).toContain(`used by: pid ${process.pid}`);

    const stopped = await stopLocalServer(dir);
    expect(stopped).toContain(`stopped PostgreSQL (pid ${running?.pid}, port ${running?.port})`);
    expect(stopped).toContain(`It was in use by 1 neon-mcp process(es): pid ${process.pid}`);
    expect(runningServer(join(dir, 'pg'))).toBeUndefined();

    const after = await localStatus(dir);
    expect(after).toMatch(new RegExp(`server: {2}not running; port ${running?.port} is kept in`));
    expect(after).toContain('used by: none');
    expect(await stopLocalServer(dir)).toMatch(/is not running on .*; nothing to stop/);
    await m.stop();
    started.pop();
  }, 180_000);

  it('--local-keep leaves PostgreSQL up after the last process; status then names no user', async () => {
    const m = await startLocal({ dir, keep: true });
    const pid = runningServer(join(dir, 'pg'))?.pid;
    await m.stop();
    expect(runningServer(join(dir, 'pg'))?.pid).toBe(pid);
    expect(await localStatus(dir)).toMatch(/used by: none \(left running by --local-keep/);
    // Without it, the last one out stops the server it attached to.
    const again = await startLocal({ dir });
    await again.stop();
    expect(runningServer(join(dir, 'pg'))).toBeUndefined();
  }, 180_000);
});
