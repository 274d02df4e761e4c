/**
 * Test harness: msw stands in for the Neon API (backed by a fresh {@link NeonFake} per test, with the
 * handlers of every resource from test/mock/index.ts), every request is checked against Neon's
 * OpenAPI description, and a real MCP client talks to the server in memory.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Client, type ClientOptions } from '@modelcontextprotocol/client';
import { DefaultJsonSchemaValidator } from '@modelcontextprotocol/client/_shims';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import Ajv2020Module, { type ValidateFunction } from 'ajv/dist/2020.js';
import type { RequestHandler } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { NeonClient, type NeonClientOptions } from '../src/client/neon-client.js';
import { prepareServer, type ServerOptions } from '../src/server.js';
import { fakeHandlers } from './mock/index.js';
import { BASE, NeonFake, neonError } from './mock/neon-fake.js';
import { validateRequest } from './mock/spec.js';

export { BASE, NeonFake, neonError };

// CommonJS under ESM: the class is the module's default export.
const Ajv2020 = (Ajv2020Module as unknown as { default: typeof Ajv2020Module.default }).default;

/**
 * Checks a successful result's structuredContent against the outputSchema the tool advertises in
 * tools/list (what a client relies on), so that every call a test makes through `call` or `ok` proves
 * the schema describes the answer. The SDK client validates only when it has cached tools/list itself.
 */
/**
 * Compiled output-schema validators, shared by every connection of a test file and keyed by the
 * schema's text: compiling all ~140 tools' schemas anew for each connection cost the files that
 * connect per test (faults, operations-claims) ~0.1-0.3 s a test.
 */
const compiled = new Map<string, ValidateFunction>();
// strict: only keywords JSON Schema knows (no zod leftovers); but `properties` without
// `type: object` is how the lean schemas say "an object with these fields" (json-schema.ts).
let ajv: InstanceType<typeof Ajv2020> | undefined;
function validatorFor(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    ajv ??= new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  return validate;
}

export function outputChecker(
  listTools: () => Promise<{ tools: { name: string; outputSchema?: object }[] }>,
) {
  // Every output schema this connection's server advertises, compiled (strictly) on its first
  // successful call, as before; a schema compiled for an earlier connection is taken from the cache.
  let validators: Promise<Map<string, ValidateFunction>> | undefined;
  const compile = async () => {
    const { tools } = await listTools();
    return new Map(tools.filter((t) => t.outputSchema).map((t) => [t.name, validatorFor(t.outputSchema!)]));
  };
  return async (name: string, result: { isError?: boolean; structuredContent?: unknown }) => {
    if (result.isError || result.structuredContent === undefined) return;
    validators ??= compile();
    const validate = (await validators).get(name);
    if (validate && !validate(result.structuredContent)) {
      throw new Error(
        `${name}: structuredContent does not match its advertised outputSchema: ${JSON.stringify(validate.errors)}`,
      );
    }
  };
}
export const TEST_KEY = 'napi_test_key_0123456789abcdef';

type SdkValidator = NonNullable<ClientOptions['jsonSchemaValidator']>;
/**
 * The SDK client's own JSON Schema validator (its default, Ajv), with what it compiles kept across
 * clients by the schema's text: a client compiles the output schema of every listed tool, and a test
 * file that connects per test (faults: ~530 connections) spent most of each test on that.
 */
const sdkDefault = new DefaultJsonSchemaValidator();
const sdkCompiled = new Map<string, ReturnType<SdkValidator['getValidator']>>();
const cachingSdkValidator: SdkValidator = {
  getValidator(schema) {
    const key = JSON.stringify(schema);
    let check = sdkCompiled.get(key);
    if (!check) {
      check = sdkDefault.getValidator(schema);
      sdkCompiled.set(key, check);
    }
    return check as never;
  },
};

export interface RecordedRequest {
  method: string;
  /** Path relative to `/api/v2`. */
  path: string;
  query: URLSearchParams;
  body: unknown;
}

/**
 * Sets up the mock Neon API for a test file. Each test gets a fresh fake; requests that are not
 * valid against the spec, or that no handler answers, fail the test.
 */
export function useMockApi() {
  const state = {
    fake: new NeonFake(),
    requests: [] as RecordedRequest[],
    violations: [] as string[],
  };
  const msw = setupServer();
  const pending: Promise<void>[] = [];

  msw.events.on('request:start', ({ request }) => {
    const url = new URL(request.url);
    if (!url.href.startsWith(BASE)) return;
    const clone = request.clone();
    pending.push(
      clone.text().then((text) => {
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          state.violations.push(`${request.method} ${url.pathname}: body is not JSON`);
        }
        const path = url.pathname.slice(new URL(BASE).pathname.length);
        state.requests.push({ method: request.method, path, query: url.searchParams, body });
        state.violations.push(...validateRequest(request.method, path, url.searchParams, body));
      }),
    );
  });
  msw.events.on('request:unhandled', ({ request }) => {
    state.violations.push(`unhandled request ${request.method} ${request.url}`);
  });

  beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
  beforeEach(() => {
    state.fake = new NeonFake();
    state.requests = [];
    state.violations = [];
    // msw records where each handler was made (new Error().stack, which vitest source-maps: ~30 ms a
    // test for the ~300 handlers, 14 % of faults.test.ts); nothing here reads that.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      msw.resetHandlers(...fakeHandlers(state.fake));
    } finally {
      Error.stackTraceLimit = limit;
    }
  });
  afterEach(async () => {
    await Promise.all(pending.splice(0));
    expect(state.violations, 'requests not valid against the Neon API spec').toEqual([]);
  });
  afterAll(() => msw.close());

  return {
    get fake() {
      return state.fake;
    },
    get requests() {
      return state.requests;
    },
    /** Requests with this method whose path matches. */
    count(method: string, path: string | RegExp) {
      return state.requests.filter(
        (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)),
      ).length;
    },
    /**
     * The one way to change the fake for a test: handlers tried before the fake's (newest first),
     * dropped after the test. A handler that returns undefined falls through to the next one.
     */
    use(...handlers: RequestHandler[]) {
      msw.use(...handlers);
    },
    async settle() {
      await Promise.all(pending.splice(0));
    },
  };
}

