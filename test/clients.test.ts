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
