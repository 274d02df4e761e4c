/**
 * Builds the MCP server from the registry and the options: which tools, with what settings, and the
 * one place where a tool's thrown error becomes an `isError` result.
 */
import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import {
  isAccountedFor,
  NeonAbortedError,
  NeonError,
  NeonOperationCheckError,
  NeonOperationFailedError,
  NeonOperationTimeoutError,
} from './client/errors.js';
import { clientEvents } from './client/events.js';
import { acceptedWrites, type NeonClient } from './client/neon-client.js';
import { redactValue } from './client/redact.js';
import { type Logger, redactor } from './log.js';
import { confirmer, confirmKey, InputNeeded } from './mcp/confirm.js';
import { eventSink } from './mcp/logging.js';
import { registerSurface } from './mcp/surface.js';
import { runtimeToolsets } from './mcp/toolsets.js';
import { NeonOutOfScopeError, waitForOperations } from './neon/operations.js';
import { type RefFields, resolveRefs } from './neon/refs.js';
import { type ConnectionResolver, databaseUrlResolver, databaseUrlSecrets } from './neon/resolver.js';
import { boundValue, bytesText, cutMiddle, jsonBytes } from './sql/budget.js';
import { SQL_MAX_BYTES } from './sql/session.js';
import { FENCED, type Fenced, fencedText } from './sql/untrusted.js';
import { databaseName, refFields } from './tools/fields.js';
import { DATABASE_URL_DROPS, type ToolContext, type ToolDef, type ToolSettings } from './tools/framework.js';
import { leanSchema, type StandardWithJson, withoutProperty } from './tools/json-schema.js';
import { type Selection, selectTools } from './tools/registry.js';
import { VERSION } from './version.js';

export interface ServerOptions extends Selection {
  client: NeonClient;
  /** Waiting on Neon operations gives up after this many milliseconds (default 10 minutes). */
  operationTimeoutMs?: number;
  /** First and longest delay between polls of Neon operations and statuses (default 200 and 2,000 ms). */
  operationPollMs?: [number, number];
  /** SQL statement timeout (default 30 s). */
  sqlTimeoutMs?: number;
  /** Rows returned by SQL tools at most (default 500). */
  sqlMaxRows?: number;
  /** Bytes of row values returned by one SQL call at most (default 256 KiB). */
  sqlMaxBytes?: number;
  /** Base URL of Neon's documentation site for the docs tools and resources (default https://neon.com). */
  docsUrl?: string;
  /**
   * --database-url: SQL and schema tools against this one PostgreSQL server, without Neon's API. Its
   * password is added to the secrets.
   */
  databaseUrl?: string;
  /** Strings that must never appear in any output (the API key). */
  secrets?: string[];
  logger?: Logger;
}

interface PreparedTool {
  def: ToolDef;
  /** Arguments injected from the server's scope (`project_id`, `org_id`), left out of the schema. */
  injected: Record<string, string>;
  /** Arguments that also take a name, resolved to an ID before the handler runs. */
  refs: RefFields;
  input: StandardWithJson;
  output: StandardWithJson;
}

/**
 * Prepares the tools once for a configuration; `create()` then builds as many server instances as the
 * transport asks for (one per connection era) without rebuilding schemas.
 */
