/**
 * The one list of tools, and the one place that decides which of them a server exposes: toolsets,
 * single tools added or removed, read-only mode and project scoping all act on each tool's metadata.
 */
import * as z from 'zod';
import { anonymizationTools } from './anonymization.js';
import { apiKeyTools } from './api-keys.js';
import { authTools } from './auth.js';
import { billingTools } from './billing.js';
import { branchTools } from './branches.js';
import { computeTools } from './computes.js';
import { connectionTools } from './connection.js';
import { dataApiTools } from './data-api.js';
import { databaseTools } from './databases.js';
import { defineTool, output, READ, TOOLSETS, type ToolDef, type Toolset } from './framework.js';
import { functionTools } from './functions.js';
import { docsTools } from './neon-docs.js';
import { networkingTools } from './networking.js';
import { operationTools } from './operations.js';
import { organizationTools } from './organizations.js';
import { projectTools } from './projects.js';
import { roleTools } from './roles.js';
import { schemaTools } from './schema.js';
import { snapshotTools } from './snapshots.js';
import { sqlTools } from './sql.js';
import { storageTools } from './storage.js';
import { userTools } from './users.js';

export const ALL_TOOLS: readonly ToolDef[] = [
  ...projectTools,
  ...branchTools,
  ...computeTools,
  ...databaseTools,
  ...roleTools,
  ...connectionTools,
  ...operationTools,
  ...sqlTools,
  ...schemaTools,
  ...snapshotTools,
  ...anonymizationTools,
  ...organizationTools,
  ...apiKeyTools,
  ...billingTools,
  ...userTools,
  ...networkingTools,
  ...authTools,
  ...dataApiTools,
  ...storageTools,
  ...functionTools,
  ...docsTools,
];

/** What a developer uses daily; `--toolsets all` enables the rest. */
// `roles` (issue 9, item 10) does not fit: with it the default list costs ≈ 6,750 tokens of the 6,000
// budget, so it stays one enable_toolsets call away.
export const DEFAULT_TOOLSETS: readonly Toolset[] = ['projects', 'branches', 'databases', 'sql', 'schema'];

export interface Selection {
  readOnly?: boolean;
  /** Scope to one project: `project_id` is injected and account-level tools are hidden. */
  projectId?: string;
  /** The default organization: `org_id` is injected wherever a tool takes it, and another is refused. */
  orgId?: string;
  /** Toolset names, or `all`. Default: {@link DEFAULT_TOOLSETS}. */
  toolsets?: readonly string[];
  /** Single tools to add on top of the toolsets. */
  tools?: readonly string[];
  /** Tools to remove. */
  excludeTools?: readonly string[];
  /**
   * --database-url: one PostgreSQL server without Neon's API, so only the tools that work on any
   * PostgreSQL (`anyPostgres`), and no toolset tools (nothing else could be enabled).
   */
  byDatabaseUrl?: boolean;
}

/** Throws with a message listing valid names when a toolset or tool name is unknown. */
export function validateSelection(sel: Selection): void {
  const sets = Object.keys(TOOLSETS);
  for (const t of sel.toolsets ?? []) {
    if (t !== 'all' && !sets.includes(t))
      throw new Error(`Unknown toolset "${t}". Valid: all, ${sets.join(', ')}.`);
  }
  const names = new Set(ALL_TOOLS.map((t) => t.name));
  for (const n of [...(sel.tools ?? []), ...(sel.excludeTools ?? [])]) {
    if (!names.has(n) && n !== listToolsetsName && n !== enableToolsetsName)
      throw new Error(`Unknown tool "${n}". See the README for the list.`);
  }
  // Asked for by name but impossible without Neon: said at start rather than silently left out.
  if (sel.byDatabaseUrl) {
    const neonOnly = (sel.tools ?? []).filter((n) => !ALL_TOOLS.find((t) => t.name === n)?.anyPostgres);
    if (neonOnly.length) {
      throw new Error(
        `--tools ${neonOnly.join(',')}: not available with --database-url (Neon's API is needed). ` +
          `Available: ${ALL_TOOLS.filter((t) => t.anyPostgres)
            .map((t) => t.name)
            .join(', ')}.`,
      );
    }
  }
}

/** Why a tool is not exposed under a selection, or undefined when it is. */
export function whyHidden(tool: ToolDef, sel: Selection): string | undefined {
  if (sel.byDatabaseUrl && !tool.anyPostgres) return 'needs the Neon API (not with --database-url)';
  if (sel.readOnly && !tool.hints.readOnlyHint) return 'read-only mode';
  if (sel.projectId && tool.accountLevel) return 'scoped to one project';
  if (sel.excludeTools?.includes(tool.name)) return 'excluded';
  // The toolsets of Neon mode do not apply: a NEON_MCP_TOOLSETS without sql must not leave it empty.
  if (sel.byDatabaseUrl) return undefined;
  if (sel.tools?.includes(tool.name)) return undefined;
  const sets = sel.toolsets?.length ? sel.toolsets : DEFAULT_TOOLSETS;
  if (sets.includes('all') || sets.includes(tool.toolset)) return undefined;
  return `toolset ${tool.toolset} not enabled`;
}

