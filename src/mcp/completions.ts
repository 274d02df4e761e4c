/**
 * Completion values (completion/complete) for resource-template and prompt arguments: project IDs,
 * branch IDs within the chosen project, database and role names on the chosen (or default) branch.
 * What the user typed matches an ID or a name (prefix, any case); the value offered is what the
 * argument takes. Lists are cached briefly (typing sends a request per key stroke) and answers hold
 * at most 100 values, the protocol's limit for one answer.
 */
import type { NeonClient } from '../client/neon-client.js';
import type { ListCache, Named, Settings } from '../neon/context.js';

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

  /** The project a completion is about: the scope, or the argument already filled in. */
  projectOf(context: CompletionContext): string | undefined {
    return this.settings.projectId ?? context?.arguments?.project_id;
  }

  async projects(value: string): Promise<string[]> {
    if (this.settings.projectId) return match([{ id: this.settings.projectId, name: '' }], value);
    return match(
      await this.cached('projects', async () =>
        (await this.client.listAll('/projects', 'projects', { maxItems: MAX_ITEMS })).map(named),
      ),
      value,
    );
  }

  async branches(value: string, context: CompletionContext): Promise<string[]> {
    const project_id = this.projectOf(context);
    if (!project_id) return [];
    return match(await this.branchList(project_id), value);
  }

  async databases(value: string, context: CompletionContext): Promise<string[]> {
    return this.onBranch('databases', value, context);
  }

  async roles(value: string, context: CompletionContext): Promise<string[]> {
    return this.onBranch('roles', value, context);
  }

  private branchList(project_id: string): Promise<Named[]> {
    return this.cached(`branches ${project_id}`, async () =>
      (
        await this.client.listAll('/projects/{project_id}/branches', 'branches', {
          path: { project_id },
          maxItems: MAX_ITEMS,
        })
      ).map((b) => ({ id: b.id, name: b.name, default: b.default })),
    );
  }

  private async onBranch(kind: 'databases' | 'roles', value: string, context: CompletionContext) {
    const project_id = this.projectOf(context);
    if (!project_id) return [];
    let branch_id = context?.arguments?.branch_id;
    if (!branch_id) {
      const branches = await this.branchList(project_id);
      branch_id = (branches.find((b) => b.default) ?? branches[0])?.id;
      if (!branch_id) return [];
    }
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

function match(items: Named[], value: string): string[] {
  const v = value.toLowerCase();
  const out: string[] = [];
  for (const item of items) {
    if (item.id.toLowerCase().startsWith(v) || item.name.toLowerCase().startsWith(v)) out.push(item.id);
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
