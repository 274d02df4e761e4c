/**
 * What neon-mcp says when a person starts it in a terminal: it is an MCP server, it waits for a client
 * on stdin, and here is how to add it to one, with the flags it was started with. Without this it
 * printed its start-up line and waited in silence, and typed text was dropped as "not JSON".
 *
 * The text is a pure function of where the server runs and how it was started (tested without a
 * terminal); only `sayHowToConnect` looks at the process. Secrets never appear: the value of a flag or
 * variable that holds one is replaced by a placeholder, and the whole text goes through the log's
 * redactor as well.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How the server was started, as the text needs it. */
export interface Started {
  /** The absolute path of dist/index.js that runs. */
  entry: string;
  /** The command-line arguments (without node and the script). */
  argv: readonly string[];
  /** The working directory: a relative `--local DIR` is made absolute (a client starts elsewhere). */
  cwd: string;
  /** The environment (only NEON_* variables are looked at). */
  env: Readonly<Record<string, string | undefined>>;
  /** Which stdio mode runs: the API mode without a key in sight gets a key placeholder. */
  mode: 'stdio' | 'local' | 'database-url';
  /**
   * Applied to every value kept from argv and the environment (the log's redactor: a second wall
   * behind the placeholders, for a secret given where none is expected). Not to the placeholders,
   * whose `USER:PASSWORD@` it would blank.
   */
  redact?: (text: string) => string;
}

/** Flags whose value is a secret (a key, a token, a URL with a password) and what stands in for it. */
const SECRET_FLAGS: Readonly<Record<string, string>> = {
  '--api-key': 'your-neon-api-key',
  '--http-token': 'your-access-token',
  '--database-url': 'postgresql://USER:PASSWORD@HOST/DATABASE',
  '--local-postgres': 'postgresql://postgres:PASSWORD@localhost:5432/postgres',
};
const SECRET_VARS: Readonly<Record<string, string>> = {
  NEON_API_KEY: 'your-neon-api-key',
  NEON_MCP_HTTP_TOKEN: 'your-access-token',
  NEON_MCP_DATABASE_URL: 'postgresql://USER:PASSWORD@HOST/DATABASE',
  NEON_MCP_LOCAL_POSTGRES: 'postgresql://postgres:PASSWORD@localhost:5432/postgres',
};

/**
 * The arguments and environment a client should start the server with: the same flags, except that
 * the API key moves to NEON_API_KEY (where clients keep secrets); every secret value is a placeholder.
 */
export function clientLaunch(started: Started): { args: string[]; env: Record<string, string> } {
  const redact = started.redact ?? ((text: string) => text);
  const args: string[] = [];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(started.env)) {
    if (!name.startsWith('NEON_') || !value) continue;
    // NEON_MCP_LOCAL=./data names a directory relative to here, not to where a client starts.
    const local = name === 'NEON_MCP_LOCAL' && /[/\\]/.test(value) && !isAbsolute(value);
    env[name] = SECRET_VARS[name] ?? redact(local ? resolve(started.cwd, value) : value);
  }
  const argv = started.argv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const placeholder = SECRET_FLAGS[flag];
    if (flag === '--local') {
      // `--local DIR` or `--local=DIR`: the directory, absolute.
      const dir = eq > 0 ? arg.slice(eq + 1) : argv[i + 1]?.startsWith('-') ? undefined : argv[i + 1];
      if (eq < 0 && dir !== undefined) i++;
      args.push('--local', ...(dir ? [redact(isAbsolute(dir) ? dir : resolve(started.cwd, dir))] : []));
      continue;
    }
    if (placeholder === undefined) {
      args.push(redact(arg));
      continue;
    }
    // `--flag value` takes the next argument as the value; `--flag=value` carries it.
    if (eq < 0) i++;
    if (flag === '--api-key') env.NEON_API_KEY = placeholder;
    else args.push(flag, placeholder);
  }
  if (started.mode === 'stdio' && !env.NEON_API_KEY) env.NEON_API_KEY = SECRET_VARS.NEON_API_KEY as string;
  return { args, env };
}

/** Whether dist/index.js is inside an installed package (npx, a global or local install), not a checkout. */
export function isInstalled(entry: string): boolean {
  return entry.split(/[\\/]/).includes('node_modules');
}

/** A POSIX shell word: left bare when it is safe, single-quoted otherwise. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The text shown on a terminal (stderr), ending with a newline. */
export function connectHelp(started: Started): string {
  const { args, env } = clientLaunch(started);
  const [command, ...commandArgs] = isInstalled(started.entry)
    ? ['npx', '-y', 'neon-mcp', ...args]
    : ['node', started.redact ? started.redact(started.entry) : started.entry, ...args];
  const envFlags = Object.entries(env).map(([name, value]) => `--env ${shellWord(`${name}=${value}`)}`);
  const claudeCode = ['claude mcp add neon', ...envFlags, '--', command, ...commandArgs]
    .map((w, i) => (i === 0 || w.startsWith('--env ') ? w : shellWord(w as string)))
    .join(' ');
  const entry = {
    command,
    args: commandArgs,
    ...(Object.keys(env).length ? { env } : {}),
  };
  const json = (wrapper: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ [wrapper]: { neon: { ...extra, ...entry } } }, null, 2)
      .split('\n')
      .map((line) => `    ${line}`)
      .join('\n');
  const placeholders = Object.values(env).some((v) => Object.values(SECRET_VARS).includes(v));
  return [
    '',
    'neon-mcp is an MCP server: an MCP client (Claude Code, Claude Desktop, Cursor, VS Code, …) starts it',
    'and talks to it in JSON-RPC over stdin and stdout. It is now waiting for such a client on this',
    'terminal (typed lines that are not JSON-RPC are dropped; Ctrl+C stops it).',
    '',
    'To add it to a client, started as here:',
    '',
    '  Claude Code:',
    `    ${claudeCode}`,
    '',
    '  Claude Desktop (claude_desktop_config.json), Cursor (.cursor/mcp.json or ~/.cursor/mcp.json):',
    json('mcpServers'),
    '',
    '  VS Code (.vscode/mcp.json):',
    json('servers', { type: 'stdio' }),
    ...(placeholders
      ? ['', '  Replace the placeholders (your-neon-api-key, PASSWORD, …) with your own values.']
      : []),
    ...(isInstalled(started.entry)
      ? []
      : ['', "  These run this checkout's build: run npm run build after changing src/."]),
    '',
  ].join('\n');
}

/** The dist/index.js next to this module (dist/modes/terminal.js). */
export function entryPath(): string {
  return fileURLToPath(new URL('../index.js', import.meta.url));
}
