/**
 * runtimeToolsets (src/mcp/toolsets.ts) on its own: what enable() checks and adds, without a server.
 * toolsets.test.ts goes through enable_toolsets, whose schema already refuses an unknown toolset, so
 * the function's own check is only reached here (a caller that is not that tool's schema).
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/client/errors.js';
import { runtimeToolsets } from '../src/mcp/toolsets.js';
import { DEFAULT_TOOLSETS, type Selection } from '../src/tools/catalog.js';

/** A select() that offers one tool per toolset enabled, named after it. */
const select = (sel: Selection) => (sel.toolsets ?? []).map((t) => ({ name: `tool_of_${t}` }));

describe('runtimeToolsets', () => {
  it('starts from the selection, or the default toolsets without one', () => {
    expect(runtimeToolsets({ toolsets: ['sql'] }, () => undefined, select).current()).toEqual(['sql']);
    expect(runtimeToolsets({}, () => undefined, select).current()).toEqual(DEFAULT_TOOLSETS);
    expect(runtimeToolsets({ toolsets: [] }, () => undefined, select).current()).toEqual(DEFAULT_TOOLSETS);
  });

  it('refuses an unknown toolset as an invalid argument naming the valid ones, and changes nothing', () => {
    const added: string[] = [];
    const rt = runtimeToolsets({ toolsets: ['sql'] }, (t) => added.push(t.name), select);
    let error: unknown;
    try {
      rt.enable(['branches', 'nope']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/^Unknown toolset "nope"\. Valid: all, /);
    expect((error as Error).message).toContain('branches');
    expect(rt.current()).toEqual(['sql']);
    expect(added).toEqual([]);
  });

  it('adds the tools of the toolsets enabled, once each, and answers with what it added', () => {
    const added: string[] = [];
    // As the server does: what it adds, it registers.
    const rt = runtimeToolsets(
      { toolsets: ['sql'] },
      (t) => {
        added.push(t.name);
        rt.registered.add(t.name);
      },
      select,
    );
    // The tools already there (registered by the server) are not added again.
    rt.registered.add('tool_of_sql');
    expect(rt.enable(['branches', 'branches'])).toEqual(['tool_of_branches']);
    expect(rt.current()).toEqual(['sql', 'branches']);
    expect(rt.enable(['branches'])).toEqual([]);
    expect(added).toEqual(['tool_of_branches']);
  });

  it('keeps the rest of the selection when it selects (read-only, scope, exclusions)', () => {
    const seen: Selection[] = [];
    const rt = runtimeToolsets(
      { toolsets: ['sql'], readOnly: true, projectId: 'p-1', excludeTools: ['run_sql'] } as Selection,
      () => undefined,
      (sel) => {
        seen.push(sel);
        return [];
      },
    );
    rt.enable(['branches']);
    expect(seen).toEqual([
      { toolsets: ['sql', 'branches'], readOnly: true, projectId: 'p-1', excludeTools: ['run_sql'] },
    ]);
  });
});
