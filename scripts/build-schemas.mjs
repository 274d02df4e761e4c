// Writes dist/tool-schemas.json: the advertised JSON Schemas and the metadata of every tool, computed
// once at build time so the server neither converts zod schemas nor loads a tool's module at start-up:
// it lists its tools from this file and loads a module on the first call of one of its tools
// (src/server.ts, src/tools/catalog.ts; docs/BENCHMARKS.md, "Memory").
import { rmSync, writeFileSync } from 'node:fs';
import * as z from 'zod';

const file = new URL('../dist/tool-schemas.json', import.meta.url);
// The server reads this file when it is loaded: the one of a previous build must not be taken for it.
rmSync(file, { force: true });
const { TOOL_MODULES } = await import('../dist/tools/catalog.js');
const { leanJson } = await import('../dist/tools/json-schema.js');
const { selectTools } = await import('../dist/tools/registry.js');
const { databaseUrlShape } = await import('../dist/tools/framework.js');

const moduleOf = new Map();
for (const [module, load] of Object.entries(TOOL_MODULES))
  for (const tool of await load()) moduleOf.set(tool.name, module);

const out = {};
for (const tool of selectTools({ toolsets: ['all'] })) {
  const module = moduleOf.get(tool.name);
  out[tool.name] = {
    input: leanJson(z.strictObject(tool.input), 'input'),
    output: leanJson(tool.output, 'output'),
    ...(tool.anyPostgres
      ? { inputByUrl: leanJson(z.strictObject(databaseUrlShape(tool.input)), 'input') }
      : {}),
    // The two toolset tools are part of the server itself (no module): always loaded.
    ...(module
      ? {
          meta: {
            name: tool.name,
            title: tool.title,
            description: tool.description,
            toolset: tool.toolset,
            hints: tool.hints,
            ...(tool.accountLevel ? { accountLevel: true } : {}),
            ...(tool.beta ? { beta: true } : {}),
            ...(tool.anyPostgres ? { anyPostgres: true } : {}),
            inputKeys: Object.keys(tool.input),
            module,
          },
        }
      : {}),
  };
}
// Both lists must hold the same tools: one missing from TOOL_MODULES would not be served once built.
const missing = [...moduleOf.keys()].filter((name) => !out[name]);
if (missing.length) throw new Error(`tools not in the registry's list: ${missing.join(', ')}`);
const unlisted = Object.keys(out).filter(
  (name) => !moduleOf.has(name) && name !== 'list_toolsets' && name !== 'enable_toolsets',
);
if (unlisted.length) throw new Error(`tools in no module of TOOL_MODULES: ${unlisted.join(', ')}`);
writeFileSync(file, JSON.stringify(out));
console.error(`dist/tool-schemas.json: ${Object.keys(out).length} tools`);