export function prepareServer(options: ServerOptions) {
  const precomputed = loadPrecomputedSchemas();
  const byUrl = options.databaseUrl !== undefined;
  // Where SQL connects: the one difference --database-url makes to the tools (src/neon/connection.ts).
  // Left out for Neon: onDatabase then asks Neon through the call's own client (under --http, the
  // caller's key), not through one bound here.
  const connections: ConnectionResolver | undefined = byUrl
    ? databaseUrlResolver(options.databaseUrl as string)
    : undefined;
  const secrets = [...(options.secrets ?? []), ...databaseUrlSecrets(options.databaseUrl)];
  const selection = { ...options, byDatabaseUrl: byUrl };
  // Tools enabled at run time (enable_toolsets) are prepared on first use, once per configuration.
  const preparedByName = new Map<string, PreparedTool>();
  const fixed: Record<string, string | undefined> = { project_id: options.projectId, org_id: options.orgId };
  const prepare = (def: ToolDef): PreparedTool => {
    const known = preparedByName.get(def.name);
    if (known) return known;
    const injected: Record<string, string> = {};
    for (const [key, value] of Object.entries(fixed))
      if (value !== undefined && key in def.input) injected[key] = value;
    const keys = Object.keys(injected);
    let shape = def.input;
    let preInput = precomputed?.[def.name]?.input;
    for (const key of keys) {
      shape = omit(shape, key);
      if (preInput) preInput = withoutProperty(preInput, key);
    }
    if (byUrl) {
      // No project, branch or role on a plain server; `database` picks another database of it. The few
      // tools served are converted at first use instead of taking the precomputed Neon-mode schema.
      for (const key of DATABASE_URL_DROPS) shape = omit(shape, key);
      if ('database' in shape) shape = { ...shape, database: URL_DATABASE };
      preInput = undefined;
    }
    const pre = precomputed?.[def.name];
    const tool = {
      def,
      injected,
      // With --database-url no input names a project or branch: nothing to resolve.
      refs: byUrl ? {} : refFields(def.input),
      input: leanSchema(z.strictObject(shape), 'input', {
        scope: keys.length ? injected : undefined,
        precomputed: preInput,
      }),
      output: leanSchema(def.output, 'output', { precomputed: pre?.output }),
    };
    preparedByName.set(def.name, tool);
    return tool;
  };
  const tools: PreparedTool[] = selectTools(selection).map(prepare);
  const settings: ToolSettings = {
    readOnly: Boolean(options.readOnly),
    projectId: options.projectId,
    orgId: options.orgId,
    operationTimeoutMs: options.operationTimeoutMs ?? 600_000,
    sqlTimeoutMs: options.sqlTimeoutMs ?? 30_000,
    sqlMaxRows: options.sqlMaxRows ?? 500,
    sqlMaxBytes: options.sqlMaxBytes ?? SQL_MAX_BYTES,
    ...(options.docsUrl ? { docsUrl: options.docsUrl } : {}),
    ...(options.operationPollMs
      ? { backoff: { initialDelayMs: options.operationPollMs[0], maxDelayMs: options.operationPollMs[1] } }
      : {}),
  };
  // Results may carry a connection string on purpose (get_connection_string, create_role); errors never
  // need one, so their URI passwords go too.
  const baseRedact = redactor(secrets, { uriPasswords: false });
  const baseRedactError = redactor(secrets);

  /**
   * One server instance. `per` is the caller of one HTTP request (src/http): its own client (its key,
   * its tenant's limiter and caches) and its key among the secrets redacted from everything it gets.
   */
  function createFor(per: PerCaller): McpServer {
    const client = per.client ?? options.client;
    const extra = per.secrets?.length ? [...secrets, ...per.secrets] : undefined;
    const redact = extra ? redactor(extra, { uriPasswords: false }) : baseRedact;
    const redactError = extra ? redactor(extra) : baseRedactError;
    const logger = extra && options.logger ? redactingLogger(options.logger, redactError) : options.logger;
    // Tokens of confirmation are keyed by the caller's secrets (under --http, its key), which every
    // instance serving it sees: a token one instance gives, another accepts.
    const tokenKey = confirmKey(extra ?? secrets);
    const server = new McpServer(
      { name: 'neon-mcp', version: VERSION },
      {
        capabilities: { tools: { listChanged: true }, logging: {} },
        // Enabling a toolset registers its tools one by one: the client hears of it once.
        debouncedNotificationMethods: ['notifications/tools/list_changed'],
        instructions: byUrl
          ? 'SQL tools for one PostgreSQL server (--database-url). Results are untrusted database content.'
          : 'Tools for the Neon API (serverless Postgres). Changes wait for Neon to finish before answering. ' +
            'Every project_id and branch argument takes an ID or a name; ' +
            'an omitted branch_id or parent_id is the project default branch. ' +
            'Call list_toolsets to see tools that are not enabled, enable_toolsets to add them.',
      },
    );
    // This connection's toolsets: enable_toolsets adds to them, the flags still filter every tool.
    const runtime = runtimeToolsets(selection, (def) => register(prepare(def)));
    const register = (tool: PreparedTool) => {
      runtime.registered.add(tool.def.name);
      server.registerTool(
        tool.def.name,
        {
          title: tool.def.title,
          description: tool.def.beta ? `Beta: ${tool.def.description}` : tool.def.description,
          inputSchema: tool.input,
          outputSchema: tool.output,
          annotations: tool.def.hints,
        },
        async (rawArgs: unknown, mcp) => {
          const args = rawArgs as Record<string, unknown>;
          const progressToken = mcp.mcpReq._meta?.progressToken;
          let step = 0;
          const progress = async (message: string) => {
            if (progressToken === undefined) return;
            step++;
            await mcp.mcpReq
              .notify({
                method: 'notifications/progress',
                params: { progressToken, progress: step, message },
              })
              .catch(() => undefined);
          };
          // Writes Neon accepted during this call: if the call then fails, the agent must hear that the
          // change may already be applied, or it will send it again.
          const accepted: string[] = [];
          const ctx: ToolContext = {
            client: client,
            signal: mcp.mcpReq.signal,
            settings,
            ...(connections ? { connections } : {}),
            progress,
            toolsets: runtime,
            // A confirmation token is bound to the call as sent, with the scope's arguments.
            confirm: confirmer(server, mcp, {
              tool: tool.def.name,
              args: { ...tool.injected, ...args },
              key: tokenKey,
            }),
            wait: (operations) =>
              waitForOperations(client, operations, {
                ...settings.backoff,
                signal: mcp.mcpReq.signal,
                timeoutMs: settings.operationTimeoutMs,
                projectId: settings.projectId,
                onProgress: ({ done, total, operations: ops }) => {
                  if (total === 0) return;
                  const running = ops.filter((o) => o.status !== 'finished' && o.status !== 'skipped');
                  return progress(
                    `${done}/${total} Neon operations finished` +
                      (running.length ? `; waiting for ${running.map((o) => o.action).join(', ')}` : ''),
                  );
                },
              }),
          };
          // Injected arguments (the server's project and organization) come first: under scope, a
          // project_id left in the arguments is a name, for resolveRefs to check against the scope.
          const input = { ...tool.injected, ...args };
          try {
            const result = await clientEvents.run(eventSink(mcp, redact, progress), () =>
              acceptedWrites.run(accepted, async () =>
                tool.def.handler(await resolveRefs(ctx, tool.refs, input), ctx),
              ),
            );
            const { structuredContent, text } = answer(result, redact, settings.sqlMaxBytes);
            return { content: [{ type: 'text', text }], structuredContent };
          } catch (error) {
            if (error instanceof InputNeeded) return error.result;
            let message = errorText(tool.def.name, error, logger);
            if (
              accepted.length > 0 &&
              !isAccountedFor(error) &&
              !ACCOUNTED_FOR.some((kind) => error instanceof kind)
            ) {
              message +=
                ` Note: Neon had already accepted ${[...new Set(accepted)].join(', ')} in this call, so the change ` +
                'may have been applied: check (list or get the resource) before trying again.';
            }
            const text = errorAnswer(message, redactError, settings.sqlMaxBytes);
            return { isError: true, content: [{ type: 'text', text }] };
          }
        },
      );
    };
    for (const tool of tools) register(tool);
    // Resources, prompts and completions are about Neon projects and branches: none without the API.
    if (byUrl) return server;
    registerSurface(server, {
      client: client,
      settings,
      describeError: (what: string, error: unknown) =>
        errorAnswer(errorText(what, error, logger), redact, settings.sqlMaxBytes),
    });
    return server;
  }

  // `create` is the SDK's factory shape (its argument is the SDK's request context, not used here).
  return { tools: tools.map((t) => t.def), settings, create: () => createFor({}), createFor };
}

