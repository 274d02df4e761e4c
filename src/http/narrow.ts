/**
 * Narrowing per connection: the query of the MCP URL (`/mcp?readonly=true&project_id=…&toolsets=sql`)
 * narrows what that caller sees, as the same flags would on a server of its own. It never widens the
 * server's flags: read-only stays on, a scope to one project or organization cannot be changed, and
 * under --toolsets only a subset of them can be picked.
 */
import { ConfigError, yesNo } from '../config.js';
import type { ServerOptions } from '../server.js';
import { validateSelection } from '../tools/registry.js';

/** The server's flags (selection and settings) as --http serves them, before or after narrowing. */
export type ServerFlags = Omit<ServerOptions, 'client' | 'logger' | 'secrets'>;

export class NarrowingError extends Error {
  constructor(
    readonly status: 400 | 403,
    message: string,
  ) {
    super(message);
  }
}

const KNOWN = ['readonly', 'project_id', 'org_id', 'toolsets'];

/** The server's options as narrowed by the query, and a key naming that configuration. */
export function narrowing(base: ServerFlags, query: URLSearchParams): { server: ServerFlags; key: string } {
  // An unknown parameter is refused rather than ignored: a typo (read_only) must not leave a caller
  // believing it is narrowed when it is not.
  for (const name of new Set(query.keys())) {
    if (!KNOWN.includes(name))
      throw new NarrowingError(400, `Unknown query parameter "${name}". Known: ${KNOWN.join(', ')}.`);
    if (query.getAll(name).length > 1)
      throw new NarrowingError(400, `Query parameter "${name}" is given twice.`);
  }
  if (KNOWN.every((name) => !query.has(name))) return { server: base, key: '' };

  const readOnly = Boolean(base.readOnly) || flag(query.get('readonly'));
  const projectId = scoped('project_id', base.projectId, query.get('project_id'));
  const orgId = scoped('org_id', base.orgId, query.get('org_id'));
  let toolsets = base.toolsets;
  const asked = query.get('toolsets');
  if (asked !== null) {
    const list = [
      ...new Set(
        asked
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    if (list.length === 0) throw new NarrowingError(400, 'Query parameter "toolsets" names no toolset.');
    try {
      validateSelection({ toolsets: list });
    } catch (error) {
      throw new NarrowingError(400, (error as Error).message);
    }
    // Without --toolsets every toolset is on offer (enable_toolsets adds any): any may be picked.
    if (base.toolsets?.length && !base.toolsets.includes('all')) {
      const outside = list.filter((t) => !base.toolsets?.includes(t));
      if (outside.length)
        throw new NarrowingError(
          403,
          `This server offers only the toolsets ${base.toolsets.join(', ')} (--toolsets); not ${outside.join(', ')}.`,
        );
    }
    toolsets = list;
  }
  const server = { ...base, readOnly, projectId, orgId, toolsets };
  // The key names the prepared configuration a caller is served from (serve.ts): every field narrowed
  // is in it, or a caller would be served another's (a read-only caller with write tools).
  return { server, key: JSON.stringify([readOnly, projectId ?? null, orgId ?? null, toolsets ?? null]) };
}

/**
 * `?readonly=`: the words of the one yes/no parser of the flags and variables (config.ts `yesNo`), so a
 * typo (`?readonly=ture`) is a 400 naming the accepted words rather than a guess. A bare `?readonly`
 * (empty value) turns read-only on: the parameter is there, and narrowing can only take tools away.
 */
function flag(value: string | null): boolean {
  if (value === null) return false;
  try {
    return yesNo('Query parameter "readonly"', value) ?? true;
  } catch (error) {
    if (error instanceof ConfigError) throw new NarrowingError(400, error.message);
    throw error;
  }
}

/** A scope the caller picks, unless the server already has one: then only that same one. */
function scoped(name: string, fixed: string | undefined, asked: string | null): string | undefined {
  if (asked === null) return fixed;
  if (!asked.trim()) throw new NarrowingError(400, `Query parameter "${name}" is empty.`);
  if (fixed !== undefined && asked !== fixed)
    throw new NarrowingError(403, `This server is scoped to ${name} ${fixed}; ${asked} cannot be chosen.`);
  return asked;
}
