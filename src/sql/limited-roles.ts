/**
 * Roles whose limits hold, made with SQL by the database owner: a role created through Neon's API is a
 * member of `neon_superuser` (full access whatever is granted later), so a read-only or read-write role
 * has to be an ordinary role with exactly the grants it needs. And the check, for read-only mode, that
 * a role cannot write.
 */
import { InvalidArgumentError } from '../client/errors.js';
import { SqlError } from './errors.js';
import { INTERNAL_MARK, type Session } from './session.js';
import { inline } from './untrusted.js';

/** What a limited role may do: read, or read and change rows (DML) without changing the schema (DDL). */
export type LimitedAccess = 'read_only' | 'read_write';

export interface LimitedRole {
  /** Schemas whose tables, views and sequences were granted (those the owner can grant on). */
  schemas: string[];
  /** Schemas where the new role can still create objects because CREATE is granted to PUBLIC there. */
  create_allowed_in: string[];
}

/** The custom settings that carry the name and password into the DO block (see createLimitedRole). */
const NAME_SETTING = 'neon_mcp.new_role';
const PASSWORD_SETTING = 'neon_mcp.new_role_password';

/**
 * Creates a login role with `password` that may read (and, for read_write, insert, update and delete)
 * what the session's role owns in this database, now and in the future. One transaction: on any
 * failure nothing is left behind. The session must be the database owner's (Neon's owner roles have
 * CREATEROLE).
 */
export async function createLimitedRole(
  s: Session,
  opts: { name: string; password: string; access: LimitedAccess },
): Promise<LimitedRole> {
  const id = (name: string) => s.client.escapeIdentifier(name);
  const role = id(opts.name);
  const what = `creating role ${opts.name}`;
  const exec = (sql: string, params?: unknown[]) => s.exec(sql, params, what);
  await exec('BEGIN');
  try {
    const existing = await exec(`SELECT ${INTERNAL_MARK} 1 FROM pg_roles WHERE rolname = $1`, [opts.name]);
    if (existing.rowCount) {
      throw new InvalidArgumentError(
        `A role named "${opts.name}" already exists on this branch. Pick another name, or delete it first (delete_role).`,
      );
    }
    // The password reaches the server as a bound parameter and is used inside a DO block, so it is in
    // no statement text that pg_stat_statements or the statement log keep (a read-only tool can read
    // pg_stat_statements). Neon takes passwords in plain text only (it checks their strength), so the
    // password cannot be pre-hashed on this side.
    await exec('SELECT set_config($1, $2, true), set_config($3, $4, true)', [
      NAME_SETTING,
      opts.name,
      PASSWORD_SETTING,
      opts.password,
    ]);
    await exec(
      `DO ${INTERNAL_MARK} $$ BEGIN EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', ` +
        `current_setting('${NAME_SETTING}'), current_setting('${PASSWORD_SETTING}')); END $$`,
    );
    await exec(`SELECT ${INTERNAL_MARK} set_config($1, '', true)`, [PASSWORD_SETTING]);
    const db = await exec(`SELECT ${INTERNAL_MARK} current_database() AS name`);
    await exec(`GRANT CONNECT ON DATABASE ${id(String(db.rows[0]?.name))} TO ${role}`);

    const tablePrivileges = opts.access === 'read_write' ? 'SELECT, INSERT, UPDATE, DELETE' : 'SELECT';
    // nextval needs USAGE: a read-only role may only look at sequences.
    const sequencePrivileges = opts.access === 'read_write' ? 'USAGE, SELECT' : 'SELECT';
    const schemas = (
      await exec(
        `SELECT ${INTERNAL_MARK} nspname FROM pg_namespace
         WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
           AND has_schema_privilege(current_user, oid, 'USAGE WITH GRANT OPTION')
         ORDER BY nspname`,
      )
    ).rows.map((r) => String(r.nspname));
    for (const schema of schemas) {
      await exec(`GRANT USAGE ON SCHEMA ${id(schema)} TO ${role}`);
      await exec(`GRANT ${tablePrivileges} ON ALL TABLES IN SCHEMA ${id(schema)} TO ${role}`);
      await exec(`GRANT ${sequencePrivileges} ON ALL SEQUENCES IN SCHEMA ${id(schema)} TO ${role}`);
    }
    // Without IN SCHEMA, default privileges apply in every schema, also in schemas created later.
    await exec(`ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO ${role}`);
    await exec(`ALTER DEFAULT PRIVILEGES GRANT ${tablePrivileges} ON TABLES TO ${role}`);
    await exec(`ALTER DEFAULT PRIVILEGES GRANT ${sequencePrivileges} ON SEQUENCES TO ${role}`);
    // CREATE granted to PUBLIC (the default before Postgres 15 on schema public) cannot be revoked for
    // one role: report it rather than claim a limit that does not hold.
    const create_allowed_in = (
      await exec(
        `SELECT ${INTERNAL_MARK} nspname FROM pg_namespace
         WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
           AND has_schema_privilege($1, oid, 'CREATE') ORDER BY nspname`,
        [opts.name],
      )
    ).rows.map((r) => String(r.nspname));
    await s.commit(what);
    return { schemas, create_allowed_in };
  } catch (e) {
    await s.exec('ROLLBACK', undefined, 'rolling back').catch(() => undefined);
    // Postgres quotes the failing statement in its CONTEXT, which for CREATE ROLE holds the password
    // as format's %L wrote it: quotes doubled, and backslashes too (in an E'' literal). The longest
    // form first, so that no part of it is left.
    const quoted = opts.password.replaceAll("'", "''");
    // Each also as the error writes untrusted text (inline, untrusted.ts: backslashes doubled again).
    const forms = [quoted.replaceAll('\\', '\\\\'), quoted, opts.password].flatMap((f) => [inline(f), f]);
    if (e instanceof SqlError && forms.some((f) => e.message.includes(f))) {
      throw new SqlError(
        forms.reduce((m, f) => m.replaceAll(f, '[password]'), e.message),
        e.code,
      );
    }
    throw e;
  }
}

