/**
 * `neon-mcp init` (src/modes/init.ts): for each client, in a temporary HOME and project directory, the
 * file written has the shape the client's documentation gives (checked with a schema per client); a
 * merge keeps every other server and setting (and the comments of a JSONC file); a file that is not
 * valid JSON is refused with its line and left alone; --print writes nothing; the key is never shown,
 * and never written into a project file. test/config.test.ts covers the parsing of the command line.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { main } from '../src/cli.js';
import { INIT_CLIENTS, type InitClient, type InitConfig, parseConfig } from '../src/config.js';
import { CLIENTS, InitError, init, type Where } from '../src/modes/init.js';

const KEY = 'napi_init_test_secret_0123456789';
const CHECKOUT = '/opt/neon-mcp/dist/index.js';

let root: string;
let where: Where;
let output: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'neon-mcp-init-'));
  mkdirSync(join(root, 'home'));
  mkdirSync(join(root, 'project'));
  where = { home: join(root, 'home'), cwd: join(root, 'project'), platform: 'linux', env: {} };
  output = '';
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function config(argv: string[], env: Record<string, string> = {}): InitConfig {
  const c = parseConfig(['init', ...argv], env);
  if (c.mode !== 'init') throw new Error(`not init: ${c.mode}`);
  return c;
}

async function run(argv: string[], env: Record<string, string> = {}, entry = CHECKOUT) {
  return init(config(argv, env), { where, entry, out: (text) => (output += text) });
}

const fileOf = (client: InitClient) => CLIENTS[client].path(where);
const read = (client: InitClient) =>
  parseJsonc(readFileSync(fileOf(client), 'utf8')) as Record<string, unknown>;

/** What each client documents for a local (stdio) server: the key names and the shape. */
const stdioEntry = {
  command: z.string().min(1),
  args: z.array(z.string()),
  env: z.record(z.string(), z.string()).optional(),
};
const SCHEMAS: Record<InitClient, z.ZodType> = {
  // Claude Code: `mcpServers`, `type: "stdio"` optional, command/args/env.
  'claude-code': z.object({
    mcpServers: z.record(z.string(), z.strictObject({ type: z.literal('stdio').optional(), ...stdioEntry })),
  }),
  'claude-desktop': z.object({ mcpServers: z.record(z.string(), z.strictObject(stdioEntry)) }),
  cursor: z.object({ mcpServers: z.record(z.string(), z.strictObject(stdioEntry)) }),
  'cursor-project': z.object({ mcpServers: z.record(z.string(), z.strictObject(stdioEntry)) }),
  // VS Code: `servers` (not `mcpServers`), `type` required; `inputs` of promptString.
  vscode: z.object({
    servers: z.record(z.string(), z.strictObject({ type: z.literal('stdio'), ...stdioEntry })),
    inputs: z
      .array(
        z.object({
          type: z.literal('promptString'),
          id: z.string(),
          description: z.string(),
          password: z.boolean().optional(),
        }),
      )
      .optional(),
    mcpServers: z.never().optional(),
  }),
  windsurf: z.object({ mcpServers: z.record(z.string(), z.strictObject(stdioEntry)) }),
  zed: z.object({ context_servers: z.record(z.string(), z.strictObject(stdioEntry)) }),
  cline: z.object({
    mcpServers: z.record(z.string(), z.strictObject({ disabled: z.boolean().optional(), ...stdioEntry })),
  }),
};
const SERVERS_KEY: Record<InitClient, string> = {
  'claude-code': 'mcpServers',
  'claude-desktop': 'mcpServers',
  cursor: 'mcpServers',
  'cursor-project': 'mcpServers',
  vscode: 'servers',
  windsurf: 'mcpServers',
  zed: 'context_servers',
  cline: 'mcpServers',
};
const neonOf = (client: InitClient) =>
  (read(client)[SERVERS_KEY[client]] as Record<string, Record<string, unknown>>).neon as Record<
    string,
    unknown
  >;

