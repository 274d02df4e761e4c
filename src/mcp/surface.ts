/**
 * What the server offers besides tools: resources, prompts and completions for their arguments.
 * server.ts calls this once per server instance.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { NeonClient } from '../client/neon-client.js';
import { cachesOf, type Settings } from '../neon/context.js';
import { Completer } from './completions.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';

export function registerSurface(
  server: McpServer,
  deps: { client: NeonClient; settings: Settings; describeError(what: string, error: unknown): string },
): void {
  // The caller's own completion cache for this configuration, shared by the connections it serves:
  // under --http every request has its own client, and two keys must never see each other's lists.
  const bySettings = cachesOf(deps.client).completions;
  let cache = bySettings.get(deps.settings);
  if (!cache) {
    cache = new Map();
    bySettings.set(deps.settings, cache);
  }
  const completer = new Completer(deps.client, deps.settings, cache);
  registerResources(server, { ...deps, completer });
  registerPrompts(server, completer);
}
