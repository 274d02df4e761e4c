/**
 * neon-mcp as people get it: the npm tarball installed into an empty folder, the MCP Registry entry
 * (server.json) and the MCP Bundle for Claude Desktop (manifest.json, neon-mcp.mcpb). Each is built and
 * used the way a user or a registry would, not only read.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import AjvModule from 'ajv';
import formatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectTools } from '../src/tools/registry.js';
import { TEST_KEY } from './helpers.js';
import { startPostgres } from './pg/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const json = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));
const pkg = json('package.json');
const server = json('server.json');
const manifest = json('manifest.json');
const MCPB = join(ROOT, 'node_modules/@anthropic-ai/mcpb/dist/cli/cli.js');
// CommonJS packages seen from ESM: the constructor is on `default` or is the module itself.
const Ajv = AjvModule.default ?? AjvModule;
const addFormats = formatsModule.default ?? formatsModule;

/** A minimal environment: nothing (in particular no NEON_API_KEY) leaks in from the test's own. */
const bareEnv = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? tmpdir(),
  ...extra,
});

const work = mkdtempSync(join(tmpdir(), 'neon-mcp-package-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What a checkout holds that is built, installed or generated: neither packed nor read by the build. */
const NOT_SOURCE = new Set([
  'node_modules',
  'dist',
  '.git',
  '.bench-cache',
  '.bundle',
  '.stryker-tmp',
  'coverage',
  'reports',
]);
let checkout: string | undefined;
/**
 * A copy of this checkout (its node_modules linked) where `npm pack` and the bundle script run as a
 * publisher would: both rebuild dist/ (and the bundle stages .bundle/ next to it), and other test
 * files read the checkout's own dist/ while this one runs (vitest runs files side by side).
 */
function checkoutCopy(): string {
  if (checkout) return checkout;
  const dir = join(work, 'checkout-copy');
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (src) => {
      const top = relative(ROOT, src).split(sep)[0];
      return !NOT_SOURCE.has(top) && !/\.(tgz|mcpb)$/.test(top);
    },
  });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  checkout = dir;
  return dir;
}