/**
 * Why `role` could change something in the session's database, or undefined when it cannot. The role
 * and every role it is a member of, directly or through others (`pg_has_role` MEMBER, so also roles it
 * may only SET ROLE to), are checked for: superuser, CREATEROLE, CREATEDB, BYPASSRLS or REPLICATION;
 * membership of `neon_superuser` or of a predefined role that writes (`pg_write_all_data`,
 * `pg_maintain`, the server-file ones); ownership of anything in this database or of anything shared
 * (`pg_shdepend`, which records every owned object whatever its kind: schemas, functions, types, the
 * database itself); INSERT or UPDATE on a table or on any of its columns (a column-level GRANT writes
 * too), DELETE, TRUNCATE or MAINTAIN (REFRESH MATERIALIZED VIEW, LOCK) on a table, view or matview;
 * USAGE or UPDATE on a sequence; CREATE on a schema or on the database; UPDATE on a large object; and
 * EXECUTE on a SECURITY DEFINER function or procedure outside the system schemas (it runs as its owner,
 * who may write; EXECUTE is PUBLIC's by default, so such a function counts until revoked). Grants to
 * PUBLIC count, as the `has_*_privilege` functions include them. Runs in the open (read-only)
 * transaction; the answer names what was found, never a secret.
 */
export async function whyRoleCanWrite(s: Session, role: string): Promise<string | undefined> {
  const rows = await s.read<{ reason: string | null; exists: boolean }>(
    `WITH target AS (SELECT oid FROM pg_roles WHERE rolname = $1),
     m AS (SELECT r.* FROM pg_roles r, target t WHERE pg_has_role(t.oid, r.oid, 'MEMBER')),
     v AS (SELECT current_setting('server_version_num')::int >= 170000 AS maintain)
     SELECT EXISTS (SELECT 1 FROM target) AS exists, COALESCE(
       (SELECT 'it is a superuser or may create roles, databases or bypass row security' FROM m
          WHERE rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication LIMIT 1),
       (SELECT format('it is a member of %s', rolname) FROM m
          WHERE rolname IN ('neon_superuser', 'pg_write_all_data', 'pg_maintain', 'pg_write_server_files',
                            'pg_execute_server_program', 'pg_signal_backend', 'pg_create_subscription')
          ORDER BY rolname LIMIT 1),
       (SELECT format('it (or a role it belongs to, %s) owns objects in this database', m.rolname)
          FROM m, pg_shdepend d
          WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = m.oid AND d.deptype = 'o'
            AND d.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
          LIMIT 1),
       (SELECT 'it owns the database' FROM m, pg_database db
          WHERE db.datname = current_database() AND db.datdba = m.oid LIMIT 1),
       (SELECT 'it may create schemas in the database' FROM m
          WHERE has_database_privilege(m.oid, current_database(), 'CREATE') LIMIT 1),
       (SELECT format('it may create objects in schema %I', n.nspname) FROM m, pg_namespace n
          WHERE has_schema_privilege(m.oid, n.oid, 'CREATE') LIMIT 1),
       (SELECT format('it owns or may change %s', c.oid::regclass) FROM m, pg_class c, v
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relnamespace <> 'pg_catalog'::regnamespace
            AND c.relnamespace <> 'information_schema'::regnamespace
            AND (c.relowner = m.oid
                 OR (c.relkind = 'S' AND has_sequence_privilege(m.oid, c.oid, 'USAGE, UPDATE'))
                 OR (c.relkind <> 'S' AND (
                       has_table_privilege(m.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                       OR has_any_column_privilege(m.oid, c.oid, 'INSERT, UPDATE')
                       OR CASE WHEN v.maintain THEN has_table_privilege(m.oid, c.oid, 'MAINTAIN') ELSE false END)))
          LIMIT 1),
       (SELECT format('it may run %s, a SECURITY DEFINER function of role %s, which runs with that role''s rights',
                      p.oid::regprocedure, pg_get_userbyid(p.proowner))
          FROM m, pg_proc p
          WHERE p.prosecdef AND p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
            AND has_function_privilege(m.oid, p.oid, 'EXECUTE')
          LIMIT 1),
       (SELECT format('it may change large object %s', l.oid) FROM m, pg_largeobject_metadata l,
               aclexplode(COALESCE(l.lomacl, acldefault('L', l.lomowner))) a
          WHERE a.privilege_type = 'UPDATE' AND (a.grantee = m.oid OR a.grantee = 0)
          LIMIT 1)
     ) AS reason`,
    [role],
    'checking what the role may do',
  );
  const row = rows[0];
  if (!row?.exists) return `there is no role "${role}" in this database's branch`;
  return row.reason ?? undefined;
}
