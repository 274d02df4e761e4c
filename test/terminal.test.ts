/**
 * What a person who starts neon-mcp in a terminal is told (src/modes/terminal.ts): the text as a pure
 * function, then once through a real pseudo-terminal (util-linux `script`) against the built server
 * (dist/, which `npm test` builds first), and once through pipes, as clients start it, where it stays
 * quiet.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { redactor } from '../src/log.js';
import { clientLaunch, connectHelp, isInstalled, type Started, shellWord } from '../src/modes/terminal.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHECKOUT = '/home/ada/src/neon-mcp/dist/index.js';
const NPX = '/home/ada/.npm/_npx/3f2a/node_modules/neon-mcp/dist/index.js';

const started = (over: Partial<Started>): Started => ({
  entry: CHECKOUT,
  argv: [],
  cwd: '/home/ada/work',
  env: {},
  mode: 'stdio',
  ...over,
});

/** The JSON blocks of the text, parsed (each starts at a line `    {` and ends at `    }`). */
function jsonBlocks(text: string): Record<string, Record<string, unknown>>[] {
  return [...text.matchAll(/^ {4}\{\n[\s\S]*?^ {4}\}$/gm)].map((m) => JSON.parse(m[0]));
}

describe('the text for a terminal', () => {
  it('from a checkout: node with the absolute path of dist/index.js and the same flags', () => {
    const text = connectHelp(started({ mode: 'local', argv: ['--local', '/tmp/my data', '--read-only'] }));
    expect(text).toContain('neon-mcp is an MCP server');
    expect(text).toContain('waiting for such a client');
    expect(text).toContain(`claude mcp add neon -- node ${CHECKOUT} --local '/tmp/my data' --read-only\n`);
    const [desktop, vscode] = jsonBlocks(text);
    const entry = { command: 'node', args: [CHECKOUT, '--local', '/tmp/my data', '--read-only'] };
    // Local mode needs no key: no env at all.
    expect(desktop).toEqual({ mcpServers: { neon: entry } });
    expect(vscode).toEqual({ servers: { neon: { type: 'stdio', ...entry } } });
    expect(text).toContain('run npm run build after changing src/');
  });

  it('a relative --local DIR becomes absolute: a client starts the server in a directory of its own', () => {
    for (const argv of [['--local', 'data'], ['--local=./data']]) {
      expect(clientLaunch(started({ mode: 'local', argv })).args).toEqual(['--local', '/home/ada/work/data']);
    }
    expect(clientLaunch(started({ mode: 'local', env: { NEON_MCP_LOCAL: './data' } })).env).toEqual({
      NEON_MCP_LOCAL: '/home/ada/work/data',
    });
    expect(clientLaunch(started({ mode: 'local', env: { NEON_MCP_LOCAL: 'yes' } })).env).toEqual({
      NEON_MCP_LOCAL: 'yes',
    });
    expect(clientLaunch(started({ mode: 'local', argv: ['--local', '--read-only'] })).args).toEqual([
      '--local',
      '--read-only',
    ]);
  });

  it('from an installed package (npx, global or local install): npx -y neon-mcp', () => {
    expect(isInstalled(NPX)).toBe(true);
    expect(isInstalled('C:\\Users\\ada\\AppData\\npm\\node_modules\\neon-mcp\\dist\\index.js')).toBe(true);
    expect(isInstalled(CHECKOUT)).toBe(false);
    const text = connectHelp(started({ entry: NPX, mode: 'local', argv: ['--local'] }));
    expect(text).toContain('claude mcp add neon -- npx -y neon-mcp --local\n');
    expect(jsonBlocks(text)[0]).toEqual({
      mcpServers: { neon: { command: 'npx', args: ['-y', 'neon-mcp', '--local'] } },
    });
    expect(text).not.toContain('npm run build');
  });

  it("the API mode asks for a key: a placeholder in the client's env, never the key given", () => {
    const key = 'napi_0123456789abcdefghijklmnopqrstuvwxyz';
    for (const argv of [
      ['--api-key', key, '--read-only'],
      [`--api-key=${key}`, '--read-only'],
      ['--read-only'],
    ]) {
      const text = connectHelp(started({ argv, env: { NEON_API_KEY: key, PATH: '/usr/bin' } }));
      expect(text).not.toContain(key);
      expect(text).toContain(
        `claude mcp add neon --env NEON_API_KEY=your-neon-api-key -- node ${CHECKOUT} --read-only\n`,
      );
      expect(jsonBlocks(text)[0]).toEqual({
        mcpServers: {
          neon: {
            command: 'node',
            args: [CHECKOUT, '--read-only'],
            env: { NEON_API_KEY: 'your-neon-api-key' },
          },
        },
      });
      expect(text).toContain('Replace the placeholders');
    }
    // No key anywhere: the placeholder still, since the API mode cannot work without one.
    expect(clientLaunch(started({})).env).toEqual({ NEON_API_KEY: 'your-neon-api-key' });
    // Only NEON_* variables are carried, with their values unless secret.
    expect(clientLaunch(started({ env: { NEON_MCP_TOOLSETS: 'sql', HOME: '/home/ada' } })).env).toEqual({
      NEON_MCP_TOOLSETS: 'sql',
      NEON_API_KEY: 'your-neon-api-key',
    });
  });

  it('database URLs and tokens are placeholders, in flags and variables', () => {
    const text = connectHelp(
      started({
        mode: 'database-url',
        argv: ['--database-url', 'postgresql://app:s3cret-pw@db.example:5432/appdb', '--read-only'],
        env: { NEON_MCP_LOCAL_POSTGRES: 'postgresql://postgres:other-pw@localhost/postgres' },
      }),
    );
    expect(text).not.toMatch(/s3cret-pw|other-pw|db\.example/);
    const { args, env } = (jsonBlocks(text)[0]?.mcpServers?.neon ?? {}) as { args: string[]; env: object };
    expect(args).toEqual([
      CHECKOUT,
      '--database-url',
      'postgresql://USER:PASSWORD@HOST/DATABASE',
      '--read-only',
    ]);
    expect(env).toEqual({
      NEON_MCP_LOCAL_POSTGRES: 'postgresql://postgres:PASSWORD@localhost:5432/postgres',
    });
  });

  it("the log's redactor stands behind the placeholders, for a secret given where none is expected", () => {
    const argv = [
      '--docs-url',
      'https://reader:docs-pw@docs.example/',
      '--org-id',
      'napi_secret_in_wrong_flag',
    ];
    const without = connectHelp(started({ argv }));
    expect(without).toContain('napi_secret_in_wrong_flag');
    const text = connectHelp(started({ argv, redact: redactor(['napi_secret_in_wrong_flag']) }));
    expect(text).not.toMatch(/docs-pw|napi_secret_in_wrong_flag/);
    expect(text).toContain('[redacted]');
  });

  it('shell words: bare when safe, single-quoted otherwise', () => {
    expect(shellWord('/opt/neon-mcp/dist/index.js')).toBe('/opt/neon-mcp/dist/index.js');
    expect(shellWord("/home/ada/it's here")).toBe(`'/home/ada/it'\\''s here'`);
    expect(shellWord('$HOME')).toBe(`'$HOME'`);
  });
});

