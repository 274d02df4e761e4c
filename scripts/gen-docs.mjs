// Rewrites what is generated from the built tool definitions (run `npm run docs`): the tool reference in
// README.md, and the tools the MCP Bundle's manifest.json lists (those of the default toolsets, which is
// what the bundle exposes unless its user picks other toolsets).
import { readFileSync, writeFileSync } from 'node:fs';
import { withToolTable } from '../dist/tools/readme-table.js';
import { ALL_TOOLS, selectTools } from '../dist/tools/registry.js';

const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, withToolTable(readFileSync(readme, 'utf8'), ALL_TOOLS));
console.error(`README.md: ${ALL_TOOLS.length} tools`);

const manifestPath = new URL('../manifest.json', import.meta.url);
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
manifest.tools = selectTools({}).map((t) => ({ name: t.name, description: t.description }));
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.error(`manifest.json: ${manifest.tools.length} tools`);