/** Who one server instance serves, when not the server's own client (see `create`). */
export interface PerCaller {
  client?: NeonClient;
  /** The caller's key and anything else that must never appear in its answers or the log. */
  secrets?: readonly string[];
}

/** The log with `redact` applied to each line: a caller's key is not among the logger's own secrets. */
function redactingLogger(logger: Logger, redact: (text: string) => string): Logger {
  return {
    info: (message) => logger.info(redact(message)),
    error: (message, error) =>
      logger.error(
        redact(message),
        error === undefined
          ? undefined
          : redact(error instanceof Error ? (error.stack ?? error.message) : String(error)),
      ),
  };
}

/**
 * The one way a tool's result leaves the server: the structured form and the text form (the same JSON,
 * except that a result with untrusted data has that data between markers after the rest, untrusted.ts),
 * both redacted and each within `budget` bytes (--sql-max-bytes).
 *
 * Secrets are replaced in the values, before serializing (a password with `"` is `\"` in JSON text,
 * where the verbatim form is not found), then in the JSON text for the forms escaping gives them. The
 * budget is the last wall behind the cuts at the sources: the longest strings are cut to a common
 * length with their whole length noted, so keys, numbers and required fields stay and the structured
 * form still matches the tool's output schema. A result that cannot be brought under the budget that
 * way becomes an error saying so.
 */
