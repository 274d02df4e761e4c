// Prints what each tool costs in an agent's context: tokens (o200k_base) of its tools/list entry,
// per tool and per toolset. Run after `npm run build`: `node scripts/tokens.mjs [toolset|tool ...]`.
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { NeonClient } from '../dist/client/neon-client.js';
import { prepareServer } from '../dist/server.js';

const filter = process.argv.slice(2);
const prepared = prepareServer({ client: new NeonClient({}), toolsets: ['all'] });
const server = prepared.create();
const defs = new Map(prepared.tools.map((t) => [t.name, t]));
const rows = Object.entries(server._registeredTools).map(([name, t]) => {
  const entry = {
    name,
    title: t.title,
    description: t.description,
    inputSchema: t.inputSchema['~standard'].jsonSchema.input(),
    outputSchema: t.outputSchema['~standard'].jsonSchema.output(),
    annotations: t.annotations,
  };
  return {
    name,
    toolset: defs.get(name)?.toolset ?? '-',
    tokens: encode(JSON.stringify(entry)).length,
    description: encode(t.description).length,
    input: encode(JSON.stringify(entry.inputSchema)).length,
    output: encode(JSON.stringify(entry.outputSchema)).length,
    entry,
  };
});
const shown = filter.length
  ? rows.filter((r) => filter.includes(r.name) || filter.includes(r.toolset))
  : rows;
const total = shown.reduce((n, r) => n + r.tokens, 0);
const sets = new Map();
for (const r of shown) sets.set(r.toolset, [...(sets.get(r.toolset) ?? []), r.tokens]);
console.log(`${shown.length} tools, ${total} tokens, ${(total / shown.length).toFixed(1)} per tool`);
for (const [set, t] of sets)
  console.log(
    `  ${set}: ${t.length} tools, ${(t.reduce((a, b) => a + b, 0) / t.length).toFixed(0)} per tool`,
  );
console.log('\ntool\ttotal\tdescription\tinput\toutput');
for (const r of shown.sort((a, b) => b.tokens - a.tokens))
  console.log(`${r.name}\t${r.tokens}\t${r.description}\t${r.input}\t${r.output}`);
if (filter.some((f) => rows.some((r) => r.name === f))) {
  for (const r of shown) console.log(`\n${JSON.stringify(r.entry)}`);
}
