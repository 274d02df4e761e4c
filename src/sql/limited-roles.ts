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

/** The custom settings that carry the name and password into the DO block (see setPassword). */
const NAME_SETTING = 'neon_mcp.new_role';
const PASSWORD_SETTING = 'neon_mcp.new_role_password';

/** The start of the comment createLimitedRole puts on its roles, followed by the access. */
export const MADE_BY = 'Made by neon-mcp create_role, access';

type Exec = (sql: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * Runs `template` (`CREATE ROLE %I … PASSWORD %L` or `ALTER ROLE %I PASSWORD %L`) for `name` with
 * `password`, inside the open transaction. The password reaches the server as a bound parameter and is
 * used inside a DO block, so it is in no statement text that pg_stat_statements or the statement log
 * keep (a read-only tool can read pg_stat_statements). Neon takes passwords in plain text only (it
 * checks their strength), so the password cannot be pre-hashed on this side.
 */
async function setPassword(exec: Exec, template: string, name: string, password: string): Promise<void> {
  await exec('SELECT set_config($1, $2, true), set_config($3, $4, true)', [
    NAME_SETTING,
    name,
    PASSWORD_SETTING,
    password,
  ]);
  await exec(
    `DO ${INTERNAL_MARK} $$ BEGIN EXECUTE format('${template}', ` +
      `current_setting('${NAME_SETTING}'), current_setting('${PASSWORD_SETTING}')); END $$`,
  );
  await exec(`SELECT ${INTERNAL_MARK} set_config($1, '', true)`, [PASSWORD_SETTING]);
}

/**
 * `e` with the password taken out. Postgres quotes the failing statement in its CONTEXT, which for
 * CREATE/ALTER ROLE holds the password as format's %L wrote it: quotes doubled, and backslashes too (in
 * an E'' literal). The longest form first, so that no part of it is left.
 */
function withoutPassword(e: unknown, password: string): unknown {
  const quoted = password.replaceAll("'", "''");
  // Each also as the error writes untrusted text (inline, untrusted.ts: backslashes doubled again).
  const forms = [quoted.replaceAll('\\', '\\\\'), quoted, password].flatMap((f) => [inline(f), f]);
  if (e instanceof SqlError && forms.some((f) => e.message.includes(f))) {
    return new SqlError(
      forms.reduce((m, f) => m.replaceAll(f, '[password]'), e.message),
      e.code,
    );
  }
  return e;
}

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
    await setPassword(exec, 'CREATE ROLE %I LOGIN PASSWORD %L', opts.name, opts.password);
    // What made it and with which access, read back by list_roles and get_role (sqlLoginRoles).
    await exec(`COMMENT ON ROLE ${role} IS ${s.client.escapeLiteral(`${MADE_BY} ${opts.access}`)}`);
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
    throw withoutPassword(e, opts.password);
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

/** A login role found with SQL, not through Neon's API (sqlLoginRoles). */
export interface SqlLoginRole {
  name: string;
  /** read_only or read_write (what create_role gave it, or read_only when it cannot write), else writes. */
  access: 'read_only' | 'read_write' | 'writes';
  /** Whether neon-mcp's create_role made it (its comment says so). */
  made_by_neon_mcp: boolean;
  /** For access writes: what lets it write (whyRoleCanWrite). */
  why?: string;
}

/**
 * The login roles that may connect to the session's database and that Neon's API does not list
 * (`neon_names`): roles made with SQL, create_role's limited ones among them. Left out: superusers,
 * replication roles, `neon_superuser` members and roles that may create roles without the session's
 * role having made them (Neon's own roles, and local mode's roles of the branch under their physical
 * names). `only`: just that role. Runs in the open (read-only) transaction; at most `limit` roles are
 * returned (the rest counted in `more`). A role not made by create_role is probed with whyRoleCanWrite.
 */
export async function sqlLoginRoles(
  s: Session,
  opts: { neon_names: string[]; only?: string; limit: number },
): Promise<{ roles: SqlLoginRole[]; more: number }> {
  const rows = await s.read<{ name: string; comment: string | null }>(
    `SELECT r.rolname AS name, shobj_description(r.oid, 'pg_authid') AS comment
     FROM pg_roles r
     WHERE r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolreplication AND r.rolname NOT LIKE 'pg\\_%'
       AND NOT (r.rolname = ANY($1::text[])) AND ($2::text IS NULL OR r.rolname = $2)
       AND NOT EXISTS (SELECT 1 FROM pg_roles n WHERE n.rolname = 'neon_superuser' AND pg_has_role(r.oid, n.oid, 'MEMBER'))
       AND (NOT r.rolcreaterole OR EXISTS (
             SELECT 1 FROM pg_auth_members m JOIN pg_roles c ON c.oid = m.member
             WHERE m.roleid = r.oid AND c.rolname = current_user AND m.admin_option))
       AND has_database_privilege(r.oid, current_database(), 'CONNECT')
     ORDER BY r.rolname`,
    [opts.neon_names, opts.only ?? null],
    'listing the login roles made with SQL',
  );
  const roles: SqlLoginRole[] = [];
  for (const row of rows.slice(0, opts.limit)) {
    const marked = row.comment?.startsWith(`${MADE_BY} `) ? row.comment.slice(MADE_BY.length + 1) : undefined;
    if (marked === 'read_only' || marked === 'read_write') {
      roles.push({ name: row.name, access: marked, made_by_neon_mcp: true });
      continue;
    }
    const why = await whyRoleCanWrite(s, row.name);
    roles.push({
      name: row.name,
      made_by_neon_mcp: false,
      ...(why ? { access: 'writes', why } : { access: 'read_only' }),
    });
  }
  return { roles, more: Math.max(0, rows.length - opts.limit) };
}

/**
 * Gives `role` a new password with SQL, as the session's role (which must have made it, or may
 * change it): one transaction, the password kept out of every statement text (setPassword).
 */
export async function resetPasswordWithSql(s: Session, role: string, password: string): Promise<void> {
  const what = `setting a new password for role ${role}`;
  const exec = (sql: string, params?: unknown[]) => s.exec(sql, params, what);
  await exec('BEGIN');
  try {
    await setPassword(exec, 'ALTER ROLE %I PASSWORD %L', role, password);
    await s.commit(what);
  } catch (e) {
    await s.exec('ROLLBACK', undefined, 'rolling back').catch(() => undefined);
    throw withoutPassword(e, password);
  }
}

/** How clearRole undid what a role holds in one database. */
export type Cleared = 'reassigned' | 'revoked';

/**
 * Undoes what `role` holds in the session's database, as its owner, so that DROP ROLE can follow: its
 * objects go to the session's role and its privileges and default privileges are revoked. With
 * REASSIGN OWNED and DROP OWNED where the session's role may act for `role` (a member of it, or able to
 * become one through the ADMIN OPTION PostgreSQL 16 gives a role's creator, the membership taken back
 * in the same transaction); otherwise a REVOKE for each grant pg_shdepend records, which the grantor
 * (the session's role) can undo, and a refusal naming what `role` owns. One transaction.
 */
export async function clearRole(s: Session, role: string): Promise<Cleared> {
  const what = `removing the grants of role ${role}`;
  const exec = (sql: string, params?: unknown[]) => s.exec(sql, params, what);
  const name = s.client.escapeIdentifier(role);
  await exec('BEGIN');
  try {
    const owns = await exec(
      `SELECT ${INTERNAL_MARK} string_agg(datname, ', ') AS dbs FROM pg_database WHERE datdba = $1::regrole`,
      [role],
    );
    if (owns.rows[0]?.dbs) {
      throw new InvalidArgumentError(
        `Role ${role} owns database ${owns.rows[0].dbs}: give the database another owner (update_database) or delete it first.`,
      );
    }
    await exec('SAVEPOINT neon_mcp_clear');
    try {
      const member = await exec(`SELECT ${INTERNAL_MARK} pg_has_role(current_user, $1, 'USAGE') AS m`, [
        role,
      ]);
      if (!member.rows[0]?.m) await exec(`GRANT ${name} TO CURRENT_USER`);
      await exec(`REASSIGN OWNED BY ${name} TO CURRENT_USER`);
      await exec(`DROP OWNED BY ${name}`);
      if (!member.rows[0]?.m) await exec(`REVOKE ${name} FROM CURRENT_USER`);
      await exec('RELEASE SAVEPOINT neon_mcp_clear');
      await s.commit(what);
      return 'reassigned';
    } catch (e) {
      if (!(e instanceof SqlError) || e.code !== '42501') throw e;
      await exec('ROLLBACK TO SAVEPOINT neon_mcp_clear');
    }
    await revokeEach(role, exec);
    await s.commit(what);
    return 'revoked';
  } catch (e) {
    await s.exec('ROLLBACK', undefined, 'rolling back').catch(() => undefined);
    throw e;
  }
}

/**
 * One REVOKE for each privilege pg_shdepend records for `role` in this database and on shared objects
 * (the database itself): on relations, schemas, routines, types, databases and default privileges.
 * What it owns, or a grant of a kind not handled here, is named in the error.
 */
async function revokeEach(role: string, exec: Exec) {
  const { rows } = await exec(
    `SELECT ${INTERNAL_MARK} d.deptype, CASE d.classid
       WHEN 'pg_class'::regclass THEN format('REVOKE ALL ON %s %s FROM %I',
         CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, d.objid::regclass, $1::text)
       WHEN 'pg_namespace'::regclass THEN format('REVOKE ALL ON SCHEMA %I FROM %I', n.nspname, $1::text)
       WHEN 'pg_proc'::regclass THEN format('REVOKE ALL ON ROUTINE %s FROM %I', d.objid::regprocedure, $1::text)
       WHEN 'pg_type'::regclass THEN format('REVOKE ALL ON TYPE %s FROM %I', d.objid::regtype, $1::text)
       WHEN 'pg_database'::regclass THEN format('REVOKE ALL ON DATABASE %I FROM %I', db.datname, $1::text)
       WHEN 'pg_default_acl'::regclass THEN format('ALTER DEFAULT PRIVILEGES FOR ROLE %I%s REVOKE ALL ON %s FROM %I',
         pg_get_userbyid(a.defaclrole),
         CASE WHEN a.defaclnamespace = 0 THEN '' ELSE format(' IN SCHEMA %I', a.defaclnamespace::regnamespace) END,
         CASE a.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS'
           WHEN 'T' THEN 'TYPES' WHEN 'n' THEN 'SCHEMAS' END, $1::text)
     END AS statement, pg_describe_object(d.classid, d.objid, 0) AS object
     FROM pg_shdepend d
     LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
     LEFT JOIN pg_namespace n ON d.classid = 'pg_namespace'::regclass AND n.oid = d.objid
     LEFT JOIN pg_database db ON d.classid = 'pg_database'::regclass AND db.oid = d.objid
     LEFT JOIN pg_default_acl a ON d.classid = 'pg_default_acl'::regclass AND a.oid = d.objid
     WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = $1::regrole AND d.objsubid = 0
       AND d.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
       AND (d.classid <> 'pg_database'::regclass OR db.datname = current_database())`,
    [role],
  );
  const left = rows.filter((r) => r.deptype !== 'a' || !r.statement).map((r) => String(r.object));
  if (left.length) {
    throw new InvalidArgumentError(
      `Role ${role} owns or holds what its grantor cannot take back here (${left.join(', ')}), and the ` +
        'database owner may not act for it (REASSIGN OWNED). Give those objects another owner first.',
    );
  }
  for (const r of rows) await exec(String(r.statement));
}

/** DROP ROLE, as the session's role (one that may: the role's creator, with its ADMIN OPTION). */
export async function dropRoleWithSql(s: Session, role: string): Promise<void> {
  await s.exec(`DROP ROLE ${s.client.escapeIdentifier(role)}`, undefined, `dropping role ${role}`);
}
