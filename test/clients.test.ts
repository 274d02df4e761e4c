// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are client-config placeholders such as ${env:NAME}, not JS templates
/**
 * The client configurations the README gives, and the ones this repository ships for contributors,
 * are checked as the clients read them: the right top-level key and entry shape for each client, the
 * package or built entry they start, the key passed by the means that client offers. The repository's
 * own configurations are then started as written (their variables substituted as the client would) and
 * must list tools. That `npx -y neon-mcp` starts the published package is proven in package.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { describe, expect, it } from 'vitest';
import { TEST_KEY } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const pkg = JSON.parse(read('package.json'));

interface Entry {
  type?: string;
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The JSON blocks of the README's install section, in order. */
function installSnippets(): Record<string, any>[] {
  const readme = read('README.md');
  const start = readme.indexOf('## Install in your client');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  expect(start).toBeGreaterThan(-1);
  return [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
}

/** The server entries of a config, whichever top-level key its client reads. */
function entries(config: Record<string, any>): Entry[] {
  const servers = config.mcpServers ?? config.servers ?? config.context_servers;
  expect(
    servers,
    `a config without mcpServers/servers/context_servers: ${JSON.stringify(config)}`,
  ).toBeTruthy();
  return Object.values(servers) as Entry[];
}

describe('client configurations in the README', () => {
  const snippets = installSnippets();

  it('gives one for each client family, each starting the package with npx', () => {
    const keys = snippets.map((s) => Object.keys(s).sort().join(','));
    expect(keys).toEqual(['mcpServers', 'mcpServers', 'mcpServers', 'inputs,servers', 'context_servers']);
    for (const s of snippets) {
      for (const e of entries(s)) {
        expect(e.command).toBe('npx');
        expect(e.args).toEqual(['-y', pkg.name]);
        expect(Object.keys(e.env)).toEqual(['NEON_API_KEY']);
      }
    }
  });

  it('passes the key the way each client resolves it', () => {
    const [desktop, claudeCode, cursor, vscode, zed] = snippets.map((s) => entries(s)[0].env.NEON_API_KEY);
    expect(desktop).toBe('napi_...');
    expect(zed).toBe('napi_...');
    expect(claudeCode).toBe('${NEON_API_KEY}');
    expect(cursor).toBe('${env:NEON_API_KEY}');
    // VS Code: a password prompt whose id the entry references, and a typed entry.
    const config = snippets[3];
    const [input] = config.inputs;
    expect(input).toMatchObject({ type: 'promptString', password: true });
    expect(vscode).toBe(`\${input:${input.id}}`);
    expect(entries(config)[0].type).toBe('stdio');
  });

  it('the one-line Claude Code install names the package and the key variable', () => {
    expect(read('README.md')).toContain(
      `claude mcp add neon --env NEON_API_KEY=napi_... -- npx -y ${pkg.name}`,
    );
  });
});

describe("this repository's own client configurations", () => {
  const configs: [string, (v: string) => string][] = [
    ['.mcp.json', (v) => v.replace('${CLAUDE_PROJECT_DIR:-.}', ROOT).replace('${NEON_API_KEY}', TEST_KEY)],
    [
      '.cursor/mcp.json',
      (v) => v.replace('${workspaceFolder}', ROOT).replace('${env:NEON_API_KEY}', TEST_KEY),
    ],
    [
      '.vscode/mcp.json',
      (v) => v.replace('${workspaceFolder}', ROOT).replace('${input:neon-api-key}', TEST_KEY),
    ],
  ];

  it.each(configs)('%s starts the built server from the checkout and lists tools', async (file, fill) => {
    const [entry] = entries(JSON.parse(read(file)));
    expect(entry.command).toBe('node');
    const args = entry.args.map(fill);
    expect(args).toEqual([join(ROOT, pkg.bin['neon-mcp'])]);
    const env = Object.fromEntries(Object.entries(entry.env).map(([k, v]) => [k, fill(v)]));
    expect(env.NEON_API_KEY).toBe(TEST_KEY);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args,
      env: { PATH: process.env.PATH ?? '', ...env },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'config-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('list_projects');
    } finally {
      await client.close();
    }
  });
});

/** A client of the built server (dist/, as `npm test` builds it) started with these flags and no key. */
async function connectBuilt(args: string[] = []) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(ROOT, pkg.bin['neon-mcp']), ...args],
    // No NEON_API_KEY: nothing here may reach Neon; resources/list then lists what needs no key.
    env: { PATH: process.env.PATH ?? '' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'readme-clients-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

describe("the README's notes on how each client uses the server", () => {
  const readme = read('README.md');
  const table = readme.slice(
    readme.indexOf('How each client uses them'),
    readme.indexOf('## Working with branches'),
  );
  const install = readme.slice(
    readme.indexOf('## Install in your client'),
    readme.indexOf('### Command line'),
  );

  it('names prompts, resources and tools the server has, and the server declares what those clients rely on', async () => {
    const prompts = [
      ...[...table.matchAll(/\/mcp__neon__(\w+)/g)].map((m) => m[1]),
      ...[...table.matchAll(/\/neon\.(\w+)/g)].map((m) => m[1]),
      ...[...table.matchAll(/e\.g\. `(\w+)`/g)].map((m) => m[1]),
    ];
    expect(prompts.length).toBeGreaterThanOrEqual(3);
    const tools = [...table.matchAll(/`(get_\w+)`/g)].map((m) => m[1]);
    expect(tools.length).toBeGreaterThanOrEqual(2);

    const client = await connectBuilt(['--toolsets', 'all']);
    try {
      const caps = client.getServerCapabilities();
      // The table's last column depends on list_changed; its resource and prompt columns on these.
      expect(caps?.tools?.listChanged).toBe(true);
      expect(caps?.resources).toBeDefined();
      expect(caps?.prompts).toBeDefined();
      expect(caps?.completions).toBeDefined();
      const names = (await client.listPrompts()).prompts.map((p) => p.name);
      for (const p of prompts) expect(names, `prompt ${p}`).toContain(p);
      const toolNames = (await client.listTools()).tools.map((t) => t.name);
      for (const t of tools) expect(toolNames, `tool ${t}`).toContain(t);
      // Claude Desktop lists only resources/list; `neon://docs` is there even without a key, and
      // the project URI the table shows for Claude Code is one of the templates.
      const { resources } = await client.listResources();
      expect(resources.map((r) => r.uri)).toContain('neon://docs');
      expect(table).toContain('`neon://docs`');
      const { resourceTemplates } = await client.listResourceTemplates();
      expect(resourceTemplates.map((t) => t.uriTemplate)).toContain('neon://projects/{project_id}');
      expect(table).toContain('neon://projects/<id>');
    } finally {
      await client.close();
    }
  });

  it("is right about Windsurf's limit of 100 tools: the default toolsets fit, all of them do not", async () => {
    expect(install).toContain('`--toolsets all` has more than 100');
    expect(install).toMatch(/keep to the default toolsets/);
    const defaults = await connectBuilt();
    const everything = await connectBuilt(['--toolsets', 'all']);
    try {
      expect((await defaults.listTools()).tools.length).toBeLessThanOrEqual(100);
      expect((await everything.listTools()).tools.length).toBeGreaterThan(100);
    } finally {
      await defaults.close();
      await everything.close();
    }
  });
});
