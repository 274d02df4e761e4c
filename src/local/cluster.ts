/**
 * The real objects behind local mode on one PostgreSQL server: a database per branch database, a login
 * role per branch role (role names are cluster-wide, a branch's are made unique with its tag), and
 * branch copies made with `CREATE DATABASE … TEMPLATE`.
 */
import pg from 'pg';

const { escapeIdentifier: ident, escapeLiteral: literal } = pg;

/** PostgreSQL's limit on identifiers, in bytes. */
const NAME_BYTES = 63;

/** `name__tag`, the name cut (on a character boundary) so that the whole fits in 63 bytes. */
export function physicalName(name: string, tag: string): string {
  const room = NAME_BYTES - tag.length - 2;
  let cut = name;
  while (Buffer.byteLength(cut) > room) cut = cut.slice(0, -1);
  return `${cut}__${tag}`;
}

/** The URL of another database on the server of `url`. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export interface CopyResult {
  /** How the copy was made: `file_copy (clone)`, `file_copy` or `wal_log`. */
  method: string;
}

export class Cluster {
  /** Whether `file_copy_method = clone` was accepted (PostgreSQL 18 on a system that has it). */
  private clone: boolean | undefined;

  constructor(
    /** A superuser (or CREATEDB CREATEROLE) URL on the server. */
    readonly adminUrl: string,
    /** Connections to the catalog database, used for cluster-wide statements too. */
    readonly pool: pg.Pool,
  ) {}

  private async on<T>(database: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: databaseUrl(this.adminUrl, database) });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async createRole(name: string, password: string): Promise<void> {
    await this.pool.query(`CREATE ROLE ${ident(name)} LOGIN PASSWORD ${literal(password)}`);
    // What Neon's roles get through neon_superuser and matters to the tools: statistics of every
    // session (slow queries, tuning). Best effort: a --local-postgres login without the right to grant
    // it still works, with less to see.
    await this.pool.query(`GRANT pg_read_all_stats TO ${ident(name)}`).catch(() => undefined);
  }

  async setPassword(name: string, password: string): Promise<void> {
    await this.pool.query(`ALTER ROLE ${ident(name)} PASSWORD ${literal(password)}`);
  }

  async dropRole(name: string): Promise<void> {
    await this.terminate({ role: name });
    await this.pool.query(`DROP ROLE IF EXISTS ${ident(name)}`);
  }

  /** An empty database owned by `owner`, which only the branch's roles may connect to. */
  async createDatabase(name: string, owner: string, roles: string[]): Promise<void> {
    await this.pool.query(`CREATE DATABASE ${ident(name)} OWNER ${ident(owner)}`);
    await this.restrictConnect(name, roles);
  }

  /**
   * A copy of `template` as it is now. PostgreSQL copies only a database nobody is connected to:
   * `beforeCopy` closes this process's own pools, then the other sessions are ended (retrying while
   * one reconnects). With PostgreSQL 18 the files are copied with `file_copy_method = clone`
   * (copy_file_range on Linux: a reflink on Btrfs/XFS, an in-kernel copy elsewhere), which writes no
   * WAL; older servers take their default strategy.
   */
  async copyDatabase(
    template: string,
    name: string,
    owner: string,
    roles: string[],
    beforeCopy: () => Promise<void>,
  ): Promise<CopyResult> {
    await beforeCopy();
    const client = await this.pool.connect();
    let method = 'wal_log';
    try {
      if (this.clone !== false) {
        try {
          await client.query('SET file_copy_method = clone');
          this.clone = true;
        } catch {
          this.clone = false;
        }
      }
      const strategy = this.clone ? ' STRATEGY = FILE_COPY' : '';
      method = this.clone ? 'file_copy (clone)' : 'default strategy';
      for (let attempt = 0; ; attempt++) {
        await this.terminate({ database: template }, client);
        try {
          await client.query(
            `CREATE DATABASE ${ident(name)} TEMPLATE ${ident(template)} OWNER ${ident(owner)}${strategy}`,
          );
          break;
        } catch (e) {
          // 55006: the template is in use (a session connected again in between).
          if ((e as { code?: string }).code !== '55006' || attempt >= 50) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      if (this.clone) await client.query('RESET file_copy_method');
    } finally {
      client.release();
    }
    await this.restrictConnect(name, roles);
    return { method };
  }

  /**
   * In a copy, objects still belong to the parent branch's roles: hand each one's objects to the
   * matching role of the new branch. REASSIGN OWNED also moves databases those roles own (shared
   * objects), so the parent's databases are given back afterwards.
   */
  async reassign(database: string, pairs: { from: string; to: string }[]): Promise<void> {
    if (!pairs.length) return;
    const owned = await this.pool.query<{ datname: string; owner: string }>(
      'SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE pg_get_userbyid(datdba) = ANY($1) AND datname <> $2',
      [pairs.map((p) => p.from), database],
    );
    await this.on(database, async (c) => {
      for (const { from, to } of pairs) await c.query(`REASSIGN OWNED BY ${ident(from)} TO ${ident(to)}`);
    });
    for (const { datname, owner } of owned.rows) {
      await this.pool.query(`ALTER DATABASE ${ident(datname)} OWNER TO ${ident(owner)}`);
    }
  }

  /** Connecting is for the branch's roles (and the superuser): another branch's roles are kept out. */
  async restrictConnect(database: string, roles: string[]): Promise<void> {
    await this.pool.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(database)} FROM PUBLIC`);
    for (const r of roles) await this.grantConnect(database, r);
  }

  async grantConnect(database: string, role: string): Promise<void> {
    await this.pool.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${ident(database)} TO ${ident(role)}`);
  }

  async dropDatabase(name: string): Promise<void> {
    await this.pool.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  }

  async renameDatabase(from: string, to: string): Promise<void> {
    await this.terminate({ database: from });
    await this.pool.query(`ALTER DATABASE ${ident(from)} RENAME TO ${ident(to)}`);
  }

  async setOwner(database: string, owner: string): Promise<void> {
    await this.pool.query(`ALTER DATABASE ${ident(database)} OWNER TO ${ident(owner)}`);
  }

  /** Runs `work` on a connection to `database` as the administrator. */
  query<T>(database: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
    return this.on(database, work);
  }

  private async terminate(
    who: { database?: string; role?: string },
    client: pg.PoolClient | pg.Pool = this.pool,
  ): Promise<void> {
    await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE pid <> pg_backend_pid() AND (datname = $1 OR usename = $2)`,
      [who.database ?? null, who.role ?? null],
    );
  }
}
