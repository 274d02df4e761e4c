/**
 * scram.ts's verifiers are PostgreSQL's own: for a password and a salt, the verifier made here is the
 * one PostgreSQL stores for `CREATE ROLE … PASSWORD 'text'` (read back from pg_authid with its salt),
 * for ASCII text and for text that SASLprep's NFKC step changes; and a role given the verifier logs
 * in with the password and not with another. Direct calls in each test, so that mutation testing can
 * switch every line (local-guard): the local-mode tests reach scram.ts only from their beforeAll.
 */

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramVerifier } from '../src/local/scram.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

/** The verifier PostgreSQL made for `password` on a role of its own. */
async function postgresVerifier(role: string, password: string): Promise<string> {
  await server.query('postgres', `DROP ROLE IF EXISTS ${role}`);
  await server.query(
    'postgres',
    `SET password_encryption = 'scram-sha-256'; CREATE ROLE ${role} LOGIN PASSWORD '${password.replace(/'/g, "''")}'`,
  );
  const [row] = await server.query<{ v: string }>(
    'postgres',
    'SELECT rolpassword AS v FROM pg_authid WHERE rolname = $1',
    [role],
  );
  return row.v;
}

/** 'ok', or the SQLSTATE of the failure to log in. */
async function login(uri: string): Promise<string> {
  const c = new pg.Client({ connectionString: uri });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('scramVerifier', () => {
  it.each([
    ['ascii', 'npg_Ab3xQ9zKpL0wYtRe'],
    // NFKC changes these (Roman numeral nine → "IX", the "fi" ligature → "fi"): PostgreSQL's SASLprep does too.
    ['nfkc', 'Ⅸ-ﬁle'],
    ['only-non-ascii', 'Ⅸ'],
  ])('makes the verifier PostgreSQL makes (%s)', async (name, password) => {
    const theirs = await postgresVerifier(`scram_${name.replace(/-/g, '_')}`, password);
    const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(theirs) ?? [];
    expect(iterations).toBe('4096');
    expect(scramVerifier(password, Buffer.from(salt, 'base64'))).toBe(theirs);
  });

  it('a role given the verifier logs in with the password only, and the salt is fresh each time', async () => {
    const password = 'npg_verifier_login_test';
    const verifier = scramVerifier(password);
    expect(verifier).not.toBe(scramVerifier(password));
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    await server.query('postgres', `CREATE ROLE scram_login LOGIN PASSWORD '${verifier}'`);
    const uri = (pw: string) =>
      server.uri('postgres').replace(/\/\/[^@]+@/, `//scram_login:${encodeURIComponent(pw)}@`);
    expect(await login(uri(password))).toBe('ok');
    expect(await login(uri('npg_wrong'))).toBe('28P01');
  });
});
