/**
 * The real objects behind local mode on one PostgreSQL server: a database per branch database, a login
 * role per branch role (role names are cluster-wide, a branch's are made unique with its tag), and
 * branch copies made with `CREATE DATABASE … TEMPLATE`.
 */
import { constants, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { scramVerifier } from './scram.js';

const { escapeIdentifier: ident, escapeLiteral: literal } = pg;

/**
 * Below this size a reflink copy does not pay: FILE_COPY's two checkpoints cost more than WAL_LOG's
 * writing of the pages (18 MiB: 0.16 s WAL_LOG, 1.2 s clone; 207 MiB: 2.0 s against 1.4 s, on XFS;
 * docs/BENCHMARKS.md).
 */
const CLONE_MIN_BYTES = 100 * 1024 * 1024;

/**
 * GRANT statements that give role $2 the privileges role $1 holds on the tables, views, sequences
 * and schemas of the current database (column and function privileges are not carried).
 */
const GRANTS_OF = `
  SELECT format('GRANT %s ON %s %s TO %I%s', a.privilege_type,
                CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass, $2::text,
                CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS sql
  FROM pg_class c, aclexplode(c.relacl) a
  WHERE a.grantee = $1::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  UNION ALL
  SELECT format('GRANT %s ON SCHEMA %I TO %I%s', a.privilege_type, n.nspname, $2::text,
                CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
  FROM pg_namespace n, aclexplode(n.nspacl) a
  WHERE a.grantee = $1::regrole`;

/**
 * The role of read-only SQL calls and its comment, as src/sql/readonly-role.ts makes it itself (src/local
 * imports nothing of neon-mcp: test/local-readonly.test.ts checks the name is the same, and that
 * readonly-role.ts takes the role made here).
 */
export const READER_ROLE = 'neon_mcp_reader';

const READER_COMMENT =
  'Made by neon-mcp: the identity of its read-only SQL calls (reads only; pg_read_all_data). Safe to drop; neon-mcp makes it again when needed.';

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

interface CopyResult {
  /** How the copy was made. */
  method: string;
}

/** Whether files in `dir` can be cloned (a reflink: Btrfs, XFS with reflink, APFS), tried on a small file. */
export function canReflink(dir: string): boolean {
  const a = join(dir, `.reflink-probe-${process.pid}`);
  const b = `${a}-copy`;
  try {
    writeFileSync(a, 'probe');
    copyFileSync(a, b, constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(a, { force: true });
    rmSync(b, { force: true });
  }
}

export class Cluster {
  constructor(
    /** A superuser (or CREATEDB CREATEROLE) URL on the server. */
    readonly adminUrl: string,
    /** Connections to the catalog database, used for cluster-wide statements too. */
    readonly pool: pg.Pool,
    /**
     * Copy with `STRATEGY = FILE_COPY` and `file_copy_method = clone` (PostgreSQL 18): only where the
     * data directory's file system makes reflinks (Btrfs, XFS, APFS…), which {@link canReflink} tells.
     * Elsewhere clone is an ordinary copy, and FILE_COPY's two checkpoints made it slower than the
     * default WAL_LOG (docs/BENCHMARKS.md, local mode); small databases are copied with WAL_LOG anyway
     * ({@link CLONE_MIN_BYTES}).
     */
    readonly clone = false,
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

  /**
   * Makes the role of read-only SQL calls (src/sql/readonly-role.ts: NOLOGIN, a member of
   * pg_read_all_data only) and lets each of `roles` become it. Branch roles cannot make it themselves
   * (granting pg_read_all_data needs its ADMIN OPTION), and without it read-only calls run in
   * readonly-role.ts's stricter mode (no explain analyze). Idempotent: run at every start for the
   * roles of the catalog, so that data directories made before it get it too. PostgreSQL 16 and later
   * only (the grant's INHERIT and SET options); best effort, as readonly-role.ts falls back without it.
   */
  async ensureReader(roles: string[]): Promise<boolean> {
    this.reader = false;
    try {
      const { rows } = await this.pool.query<{ v: number; su: boolean }>(
        `SELECT current_setting('server_version_num')::int AS v, rolsuper AS su FROM pg_roles WHERE rolname = current_user`,
      );
      const row = rows[0];
      if (!row || row.v < 160000 || !row.su) return false;
      const role = ident(READER_ROLE);
      // One simple-protocol query is one transaction: the three statements stand or fall together.
      await this.pool
        .query(
          `CREATE ROLE ${role} NOLOGIN; COMMENT ON ROLE ${role} IS ${literal(READER_COMMENT)}; ` +
            `GRANT pg_read_all_data TO ${role}`,
        )
        .catch((e) => {
          // 42710: it exists (an earlier start, or another neon-mcp on this server at the same moment).
          if ((e as { code?: string }).code !== '42710') throw e;
        });
      // A role of that name that can do more than read (made by someone else on a --local-postgres
      // server) is not handed to branch roles: SET ROLE to it would give them its powers.
      const check = await this.pool.query<{ ok: boolean }>(
        `SELECT NOT (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls OR r.rolcanlogin)
            AND NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                            WHERE m.member = r.oid AND g.rolname <> 'pg_read_all_data') AS ok
         FROM pg_roles r WHERE r.rolname = $1`,
        [READER_ROLE],
      );
      if (!check.rows[0]?.ok) return false;
      // A role the catalog names but the server lacks (dropped by hand) does not keep the others out.
      for (const r of roles) await this.grantReader(r).catch(() => undefined);
      this.reader = true;
      return true;
    } catch {
      return false;
    }
  }

  /** Whether {@link ensureReader} made (or found) the reader role: new roles are then let become it. */
  private reader = false;

  /**
   * `role` may `SET ROLE` to the reader, and gains nothing else: INHERIT FALSE, so none of
   * pg_read_all_data's privileges are the role's own (they apply after `SET ROLE`, which readonly-role.ts
   * does inside READ ONLY transactions; any session of the role may do it too, and then read its own
   * databases' tables, as Neon's roles can through neon_superuser), and no ADMIN OPTION, so it cannot
   * pass the reader on. Reading stays within the databases the role may connect to: its own branch's.
   */
  private async grantReader(role: string): Promise<void> {
    await this.pool.query(`GRANT ${ident(READER_ROLE)} TO ${ident(role)} WITH INHERIT FALSE, SET TRUE`);
  }

  async createRole(name: string, password: string): Promise<void> {
    // CREATEROLE as Neon's roles have it (through neon_superuser): create_role's read-only and
    // read-write roles are made with SQL by the database's owner. The password is sent as a SCRAM
    // verifier (scram.ts): the statement's text is visible in pg_stat_activity and the server's log.
    // No pg_read_all_stats (which Neon's roles have): on this one server it would show every other
    // project's live statements; a role sees its own sessions and its own pg_stat_statements entries.
    await this.pool.query(
      `CREATE ROLE ${ident(name)} LOGIN CREATEROLE PASSWORD ${literal(scramVerifier(password))}`,
    );
    if (this.reader) await this.grantReader(name);
  }

  /**
   * The roles that `creators` made with SQL (create_role's limited roles): PostgreSQL 16 and later give
   * a creator without SUPERUSER the ADMIN OPTION on each role it creates, which is what tells them.
   */
  async madeBy(creators: string[]): Promise<string[]> {
    if (!creators.length) return [];
    const { rows } = await this.pool.query<{ rolname: string }>(
      `SELECT DISTINCT r.rolname FROM pg_auth_members m
         JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles c ON c.oid = m.member
       WHERE c.rolname = ANY($1) AND m.admin_option AND NOT r.rolsuper AND r.rolname NOT LIKE 'pg\\_%'`,
      [creators],
    );
    return rows.map((r) => r.rolname);
  }

  async setPassword(name: string, password: string): Promise<void> {
    await this.pool.query(`ALTER ROLE ${ident(name)} PASSWORD ${literal(scramVerifier(password))}`);
  }

  async dropRole(name: string): Promise<void> {
    await this.terminate({ role: name });
    await this.pool.query(`DROP ROLE IF EXISTS ${ident(name)}`);
  }

  /** An empty database owned by `owner`, which only the branch's roles may connect to. */
  async createDatabase(name: string, owner: string, roles: string[]): Promise<void> {
    await this.pool.query(`CREATE DATABASE ${ident(name)} OWNER ${ident(owner)}`);
    await this.restrictConnect(name, roles);
    await this.statStatements(name);
  }

  /**
   * pg_stat_statements in a new database, for list_slow_queries: only a superuser may create it (it is
   * not a trusted extension), which a branch's owner is not (Neon lets its owners create it). Each role
   * sees the text of its own statements only; copies of the database keep the extension. Only where
   * the server preloads the library (the embedded one does), and best effort with --local-postgres.
   */
  private async statStatements(database: string): Promise<void> {
    const { rows } = await this.pool.query<{ on: boolean }>(
      `SELECT 'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) AS on`,
    );
    if (!rows[0]?.on) return;
    await this.on(database, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')).catch(
      () => undefined,
    );
  }

  /**
   * A copy of `template` as it is now. PostgreSQL copies only a database nobody is connected to:
   * `beforeCopy` closes this process's own pools, then the other sessions are ended (retrying while
   * one reconnects). The copy is a reflink of the files when {@link clone} is set and the server takes
   * `file_copy_method = clone`; otherwise the server's default strategy.
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
    let clone = this.clone && (await this.size(template)) >= CLONE_MIN_BYTES;
    try {
      if (clone) {
        // PostgreSQL before 18 has no file_copy_method: its default strategy then.
        clone = await client.query('SET file_copy_method = clone').then(
          () => true,
          () => false,
        );
      }
      const strategy = clone ? ' STRATEGY = FILE_COPY' : '';
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
      if (clone) await client.query('RESET file_copy_method');
    } finally {
      client.release();
    }
    await this.restrictConnect(name, roles);
    return { method: clone ? 'FILE_COPY, file_copy_method = clone' : 'default strategy' };
  }

  /**
   * In a copy, objects and privileges still name the parent branch's roles: each one's objects go to
   * the matching role of the new branch (REASSIGN OWNED), its privileges on tables, sequences and
   * schemas are granted to that role too, and then none of the copy refers to the parent's roles
   * (DROP OWNED), so that those can be dropped while the branch lives. Both statements also touch
   * shared objects: the parent's databases are given back their owners and their CONNECT grants.
   */
  async reassign(
    database: string,
    pairs: { from: string; to: string }[],
    parentDatabases: string[],
  ): Promise<void> {
    if (!pairs.length) return;
    const owned = await this.pool.query<{ datname: string; owner: string }>(
      'SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE pg_get_userbyid(datdba) = ANY($1) AND datname <> $2',
      [pairs.map((p) => p.from), database],
    );
    await this.on(database, async (c) => {
      for (const { from, to } of pairs) {
        await c.query(`REASSIGN OWNED BY ${ident(from)} TO ${ident(to)}`);
        const grants = await c.query<{ sql: string }>(GRANTS_OF, [from, to]);
        for (const g of grants.rows) await c.query(g.sql);
        await c.query(`DROP OWNED BY ${ident(from)}`);
      }
    });
    for (const { datname, owner } of owned.rows) {
      await this.pool.query(`ALTER DATABASE ${ident(datname)} OWNER TO ${ident(owner)}`);
    }
    for (const db of parentDatabases) for (const { from } of pairs) await this.grantConnect(db, from);
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

  private async size(database: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT pg_database_size($1::text)::text AS n', [
      database,
    ]);
    return Number(rows[0]?.n ?? 0);
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
