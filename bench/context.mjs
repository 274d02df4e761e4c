#!/usr/bin/env node
/**
 * `npm run bench:context`: what neon-mcp's tool list costs an agent's context window. For the default
 * configuration and for `--toolsets all`: number of tools, bytes and tokens (o200k_base) of the
 * `tools/list` result, average tokens per tool, and the ten largest tools. Neon's own server (when
 * .bench-cache/ has it, see `npm run bench`) is listed for comparison. Runs the built dist/ over
 * stdio; writes the `bench:context` section of docs/BENCHMARKS.md and .bench-cache/bench-context.json.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import {
  buildOurs,
  CACHE,
  connectStdio,
  fmt,
  installNeon,
  loadMock,
  log,
  machine,
  NEON_PACKAGE,
  NEON_VERSION,
  serverSpec,
  writeSection,
} from './lib.mjs';

buildOurs();
const mockLib = await loadMock();
const server = await mockLib.startMockHttpServer();
// Only use Neon's server if `npm run bench` already installed it (this script does not install).
const neonEntry = join(CACHE, 'neon/node_modules', NEON_PACKAGE, 'dist/index.js');
const haveNeon = existsSync(neonEntry) && installNeon().entry;

const configs = [
  { key: 'default', label: 'neon-mcp, default', which: 'ours', args: [] },
  { key: 'all', label: 'neon-mcp, `--toolsets all`', which: 'ours', args: ['--toolsets', 'all'] },
  { key: 'read-only', label: 'neon-mcp, `--read-only`', which: 'ours', args: ['--read-only'] },
  ...(haveNeon
    ? [{ key: 'neon', label: `${NEON_PACKAGE} ${NEON_VERSION}, default`, which: 'neon', args: [] }]
    : []),
];

const results = { machine: await machine(), date: new Date().toISOString(), configs: {} };
for (const c of configs) {
  const conn = await connectStdio(serverSpec(c.which, server.baseUrl, { neonEntry, args: c.args }));
  const list = await conn.client.listTools();
  await conn.client.close();
  const json = JSON.stringify(list);
  const perTool = list.tools
    .map((t) => {
      const j = JSON.stringify(t);
      return { name: t.name, bytes: Buffer.byteLength(j), tokens: countTokens(j) };
    })
    .sort((a, b) => b.tokens - a.tokens);
  results.configs[c.key] = {
    label: c.label,
    tools: list.tools.length,
    bytes: Buffer.byteLength(json),
    tokens: countTokens(json),
    perTool,
  };
  log(`${c.label}: ${list.tools.length} tools, ${countTokens(json)} tokens`);
}
await server.close();
writeFileSync(join(CACHE, 'bench-context.json'), JSON.stringify(results, null, 2));

const out = [];
out.push(
  `Measured ${results.date.slice(0, 10)} on ${results.machine}: the \`tools/list\` result as the server sends it`,
);
out.push(
  '(JSON), tokens counted with o200k_base (gpt-tokenizer). Per tool: the JSON of that tool’s entry.\n',
);
out.push('| Configuration | Tools | Bytes | Tokens | Tokens per tool (average) |');
out.push('|---|---:|---:|---:|---:|');
for (const r of Object.values(results.configs))
  out.push(
    `| ${r.label} | ${r.tools} | ${fmt.int(r.bytes)} | ${fmt.int(r.tokens)} | ${(r.tokens / r.tools).toFixed(1)} |`,
  );
for (const key of ['default', 'all', ...(haveNeon ? ['neon'] : [])]) {
  const r = results.configs[key];
  out.push(`\nTen largest tools, ${r.label}:\n`);
  out.push('| Tool | Tokens | Bytes |');
  out.push('|---|---:|---:|');
  for (const t of r.perTool.slice(0, 10))
    out.push(`| ${t.name} | ${fmt.int(t.tokens)} | ${fmt.int(t.bytes)} |`);
}
const d = results.configs.default;
const a = results.configs.all;
out.push('\n| Target | Measured | Met |');
out.push('|---|---|:---:|');
out.push(
  `| Default configuration ≤ 6,000 tokens | ${fmt.int(d.tokens)} | ${d.tokens <= 6000 ? 'yes' : '**no**'} |`,
);
out.push(
  `| \`--toolsets all\` < 120 tokens per tool on average | ${(a.tokens / a.tools).toFixed(1)} (${fmt.int(a.tokens)} / ${a.tools}) | ${a.tokens / a.tools < 120 ? 'yes' : '**no**'} |`,
);
writeSection('bench:context', out.join('\n'));
process.exit(0);
