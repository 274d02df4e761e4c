/**
 * The README's first screen, as a newcomer on a fresh clone reads it: at most 25 lines; first the two
 * commands CI runs (install and start without an account, install and test); then lines that work
 * from this checkout without a key and without the package on the npm registry, checked against what
 * the built `neon-mcp init` writes and prints. And every line that needs the published package, in the
 * README and docs/, says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const readme = read('README.md');
/** Everything before the second heading. */
const firstScreen = readme.slice(0, readme.indexOf('\n## ') + 1);
/** The fenced code blocks of a text, as lists of lines. */
const blocks = (text: string) =>
  [...text.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => (m[1] as string).trimEnd().split('\n'));
/** A shell line without its comment. */
const command = (line: string) => line.replace(/\s+#.*$/, '').trim();

const home = mkdtempSync(join(tmpdir(), 'neon-mcp-readme-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** The built command, run from `cwd` with a home of its own (init writes nothing with --print). */
function neonMcp(args: string[], cwd = ROOT) {
  return spawnSync(process.execPath, [join(ROOT, 'dist/index.js'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: home },
  });
}

describe("the README's first screen", () => {
  it('fits in 25 lines', () => {
    expect(firstScreen.trimEnd().split('\n').length).toBeLessThanOrEqual(25);
  });

  it('opens with the install-and-start and install-and-test commands that CI runs', () => {
    const [first] = blocks(firstScreen);
    expect(first?.slice(0, 2).map(command)).toEqual(['npm ci && npm start -- --local', 'npm ci && npm test']);
    expect(first?.[0]).toMatch(/# install and build, then start .*no Neon account/);
    expect(first?.[1]).toMatch(/# install and run the tests/);
    // .ci/run runs exactly those: npm ci, then npm test.
    const ci = read('.ci/run').split('\n').map(command);
    expect(ci.indexOf('npm ci')).toBeGreaterThan(-1);
    expect(ci.indexOf('npm test')).toBeGreaterThan(ci.indexOf('npm ci'));
  });

  it('gives lines that work from this checkout without a key and without the package published', () => {
    const tryIt = blocks(firstScreen.slice(firstScreen.indexOf('**Try it without an account**')))[0] ?? [];
    expect(tryIt.length).toBeGreaterThanOrEqual(2);
    for (const line of tryIt) {
      expect(line).not.toMatch(/npx|NEON_API_KEY|napi_/);
      expect(line).toContain('dist/index.js');
    }
    // The Claude Code line is the one `init claude-code --local` prints for this checkout.
    const claude = command(tryIt.find((l) => l.startsWith('claude mcp add')) ?? '');
    const printed = neonMcp(['init', 'claude-code', '--local', '--print'], home);
    expect(printed.status, printed.stderr).toBe(0);
    expect(printed.stdout + printed.stderr).toContain(
      claude.replace('"$PWD/dist/index.js"', join(ROOT, 'dist/index.js')),
    );
    // The init line, run as written (with --print, so nothing is written): an entry for this checkout's
    // built server in local mode, no key.
    const initLine = command(tryIt.find((l) => l.startsWith('node dist/index.js init')) ?? '');
    const args = initLine.split(/\s+/).slice(2);
    const res = neonMcp([...args, '--print']);
    expect(res.status, res.stderr).toBe(0);
    const json = JSON.parse(res.stdout.slice(res.stdout.indexOf('{')));
    expect(json.mcpServers.neon).toEqual({ command: 'node', args: [join(ROOT, 'dist/index.js'), '--local'] });
  });

  it('links to files that exist', () => {
    for (const [, target] of firstScreen.matchAll(/\]\(((?:docs\/)?[\w.-]+\.md)\)/g))
      expect(
        readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`),
        target,
      ).toContain(target);
  });
});

/** GitHub's anchor of a heading: lower case, punctuation dropped but for `-` and `_`, spaces as `-`. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

describe("links to the README's sections", () => {
  it('name headings it has, from the README and from docs/ (moved sections keep a stub)', () => {
    const anchors = new Set([...readme.matchAll(/^#{1,4} (.+)$/gm)].map((m) => slug(m[1] as string)));
    const links = [
      ...[...readme.matchAll(/\]\(#([^)]+)\)/g)].map((m) => `README.md#${m[1]}`),
      ...readdirSync(join(ROOT, 'docs')).flatMap((f) =>
        [...read(`docs/${f}`).matchAll(/\]\(\.\.\/README\.md#([^)]+)\)/g)].map((m) => `docs/${f} → #${m[1]}`),
      ),
    ];
    expect(links.length).toBeGreaterThan(5);
    expect(links.filter((l) => !anchors.has(l.split('#').pop() as string))).toEqual([]);
  });
});

describe('lines that need neon-mcp on the npm registry', () => {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
    f.endsWith('.md'),
  );

  it('say so, in the section they are in', () => {
    const silent: string[] = [];
    for (const file of files) {
      // Sections by heading of any level; a section that runs the package with npx says it is not published yet.
      for (const section of read(file).split(/\n(?=#{1,4} )/)) {
        if (/npx (-y )?neon-mcp/.test(section) && !/published/.test(section))
          silent.push(`${file}: ${section.split('\n')[0]}`);
      }
    }
    expect(silent).toEqual([]);
  });
});