/**
 * Runs `command` until `stream` contains `until` (or 20 s pass), lets it run `lingerMs` more, then
 * stops it; returns what that stream and both streams carried.
 */
function outputOf(
  command: string,
  args: string[],
  until: RegExp,
  stream: 'stdout' | 'stderr',
  lingerMs = 0,
): Promise<{ out: string; all: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let all = '';
    let stopped = false;
    const done = () => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      child.kill('SIGTERM');
      resolve({ out, all });
    };
    const timer = setTimeout(done, 20_000);
    child.on('error', reject);
    for (const name of ['stdout', 'stderr'] as const) {
      child[name].on('data', (chunk: Buffer) => {
        all += chunk.toString();
        if (name === stream) out += chunk.toString();
        if (until.test(out)) setTimeout(done, lingerMs);
      });
    }
  });
}

describe('the built server', () => {
  const entry = join(ROOT, 'dist/index.js');

  it('on a pseudo-terminal (util-linux script) prints the client lines after its start-up line', async () => {
    // `script` runs the server with a terminal as stdin, stdout and stderr, all copied to its stdout.
    const { out } = await outputOf(
      'script',
      ['-q', '-e', '-c', `node ${entry} --read-only`, '/dev/null'],
      /VS Code[\s\S]*\}\s*\}\s*\}/,
      'stdout',
    );
    expect(out).toContain('neon-mcp is an MCP server');
    expect(out).toContain(
      `claude mcp add neon --env NEON_API_KEY=your-neon-api-key -- node ${entry} --read-only`,
    );
    // After the mode's start-up line, not before it.
    expect(out.indexOf('on stdio:')).toBeGreaterThan(-1);
    expect(out.indexOf('on stdio:')).toBeLessThan(out.indexOf('neon-mcp is an MCP server'));
  }, 30_000);

  it('through pipes, as a client starts it, says nothing of the kind', async () => {
    // 500 ms more: well past the next tick, where the text would be written.
    const { out, all } = await outputOf(process.execPath, [entry, '--read-only'], /on stdio:/, 'stderr', 500);
    expect(out).toContain('on stdio:');
    expect(all).not.toContain('MCP server: an MCP client');
    expect(all).not.toContain('claude mcp add');
  }, 30_000);
});
