/**
 * `neon-mcp init [CLIENT]`: writes (or merges) the neon entry into an MCP client's configuration, so
 * nobody copies JSON by hand. Only the `neon` entry is replaced: every other server and setting stays,
 * comments too (jsonc-parser edits the text in place instead of re-serialising it). A file that is not
 * valid JSON (JSONC where the client reads JSONC) is refused with its line, never overwritten. The file is
 * written to a temporary name and renamed over the old one (a crash leaves the old file or the new one,
 * never half of one), with the old one kept as `<file>.bak`.
 *
 * The API key is written only into a file of the user's own (Claude Desktop, Cursor's global file,
 * Windsurf, Zed, Cline); a project file, meant to be committed, gets the client's reference to the
 * environment variable (or VS Code's password prompt) instead. The key is never printed: the shown
 * file and diff have it masked.
 *
 * Loaded only for `init` (src/cli.ts imports it dynamically).
 */
import { copyFile, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { createTwoFilesPatch } from 'diff';
import { applyEdits, modify, type ParseError, parse, printParseErrorCode } from 'jsonc-parser';
import { INIT_CLIENTS, type InitClient, type InitConfig } from '../config.js';
import { clientLaunch, entryPath, isInstalled, shellWord } from './terminal.js';

/** The entry's name in every client (the terminal help and `claude mcp add neon` use it too). */
export const ENTRY_NAME = 'neon';

/** Where the process runs, as the paths need it (a parameter so that tests use a temporary HOME). */
export interface Where {
  home: string;
  cwd: string;
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
}

/** The user's configuration directory: %APPDATA%, ~/Library/Application Support, or XDG's. */
function appData(where: Where): string {
  if (where.platform === 'win32') return where.env.APPDATA ?? join(where.home, 'AppData', 'Roaming');
  if (where.platform === 'darwin') return join(where.home, 'Library', 'Application Support');
  return where.env.XDG_CONFIG_HOME || join(where.home, '.config');
}

interface ClientFormat {
  label: string;
  /** The file, and where the path comes from. */
  path: (where: Where) => string;
  /** The object holding the servers. */
  key: 'mcpServers' | 'servers' | 'context_servers';
  /** The client reads comments and trailing commas (VS Code's and Zed's settings are JSONC). */
  jsonc: boolean;
  /**
   * A project file (committed and shared): the key itself is never written there; this is what stands
   * in for it (undefined: VS Code's prompt, handled apart).
   */
  shared?: { keyRef?: string };
  /** Fields the client's format adds to an stdio entry. */
  extra?: Record<string, unknown>;
}

/**
 * Each client's file and format, with where it was read (the clients' own documentation, through
 * this project's search of public pages, December 2026).
 */
export const CLIENTS: Readonly<Record<InitClient, ClientFormat>> = {
  // Claude Code's MCP docs: project scope is `.mcp.json` at the project root, `mcpServers`, and
  // `${VAR}` is expanded in command, args, env, url and headers.
  'claude-code': {
    label: 'Claude Code (this project)',
    path: (w) => join(w.cwd, '.mcp.json'),
    key: 'mcpServers',
    jsonc: false,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the client expands it, not JavaScript.
    shared: { keyRef: '${NEON_API_KEY}' },
    extra: { type: 'stdio' },
  },
  // The MCP quickstart for Claude Desktop: macOS ~/Library/Application Support/Claude, Windows
  // %APPDATA%\Claude; on Linux (unofficial builds) ~/.config/Claude.
  'claude-desktop': {
    label: 'Claude Desktop',
    path: (w) => join(appData(w), 'Claude', 'claude_desktop_config.json'),
    key: 'mcpServers',
    jsonc: false,
  },
  // Cursor's MCP docs: ~/.cursor/mcp.json (every project) or .cursor/mcp.json (this project), with
  // `${env:NAME}` interpolation in the project file.
  cursor: {
    label: 'Cursor (every project)',
    path: (w) => join(w.home, '.cursor', 'mcp.json'),
    key: 'mcpServers',
    jsonc: false,
  },
  'cursor-project': {
    label: 'Cursor (this project)',
    path: (w) => join(w.cwd, '.cursor', 'mcp.json'),
    key: 'mcpServers',
    jsonc: false,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the client expands it, not JavaScript.
    shared: { keyRef: '${env:NEON_API_KEY}' },
  },
  // VS Code's "MCP servers" docs: .vscode/mcp.json holds `servers` (not `mcpServers`), each with
  // `type: "stdio"`, and `inputs` for secrets asked once (`${input:ID}`, `password: true`).
  vscode: {
    label: 'VS Code (this project)',
    path: (w) => join(w.cwd, '.vscode', 'mcp.json'),
    key: 'servers',
    jsonc: true,
    shared: {},
    extra: { type: 'stdio' },
  },
  // Windsurf's Cascade MCP docs: ~/.codeium/windsurf/mcp_config.json (%USERPROFILE% on Windows), `mcpServers`.
  windsurf: {
    label: 'Windsurf',
    path: (w) => join(w.home, '.codeium', 'windsurf', 'mcp_config.json'),
    key: 'mcpServers',
    jsonc: false,
  },
  // Zed's docs (ai/mcp, "As Custom Servers"): `context_servers` in settings.json with command, args,
  // env; the settings file is ~/.config/zed/settings.json (%APPDATA%\Zed on Windows), JSONC.
  zed: {
    label: 'Zed',
    path: (w) =>
      w.platform === 'win32'
        ? join(appData(w), 'Zed', 'settings.json')
        : join(w.platform === 'darwin' ? join(w.home, '.config') : appData(w), 'zed', 'settings.json'),
    key: 'context_servers',
    jsonc: true,
  },
  // Cline's MCP docs: cline_mcp_settings.json in VS Code's global storage of the extension
  // saoudrizwan.claude-dev, `mcpServers` with Cline's own `disabled` field.
  cline: {
    label: 'Cline (VS Code extension)',
    path: (w) =>
      join(
        appData(w),
        'Code',
        'User',
        'globalStorage',
        'saoudrizwan.claude-dev',
        'settings',
        'cline_mcp_settings.json',
      ),
    key: 'mcpServers',
    jsonc: false,
    extra: { disabled: false },
  },
};

/** VS Code's prompt for the key (asked once, kept in its secret storage). */
const VSCODE_INPUT = {
  type: 'promptString',
  id: 'neon-api-key',
  description: 'Neon API key',
  password: true,
};

/** A file that cannot be merged: named, with its line; nothing is written. */
export class InitError extends Error {
  override name = 'InitError';
}

/** The command that starts this neon-mcp: this checkout's build, or `npx -y neon-mcp` when installed. */
export function launchCommand(entry: string, serverArgs: readonly string[], cwd: string): string[] {
  // clientLaunch makes a relative `--local DIR` absolute (a client starts elsewhere); no env is passed,
  // so nothing but the flags reaches the entry, and mode 'local' adds no key placeholder.
  const { args } = clientLaunch({ entry, argv: serverArgs, cwd, env: {}, mode: 'local' });
  return isInstalled(entry) ? ['npx', '-y', 'neon-mcp', ...args] : ['node', entry, ...args];
}

/** The entry for `client`: the client's fields, command, args, and env when there is a key. */
export function entryFor(client: InitClient, command: readonly string[], apiKey: string | undefined) {
  const format = CLIENTS[client];
  const [cmd, ...args] = command;
  const keyValue = !apiKey
    ? undefined
    : format.shared
      ? (format.shared.keyRef ?? `\${input:${VSCODE_INPUT.id}}`)
      : apiKey;
  return {
    ...format.extra,
    command: cmd,
    args,
    ...(keyValue ? { env: { NEON_API_KEY: keyValue } } : {}),
  };
}

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/**
 * The file's new text: `text` (undefined: no file yet) with only the neon entry replaced. Throws an
 * InitError naming `file` and the line when the text is not valid JSON (JSONC for `jsonc`) or not an
 * object where one is needed.
 */
export function merge(
  client: InitClient,
  text: string | undefined,
  entry: Record<string, unknown>,
  file: string,
): string {
  const format = CLIENTS[client];
  const source = text === undefined || text.trim() === '' ? '{}' : text;
  const errors: ParseError[] = [];
  const data = parse(source, errors, { allowTrailingComma: format.jsonc, disallowComments: !format.jsonc });
  const first = errors[0];
  if (first)
    throw new InitError(
      `${file} line ${lineOf(source, first.offset)}: not valid ${format.jsonc ? 'JSONC' : 'JSON'} ` +
        `(${printParseErrorCode(first.error)}); fix or move it, nothing was written.`,
    );
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(data)) throw new InitError(`${file}: the file holds no JSON object; nothing was written.`);
  const servers = (data as Record<string, unknown>)[format.key];
  if (servers !== undefined && !isObject(servers))
    throw new InitError(`${file}: "${format.key}" is not an object; nothing was written.`);
  const formattingOptions = { insertSpaces: true, tabSize: 2, eol: '\n' };
  let out = applyEdits(source, modify(source, [format.key, ENTRY_NAME], entry, { formattingOptions }));
  const env = entry.env as Record<string, string> | undefined;
  if (client === 'vscode' && env?.NEON_API_KEY?.startsWith('${input:')) {
    const inputs = (data as Record<string, unknown>).inputs;
    const kept = Array.isArray(inputs) ? inputs.filter((i) => i?.id !== VSCODE_INPUT.id) : [];
    out = applyEdits(out, modify(out, ['inputs'], [...kept, VSCODE_INPUT], { formattingOptions }));
  }
  return out.endsWith('\n') ? out : `${out}\n`;
}