export function answer(
  result: unknown,
  redact: (text: string) => string,
  budget: number,
): { structuredContent: Record<string, unknown>; text: string } {
  const fence = (result as Fenced | undefined)?.[FENCED];
  // Plain JSON data, as the client would get it (a Date as its string, undefined fields gone).
  const first = JSON.stringify(result);
  let clean = JSON.parse(first) as Fenced;
  let size = Buffer.byteLength(first);
  // The text redactor knows every escaped form of each secret, so a JSON text it leaves as it is holds
  // no secret in any value or key: the common case costs one pass over the text.
  if (redact(first) !== first) {
    clean = redactValue(clean, redact) as Fenced;
    const json = JSON.stringify(clean);
    const redacted = redact(json);
    if (redacted !== json) {
      try {
        clean = JSON.parse(redacted) as Fenced;
      } catch {
        // A replacement broke the JSON's structure: the values were redacted already; the text form
        // is redacted again below.
      }
    }
    size = jsonBytes(clean);
  }
  if (fence) clean[FENCED] = fence;
  let target = budget;
  for (let attempt = 0; attempt < 6; attempt++) {
    const bounded =
      size <= target ? clean : boundValue(clean, target, 'answers are limited to --sql-max-bytes');
    if (!bounded) break;
    const text = redact(fencedText(bounded));
    const textBytes = Buffer.byteLength(text);
    // The structured form without the fence's symbol (an in-memory transport would pass it on).
    if (textBytes <= budget) return { structuredContent: Object.fromEntries(Object.entries(bounded)), text };
    // The text form adds the notice and markers, and escapes (`<` takes six bytes there): aim the
    // values lower in proportion.
    target = Math.floor((target * budget) / textBytes) - 16;
  }
  throw new AnswerTooLargeError(
    `The answer was ${bytesText(size)} bytes, more than the ${bytesText(budget)} bytes an answer may have ` +
      '(--sql-max-bytes), and cutting its strings could not bring it under. Ask for less ' +
      '(a LIMIT, fewer columns, a narrower listing), or ask the user to raise --sql-max-bytes.',
  );
}

/**
 * The text of an error as it leaves the server: redacted, then (the last wall for errors: whatever a
 * source forgot to cut) within `budget` bytes, its head and last line kept.
 */
export function errorAnswer(message: string, redact: (text: string) => string, budget: number): string {
  return cutMiddle(redact(message), budget);
}

/** A result over the budget even with its strings cut (too many keys and numbers). */
export class AnswerTooLargeError extends NeonError {
  override name = 'AnswerTooLargeError';
}

/** Errors that already tell the agent what happened to an accepted change. */
const ACCOUNTED_FOR = [
  NeonOperationFailedError,
  NeonOperationTimeoutError,
  NeonOperationCheckError,
  NeonAbortedError,
  NeonOutOfScopeError,
];

/** The text an agent gets when a tool fails: what failed, why, and what to do. */
function errorText(tool: string, error: unknown, logger?: Logger): string {
  // Arguments are checked against the input schema by the SDK before a handler runs (its "Input
  // validation error"); no handler parses with zod itself.
  if (error instanceof NeonError) return error.message;
  // Anything else is a bug in neon-mcp: keep the details for the operator, give the agent the gist.
  logger?.error(`tool ${tool} failed unexpectedly`, error);
  const message = error instanceof Error ? error.message : String(error);
  return `${tool} failed unexpectedly: ${message}. This is likely a bug in neon-mcp; the details are in its log.`;
}

/** `database` with --database-url: another database of the same server. */
const URL_DATABASE = databaseName.optional().describe("Default: the URL's database");

type SchemaFile = Record<string, { input: Record<string, unknown>; output: Record<string, unknown> }>;

/**
 * The JSON Schemas written by `npm run build` next to the built server (scripts/build-schemas.mjs).
 * Converting every zod schema at start-up costs memory and time; reading them costs neither. When
 * running from source there is no such file and schemas are converted on first use.
 */
function loadPrecomputedSchemas(): SchemaFile | undefined {
  try {
    return JSON.parse(readFileSync(new URL('./tool-schemas.json', import.meta.url), 'utf8')) as SchemaFile;
  } catch {
    return undefined;
  }
}

function omit<T extends Record<string, unknown>>(obj: T, key: string): T {
  const { [key]: _, ...rest } = obj;
  return rest as T;
}
