/**
 * Toolsets enabled at run time. enable_toolsets widens only the toolset list of this connection's
 * selection: read-only mode, the project scope and excluded tools are the server's flags and filter
 * every tool it adds (registry.ts `whyHidden`), so nothing can be widened past them.
 */
import { InvalidArgumentError } from '../client/errors.js';
import type { RuntimeToolsets, ToolDef } from '../tools/framework.js';
import { DEFAULT_TOOLSETS, type Selection, selectTools, validateSelection } from '../tools/registry.js';

export function runtimeToolsets(
  selection: Selection,
  add: (def: ToolDef) => void,
): RuntimeToolsets & { registered: Set<string> } {
  let current: readonly string[] = selection.toolsets?.length ? selection.toolsets : DEFAULT_TOOLSETS;
  const registered = new Set<string>();
  return {
    registered,
    current: () => current,
    enable(toolsets) {
      try {
        validateSelection({ toolsets });
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
      current = [...new Set([...current, ...toolsets])];
      const added: string[] = [];
      for (const def of selectTools({ ...selection, toolsets: current })) {
        if (registered.has(def.name)) continue;
        add(def);
        added.push(def.name);
      }
      return added;
    },
  };
}