/** `text` with every NEON_API_KEY value and the key itself masked: what may be shown. */
export function masked(text: string, apiKey: string | undefined): string {
  const out = text.replace(
    /("NEON_API_KEY"\s*:\s*")((?:[^"\\]|\\.)*)"/g,
    (all, head: string, value: string) => (value.startsWith('${') ? all : `${head}***"`),
  );
  return apiKey ? out.replaceAll(apiKey, '***') : out;
}

/** The `claude mcp add` line for the same entry (user scope; the key taken from the shell). */
export function claudeMcpAdd(command: readonly string[], apiKey: string | undefined): string {
  return [
    'claude mcp add --scope user',
    ...(apiKey ? ['--env "NEON_API_KEY=$NEON_API_KEY"'] : []),
    ENTRY_NAME,
    '--',
    ...command.map(shellWord),
  ].join(' ');
}

/** The clients and their files (`neon-mcp init` without CLIENT). */
export function clientList(where: Where): string {
  const rows = INIT_CLIENTS.map(
    (c) => `  ${c.padEnd(15)} ${CLIENTS[c].label.padEnd(27)} ${CLIENTS[c].path(where)}`,
  );
  return [
    'Usage: neon-mcp init CLIENT [--local [DIR] | --api-key KEY] [server flags] [--print] [--yes]',
    '',
    "Writes the neon entry into the client's file (other servers and settings are kept; the old file",
    'is kept as FILE.bak). --print shows the file instead of writing it. The clients and their files:',
    '',
    ...rows,
    '',
  ].join('\n');
}

