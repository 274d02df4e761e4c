/**
 * Which tools a server exposes, decided from each tool's metadata alone (name, toolset, hints, scope
 * flags): toolsets, single tools added or removed, read-only mode, project scoping and --database-url.
 * Nothing here imports a tool's module, so a server can list its tools from the metadata written at
 * build time (dist/tool-schemas.json) and load a module only when one of its tools is called
 * (docs/BENCHMARKS.md, "Memory"). src/tools/registry.ts applies the same rules to the loaded tools.
 */
import * as z from 'zod';
import { defineTool, output, READ, TOOLSETS, type ToolDef, type Toolset } from './framework.js';

/** What the selection looks at: a full {@link ToolDef} has it, and so has the build-time metadata. */
export type Listed = Pick<ToolDef, 'name' | 'toolset' | 'hints' | 'accountLevel' | 'anyPostgres'>;

/** A tool as the server knows it before its module is loaded. */
export interface ToolMeta extends Listed {
  title: string;
  description: string;
  beta?: boolean;
  /** The names of its input fields (for the arguments a scope injects). */
  inputKeys: string[];
  /** The file of src/tools/ that defines it (a key of {@link TOOL_MODULES}). */
  module: ToolModule;
}

/**
 * The tool modules, in the order of the tool list, each loaded on first use. The tools of the default
 * toolsets live in a handful of them; the rest (and the SQL layer some of them import) stay unloaded
 * until a call or enable_toolsets needs them.
 */
export const TOOL_MODULES = {
  projects: async () => (await import('./projects.js')).projectTools,
  branches: async () => (await import('./branches.js')).branchTools,
  computes: async () => (await import('./computes.js')).computeTools,
  databases: async () => (await import('./databases.js')).databaseTools,
  roles: async () => (await import('./roles.js')).roleTools,
  connection: async () => (await import('./connection.js')).connectionTools,
  operations: async () => (await import('./operations.js')).operationTools,
  sql: async () => (await import('./sql.js')).sqlTools,
  schema: async () => (await import('./schema.js')).schemaTools,
  safety: async () => (await import('./safety.js')).safetyTools,
  snapshots: async () => (await import('./snapshots.js')).snapshotTools,
  anonymization: async () => (await import('./anonymization.js')).anonymizationTools,
  organizations: async () => (await import('./organizations.js')).organizationTools,
  'api-keys': async () => (await import('./api-keys.js')).apiKeyTools,
  billing: async () => (await import('./billing.js')).billingTools,
  users: async () => (await import('./users.js')).userTools,
  networking: async () => (await import('./networking.js')).networkingTools,
  auth: async () => (await import('./auth.js')).authTools,
  'data-api': async () => (await import('./data-api.js')).dataApiTools,
  storage: async () => (await import('./storage.js')).storageTools,
  functions: async () => (await import('./functions.js')).functionTools,
  'neon-docs': async () => (await import('./neon-docs.js')).docsTools,
} satisfies Record<string, () => Promise<readonly ToolDef[]>>;
export type ToolModule = keyof typeof TOOL_MODULES;

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

export const LIST_TOOLSETS = 'list_toolsets';
export const ENABLE_TOOLSETS = 'enable_toolsets';

/** Throws with a message listing valid names when a toolset or tool name of `sel` is not in `all`. */
export function validateSelectionOf(all: readonly Listed[], sel: Selection): void {
  const sets = Object.keys(TOOLSETS);
  for (const t of sel.toolsets ?? []) {
    if (t !== 'all' && !sets.includes(t))
      throw new Error(`Unknown toolset "${t}". Valid: all, ${sets.join(', ')}.`);
  }
  const names = new Set(all.map((t) => t.name));
  for (const n of [...(sel.tools ?? []), ...(sel.excludeTools ?? [])]) {
    if (!names.has(n) && n !== LIST_TOOLSETS && n !== ENABLE_TOOLSETS)
      throw new Error(`Unknown tool "${n}". See the README for the list.`);
  }
  // Asked for by name but impossible without Neon: said at start rather than silently left out.
  if (sel.byDatabaseUrl) {
    const neonOnly = (sel.tools ?? []).filter((n) => !all.find((t) => t.name === n)?.anyPostgres);
    if (neonOnly.length) {
      throw new Error(
        `--tools ${neonOnly.join(',')}: not available with --database-url (Neon's API is needed). ` +
          `Available: ${all
            .filter((t) => t.anyPostgres)
            .map((t) => t.name)
            .join(', ')}.`,
      );
    }
  }
}

/** Why a tool is not exposed under a selection, or undefined when it is. */
export function whyHidden(tool: Listed, sel: Selection): string | undefined {
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

/**
 * The tools of `all` exposed under `sel`, with `list_toolsets` and `enable_toolsets` (full
 * definitions, always loaded) first.
 */
export function selectFrom<T extends Listed>(all: readonly T[], sel: Selection): (T | ToolDef)[] {
  validateSelectionOf(all, sel);
  const chosen = all.filter((t) => !whyHidden(t, sel));
  if (sel.byDatabaseUrl) return chosen;
  const meta = [listToolsetsTool(all, sel), enableToolsetsTool].filter(
    (t) => !sel.excludeTools?.includes(t.name),
  );
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
  name: ENABLE_TOOLSETS,
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

function listToolsetsTool(all: readonly Listed[], base: Selection): ToolDef {
  return defineTool({
    name: LIST_TOOLSETS,
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
        const tools = all.filter((t) => t.toolset === name);
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
