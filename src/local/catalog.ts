/**
 * What local mode knows beyond PostgreSQL's own catalogs (projects, branches, computes, which real
 * database and role stand for a branch's database and role, role passwords), kept in a database of its
 * own on the same server, so it lives and dies with the data it describes and survives restarts.
 * Everything is read once at start-up and written through on each change; operations are kept in
 * memory only (they finish at once and matter only while a caller waits on them).
 */
import type pg from 'pg';

export const CATALOG_DATABASE = 'neon_mcp_local';

export type Doc = Record<string, any>;
export type Kind = 'project' | 'branch' | 'endpoint' | 'database' | 'role';

export class Catalog {
  readonly items: Record<Kind, Map<string, Doc>> = {
    project: new Map(),
    branch: new Map(),
    endpoint: new Map(),
    database: new Map(),
    role: new Map(),
  };

  constructor(private readonly pool: pg.Pool) {}

  async load(): Promise<void> {
    await this.pool.query(
      'CREATE TABLE IF NOT EXISTS objects (kind text NOT NULL, id text NOT NULL, doc jsonb NOT NULL, PRIMARY KEY (kind, id))',
    );
    const { rows } = await this.pool.query<{ kind: Kind; id: string; doc: Doc }>(
      'SELECT kind, id, doc FROM objects ORDER BY kind, id',
    );
    for (const r of rows) this.items[r.kind]?.set(r.id, r.doc);
  }

  async put(kind: Kind, id: string, doc: Doc): Promise<Doc> {
    await this.pool.query(
      'INSERT INTO objects (kind, id, doc) VALUES ($1, $2, $3) ON CONFLICT (kind, id) DO UPDATE SET doc = EXCLUDED.doc',
      [kind, id, doc],
    );
    this.items[kind].set(id, doc);
    return doc;
  }

  async remove(kind: Kind, id: string): Promise<void> {
    await this.pool.query('DELETE FROM objects WHERE kind = $1 AND id = $2', [kind, id]);
    this.items[kind].delete(id);
  }

  list(kind: Kind, filter: (d: Doc) => boolean = () => true): Doc[] {
    return [...this.items[kind].values()].filter(filter);
  }
}
