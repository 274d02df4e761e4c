/**
 * Completion values (completion/complete) for resource-template and prompt arguments: projects,
 * branches within the chosen project, database and role names on the chosen (or default) branch.
 * What the user typed matches an ID or a name (prefix, any case). Projects and branches are offered
 * by name where the name is what the user is typing and it picks exactly one (URIs and prompt
 * arguments take names, src/neon/refs.ts), by ID otherwise; the project or branch already chosen in
 * the context may be a name too. Lists are cached briefly (typing sends a request per key stroke) and
 * answers hold at most 100 values, the protocol's limit for one answer.
 */
import type { NeonClient } from '../client/neon-client.js';
import type { ListCache, Named, Settings } from '../neon/context.js';
import { looksLikeId } from '../neon/refs.js';
import { isRestorePoint } from '../neon/restore-points.js';

const TTL_MS = 30_000;
const MAX = 100;
/** More projects or branches than this are not worth walking for a completion. */
const MAX_ITEMS = 1_000;

export type CompletionContext = { arguments?: Record<string, string> } | undefined;

type CompletionCache = ListCache;

export class Completer {
  constructor(
    private readonly client: NeonClient,
    private readonly settings: Settings,
    /** Shared by the completers of one tenant and configuration (surface.ts). */
    private readonly cache: CompletionCache = new Map(),
  ) {}

  /**
   * The ID of the project a completion is about: the scope, or the argument already filled in (an ID,
   * or a name the key's projects have once).
   */
  async projectOf(context: CompletionContext): Promise<string | undefined> {
    if (this.settings.projectId) return this.settings.projectId;
    const ref = context?.arguments?.project_id;
    if (!ref || looksLikeId('project', ref)) return ref;
    return idOf(await this.projectList(), ref);
  }

  async projects(value: string): Promise<string[]> {
    if (this.settings.projectId) return match([{ id: this.settings.projectId, name: '' }], value);
    return match(await this.projectList(), value, 'project');
  }

  async branches(value: string, context: CompletionContext): Promise<string[]> {
    const project_id = await this.projectOf(context);
    if (!project_id) return [];
    return match(await this.branchList(project_id), value, 'branch');
  }

  async databases(value: string, context: CompletionContext): Promise<string[]> {
    return this.onBranch('databases', value, context);
  }

  async roles(value: string, context: CompletionContext): Promise<string[]> {
    return this.onBranch('roles', value, context);
  }

  private projectList(): Promise<Named[]> {
    return this.cached('projects', async () =>
      (await this.client.listAll('/projects', 'projects', { maxItems: MAX_ITEMS })).map(named),
    );
  }

  private branchList(project_id: string): Promise<Named[]> {
    return this.cached(`branches ${project_id}`, async () =>
      (
        await this.client.listAll('/projects/{project_id}/branches', 'branches', {
          path: { project_id },
          maxItems: MAX_ITEMS,
        })
      )
        // The safety net's restore points are not offered (restore-points.ts): typed in full, they resolve.
        .filter((b) => !isRestorePoint(b.name))
        .map((b) => ({ id: b.id, name: b.name, default: b.default })),
    );
  }

  private async onBranch(kind: 'databases' | 'roles', value: string, context: CompletionContext) {
    const project_id = await this.projectOf(context);
    if (!project_id) return [];
    let branch_id = context?.arguments?.branch_id;
    if (!branch_id) {
      const branches = await this.branchList(project_id);
      branch_id = (branches.find((b) => b.default) ?? branches[0])?.id;
    } else if (!looksLikeId('branch', branch_id)) {
      branch_id = idOf(await this.branchList(project_id), branch_id);
    }
    if (!branch_id) return [];
    const path = { project_id, branch_id };
    const list = await this.cached(`${kind} ${project_id} ${branch_id}`, async () => {
      if (kind === 'databases') {
        const res = await this.client.get('/projects/{project_id}/branches/{branch_id}/databases', { path });
        return res.databases.map((d) => ({ id: d.name, name: d.name }));
      }
      const res = await this.client.get('/projects/{project_id}/branches/{branch_id}/roles', { path });
      return res.roles.map((r) => ({ id: r.name, name: r.name }));
    });
    return match(list, value);
  }

  /** Loads once per key within the TTL; a failed load is forgotten so the next key stroke retries. */
  private cached(key: string, load: () => Promise<Named[]>): Promise<Named[]> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    const value = load();
    this.cache.set(key, { at: Date.now(), value });
    value.catch(() => this.cache.delete(key));
    return value;
  }
}

function named(x: { id: string; name: string }): Named {
  return { id: x.id, name: x.name };
}

/** The ID of the item with this ID, or of the one item with this name (none when several share it). */
function idOf(items: Named[], ref: string): string | undefined {
  const byId = items.find((i) => i.id === ref);
  if (byId) return byId.id;
  const named = items.filter((i) => i.name === ref);
  return named.length === 1 ? named[0]?.id : undefined;
}

/**
 * The items whose ID or name starts with what was typed. Of a project or branch, the name is offered
 * when the user is typing it and it resolves back to this item: no other item has it, and it does not
 * have an ID's shape (the resolver would take it for an ID). Otherwise, the ID.
 */
function match(items: Named[], value: string, kind?: 'project' | 'branch'): string[] {
  const v = value.toLowerCase();
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.name, (counts.get(item.name) ?? 0) + 1);
  const out: string[] = [];
  for (const item of items) {
    const byName = item.name.toLowerCase().startsWith(v);
    if (!byName && !item.id.toLowerCase().startsWith(v)) continue;
    const nameResolves =
      kind !== undefined && item.name !== '' && counts.get(item.name) === 1 && !looksLikeId(kind, item.name);
    out.push(byName && nameResolves ? item.name : item.id);
    if (out.length >= MAX) break;
  }
  return out;
}

/** A completion callback that never fails the request: no values is the answer to any error. */
export function safely(
  fn: (value: string, context: CompletionContext) => Promise<string[]>,
): (value: string, context?: CompletionContext) => Promise<string[]> {
  return (value, context) => fn(value ?? '', context).catch(() => []);
}
