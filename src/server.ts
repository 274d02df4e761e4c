/**
 * Builds the MCP server from the registry and the options: which tools, with what settings, and the
 * one place where a tool's thrown error becomes an `isError` result.
 */
import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import {
  NeonAbortedError,
  NeonError,
  NeonOperationCheckError,
  NeonOperationFailedError,
  NeonOperationTimeoutError,
} from './client/errors.js';
import { acceptedWrites, type NeonClient } from './client/neon-client.js';
import { type Logger, redactor } from './log.js';
import { waitForOperations } from './neon/operations.js';
import { type RefFields, resolveRefs } from './neon/refs.js';
import { refFields } from './tools/fields.js';
import type { ToolContext, ToolDef, ToolSettings } from './tools/framework.js';
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
  /** Strings that must never appear in any output (the API key). */
  secrets?: string[];
  logger?: Logger;
}

interface PreparedTool {
  def: ToolDef;
  /** `project_id` is injected from the server's scope. */
  scoped: boolean;
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
  const tools: PreparedTool[] = selectTools(options).map((def) => {
    const scoped = options.projectId !== undefined && 'project_id' in def.input;
    const shape = scoped ? omit(def.input, 'project_id') : def.input;
    const pre = precomputed?.[def.name];
    return {
      def,
      scoped,
      refs: refFields(def.input),
      input: leanSchema(z.strictObject(shape), 'input', {
        scope: scoped ? options.projectId : undefined,
        precomputed: pre && (scoped ? withoutProperty(pre.input, 'project_id') : pre.input),
      }),
      output: leanSchema(def.output, 'output', { precomputed: pre?.output }),
    };
  });
  const settings: ToolSettings = {
    readOnly: Boolean(options.readOnly),
    projectId: options.projectId,
    operationTimeoutMs: options.operationTimeoutMs ?? 600_000,
    sqlTimeoutMs: options.sqlTimeoutMs ?? 30_000,
    sqlMaxRows: options.sqlMaxRows ?? 500,
    ...(options.operationPollMs
      ? { backoff: { initialDelayMs: options.operationPollMs[0], maxDelayMs: options.operationPollMs[1] } }
      : {}),
  };
  const redact = redactor(options.secrets ?? []);

  function create(): McpServer {
    const server = new McpServer(
      { name: 'neon-mcp', version: VERSION },
      {
        capabilities: { tools: {} },
        instructions:
          'Tools for the Neon API (serverless Postgres). Changes wait for Neon to finish before answering. ' +
          'Every project_id and branch argument takes an ID or a name. ' +
          'Call list_toolsets to see tools that are not enabled.',
      },
    );
    for (const tool of tools) {
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
            client: options.client,
            signal: mcp.mcpReq.signal,
            settings,
            progress,
            wait: (operations) =>
              waitForOperations(options.client, operations, {
                ...settings.backoff,
                signal: mcp.mcpReq.signal,
                timeoutMs: settings.operationTimeoutMs,
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
          // Under scope, a project_id left in the arguments is a name, for resolveRefs to check.
          const input = tool.scoped ? { project_id: settings.projectId, ...args } : args;
          try {
            const result = await acceptedWrites.run(accepted, async () =>
              tool.def.handler(await resolveRefs(ctx, tool.refs, input), ctx),
            );
            // Structured and text forms are the same redacted JSON.
            const text = redact(JSON.stringify(result));
            return { content: [{ type: 'text', text }], structuredContent: JSON.parse(text) };
          } catch (error) {
            let message = errorText(tool.def.name, error, options.logger);
            if (accepted.length > 0 && !ACCOUNTED_FOR.some((kind) => error instanceof kind)) {
              message +=
                ` Note: Neon had already accepted ${[...new Set(accepted)].join(', ')} in this call, so the change ` +
                'may have been applied: check (list or get the resource) before trying again.';
            }
            return { isError: true, content: [{ type: 'text', text: redact(message) }] };
          }
        },
      );
    }
    return server;
  }

  return { tools: tools.map((t) => t.def), settings, create };
}

/** Errors that already tell the agent what happened to an accepted change. */
const ACCOUNTED_FOR = [
  NeonOperationFailedError,
  NeonOperationTimeoutError,
  NeonOperationCheckError,
  NeonAbortedError,
];

/** The text an agent gets when a tool fails: what failed, why, and what to do. */
function errorText(tool: string, error: unknown, logger?: Logger): string {
  if (error instanceof NeonError) return error.message;
  if (error instanceof z.ZodError) {
    return `Invalid arguments for ${tool}: ${error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
  }
  // Anything else is a bug in neon-mcp: keep the details for the operator, give the agent the gist.
  logger?.error(`tool ${tool} failed unexpectedly`, error);
  const message = error instanceof Error ? error.message : String(error);
  return `${tool} failed unexpectedly: ${message}. This is likely a bug in neon-mcp; the details are in its log.`;
}

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
