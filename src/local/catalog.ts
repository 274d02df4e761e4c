/**
 * What local mode knows beyond PostgreSQL's own catalogs (projects, branches, computes, which real
 * database and role stand for a branch's database and role, role passwords), kept in a database of its
 * own on the same server, so it lives and dies with the data it describes and survives restarts.
 * Everything is read once at start-up and written through on each change; operations are kept in
 * memory only (they finish at once and matter only while a caller waits on them).
 */
import type pg from 'pg';

export const CATALOG_DATABASE = 'neon_mcp_local';

/** The advisory lock that serialises changes to the catalog (any number, the same in every process). */
const CATALOG_LOCK = 0x6e656f6e;

export type Doc = Record<string, any>;
export type Kind = 'project' | 'branch' | 'endpoint' | 'database' | 'role';

export class Catalog {
  items: Record<Kind, Map<string, Doc>> = {
    project: new Map(),
    branch: new Map(),
    endpoint: new Map(),
    database: new Map(),
    role: new Map(),
  };

  /** Counts this process's writes, so that a refresh read before one of them is not applied. */
  private writes = 0;

  constructor(private readonly pool: pg.Pool) {}

  async load(): Promise<void> {
    await this.pool.query(
      'CREATE TABLE IF NOT EXISTS objects (kind text NOT NULL, id text NOT NULL, doc jsonb NOT NULL, PRIMARY KEY (kind, id))',
    );
    await this.refresh();
  }

  /**
   * Reads everything again: other neon-mcp processes on the same server change the catalog too. It is
   * small (a row per object), and each map is swapped whole, so no reader sees half of a refresh.
   */
  async refresh(): Promise<void> {
    const before = this.writes;
    const { rows } = await this.pool.query<{ kind: Kind; id: string; doc: Doc }>(
      'SELECT kind, id, doc FROM objects ORDER BY kind, id',
    );
    // This process wrote meanwhile: the rows read may miss that write, which memory already has.
    if (this.writes !== before) return;
    const fresh = Object.fromEntries(
      Object.keys(this.items).map((k) => [k, new Map<string, Doc>()]),
    ) as Record<Kind, Map<string, Doc>>;
    for (const r of rows) fresh[r.kind]?.set(r.id, r.doc);
    for (const k of Object.keys(fresh) as Kind[]) this.items[k] = fresh[k];
  }

  /**
   * Runs a change with the catalog read afresh, one at a time across every process on this server
   * (an advisory lock, released with the connection should the process die).
   */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    const lock = await this.pool.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [CATALOG_LOCK]);
      try {
        await this.refresh();
        return await work();
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1)', [CATALOG_LOCK]);
      }
    } finally {
      lock.release();
    }
  }

  async put(kind: Kind, id: string, doc: Doc): Promise<Doc> {
    await this.pool.query(
      'INSERT INTO objects (kind, id, doc) VALUES ($1, $2, $3) ON CONFLICT (kind, id) DO UPDATE SET doc = EXCLUDED.doc',
      [kind, id, doc],
    );
    this.items[kind].set(id, doc);
    this.writes++;
    return doc;
  }

  async remove(kind: Kind, id: string): Promise<void> {
    await this.pool.query('DELETE FROM objects WHERE kind = $1 AND id = $2', [kind, id]);
    this.items[kind].delete(id);
    this.writes++;
  }

  list(kind: Kind, filter: (d: Doc) => boolean = () => true): Doc[] {
    return [...this.items[kind].values()].filter(filter);
  }
}