describe('server.json (MCP Registry entry)', () => {
  it('is valid against the registry schema it names (vendored in spec/mcp-registry)', () => {
    const schema = json('spec/mcp-registry/server.schema.json');
    expect(server.$schema).toBe(schema.$id);
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    expect(validate(server), JSON.stringify(validate.errors)).toBe(true);
    // The schema can fail: a description over the registry's 100 characters is refused.
    expect(validate({ ...server, description: 'x'.repeat(101) })).toBe(false);
  });

  it('names the package as package.json does, with the API key an optional secret and --local offered', () => {
    expect(server.name).toBe(pkg.mcpName);
    expect(server.version).toBe(pkg.version);
    const [npmPackage] = server.packages;
    expect(npmPackage).toMatchObject({
      registryType: 'npm',
      identifier: pkg.name,
      version: pkg.version,
      transport: { type: 'stdio' },
    });
    const key = npmPackage.environmentVariables.find((v: { name: string }) => v.name === 'NEON_API_KEY');
    // Optional: local mode needs no key, and an installer that read a required key would not offer it.
    expect(key).toMatchObject({ isRequired: false, isSecret: true });
    const local = npmPackage.packageArguments.find((a: { name?: string }) => a.name === '--local');
    expect(local).toMatchObject({ type: 'named', isRequired: false });
    expect(local.value).toBeUndefined();
    const help = execFileSync(process.execPath, ['dist/index.js', '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(help).toContain('--local');
  });

  it('declares only environment variables the server reads, and all of them', () => {
    const help = execFileSync(process.execPath, ['dist/index.js', '--help'], { cwd: ROOT, encoding: 'utf8' });
    const inHelp = new Set(help.match(/\b(NEON_[A-Z_]+)\b/g));
    // Not NEON_MCP_HTTP: this entry is the stdio package; a client that set it would get no server on stdio.
    expect(inHelp.delete('NEON_MCP_HTTP')).toBe(true);
    const declared = new Set(server.packages[0].environmentVariables.map((v: { name: string }) => v.name));
    expect(declared).toEqual(inHelp);
  });
});

describe('npm start in a checkout', () => {
  it('writes nothing but what the server writes on stdout: no npm banner (.npmrc)', () => {
    const res = spawnSync(NPM, ['start', '--', '--version'], { cwd: ROOT, encoding: 'utf8', env: bareEnv() });
    expect(res.status).toBe(0);
    expect(res.stdout).toBe(`${pkg.version}\n`);
  });

  it('says a missing or stale build in one line on stderr instead of rebuilding', () => {
    // A checkout in miniature: the real check, a source file and a stand-in for the built entry point.
    const dir = join(work, 'checkout');
    for (const d of ['scripts', 'src/modes', 'dist']) mkdirSync(join(dir, d), { recursive: true });
    copyFileSync(join(ROOT, 'scripts/check-build.cjs'), join(dir, 'scripts/check-build.cjs'));
    writeFileSync(join(dir, 'src/modes/stdio.ts'), '');
    const start = () =>
      spawnSync(process.execPath, ['-r', './scripts/check-build.cjs', 'dist/index.js'], {
        cwd: dir,
        encoding: 'utf8',
        env: bareEnv(),
      });
    const missing = start();
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('neon-mcp: dist/ is missing: run npm run build\n');
    writeFileSync(join(dir, 'dist/index.js'), "process.stdout.write('started')");
    utimesSync(join(dir, 'src/modes/stdio.ts'), new Date(2_000_000_000_000), new Date(2_000_000_000_000));
    const stale = start();
    expect(stale.stderr).toBe('neon-mcp: dist/ is older than src/: run npm run build\n');
    expect(stale.stdout).toBe('started');
    utimesSync(join(dir, 'src/modes/stdio.ts'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    const fresh = start();
    expect(fresh.stderr).toBe('');
    expect(fresh.stdout).toBe('started');
  });

  it('pretest (check-build.cjs --build) builds only a missing or stale build', () => {
    const dir = join(work, 'checkout-build');
    for (const d of ['scripts', 'src', 'dist']) mkdirSync(join(dir, d), { recursive: true });
    copyFileSync(join(ROOT, 'scripts/check-build.cjs'), join(dir, 'scripts/check-build.cjs'));
    writeFileSync(join(dir, 'src/a.ts'), '');
    // The stand-in build counts its runs in dist/builds and writes the entry point.
    const build =
      "const f=require('fs');const n=+(f.existsSync('dist/builds')&&f.readFileSync('dist/builds','utf8'))||0;" +
      "f.writeFileSync('dist/builds',String(n+1));f.writeFileSync('dist/index.js','')";
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'x', scripts: { build: `node -e "${build}"` } }),
    );
    const pretest = () =>
      spawnSync(process.execPath, ['scripts/check-build.cjs', '--build'], {
        cwd: dir,
        encoding: 'utf8',
        env: bareEnv(),
      });
    const builds = () => readFileSync(join(dir, 'dist/builds'), 'utf8');
    expect(pretest().status).toBe(0); // missing: built
    expect(builds()).toBe('1');
    utimesSync(join(dir, 'src/a.ts'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    expect(pretest().status).toBe(0); // fresh: not built again
    expect(builds()).toBe('1');
    utimesSync(join(dir, 'src/a.ts'), new Date(2_000_000_000_000), new Date(2_000_000_000_000));
    expect(pretest().status).toBe(0); // stale: built
    expect(builds()).toBe('2');
  });
});

describe('the npm tarball', () => {
  let installDir: string;
  beforeAll(() => {
    // As `npm publish` would: prepare builds (as it does on `npm ci` in a checkout), the tarball holds
    // what "files" lists.
    const out = execFileSync(NPM, ['pack', '--json', '--pack-destination', work], {
      cwd: checkoutCopy(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [{ filename, files }] = JSON.parse(out.slice(out.indexOf('[')));
    const paths = (files as { path: string }[]).map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js']));
    expect(paths).toContain('dist/server.d.ts');
    expect(paths.some((p) => p.startsWith('src/') || p.startsWith('test/'))).toBe(false);
    installDir = join(work, 'install');
    mkdirSync(installDir);
    execFileSync(NPM, ['init', '-y'], { cwd: installDir, stdio: 'ignore' });
    // Production dependencies only, as a user's `npx neon-mcp` installs it.
    execFileSync(
      NPM,
      ['install', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error', join(work, filename)],
      { cwd: installDir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
  }, 300_000);

  it('installs with no install script and runs: `npx neon-mcp --version` prints the version on stdout', () => {
    const installed = JSON.parse(
      readFileSync(join(installDir, 'node_modules/neon-mcp/package.json'), 'utf8'),
    );
    // Nothing of ours runs when the tarball is installed: no install script, and `prepare` (which
    // builds a checkout) is not run by npm for a tarball; it would have failed here, with no
    // TypeScript and no src/ in the package.
    for (const script of ['preinstall', 'install', 'postinstall'])
      expect(installed.scripts).not.toHaveProperty(script);
    expect(installed.scripts).toHaveProperty('prepare');
    const res = spawnSync(NPM, ['exec', '--no', '--', 'neon-mcp', '--version'], {
      cwd: installDir,
      encoding: 'utf8',
      env: bareEnv(),
    });
    expect(res.status).toBe(0);
    expect(res.stdout).toBe(`${pkg.version}\n`);
  });

  it('an unknown flag exits 2 with the usage on stderr', () => {
    const res = spawnSync(process.execPath, ['node_modules/neon-mcp/dist/index.js', '--nope'], {
      cwd: installDir,
      encoding: 'utf8',
      env: bareEnv(),
    });
    expect(res.status).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/--nope/);
    expect(res.stderr).toMatch(/Usage: neon-mcp/);
  });

  it('the library entry resolves with its type declarations', () => {
    const res = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('neon-mcp'); console.log(typeof m.prepareServer)",
      ],
      { cwd: installDir, encoding: 'utf8', env: bareEnv() },
    );
    expect(res.stdout.trim()).toBe('function');
    const installed = JSON.parse(
      readFileSync(join(installDir, 'node_modules/neon-mcp/package.json'), 'utf8'),
    );
    expect(readdirSync(join(installDir, 'node_modules/neon-mcp/dist'))).toContain(
      installed.types.replace('dist/', ''),
    );
  });
});

describe('the MCP Bundle (Claude Desktop)', () => {
  it('manifest.json passes `mcpb validate` and matches package.json', () => {
    const res = spawnSync(process.execPath, [MCPB, 'validate', join(ROOT, 'manifest.json')], {
      encoding: 'utf8',
    });
    expect(res.status, res.stdout + res.stderr).toBe(0);
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.server.entry_point).toBe(pkg.bin['neon-mcp']);
    // A key, or local mode: neither is required on its own.
    expect(manifest.user_config.api_key).toMatchObject({ sensitive: true, required: false });
    expect(manifest.user_config.local).toMatchObject({ type: 'boolean', default: false, required: false });
    expect(manifest.user_config.local_postgres).toMatchObject({ sensitive: true, required: false });
    // The manifest's placeholders, which Claude Desktop fills with the settings.
    const setting = (key: string) => `\${user_config.${key}}`;
    expect(manifest.server.mcp_config.env).toMatchObject({
      NEON_MCP_LOCAL: setting('local'),
      NEON_MCP_LOCAL_POSTGRES: setting('local_postgres'),
    });
  });

  it('lists the tools of the default toolsets (regenerate with npm run docs)', () => {
    expect(manifest.tools).toEqual(
      selectTools({}).map((t) => ({ name: t.name, description: t.description })),
    );
  });

  it('builds, unpacks, and starts with the bundle’s own environment mapping: with a key, and in local mode', async () => {
    // Local mode's PostgreSQL (the bundle carries none, docs/BUNDLE.md), started while the bundle builds.
    const postgres = startPostgres();
    try {
      const file = join(work, 'neon-mcp.mcpb');
      execFileSync(process.execPath, ['scripts/bundle.mjs', file], { cwd: checkoutCopy(), stdio: 'ignore' });
      const dir = join(work, 'unpacked');
      execFileSync(process.execPath, [MCPB, 'unpack', file, dir], { stdio: 'ignore' });
      const unpacked = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      // What Claude Desktop does: substitute ${__dirname} and ${user_config.*} and run mcp_config.
      const start = async (userConfig: Record<string, string>) => {
        const fill = (v: string) =>
          v
            .replace(/\$\{__dirname\}/g, dir)
            .replace(/\$\{user_config\.([a-z_]+)\}/g, (_, k) => userConfig[k] ?? '');
        const { command, args, env } = unpacked.server.mcp_config;
        const transport = new StdioClientTransport({
          command: command === 'node' ? process.execPath : command,
          args: args.map(fill),
          env: bareEnv(
            Object.fromEntries(Object.entries(env as Record<string, string>).map(([k, v]) => [k, fill(v)])),
          ),
          stderr: 'pipe',
        });
        const client = new Client({ name: 'bundle-test', version: '1.0.0' });
        await client.connect(transport);
        return client;
      };
      const settings = {
        read_only: 'true',
        project_id: '',
        toolsets: '',
        local: 'false',
        local_postgres: '',
      };
      const withKey = await start({ ...settings, api_key: TEST_KEY });
      try {
        const { tools } = await withKey.listTools();
        // read_only from the bundle's user_config reached the server: only read tools are listed.
        expect(tools.length).toBeGreaterThan(10);
        expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
        expect(tools.map((t) => t.name)).toContain('run_sql_readonly');
      } finally {
        await withKey.close();
      }
      // Local mode as its settings give it: no key, Local mode on, a PostgreSQL superuser URL.
      const pg = await postgres;
      const local = await start({
        ...settings,
        api_key: '',
        local: 'true',
        local_postgres: pg.uri('postgres'),
      });
      try {
        const res = await local.callTool({ name: 'list_projects', arguments: {} });
        expect(res.isError, JSON.stringify(res.content)).toBeFalsy();
        expect(
          (res.structuredContent as { projects: { name: string }[] }).projects.map((p) => p.name),
        ).toEqual(['local']);
      } finally {
        await local.close();
      }
    } finally {
      await (await postgres).stop();
    }
  }, 300_000);
});