describe('each client', () => {
  it('knows the eight clients', () => {
    expect([...INIT_CLIENTS].sort()).toEqual(Object.keys(CLIENTS).sort());
  });

  it.each(INIT_CLIENTS)(
    '%s: --local writes an entry of the documented shape at the documented path',
    async (client) => {
      expect(await run([client, '--local', './data', '--read-only'])).toBe(fileOf(client));
      const data = read(client);
      SCHEMAS[client].parse(data);
      expect(neonOf(client)).toMatchObject({
        command: 'node',
        args: [CHECKOUT, '--local', join(where.cwd, 'data'), '--read-only'],
      });
      expect(neonOf(client).env).toBeUndefined();
    },
  );

  it('the paths: project files in the working directory, user files under HOME (per OS)', () => {
    const rel = (client: InitClient) => fileOf(client).slice(root.length + 1);
    expect(rel('claude-code')).toBe('project/.mcp.json');
    expect(rel('cursor-project')).toBe('project/.cursor/mcp.json');
    expect(rel('vscode')).toBe('project/.vscode/mcp.json');
    expect(rel('cursor')).toBe('home/.cursor/mcp.json');
    expect(rel('windsurf')).toBe('home/.codeium/windsurf/mcp_config.json');
    expect(rel('claude-desktop')).toBe('home/.config/Claude/claude_desktop_config.json');
    expect(rel('zed')).toBe('home/.config/zed/settings.json');
    expect(rel('cline')).toBe(
      'home/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
    );
    where = { ...where, platform: 'darwin' };
    expect(rel('claude-desktop')).toBe('home/Library/Application Support/Claude/claude_desktop_config.json');
    expect(rel('zed')).toBe('home/.config/zed/settings.json');
    where = { ...where, platform: 'win32', env: { APPDATA: join(root, 'roaming') } };
    expect(rel('claude-desktop')).toBe(join('roaming', 'Claude', 'claude_desktop_config.json'));
    expect(rel('zed')).toBe(join('roaming', 'Zed', 'settings.json'));
  });

  it('an installed neon-mcp (node_modules) is started with npx -y neon-mcp', async () => {
    await run(['cursor', '--project-id', 'p-1'], {}, '/x/node_modules/neon-mcp/dist/index.js');
    expect(neonOf('cursor')).toEqual({ command: 'npx', args: ['-y', 'neon-mcp', '--project-id', 'p-1'] });
  });

  it('Claude Code: also the `claude mcp add` line, with the key taken from the shell', async () => {
    await run(['claude-code', '--api-key', KEY]);
    expect(output).toContain(
      `claude mcp add --scope user --env "NEON_API_KEY=$NEON_API_KEY" neon -- node ${CHECKOUT}`,
    );
    // The project file's server waits for the person's approval in Claude Code: said, not hidden.
    expect(output).toContain('Claude Code asks once, the next time you run `claude` here');
  });
});

