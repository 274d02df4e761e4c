/**
 * Toolsets enabled at run time. enable_toolsets widens only the toolset list of this connection's
 * selection: read-only mode, the project scope and excluded tools are the server's flags and filter
 * every tool it adds (registry.ts `whyHidden`), so nothing can be widened past them.
 */
import { InvalidArgumentError } from '../client/errors.js';
import { DEFAULT_TOOLSETS, type Selection, validateSelectionOf } from '../tools/catalog.js';
import type { RuntimeToolsets } from '../tools/framework.js';

/** `select` gives the tools a selection exposes (the server's, from metadata: src/tools/catalog.ts). */
export function runtimeToolsets<T extends { name: string }>(
  selection: Selection,
  add: (tool: T) => void,
  select: (sel: Selection) => readonly T[],
): RuntimeToolsets & { registered: Set<string> } {
  let current: readonly string[] = selection.toolsets?.length ? selection.toolsets : DEFAULT_TOOLSETS;
  const registered = new Set<string>();
  return {
    registered,
    current: () => current,
    enable(toolsets) {
      try {
        validateSelectionOf([], { toolsets });
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
      current = [...new Set([...current, ...toolsets])];
      const added: string[] = [];
      for (const def of select({ ...selection, toolsets: current })) {
        if (registered.has(def.name)) continue;
        add(def);
        added.push(def.name);
      }
      return added;
    },
  };
}
