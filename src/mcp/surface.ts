/**
 * What the server offers besides tools: resources, prompts and completions for their arguments.
 * server.ts calls this once per server instance.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { NeonClient, Tenant } from '../client/neon-client.js';
import type { Settings } from '../neon/context.js';
import { Completer, type CompletionCache } from './completions.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';

/**
 * One completion cache per tenant (whose key) and configuration, shared by the connections it serves:
 * under --http every request has its own client, and two keys must never see each other's lists.
 */
const caches = new WeakMap<Tenant, WeakMap<Settings, CompletionCache>>();

export function registerSurface(
  server: McpServer,
  deps: { client: NeonClient; settings: Settings; describeError(what: string, error: unknown): string },
): void {
  let bySettings = caches.get(deps.client.tenant);
  if (!bySettings) {
    bySettings = new WeakMap();
    caches.set(deps.client.tenant, bySettings);
  }
  let cache = bySettings.get(deps.settings);
  if (!cache) {
    cache = new Map();
    bySettings.set(deps.settings, cache);
  }
  const completer = new Completer(deps.client, deps.settings, cache);
  registerResources(server, { ...deps, completer });
  registerPrompts(server, completer);
}