async function readIfAny(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes `text` to `file` through a temporary file and a rename, keeping the old file as `.bak`. */
export async function writeAtomically(file: string, text: string, secret: boolean): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const old = await stat(file).catch(() => undefined);
  if (old) await copyFile(file, `${file}.bak`);
  const temp = `${file}.${process.pid}.tmp`;
  // A file that holds a key is readable by its owner only; otherwise the old file's mode is kept.
  const mode = secret ? 0o600 : old ? old.mode & 0o777 : 0o644;
  try {
    await writeFile(temp, text, { mode });
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export interface InitIo {
  where: Where;
  /** dist/index.js of this neon-mcp. */
  entry: string;
  out: (text: string) => void;
  /** Asks before changing an existing file; undefined: never asks (not a terminal). */
  confirm?: (question: string) => Promise<boolean>;
}

/** Runs `init`: lists, prints or writes. Resolves to the file written (undefined if none). */
export async function init(config: InitConfig, io: InitIo): Promise<string | undefined> {
  if (!config.client) {
    io.out(clientList(io.where));
    return undefined;
  }
  const client = config.client;
  const file = CLIENTS[client].path(io.where);
  const command = launchCommand(io.entry, config.serverArgs, io.where.cwd);
  const before = await readIfAny(file);
  const after = merge(client, before, entryFor(client, command, config.apiKey), file);
  const notes: string[] = [];
  if (client === 'claude-code')
    notes.push(
      // Claude Code starts a project's .mcp.json servers only once the person approves them
      // (`claude mcp list` says "Pending approval" until then; seen with its CLI 2.1.332).
      'Claude Code asks once, the next time you run `claude` here, before it starts a server of this project file.',
      `Or, for every project of yours (Claude Code's CLI): ${claudeMcpAdd(command, config.apiKey)}`,
    );
  if (config.apiKey && CLIENTS[client].shared)
    notes.push(
      client === 'vscode'
        ? 'The key is not written into this shared file: VS Code asks for it once (an input).'
        : 'The key is not written into this shared file: the client reads NEON_API_KEY from its environment.',
    );
  if (
    !config.apiKey &&
    !config.serverArgs.some((a) => a.startsWith('--local') || a.startsWith('--database-url'))
  )
    notes.push(
      'No API key given (--api-key or NEON_API_KEY): the tools that need Neon will say how to set one.',
    );
  if (config.print) {
    io.out(`${file}:\n${masked(after, config.apiKey)}${notes.map((n) => `${n}\n`).join('')}`);
    return undefined;
  }
  if (before === after) {
    io.out(`${file} already has this neon entry; nothing to change.\n${notes.map((n) => `${n}\n`).join('')}`);
    return undefined;
  }
  if (before !== undefined) {
    const [shownBefore, shownAfter] = [masked(before, config.apiKey), masked(after, config.apiKey)];
    io.out(
      // A diff of masked texts is empty when only the key changes: said, so a blank diff is not a mystery.
      shownBefore === shownAfter
        ? `${file}: only the API key of the neon entry changes (not shown).\n`
        : createTwoFilesPatch(file, file, shownBefore, shownAfter, 'before', 'after'),
    );
    if (
      io.confirm &&
      !config.yes &&
      !(await io.confirm(`Write ${file} (the old one kept as .bak)? [y/N] `))
    ) {
      io.out('Nothing written.\n');
      return undefined;
    }
  }
  await writeAtomically(file, after, Boolean(config.apiKey) && !CLIENTS[client].shared);
  io.out(
    `Wrote the neon entry to ${file}${before !== undefined ? ` (the old file is ${file}.bak)` : ''}; ` +
      `restart ${CLIENTS[client].label.replace(/ \(.*\)$/, '')} or reload its MCP servers.\n` +
      notes.map((n) => `${n}\n`).join(''),
  );
  return file;
}

/** The command: the process's own HOME, directory and terminal. */
export async function runInit(config: InitConfig): Promise<void> {
  await init(config, {
    where: { home: homedir(), cwd: process.cwd(), platform: process.platform, env: process.env },
    entry: entryPath(),
    out: (text) => process.stdout.write(text),
    confirm: process.stdin.isTTY ? ask : undefined,
  });
}
