import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';

useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

/** Tokens (o200k_base) of the tools/list result a client receives. */
async function footprint(options: Parameters<typeof connect>[0]) {
  conn = await connect(options);
  const { tools } = await conn.mcp.listTools();
  const tokens = encode(JSON.stringify({ tools })).length;
  const largest = tools
    .map((t) => ({ name: t.name, tokens: encode(JSON.stringify(t)).length }))
    .sort((a, b) => b.tokens - a.tokens)
    .slice(0, 5);
  return { count: tools.length, tokens, perTool: tokens / tools.length, largest };
}

describe('context footprint (what an agent pays to have neon-mcp connected)', () => {
  it('default configuration stays within 6,000 tokens', async () => {
    const f = await footprint({});
    expect(f.tokens, JSON.stringify(f.largest)).toBeLessThanOrEqual(6_000);
  });

  it('all toolsets average at most 135 tokens per tool', async () => {
    const f = await footprint({ toolsets: ['all'] });
    expect(f.perTool, JSON.stringify(f.largest)).toBeLessThanOrEqual(135);
  });
});