export interface ConnectOptions extends Partial<Omit<ServerOptions, 'client'>> {
  /** `modern` speaks 2026-07-28; `legacy` sends `initialize` (2025-11-25). Default modern. */
  era?: 'modern' | 'legacy';
  apiKey?: string | null;
  clientOptions?: Partial<NeonClientOptions>;
  /** Options of the MCP client (capabilities, listChanged handlers, …). */
  mcpClient?: Omit<ClientOptions, 'versionNegotiation'>;
  /** Runs before the MCP client connects (e.g. to set request handlers for elicitation). */
  beforeConnect?: (mcp: Client) => void;
}

/** A real MCP client connected in memory to a neon-mcp server pointed at the mock API. */
export async function connect(options: ConnectOptions = {}) {
  const {
    era = 'modern',
    apiKey = TEST_KEY,
    clientOptions,
    mcpClient,
    beforeConnect,
    ...serverOptions
  } = options;
  const client = new NeonClient({
    apiKey: apiKey ?? undefined,
    baseUrl: BASE,
    retryDelayMs: 5,
    maxRetryDelayMs: 200,
    ...clientOptions,
  });
  const prepared = prepareServer({
    client,
    operationPollMs: [2, 10],
    secrets: apiKey ? [apiKey] : [],
    ...serverOptions,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const handle = serveStdio(prepared.create, { transport: serverSide });
  const mcp = new Client(
    { name: 'neon-mcp-test', version: '1.0.0' },
    {
      jsonSchemaValidator: cachingSdkValidator,
      ...mcpClient,
      versionNegotiation: { mode: era === 'legacy' ? 'legacy' : { pin: '2026-07-28' } },
    },
  );
  beforeConnect?.(mcp);
  await mcp.connect(clientSide);
  const checkOutput = outputChecker(() => mcp.listTools());
  return {
    mcp,
    prepared,
    /** Calls a tool and returns the raw result. */
    async call(name: string, args: Record<string, unknown> = {}, opts?: Parameters<Client['callTool']>[1]) {
      const res = await mcp.callTool({ name, arguments: args }, opts);
      await checkOutput(name, res);
      return res;
    },
    /** Calls a tool that must succeed and returns its structured content. */
    async ok<T = any>(name: string, args: Record<string, unknown> = {}): Promise<T> {
      const res = await mcp.callTool({ name, arguments: args });
      if (res.isError) throw new Error(`${name} failed: ${text(res)}`);
      expect(parseText(text(res))).toEqual(res.structuredContent);
      // An answer with untrusted data has it between markers in its text form.
      if ((res.structuredContent as { untrusted?: unknown } | undefined)?.untrusted)
        expect(text(res)).toMatch(FENCED_TEXT);
      await checkOutput(name, res);
      return res.structuredContent as T;
    },
    /** Calls a tool that must fail and returns its error text. */
    async fails(name: string, args: Record<string, unknown> = {}): Promise<string> {
      const res = await mcp.callTool({ name, arguments: args });
      if (!res.isError) throw new Error(`${name} was expected to fail but returned ${text(res)}`);
      return text(res);
    },
    async close() {
      await mcp.close();
      await handle.close();
    },
  };
}

/** The text of a tool result's first content block. */
export function text(result: { content?: unknown }): string {
  const content = result.content as { type: string; text?: string }[] | undefined;
  return content?.find((c) => c.type === 'text')?.text ?? '';
}

/** Trusted JSON, the notice, then the untrusted JSON between markers with the same random tag. */
export const FENCED_TEXT = /^(\{.*\})\n(.*)\n<(untrusted-data-[0-9a-f]{16})>\n(\{.*\})\n<\/\3>$/;

/**
 * The JSON a tool result's text carries: plain JSON, or (for untrusted data) the trusted fields, the
 * notice line and the data fields between markers with the same tag, put back together.
 */
export function parseText(body: string): unknown {
  const m = FENCED_TEXT.exec(body);
  if (!m) return JSON.parse(body);
  // The notice line names the markers' tag after the structured form's notice.
  const notice = m[2].replace(` It is between <${m[3]}> and </${m[3]}>.`, '');
  return { ...JSON.parse(m[1]), ...JSON.parse(m[4]), untrusted: notice };
}

/** The text of every TypeScript file under src/ (for checks of what src imports). */
export function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: URL) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const url = new URL(`${e.name}${e.isDirectory() ? '/' : ''}`, dir);
      if (e.isDirectory()) walk(url);
      else if (e.name.endsWith('.ts')) files.push(readFileSync(url, 'utf8'));
    }
  };
  walk(new URL('../src/', import.meta.url));
  return files;
}
