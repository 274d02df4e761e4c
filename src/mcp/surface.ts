/**
 * What the server offers besides tools: resources, prompts and completions for their arguments.
 * server.ts calls this once per server instance.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { NeonClient } from '../client/neon-client.js';
import type { Settings } from '../neon/context.js';
import { Completer } from './completions.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';

/** One completion cache per client and configuration, shared by the connections it serves. */
const completers = new WeakMap<Settings, Completer>();

export function registerSurface(
  server: McpServer,
  deps: { client: NeonClient; settings: Settings; describeError(what: string, error: unknown): string },
): void {
  let completer = completers.get(deps.settings);
  if (!completer) {
    completer = new Completer(deps.client, deps.settings);
    completers.set(deps.settings, completer);
  }
  registerResources(server, { ...deps, completer });
  registerPrompts(server, completer);
}
