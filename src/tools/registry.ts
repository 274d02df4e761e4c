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
];

/** What a developer uses daily; `--toolsets all` enables the rest. */
export const DEFAULT_TOOLSETS: readonly Toolset[] = ['projects', 'branches', 'databases', 'sql', 'schema'];

export interface Selection {
  readOnly?: boolean;
  /** Scope to one project: `project_id` is injected and account-level tools are hidden. */
  projectId?: string;
  /** Toolset names, or `all`. Default: {@link DEFAULT_TOOLSETS}. */
  toolsets?: readonly string[];
  /** Single tools to add on top of the toolsets. */
  tools?: readonly string[];
  /** Tools to remove. */
  excludeTools?: readonly string[];
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
    if (!names.has(n) && n !== listToolsetsName)
      throw new Error(`Unknown tool "${n}". See the README for the list.`);
  }
}

/** Why a tool is not exposed under a selection, or undefined when it is. */
export function whyHidden(tool: ToolDef, sel: Selection): string | undefined {
  if (sel.readOnly && !tool.hints.readOnlyHint) return 'read-only mode';
  if (sel.projectId && tool.accountLevel) return 'scoped to one project';
  if (sel.excludeTools?.includes(tool.name)) return 'excluded';
  if (sel.tools?.includes(tool.name)) return undefined;
  const sets = sel.toolsets?.length ? sel.toolsets : DEFAULT_TOOLSETS;
  if (sets.includes('all') || sets.includes(tool.toolset)) return undefined;
  return `toolset ${tool.toolset} not enabled`;
}

const listToolsetsName = 'list_toolsets';

/** The tools a server exposes under `sel`, with `list_toolsets` first. */
export function selectTools(sel: Selection): ToolDef[] {
  validateSelection(sel);
  const chosen = ALL_TOOLS.filter((t) => !whyHidden(t, sel));
  return sel.excludeTools?.includes(listToolsetsName) ? chosen : [listToolsetsTool(sel), ...chosen];
}

function listToolsetsTool(sel: Selection): ToolDef {
  return defineTool({
    name: listToolsetsName,
    title: 'List toolsets',
    description:
      'List toolsets and their tools, enabled or not. Enabling needs a restart with --toolsets; tell the user.',
    toolset: 'projects',
    operations: [],
    input: {},
    output: output({
      toolsets: z.array(z.looseObject({ name: z.string() })),
      read_only: z.boolean(),
      project_id: z.string().optional(),
    }),
    hints: READ,
    async handler() {
      const toolsets = Object.entries(TOOLSETS).map(([name, description]) => {
        const tools = ALL_TOOLS.filter((t) => t.toolset === name);
        const enabled = tools.filter((t) => !whyHidden(t, sel)).map((t) => t.name);
        const hidden = tools.filter((t) => whyHidden(t, sel)).map((t) => `${t.name} (${whyHidden(t, sel)})`);
        return { name, description, enabled, ...(hidden.length ? { hidden } : {}) };
      });
      return {
        toolsets,
        read_only: Boolean(sel.readOnly),
        ...(sel.projectId ? { project_id: sel.projectId } : {}),
      };
    },
  });
}