const listToolsetsName = 'list_toolsets';
const enableToolsetsName = 'enable_toolsets';

/** The tools a server exposes under `sel`, with `list_toolsets` and `enable_toolsets` first. */
export function selectTools(sel: Selection): ToolDef[] {
  validateSelection(sel);
  const chosen = ALL_TOOLS.filter((t) => !whyHidden(t, sel));
  if (sel.byDatabaseUrl) return chosen;
  const meta = [listToolsetsTool(sel), enableToolsetsTool].filter((t) => !sel.excludeTools?.includes(t.name));
  return [...meta, ...chosen];
}

/**
 * Toolset names as an enum, so an agent picks from the schema without calling list_toolsets first; an
 * unknown one is refused with the valid ones named.
 */
const TOOLSET_NAMES = ['all', ...Object.keys(TOOLSETS)] as [string, ...string[]];
const toolsetNames = z
  .array(
    z.enum(TOOLSET_NAMES, {
      error: (iss) => `Unknown toolset "${String(iss.input)}". Valid: ${TOOLSET_NAMES.join(', ')}.`,
    }),
  )
  .refine((a) => a.length >= 1 && a.length <= 30, { message: 'must hold 1 to 30 toolset names' })
  .describe('toolsets');

const enableToolsetsTool: ToolDef = defineTool({
  name: enableToolsetsName,
  title: 'Enable toolsets',
  description: 'Add toolsets to this session.',
  toolset: 'projects',
  operations: [],
  input: { toolsets: toolsetNames },
  // The answer also has `toolsets` (all enabled now); only the main key is advertised.
  output: output({ added: z.array(z.string()) }),
  // Changes this session's tool list, nothing at Neon: a read for read-only mode.
  hints: READ,
  async handler({ toolsets }, ctx) {
    if (!ctx.toolsets) throw new Error('enable_toolsets works only inside a running server.');
    const added = ctx.toolsets.enable(toolsets);
    return { toolsets: [...ctx.toolsets.current()], added };
  },
});

function listToolsetsTool(base: Selection): ToolDef {
  return defineTool({
    name: listToolsetsName,
    title: 'List toolsets',
    description: 'List toolsets, enabled or not, and how to enable the rest.',
    toolset: 'projects',
    operations: [],
    input: {},
    // The answer also has enable (how to add toolsets), read_only and project_id; only the main key is advertised.
    output: output({ toolsets: z.array(z.string()) }),
    hints: READ,
    async handler(_args, ctx) {
      // The selection as it is now: toolsets enabled at run time count. One line per toolset: the
      // enabled tools are in tools/list already, so only hidden ones are named, with the reason.
      const sel: Selection = ctx.toolsets ? { ...base, toolsets: ctx.toolsets.current() } : base;
      const toolsets = Object.keys(TOOLSETS).map((name) => {
        const tools = ALL_TOOLS.filter((t) => t.toolset === name);
        const shown = tools.filter((t) => !whyHidden(t, sel)).length;
        if (shown === tools.length) return `${name}: ${tools.length} tools, enabled`;
        const byReason = new Map<string, string[]>();
        for (const t of tools) {
          const why = whyHidden(t, sel);
          if (why) byReason.set(why, [...(byReason.get(why) ?? []), t.name]);
        }
        const off = `toolset ${name} not enabled`;
        if (shown === 0 && byReason.size === 1 && byReason.has(off))
          return `${name}: ${tools.length} tools, not enabled`;
        const hidden = [...byReason]
          .filter(([why]) => why !== off)
          .map(([why, names]) => `${why} hides ${names.join(', ')}`);
        if (byReason.has(off)) hidden.push('toolset not enabled');
        return `${name}: ${shown} of ${tools.length} tools enabled; ${hidden.join('; ')}`;
      });
      const sets = sel.toolsets?.length ? sel.toolsets : DEFAULT_TOOLSETS;
      const off = sets.includes('all') ? [] : Object.keys(TOOLSETS).filter((name) => !sets.includes(name));
      // The toolsets that are off are named in their lines above; this only says how to turn them on.
      const enable = off.length
        ? `Call enable_toolsets with the toolsets you need (read-only mode and the project scope still apply). Or restart neon-mcp with --toolsets ${sets.join(',')},NAME (or NEON_MCP_TOOLSETS), or --toolsets all; a single tool: --tools TOOL.`
        : 'Every toolset is enabled.';
      return {
        toolsets,
        enable,
        read_only: Boolean(sel.readOnly),
        ...(sel.projectId ? { project_id: sel.projectId } : {}),
      };
    },
  });
}
