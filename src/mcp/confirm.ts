/**
 * Confirmation of irreversible calls (docs/SECURITY.md, "Confirmation of irreversible calls").
 *
 * A client that can show a form is always asked, and the `confirm` argument is ignored: the person's
 * answer is the only thing that confirms, and a declined form is final for that call. On the
 * 2026-07-28 revision a tool asks by returning an input-required result; the client asks the person and
 * calls again with the answer, so the handler runs twice and meets the answer the second time (the SDK's
 * legacy shim does the same over a 2025-era connection with an `elicitation/create` request).
 *
 * A client that cannot show a form gets a refusal carrying a one-time token bound to the tool, its
 * arguments and a 10-minute expiry; only that token, passed back in `confirm` with the same arguments,
 * confirms, once. The token is an HMAC under a key derived from the caller's secrets (under --http the
 * caller's API key, which every instance behind a load balancer sees, so any instance accepts it), or
 * from a random key per process when there is none. Its single use is remembered by the process that
 * accepted it: another instance would accept it once more until it expires. It stops mistakes (an agent
 * that never asked), not an agent set on confirming: that agent can read the token as well as anyone.
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { NeonError } from '../client/errors.js';
import { type Confirmation, ConfirmationRequiredError, confirmationNeeded } from '../tools/framework.js';

const KEY = 'confirm';
const WHY = { accept: 'not ticked', decline: 'declined', cancel: 'cancelled' } as const;

/** Thrown inside a handler to end it with an input-required result (caught by the server). */
export class InputNeeded extends Error {
  constructor(readonly result: InputRequiredResult) {
    super('input required');
  }
}

/** The client capabilities that hold for this request, in either era. */
function capabilities(server: McpServer, mcp: ServerContext): ClientCapabilities | undefined {
  const envelope = mcp.mcpReq.envelope as Record<string, unknown> | undefined;
  return (
    (envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ??
    server.server.getClientCapabilities()
  );
}

/** Form-mode elicitation: declared as `elicitation.form`, or as a bare `elicitation: {}` (its old form). */
function canElicit(server: McpServer, mcp: ServerContext): boolean {
  const elicitation = capabilities(server, mcp)?.elicitation as Record<string, unknown> | undefined;
  if (!elicitation) return false;
  return 'form' in elicitation || Object.keys(elicitation).length === 0;
}

/** The call a token is bound to: the tool, its arguments as sent (without `confirm`), the caller's key. */
export interface ConfirmCall {
  tool: string;
  args: Record<string, unknown>;
  /** From {@link confirmKey}; never shown, never logged. */
  key: Buffer;
}

/** How long a token confirms. Long enough to ask a person, short enough that a stray one goes stale. */
export const TOKEN_TTL_MS = 10 * 60_000;
/** Tokens spent and not yet expired that one process remembers; past this it refuses (fails closed). */
const SPENT_MAX = 10_000;
const PREFIX = 'nmc1';
// A key for callers who bring no secret (stdio with --database-url and no password, tests): it dies
// with the process, and so do its tokens.
const PROCESS_KEY = randomBytes(32);
// Nonces of tokens accepted by this process, with their expiry: one use each, across every server
// instance and configuration this process serves (the same caller may reach several).
const spent = new Map<string, number>();

/**
 * The key tokens are made with: derived (HKDF) from the caller's secrets, so that every instance that
 * serves the caller derives the same key without sharing state, and a token of one caller is worth
 * nothing to another; the per-process key when there are none.
 */
export function confirmKey(secrets: readonly string[]): Buffer {
  if (secrets.length === 0) return PROCESS_KEY;
  return Buffer.from(hkdfSync('sha256', secrets.join('\0'), 'neon-mcp', 'confirmation token v1', 32));
}

/** JSON with object keys sorted: the same arguments give the same text whatever their order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

function mac(call: ConfirmCall, expires: string, nonce: string): Buffer {
  const { confirm: _, ...args } = call.args;
  const argsHash = createHash('sha256').update(canonical(args)).digest('hex');
  return createHmac('sha256', call.key)
    .update(`${call.tool}\n${argsHash}\n${expires}\n${nonce}`)
    .digest()
    .subarray(0, 18);
}

/** A one-time token for this call, valid for {@link TOKEN_TTL_MS}. */
export function issueToken(call: ConfirmCall, now = Date.now()): string {
  const expires = (now + TOKEN_TTL_MS).toString(36);
  const nonce = randomBytes(12).toString('base64url');
  return `${PREFIX}.${expires}.${nonce}.${mac(call, expires, nonce).toString('base64url')}`;
}

/**
 * Spends `token` on this call: undefined when it confirms (and it is then spent), otherwise why not.
 * The reasons name no secret: a token is refused as a whole, never by how far it matched.
 */
export function spendToken(token: string, call: ConfirmCall, now = Date.now()): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== PREFIX)
    return 'it is not a confirmation token (a name or other text no longer confirms)';
  const [, expires, nonce, given] = parts as [string, string, string, string];
  const expected = mac(call, expires, nonce);
  const got = Buffer.from(given, 'base64url');
  if (got.length !== expected.length || !timingSafeEqual(got, expected))
    return 'it was not issued for this tool with these arguments (or not by this server for this caller)';
  if (!(Number.parseInt(expires, 36) > now)) return 'it has expired';
  for (const [n, exp] of spent) if (exp <= now) spent.delete(n);
  if (spent.has(nonce)) return 'it was already used';
  if (spent.size >= SPENT_MAX) return 'too many confirmations are pending on this server; try again shortly';
  spent.set(nonce, Number.parseInt(expires, 36));
  return undefined;
}

/**
 * The `confirm` member of a tool's context for one call: `call` is what a token must be bound to. With
 * a client that can show a form, the `confirm` argument is ignored and the person is asked.
 */
export function confirmer(server: McpServer, mcp: ServerContext, call: ConfirmCall) {
  return async (request: Confirmation, given: string | undefined): Promise<void> => {
    const answer = inputResponse(mcp.mcpReq.inputResponses, KEY);
    if (answer.kind === 'elicit') {
      if (answer.action === 'accept' && answer.content?.[KEY] === true) return;
      throw new NeonError(
        `The user did not confirm: ${request.action} was ${WHY[answer.action]}. Nothing was changed.`,
      );
    }
    if (!canElicit(server, mcp)) {
      if (given === undefined) throw confirmationNeeded(request, issueToken(call));
      const why = spendToken(given, call);
      if (why === undefined) return;
      throw new ConfirmationRequiredError(
        `confirm was not accepted: ${why}. ${confirmationNeeded(request, issueToken(call)).message}`,
      );
    }
    throw new InputNeeded(
      inputRequired({
        inputRequests: {
          [KEY]: inputRequired.elicit({
            message: `${request.action}? ${request.loses.charAt(0).toUpperCase()}${request.loses.slice(1)}.`,
            requestedSchema: {
              type: 'object',
              properties: {
                [KEY]: {
                  type: 'boolean',
                  title: `Yes, ${request.action.charAt(0).toLowerCase()}${request.action.slice(1)}`,
                  description: `What is lost: ${request.loses}.`,
                },
              },
              required: [KEY],
            },
          }),
        },
      }),
    );
  };
}