describe('the key', () => {
  it.each(['claude-desktop', 'cursor', 'windsurf', 'zed', 'cline'] as const)(
    '%s (a file of the user): written into env, the file readable by its owner only, never shown',
    async (client) => {
      await run([client, '--api-key', KEY]);
      SCHEMAS[client].parse(read(client));
      expect(neonOf(client).env).toEqual({ NEON_API_KEY: KEY });
      expect(statSync(fileOf(client)).mode & 0o777).toBe(0o600);
      expect(output).not.toContain(KEY);
      // A second run with another key shows the diff: neither key appears in it.
      output = '';
      await run([client], { NEON_API_KEY: `${KEY}_2` });
      expect(output).toMatch(/only the API key of the neon entry changes \(not shown\)/);
      // With another change too, the diff shows the env masked.
      output = '';
      await run([client, '--read-only'], { NEON_API_KEY: `${KEY}_3` });
      expect(output).toMatch(/^\+\s+"--read-only"$/m);
      expect(output).toContain('"NEON_API_KEY": "***"');
      expect(output).not.toContain(KEY);
      expect(neonOf(client).env).toEqual({ NEON_API_KEY: `${KEY}_3` });
    },
  );

  it.each([
    // biome-ignore-start lint/suspicious/noTemplateCurlyInString: the clients' references, not JavaScript.
    ['claude-code', '${NEON_API_KEY}'],
    ['cursor-project', '${env:NEON_API_KEY}'],
    ['vscode', '${input:neon-api-key}'],
    // biome-ignore-end lint/suspicious/noTemplateCurlyInString: the clients' references, not JavaScript.
  ] as const)(
    '%s (a project file, shared): never the key, the client’s reference instead',
    async (client, ref) => {
      await run([client], { NEON_API_KEY: KEY });
      const text = readFileSync(fileOf(client), 'utf8');
      expect(text).not.toContain(KEY);
      SCHEMAS[client].parse(read(client));
      expect(neonOf(client).env).toEqual({ NEON_API_KEY: ref });
      if (client === 'vscode')
        expect(read(client).inputs).toEqual([
          { type: 'promptString', id: 'neon-api-key', description: 'Neon API key', password: true },
        ]);
      expect(output).toMatch(/not written into this shared file/);
      expect(output).not.toContain(KEY);
    },
  );

  it('--print shows the file with the key masked and writes nothing', async () => {
    expect(await run(['windsurf', '--api-key', KEY, '--print'])).toBeUndefined();
    expect(existsSync(fileOf('windsurf'))).toBe(false);
    expect(existsSync(dirname(fileOf('windsurf')))).toBe(false);
    expect(output).toContain('"NEON_API_KEY": "***"');
    expect(output).not.toContain(KEY);
  });

  it('--print on an existing file leaves it as it was', async () => {
    mkdirSync(dirname(fileOf('cursor')), { recursive: true });
    writeFileSync(fileOf('cursor'), '{"mcpServers": {}}');
    await run(['cursor', '--local', '--print']);
    expect(readFileSync(fileOf('cursor'), 'utf8')).toBe('{"mcpServers": {}}');
    expect(existsSync(`${fileOf('cursor')}.bak`)).toBe(false);
    expect(output).toContain('"--local"');
  });
});

describe('merging', () => {
  it.each(INIT_CLIENTS)(
    '%s: keeps every other server and setting, replaces only neon, keeps a .bak',
    async (client) => {
      const file = fileOf(client);
      const key = SERVERS_KEY[client];
      const other = { command: 'other-server', args: ['--x'], env: { TOKEN: 'theirs' } };
      const before = { theme: 'dark', [key]: { other, neon: { command: 'old', args: ['stale'] } } };
      mkdirSync(dirname(file), { recursive: true });
      const text = `${JSON.stringify(before, null, 2)}\n`;
      writeFileSync(file, text);
      await run([client, '--local']);
      const after = read(client);
      expect(after.theme).toBe('dark');
      expect((after[key] as Record<string, unknown>).other).toEqual(other);
      expect(neonOf(client)).toMatchObject({ command: 'node', args: [CHECKOUT, '--local'] });
      expect(neonOf(client).args).not.toContain('stale');
      expect(readFileSync(`${file}.bak`, 'utf8')).toBe(text);
      expect(output).toMatch(/^-\s+"command": "old",$/m);
      // No temporary file is left behind.
      expect(readFileSync(file, 'utf8')).not.toBe(text);
      expect(existsSync(`${file}.${process.pid}.tmp`)).toBe(false);
    },
  );

  it.each(['vscode', 'zed'] as const)(
    '%s (JSONC): comments and trailing commas are read and kept',
    async (client) => {
      const file = fileOf(client);
      mkdirSync(dirname(file), { recursive: true });
      const key = SERVERS_KEY[client];
      writeFileSync(
        file,
        `{\n  // my settings\n  "ui_font_size": 16,\n  "${key}": {\n    "other": {${client === 'vscode' ? '"type": "stdio", ' : ''}"command": "x", "args": []},\n  },\n}\n`,
      );
      await run([client, '--local']);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('// my settings');
      expect(read(client).ui_font_size).toBe(16);
      expect((read(client)[key] as Record<string, unknown>).other).toMatchObject({ command: 'x', args: [] });
      SCHEMAS[client].parse(read(client));
    },
  );

  it('the same entry again: nothing written, no .bak', async () => {
    await run(['windsurf', '--local']);
    output = '';
    await run(['windsurf', '--local']);
    expect(output).toMatch(/already has this neon entry/);
    expect(existsSync(`${fileOf('windsurf')}.bak`)).toBe(false);
  });

  it('asks before changing an existing file on a terminal; "no" writes nothing, --yes does not ask', async () => {
    await run(['cursor', '--local']);
    const before = readFileSync(fileOf('cursor'), 'utf8');
    const confirm = vi.fn(async () => false);
    await init(config(['cursor', '--read-only']), {
      where,
      entry: CHECKOUT,
      out: (t) => (output += t),
      confirm,
    });
    expect(confirm).toHaveBeenCalledOnce();
    expect(readFileSync(fileOf('cursor'), 'utf8')).toBe(before);
    expect(output).toMatch(/Nothing written/);
    const never = vi.fn(async () => false);
    await init(config(['cursor', '--read-only', '--yes']), {
      where,
      entry: CHECKOUT,
      out: () => {},
      confirm: never,
    });
    expect(never).not.toHaveBeenCalled();
    expect(neonOf('cursor').args).toEqual([CHECKOUT, '--read-only']);
  });
});

