/**
 * Confirming an irreversible call as a client without forms does (src/mcp/confirm.ts): the first call
 * is refused with a one-time token, the same call again with that token goes through.
 */
import { expect } from 'vitest';

interface Caller {
  fails(name: string, args?: Record<string, unknown>): Promise<string>;
  ok<T = any>(name: string, args?: Record<string, unknown>): Promise<T>;
}

/** The token a refusal hands out (its `confirm: "…"`). */
export function tokenFrom(refusal: string): string {
  const token = /confirm: "(nmc1\.[^"]+)"/.exec(refusal)?.[1];
  expect(token, `no confirmation token in: ${refusal}`).toBeDefined();
  return token as string;
}

/** Calls `name` unconfirmed (it must be refused) and returns the token of its refusal. */
export async function confirmToken(
  conn: Caller,
  name: string,
  args: Record<string, unknown>,
): Promise<string> {
  return tokenFrom(await conn.fails(name, args));
}

/** Calls `name` as confirmed: refused first, then again with the refusal's token; returns the answer. */
export async function confirmed<T = any>(
  conn: Caller,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  return conn.ok<T>(name, { ...args, confirm: await confirmToken(conn, name, args) });
}

/** `args` with the `confirm` token of their own refusal (the call without it is made, and refused, first). */
export async function withToken(
  conn: Caller,
  name: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  return { ...args, confirm: await confirmToken(conn, name, args) };
}
