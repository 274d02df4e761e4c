/**
 * Running the built `neon-mcp --http` as child processes for the HTTP tests (http.test.ts,
 * http-lb.test.ts): the run's build copied (test/built-server.ts), a child started on a free
 * port whose URL is read from its start-up line, and the SDK's Streamable HTTP client for it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { copyOfBuild } from './built-server.js';

/** A copy of the run's built tree (test/built-server.ts) in a directory of this file's own. */
export const buildRunDir = (name: string): string => copyOfBuild(name);

export interface Instance {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  url: string;
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `neon-mcp --http 127.0.0.1:0 …args` and waits for its start-up line. */
export async function startInstance(
  runDir: string,
  args: string[],
  env: Record<string, string | undefined>,
  { listen = '127.0.0.1:0' }: { listen?: string } = {},
): Promise<Instance> {
  const clean = Object.fromEntries(
    Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, ...env }).filter(
      ([, v]) => v !== undefined,
    ),
  ) as Record<string, string>;
  const child = spawn(process.execPath, ['dist/index.js', '--http', listen, ...args], {
    cwd: runDir,
    env: clean,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line after 20 s:\n${stderr}`)), 20_000);
    child.stderr?.on('data', (d) => {
      stderr += d;
      const m = /on (http:\/\/[^\s/]+)\/mcp/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${stderr}`));
    });
  });
  return {
    child,
    url,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The SDK's client over Streamable HTTP, in one era, with headers of its own (the key). */
export async function httpClient(
  url: string,
  era: 'modern' | 'legacy',
  headers: Record<string, string> = {},
): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client(
    { name: 'http-test', version: '1.0.0' },
    { versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' } },
  );
  await client.connect(transport);
  return client;
}