describe('refused files', () => {
  const cases: [InitClient, string, RegExp][] = [
    ['claude-desktop', '{\n  "mcpServers": {\n    "a": 1,,\n  }\n}', /line 3: not valid JSON/],
    ['cursor', '{\n  // a comment\n  "mcpServers": {}\n}', /line 2: not valid JSON/],
    ['windsurf', '{"mcpServers": {}}\ngarbage', /line 2: not valid JSON/],
    ['zed', '{\n  "a": 1\n  "b": 2\n}', /line 3: not valid JSONC/],
    ['vscode', '[1, 2]', /holds no JSON object/],
    ['cline', '{"mcpServers": []}', /"mcpServers" is not an object/],
  ];
  it.each(cases)('%s: refused naming the file and line, left as it was', async (client, text, message) => {
    const file = fileOf(client);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    const error = await run([client, '--api-key', KEY]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InitError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(KEY);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(existsSync(`${file}.bak`)).toBe(false);
  });
});

describe('without CLIENT', () => {
  it('lists the clients and their files', async () => {
    expect(await run([])).toBeUndefined();
    for (const client of INIT_CLIENTS) {
      expect(output).toContain(`${client} `);
      expect(output).toContain(fileOf(client));
    }
  });
});

describe('through the command line (src/cli.ts)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    const into = (lines: string[]) => (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(into(out));
    vi.spyOn(process.stderr, 'write').mockImplementation(into(err));
    return { out, err };
  }

  it('`init` lists the clients on stdout, with the files under HOME', async () => {
    vi.stubEnv('HOME', where.home);
    const { out } = capture();
    main(['init'], {});
    await vi.waitFor(() => expect(out.join('')).toContain(join(where.home, '.cursor', 'mcp.json')));
    expect(process.exitCode).toBeUndefined();
  });

  it('a refused file: exit 1, the reason on stderr, without the key', async () => {
    vi.stubEnv('HOME', where.home);
    mkdirSync(join(where.home, '.cursor'));
    writeFileSync(join(where.home, '.cursor', 'mcp.json'), '{oops');
    const { err } = capture();
    main(['init', 'cursor', '--api-key', KEY], {});
    await vi.waitFor(() => expect(process.exitCode).toBe(1));
    expect(err.join('')).toMatch(/^neon-mcp init: .*mcp\.json line 1: not valid JSON/);
    expect(err.join('')).not.toContain(KEY);
  });
});
