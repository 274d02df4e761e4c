/**
 * SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677) in PostgreSQL's format, made here so that a role's
 * password never travels in statement text: `CREATE ROLE … PASSWORD` takes no bound parameter, and its
 * text is what pg_stat_activity, pg_stat_statements and the server's log (log_statement) show. Given a
 * verifier, PostgreSQL stores it as it is, as psql's `\password` relies on (libpq's
 * PQencryptPasswordConn). No maintained npm package makes verifiers (the SCRAM packages there are
 * SASL clients), so this is node:crypto, step by step as PostgreSQL's scram_build_secret.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's default (scram_iterations). */
const ITERATIONS = 4096;

/**
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. PostgreSQL runs the password through
 * SASLprep first, which leaves ASCII text as it is (the passwords local mode makes are ASCII); other
 * text is given NFKC normalisation, SASLprep's main step.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is the range SASLprep leaves alone
  const prepared = /^[\x00-\x7f]*$/.test(password) ? password : password.normalize('NFKC');
  const salted = pbkdf2Sync(prepared, salt, ITERATIONS, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${ITERATIONS}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}
