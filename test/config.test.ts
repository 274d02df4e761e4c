/**
 * The configuration (src/config.ts) as a pure function: argv and an environment in, one typed value per
 * mode out, or a ConfigError naming what to fix. Nothing is started and no module is re-imported;
 * test/cli.test.ts covers what the command does with the value (exit 2 with the usage, the start-up
 * lines, the modes' wiring).
 */
import { describe, expect, it } from 'vitest';
import { NEON_RATE_LIMITS } from '../src/client/rate-limiter.js';
import {
  type Config,
  ConfigError,
  type Env,
  localFromEnv,
  NO,
  parseConfig,
  YES,
  yesNo,
} from '../src/config.js';
import { VERSION } from '../src/version.js';
import { TEST_KEY } from './helpers.js';

const parse = (argv: string[], env: Env = {}) => parseConfig(argv, env);

/** The message of the ConfigError that parsing throws (fails the test when it does not throw one). */
function refused(argv: string[], env: Env = {}): string {
  try {
    parse(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).name).toBe('ConfigError');
    return (error as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify({ argv, env })}`);
}

/** The configuration of a mode, narrowed by its case (fails the test on another mode). */
function as<M extends Config['mode']>(mode: M, config: Config): Extract<Config, { mode: M }> {
  expect(config.mode).toBe(mode);
  return config as Extract<Config, { mode: M }>;
}

describe('defaults', () => {
  it('without flags or environment: stdio, no key, every setting left to the server, Neon’s limits', () => {
    expect(parse([])).toEqual({
      mode: 'stdio',
      apiKey: undefined,
      server: {
        readOnly: false,
        projectId: undefined,
        orgId: undefined,
        toolsets: undefined,
        tools: undefined,
        excludeTools: undefined,
        sqlTimeoutMs: undefined,
        sqlMaxRows: undefined,
        sqlMaxBytes: undefined,
        operationTimeoutMs: undefined,
        docsUrl: undefined,
        databaseUrl: undefined,
      },
      client: { baseUrl: undefined, userAgent: `neon-mcp/${VERSION}` },
      limits: NEON_RATE_LIMITS,
    });
  });

  it('reads only the environment it is given, never the process’s', () => {
    process.env.NEON_MCP_READ_ONLY = 'enabled';
    try {
      expect(as('stdio', parse([])).server.readOnly).toBe(false);
    } finally {
      delete process.env.NEON_MCP_READ_ONLY;
    }
  });

  it('-h and --help, -v and --version are outcomes of their own, before any other check', () => {
    for (const flag of ['--help', '-h'])
      expect(parse([flag, '--sql-timeout', 'soon'])).toEqual({ mode: 'help' });
    for (const flag of ['--version', '-v'])
      expect(parse([flag], { NEON_MCP_READ_ONLY: 'x' })).toEqual({ mode: 'version' });
    expect(parse(['--help', '--version'])).toEqual({ mode: 'help' });
  });
});

describe('flags and variables', () => {
  it('every flag reaches the configuration', () => {
    const config = as(
      'stdio',
      parse([
        '--api-key',
        TEST_KEY,
        '--api-url',
        'http://127.0.0.1:9/api/v2/',
        '--read-only',
        '--project-id',
        'p-flag',
        '--toolsets',
        ' projects , ,branches ',
        '--tools',
        'list_operations',
        '--exclude-tools',
        'delete_project,get_project',
        '--sql-timeout',
        '1500',
        '--sql-max-rows',
        '7',
        '--operation-timeout',
        '900',
        '--sql-max-bytes',
        '4096',
        '--org-id',
        'org-flag',
        '--docs-url',
        'http://127.0.0.1:9/docs',
        '--rate-limit-share',
        '1/2',
      ]),
    );
    expect(config).toEqual({
      mode: 'stdio',
      apiKey: TEST_KEY,
      server: {
        readOnly: true,
        projectId: 'p-flag',
        orgId: 'org-flag',
        toolsets: ['projects', 'branches'],
        tools: ['list_operations'],
        excludeTools: ['delete_project', 'get_project'],
        sqlTimeoutMs: 1500,
        sqlMaxRows: 7,
        sqlMaxBytes: 4096,
        operationTimeoutMs: 900,
        docsUrl: 'http://127.0.0.1:9/docs',
        databaseUrl: undefined,
      },
      client: { baseUrl: 'http://127.0.0.1:9/api/v2/', userAgent: `neon-mcp/${VERSION}` },
      limits: { perMinute: 350, perSecondPerRoute: 20 },
    });
  });

  it('every variable reaches the configuration', () => {
    const config = as(
      'stdio',
      parse([], {
        NEON_API_KEY: TEST_KEY,
        NEON_API_URL: 'http://127.0.0.1:9/api/v2',
        NEON_MCP_READ_ONLY: 'true',
        NEON_PROJECT_ID: 'p-env',
        NEON_ORG_ID: 'org-env',
        NEON_MCP_TOOLSETS: 'projects,sql',
        NEON_MCP_TOOLS: 'list_operations',
        NEON_MCP_EXCLUDE_TOOLS: 'run_sql',
        NEON_MCP_SQL_TIMEOUT_MS: '2500',
        NEON_MCP_SQL_MAX_ROWS: '11',
        NEON_MCP_SQL_MAX_BYTES: '2048',
        NEON_MCP_OPERATION_TIMEOUT_MS: '3000',
        NEON_MCP_DOCS_URL: 'https://docs.example',
        NEON_MCP_RATE_LIMIT_SHARE: '25%',
      }),
    );
    expect(config).toEqual({
      mode: 'stdio',
      apiKey: TEST_KEY,
      server: {
        readOnly: true,
        projectId: 'p-env',
        orgId: 'org-env',
        toolsets: ['projects', 'sql'],
        tools: ['list_operations'],
        excludeTools: ['run_sql'],
        sqlTimeoutMs: 2500,
        sqlMaxRows: 11,
        sqlMaxBytes: 2048,
        operationTimeoutMs: 3000,
        docsUrl: 'https://docs.example',
        databaseUrl: undefined,
      },
      client: { baseUrl: 'http://127.0.0.1:9/api/v2', userAgent: `neon-mcp/${VERSION}` },
      limits: { perMinute: 175, perSecondPerRoute: 10 },
    });
  });

  it('a flag wins over its variable', () => {
    const config = as(
      'stdio',
      parse(
        [
          '--api-key',
          'napi_from_flag_123',
          '--api-url',
          'http://flag.example/api/v2',
          '--project-id',
          'p-flag',
          '--org-id',
          'org-flag',
          '--toolsets',
          'projects',
          '--tools',
          'a',
          '--exclude-tools',
          'b',
          '--sql-timeout',
          '1',
          '--sql-max-rows',
          '2',
          '--sql-max-bytes',
          '1025',
          '--operation-timeout',
          '3',
          '--docs-url',
          'https://flag.example',
          '--rate-limit-share',
          '1',
        ],
        {
          NEON_API_KEY: TEST_KEY,
          NEON_API_URL: 'http://env.example/api/v2',
          NEON_PROJECT_ID: 'p-env',
          NEON_ORG_ID: 'org-env',
          NEON_MCP_TOOLSETS: 'branches',
          NEON_MCP_TOOLS: 'x',
          NEON_MCP_EXCLUDE_TOOLS: 'y',
          NEON_MCP_SQL_TIMEOUT_MS: '9',
          NEON_MCP_SQL_MAX_ROWS: '9',
          NEON_MCP_SQL_MAX_BYTES: '9999',
          NEON_MCP_OPERATION_TIMEOUT_MS: '9',
          NEON_MCP_DOCS_URL: 'https://env.example',
          NEON_MCP_RATE_LIMIT_SHARE: '1/2',
        },
      ),
    );
    expect(config).toMatchObject({
      apiKey: 'napi_from_flag_123',
      client: { baseUrl: 'http://flag.example/api/v2' },
      limits: NEON_RATE_LIMITS,
      server: {
        projectId: 'p-flag',
        orgId: 'org-flag',
        toolsets: ['projects'],
        tools: ['a'],
        excludeTools: ['b'],
        sqlTimeoutMs: 1,
        sqlMaxRows: 2,
        sqlMaxBytes: 1025,
        operationTimeoutMs: 3,
        docsUrl: 'https://flag.example',
      },
    });
  });

  it('empty values count as unset', () => {
    const config = as(
      'stdio',
      parse([], {
        NEON_API_KEY: '',
        NEON_API_URL: '',
        NEON_PROJECT_ID: '',
        NEON_ORG_ID: '',
        NEON_MCP_TOOLSETS: ' , ',
        NEON_MCP_SQL_TIMEOUT_MS: '',
        NEON_MCP_DOCS_URL: '',
        NEON_MCP_READ_ONLY: '',
        NEON_MCP_LOCAL: ' ',
        NEON_MCP_HTTP: '   ',
        NEON_MCP_DATABASE_URL: '',
        NEON_MCP_RATE_LIMIT_SHARE: '  ',
      }),
    );
    expect(config.apiKey).toBeUndefined();
    expect(config.client.baseUrl).toBeUndefined();
    expect(config.limits).toEqual(NEON_RATE_LIMITS);
    expect(config.server).toMatchObject({
      readOnly: false,
      projectId: undefined,
      orgId: undefined,
      toolsets: undefined,
      sqlTimeoutMs: undefined,
      docsUrl: undefined,
    });
  });
});

describe('yes/no values fail closed', () => {
  it('accept true/false, 1/0, yes/no, on/off in any case, with spaces around', () => {
    expect([...YES]).toEqual(['true', '1', 'yes', 'on']);
    expect([...NO]).toEqual(['false', '0', 'no', 'off']);
    for (const value of ['1', 'true', 'TRUE', 'yes', 'On', ' on ', '\ttrue\n']) {
      expect(yesNo('X', value), value).toBe(true);
      expect(as('stdio', parse([], { NEON_MCP_READ_ONLY: value })).server.readOnly, value).toBe(true);
    }
    for (const value of ['0', 'false', 'No', 'OFF', ' off ']) {
      expect(yesNo('X', value), value).toBe(false);
      expect(as('stdio', parse([], { NEON_MCP_READ_ONLY: value })).server.readOnly, value).toBe(false);
    }
    for (const value of [undefined, '', '  ']) expect(yesNo('X', value)).toBeUndefined();
  });

  it('anything else stops the server, naming the variable and the accepted values', () => {
    // Whole words only: 'untrue' ends in "true", 'one' starts with "on"; `enabled` once started a
    // writable server.
    for (const value of [
      'enabled',
      'disabled',
      'yes please',
      'truthy',
      'untrue',
      'one',
      'y',
      'n',
      't',
      '2',
      '-1',
      'ja',
    ]) {
      expect(refused([], { NEON_MCP_READ_ONLY: value }), value).toBe(
        `NEON_MCP_READ_ONLY must be one of true/1/yes/on or false/0/no/off, got "${value}" ` +
          '(an unknown value is refused rather than guessed).',
      );
      expect(() => yesNo('SOME_FLAG', value)).toThrow(/^SOME_FLAG must be one of/);
    }
  });

  it('--read-only can only turn it on, and does not excuse a bad variable', () => {
    expect(as('stdio', parse(['--read-only'], { NEON_MCP_READ_ONLY: 'false' })).server.readOnly).toBe(true);
    expect(as('stdio', parse(['--read-only'], { NEON_MCP_READ_ONLY: 'on' })).server.readOnly).toBe(true);
    expect(refused(['--read-only'], { NEON_MCP_READ_ONLY: 'enabled' })).toMatch(
      /^NEON_MCP_READ_ONLY must be/,
    );
    // A boolean flag takes no value: `--read-only=false` is refused, not read as "on" or "off".
    expect(refused(['--read-only=false'])).toMatch(/--read-only/);
  });

  it('in every mode', () => {
    const bad = { NEON_MCP_READ_ONLY: 'enabled' };
    expect(refused(['--http', '8080'], bad)).toMatch(/^NEON_MCP_READ_ONLY/);
    expect(refused(['--local'], bad)).toMatch(/^NEON_MCP_READ_ONLY/);
    expect(refused(['--database-url', 'postgresql://u:pw@h/db'], bad)).toMatch(/^NEON_MCP_READ_ONLY/);
    expect(as('http', parse(['--http', '8080'], { NEON_MCP_READ_ONLY: 'yes' })).server.readOnly).toBe(true);
    expect(as('local', parse(['--local'], { NEON_MCP_READ_ONLY: '1' })).server.readOnly).toBe(true);
  });
});

describe('NEON_MCP_LOCAL', () => {
  it('a yes word is local mode in the default directory; a no word or nothing leaves it off', () => {
    for (const on of ['1', 'true', ' Yes ', 'ON']) {
      expect(localFromEnv(on), on).toEqual({});
      expect(as('local', parse([], { NEON_MCP_LOCAL: on })).dir, on).toBeUndefined();
    }
    for (const off of ['0', 'false', 'No', 'off', '', ' ', undefined]) {
      expect(localFromEnv(off), String(off)).toBeUndefined();
      expect(parse([], { NEON_MCP_LOCAL: off }).mode, String(off)).toBe('stdio');
    }
  });

  it('a value with a path separator is a directory, even one that starts or ends like a yes/no word', () => {
    for (const dir of ['/srv/neon-mcp/no', 'off-site/data', '/tmp/false', './data', 'C:\\neon', ' /tmp/x ']) {
      expect(as('local', parse([], { NEON_MCP_LOCAL: dir })).dir, dir).toBe(dir.trim());
    }
  });

  it('a bare word that is no yes/no word is refused, not taken for a directory of that name', () => {
    for (const value of ['enabled', 'data', 'y', '~']) {
      expect(refused([], { NEON_MCP_LOCAL: value }), value).toBe(
        'NEON_MCP_LOCAL must be a directory (with a path separator, e.g. /srv/neon-mcp or ./data) or one of ' +
          `true/1/yes/on or false/0/no/off, got "${value}" (an unknown value is refused rather than guessed).`,
      );
    }
  });

  it('--local [DIR] wins over it; --local=DIR is --local DIR; its PostgreSQL from the flag or the environment', () => {
    expect(as('local', parse(['--local', '/tmp/from-flag'], { NEON_MCP_LOCAL: '/tmp/from-env' })).dir).toBe(
      '/tmp/from-flag',
    );
    // The flag says local mode outright: its DIR may be any name, and a bad variable beside it is moot.
    expect(as('local', parse(['--local', 'data'], { NEON_MCP_LOCAL: 'enabled' })).dir).toBe('data');
    expect(as('local', parse(['--local=/tmp/eq-form']))).toMatchObject({
      dir: '/tmp/eq-form',
      postgresUrl: undefined,
    });
    const pg = 'postgresql://su:pw@127.0.0.1:1/postgres';
    expect(as('local', parse(['--local', '--local-postgres', pg]))).toMatchObject({
      dir: undefined,
      postgresUrl: pg,
    });
    expect(as('local', parse(['--local'], { NEON_MCP_LOCAL_POSTGRES: pg })).postgresUrl).toBe(pg);
    expect(
      as('local', parse(['--local', '--local-postgres', pg], { NEON_MCP_LOCAL_POSTGRES: 'other' }))
        .postgresUrl,
    ).toBe(pg);
    // Without local mode the variable is not used (and not refused).
    expect(parse([], { NEON_MCP_LOCAL_POSTGRES: pg }).mode).toBe('stdio');
  });
});

describe('what cannot be combined', () => {
  const URL = 'postgresql://app_user:url-secret-pw@db.example:5433/appdb';
  const cases: [string, string[], Env, string][] = [
    [
      '--database-url and a project',
      ['--database-url', URL, '--project-id', 'p-1'],
      {},
      '--database-url serves one PostgreSQL server without Neon: --project-id does not apply.',
    ],
    [
      '--database-url and a project from the environment',
      [],
      { NEON_MCP_DATABASE_URL: URL, NEON_PROJECT_ID: 'p-1' },
      '--database-url serves one PostgreSQL server without Neon: --project-id does not apply.',
    ],
    [
      '--database-url and --http',
      ['--database-url', URL, '--http', '8123'],
      {},
      '--database-url is served over stdio only: leave out --http.',
    ],
    [
      '--database-url and NEON_MCP_HTTP',
      ['--database-url', URL],
      { NEON_MCP_HTTP: '8123' },
      '--database-url is served over stdio only: leave out --http.',
    ],
    [
      '--local-postgres without --local',
      ['--local-postgres', 'postgresql://su:pw@h/postgres'],
      {},
      '--local-postgres needs --local.',
    ],
    [
      '--local and --http',
      ['--local', '--http', '8123'],
      {},
      '--local is served over stdio, without --database-url or --http.',
    ],
    [
      'NEON_MCP_LOCAL and NEON_MCP_HTTP',
      [],
      { NEON_MCP_LOCAL: 'true', NEON_MCP_HTTP: '8123' },
      '--local is served over stdio, without --database-url or --http.',
    ],
    [
      'NEON_MCP_LOCAL and a database URL',
      [],
      { NEON_MCP_LOCAL: '1', NEON_MCP_DATABASE_URL: URL },
      '--local is served over stdio, without --database-url or --http.',
    ],
    [
      '--local and --database-url',
      ['--local', '/d', '--database-url', URL],
      {},
      '--local is served over stdio, without --database-url or --http.',
    ],
  ];
  for (const [what, argv, env, message] of cases) {
    it(what, () => {
      const got = refused(argv, env);
      expect(got).toBe(message);
      expect(got).not.toContain('url-secret-pw');
    });
  }

  it('a remote-mode setting without --http is refused, naming it, never its value', () => {
    const needs = (given: string) =>
      `${given} needs --http (or NEON_MCP_HTTP): it is a setting of remote mode only, ` +
      'and without --http the server runs over stdio.';
    const flags: [string, string][] = [
      ['--http-token', 'tok-secret-1'],
      ['--allowed-origins', 'a.example'],
      ['--allowed-hosts', 'h.example'],
      ['--http-max-body', '2048'],
      ['--http-timeout', '5000'],
    ];
    for (const [flag, value] of flags) {
      expect(refused([flag, value]), flag).toBe(needs(flag));
      // In the other modes too: none of them reads it.
      expect(refused(['--local', flag, value]), flag).toBe(needs(flag));
      expect(refused(['--database-url', URL, flag, value]), flag).toBe(needs(flag));
    }
    const variables: [string, string][] = [
      ['NEON_MCP_HTTP_TOKEN', 'tok-secret-1'],
      ['NEON_MCP_ALLOWED_ORIGINS', 'a.example'],
      ['NEON_MCP_ALLOWED_HOSTS', 'h.example'],
      ['NEON_MCP_HTTP_MAX_BODY', '2048'],
      ['NEON_MCP_HTTP_TIMEOUT_MS', '5000'],
    ];
    for (const [variable, value] of variables) {
      const got = refused(['--api-key', TEST_KEY], { [variable]: value });
      expect(got, variable).toBe(needs(variable));
      expect(got).not.toContain(value);
      // An empty variable is unset, as everywhere; with --http or NEON_MCP_HTTP each is taken.
      expect(parse([], { [variable]: ' ' }).mode, variable).toBe('stdio');
      expect(parse(['--http', '8123'], { [variable]: value }).mode, variable).toBe('http');
      expect(parse([], { NEON_MCP_HTTP: '8123', [variable]: value }).mode, variable).toBe('http');
    }
    expect(refused(['--http-token', 'tok-secret-1'])).not.toContain('tok-secret-1');
    // A flag given empty is unset too; the first setting given is the one named.
    expect(parse(['--http-token', '']).mode).toBe('stdio');
    expect(refused(['--http-timeout', '5', '--http-token', 't'])).toBe(needs('--http-token'));
    expect(refused([], { NEON_MCP_HTTP_TIMEOUT_MS: '5', NEON_MCP_ALLOWED_HOSTS: 'h' })).toBe(
      needs('NEON_MCP_ALLOWED_HOSTS'),
    );
    // init writes stdio entries: a remote-mode flag there is refused the same way.
    expect(refused(['init', 'cursor', '--http-token', 't'])).toBe(needs('--http-token'));
  });

  it('stray arguments: only --local takes one', () => {
    expect(refused(['--local', '/a', '/b'])).toBe(
      'unexpected argument "/b" (only --local takes a DIR after it)',
    );
    expect(refused(['stray'])).toBe('unexpected argument "stray" (only --local takes a DIR after it)');
  });

  it('parseArgs’s own refusals: an unknown flag, a flag without its value', () => {
    expect(refused(['--bogus'])).toMatch(/--bogus/);
    expect(refused(['--project-id'])).toMatch(/--project-id/);
  });
});

describe('--database-url', () => {
  const URL = 'postgresql://app_user:url-secret-pw@db.example:5433/appdb';

  it('is its own mode, with the server it names (its password only in the URL itself)', () => {
    const config = as('database-url', parse(['--database-url', URL, '--read-only']));
    expect(config.databaseUrl).toBe(URL);
    expect(config.server).toMatchObject({ databaseUrl: URL, readOnly: true });
    expect(config.target).toEqual({ host: 'db.example', port: 5433, user: 'app_user', database: 'appdb' });
    expect(as('database-url', parse([], { NEON_MCP_DATABASE_URL: URL })).target.database).toBe('appdb');
    expect(
      as('database-url', parse(['--database-url', URL], { NEON_MCP_DATABASE_URL: 'postgresql://x@other/db' }))
        .target.host,
    ).toBe('db.example');
  });

  it('a malformed URL is a ConfigError that does not repeat the URL', () => {
    for (const bad of ['not a url :pw-secret', 'mysql://u:pw-secret@h/db', 'postgresql://:pw-secret@h/db']) {
      const message = refused(['--database-url', bad]);
      expect(message).toMatch(/^The database URL /);
      expect(message).not.toContain('pw-secret');
    }
  });

  it('the docs URL is checked too', () => {
    expect(refused(['--docs-url', 'nope'])).toBe('The docs URL "nope" is not a URL (e.g. https://neon.com).');
    expect(refused([], { NEON_MCP_DOCS_URL: 'ftp://x' })).toBe(
      'The docs URL must be http(s), got "ftp://x".',
    );
  });
});

describe('numeric ranges', () => {
  it('accepts both ends of each range', () => {
    const low = as(
      'stdio',
      parse([
        '--sql-timeout',
        '1',
        '--sql-max-rows',
        '1',
        '--sql-max-bytes',
        '1024',
        '--operation-timeout',
        '1',
      ]),
    );
    expect(low.server).toMatchObject({
      sqlTimeoutMs: 1,
      sqlMaxRows: 1,
      sqlMaxBytes: 1024,
      operationTimeoutMs: 1,
    });
    const high = as(
      'stdio',
      parse([], {
        NEON_MCP_SQL_TIMEOUT_MS: '86400000',
        NEON_MCP_SQL_MAX_ROWS: '100000',
        NEON_MCP_SQL_MAX_BYTES: '67108864',
        NEON_MCP_OPERATION_TIMEOUT_MS: '86400000',
      }),
    );
    expect(high.server).toMatchObject({
      sqlTimeoutMs: 86_400_000,
      sqlMaxRows: 100_000,
      sqlMaxBytes: 67_108_864,
      operationTimeoutMs: 86_400_000,
    });
  });

  const cases: [string, string[], Env, string][] = [
    [
      'a word for a number',
      ['--sql-timeout', 'soon'],
      {},
      '--sql-timeout must be a positive whole number, at most 86400000, got "soon".',
    ],
    [
      'zero',
      ['--sql-max-rows', '0'],
      {},
      '--sql-max-rows must be a positive whole number, at most 100000, got "0".',
    ],
    [
      'a negative number',
      ['--operation-timeout=-5'],
      {},
      '--operation-timeout must be a positive whole number, at most 86400000, got "-5".',
    ],
    [
      'a fraction',
      ['--sql-max-rows', '1.5'],
      {},
      '--sql-max-rows must be a positive whole number, at most 100000, got "1.5".',
    ],
    [
      'a bad number from the environment',
      [],
      { NEON_MCP_SQL_TIMEOUT_MS: 'x' },
      '--sql-timeout must be a positive whole number, at most 86400000, got "x".',
    ],
    [
      'above the range',
      ['--sql-max-rows', '100001'],
      {},
      '--sql-max-rows must be a positive whole number, at most 100000, got "100001".',
    ],
    [
      'a timeout over a day (PostgreSQL keeps it in a 32-bit int of ms)',
      ['--sql-timeout', '86400001'],
      {},
      '--sql-timeout must be a positive whole number, at most 86400000, got "86400001".',
    ],
    [
      'an operation timeout over a day',
      [],
      { NEON_MCP_OPERATION_TIMEOUT_MS: '86400001' },
      '--operation-timeout must be a positive whole number, at most 86400000, got "86400001".',
    ],
    [
      'a byte cap below its floor',
      ['--sql-max-bytes', '1023'],
      {},
      '--sql-max-bytes must be a whole number from 1024 to 67108864, got "1023".',
    ],
    [
      'a byte cap above its ceiling, from the environment',
      [],
      { NEON_MCP_SQL_MAX_BYTES: '67108865' },
      '--sql-max-bytes must be a whole number from 1024 to 67108864, got "67108865".',
    ],
    [
      'an unsafe integer',
      ['--sql-max-rows', '9007199254740993'],
      {},
      '--sql-max-rows must be a positive whole number, at most 100000, got "9007199254740993".',
    ],
  ];
  for (const [what, argv, env, message] of cases) {
    it(what, () => expect(refused(argv, env)).toBe(message));
  }
});

describe('--http', () => {
  it('its address, its defaults, and its settings from the flags or the environment', () => {
    expect(parse(['--http', '8123'])).toMatchObject({
      mode: 'http',
      host: '127.0.0.1',
      port: 8123,
      token: undefined,
      allowedOrigins: undefined,
      allowedHosts: undefined,
      maxBodyBytes: 4 * 1024 * 1024,
      requestTimeoutMs: 900_000,
    });
    expect(
      parse([], {
        NEON_MCP_HTTP: '127.0.0.1:8123',
        NEON_MCP_HTTP_MAX_BODY: '2048',
        NEON_MCP_HTTP_TIMEOUT_MS: '5000',
        NEON_MCP_HTTP_TOKEN: 'tok-env',
        NEON_MCP_ALLOWED_ORIGINS: 'c.example',
        NEON_MCP_ALLOWED_HOSTS: 'h.example, i.example',
        NEON_API_KEY: TEST_KEY,
      }),
    ).toMatchObject({
      mode: 'http',
      host: '127.0.0.1',
      port: 8123,
      maxBodyBytes: 2048,
      requestTimeoutMs: 5000,
      token: 'tok-env',
      allowedOrigins: ['c.example'],
      allowedHosts: ['h.example', 'i.example'],
      apiKey: TEST_KEY,
    });
    expect(
      parse(
        [
          '--http',
          '0.0.0.0:8125',
          '--http-max-body',
          '4096',
          '--http-timeout',
          '7000',
          '--http-token',
          'tok-flag',
          '--allowed-origins',
          'a.example, b.example',
          '--allowed-hosts',
          'mcp.example',
        ],
        {
          NEON_MCP_HTTP: '8123',
          NEON_MCP_HTTP_MAX_BODY: '2048',
          NEON_MCP_HTTP_TIMEOUT_MS: '5000',
          NEON_MCP_HTTP_TOKEN: 'tok-env',
          NEON_MCP_ALLOWED_ORIGINS: 'c.example',
          NEON_MCP_ALLOWED_HOSTS: 'h.example',
        },
      ),
    ).toMatchObject({
      host: '0.0.0.0',
      port: 8125,
      maxBodyBytes: 4096,
      requestTimeoutMs: 7000,
      token: 'tok-flag',
      allowedOrigins: ['a.example', 'b.example'],
      allowedHosts: ['mcp.example'],
    });
  });

  it('addresses: a port up to 65535, HOST:PORT, [IPv6]:PORT, spaces around', () => {
    expect(parse(['--http', '65535'])).toMatchObject({ host: '127.0.0.1', port: 65_535 });
    expect(parse(['--http', ' 0.0.0.0:8080 '])).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(parse(['--http', '[::1]:9000'])).toMatchObject({ host: '[::1]', port: 9000 });
    expect(parse(['--http', 'mcp.example:0'])).toMatchObject({ host: 'mcp.example', port: 0 });
    for (const bad of ['host:', '70000', '65536', 'a:b', 'x:8080:1', ' ', '', '123456', ':8080']) {
      expect(refused(['--http', bad]), bad).toBe(
        `--http takes [HOST:]PORT (e.g. 8080 or 0.0.0.0:8080), got "${bad}".`,
      );
    }
  });

  it('its numbers are checked (only in remote mode)', () => {
    expect(refused([], { NEON_MCP_HTTP: '8123', NEON_MCP_HTTP_MAX_BODY: '10' })).toBe(
      '--http-max-body must be a whole number from 1024 to 67108864, got "10".',
    );
    expect(refused(['--http', '1', '--http-max-body', '67108865'])).toMatch(/^--http-max-body must be/);
    expect(refused([], { NEON_MCP_HTTP: '8123', NEON_MCP_HTTP_TIMEOUT_MS: '-1' })).toBe(
      '--http-timeout must be a positive whole number, at most 86400000, got "-1".',
    );
    expect(parse(['--http', '1', '--http-max-body', '1024', '--http-timeout', '86400000'])).toMatchObject({
      maxBodyBytes: 1024,
      requestTimeoutMs: 86_400_000,
    });
  });

  it('a share of the rate limits: 1/N, a fraction or a percentage; anything else is refused', () => {
    const cases: [string, { perMinute: number; perSecondPerRoute: number }][] = [
      ['1/3', { perMinute: 233, perSecondPerRoute: 13 }],
      [' 1 / 4 ', { perMinute: 175, perSecondPerRoute: 10 }],
      ['10/20', { perMinute: 350, perSecondPerRoute: 20 }],
      ['50%', { perMinute: 350, perSecondPerRoute: 20 }],
      ['0.1', { perMinute: 70, perSecondPerRoute: 4 }],
      ['1', { perMinute: 700, perSecondPerRoute: 40 }],
      ['100%', { perMinute: 700, perSecondPerRoute: 40 }],
      ['1/1000', { perMinute: 1, perSecondPerRoute: 1 }],
    ];
    for (const [share, limits] of cases) {
      expect(parse(['--http', '8125', '--rate-limit-share', share]), share).toMatchObject({ limits });
    }
    for (const bad of ['0', '1.5', '2/1', '1/0', 'x', '-1', '0%', '101%', 'x1/3', '1/3x', '1/3 of it']) {
      expect(refused([`--rate-limit-share=${bad}`]), bad).toBe(
        `--rate-limit-share must be a share from 0 to 1 (e.g. 1/3, 0.5, 25%), got "${bad}".`,
      );
    }
  });
});

describe('init', () => {
  it('the client comes first, the rest are the server flags; --print and --yes are its own', () => {
    expect(parse(['init'])).toEqual({
      mode: 'init',
      client: undefined,
      print: false,
      yes: false,
      serverArgs: [],
    });
    expect(parse(['init', 'vscode', '--local', './data', '--read-only', '--print', '--yes'])).toEqual({
      mode: 'init',
      client: 'vscode',
      print: true,
      yes: true,
      serverArgs: ['--local', './data', '--read-only'],
      apiKey: undefined,
    });
    expect(parse(['init', 'zed', '--help'])).toEqual({ mode: 'help' });
  });

  it('the key comes from the flag or NEON_API_KEY, never into the args, and not at all in local mode', () => {
    const flag = parse(['init', 'cursor', `--api-key=${TEST_KEY}`, '--project-id', 'p-1']);
    expect(flag).toMatchObject({ apiKey: TEST_KEY, serverArgs: ['--project-id', 'p-1'] });
    expect(parse(['init', 'cursor', '--api-key', TEST_KEY])).toMatchObject({
      apiKey: TEST_KEY,
      serverArgs: [],
    });
    expect(parse(['init', 'cursor'], { NEON_API_KEY: TEST_KEY })).toMatchObject({ apiKey: TEST_KEY });
    expect(parse(['init', 'cursor', '--local'], { NEON_API_KEY: TEST_KEY })).toMatchObject({
      apiKey: undefined,
    });
    expect(JSON.stringify(parse(['init', 'cursor', '--local', '--api-key', TEST_KEY]))).not.toContain(
      TEST_KEY,
    );
  });

  it('only the flags count, not the NEON_MCP_* variables of the shell it runs in', () => {
    expect(parse(['init', 'windsurf'], { NEON_MCP_READ_ONLY: 'true', NEON_MCP_HTTP: '8080' })).toMatchObject({
      mode: 'init',
      serverArgs: [],
    });
  });

  it('refuses an unknown client (naming the known ones), --http, and a flag the server would refuse', () => {
    expect(refused(['init', 'emacs'])).toMatch(/unknown client "emacs".*claude-code, claude-desktop, cursor/);
    expect(refused(['init', 'cursor', '--http', '8080'])).toMatch(/stdio; leave out --http/);
    expect(refused(['init', 'cursor', '--read-onyl'])).toMatch(/--read-onyl/);
    expect(refused(['init', 'cursor', '--sql-max-rows', '0'])).toMatch(/--sql-max-rows/);
    expect(refused(['init', 'cursor', 'extra'])).toMatch(/unexpected argument "extra"/);
  });
});

describe('--branch-ttl', () => {
  const ttl = (argv: string[], env: Env = {}) => {
    const c = parse(argv, env);
    return c.mode === 'stdio' ? c.server.branchTtlMs : 'not stdio';
  };
  it('takes hours or days, 0 for none, the flag over NEON_MCP_BRANCH_TTL; unset leaves the default to the server', () => {
    expect(ttl([])).toBeUndefined();
    expect(ttl(['--branch-ttl', '24h'])).toBe(24 * 3_600_000);
    expect(ttl(['--branch-ttl', '7d'])).toBe(7 * 86_400_000);
    expect(ttl(['--branch-ttl', '30d'])).toBe(30 * 86_400_000);
    expect(ttl(['--branch-ttl', '0'])).toBe(0);
    expect(ttl([], { NEON_MCP_BRANCH_TTL: '2d' })).toBe(2 * 86_400_000);
    expect(ttl(['--branch-ttl', '1h'], { NEON_MCP_BRANCH_TTL: '2d' })).toBe(3_600_000);
  });
  it('fails closed on anything else, naming the accepted forms', () => {
    for (const bad of ['7', '31d', '721h', 'week', '-1d', '1.5d', '0d0']) {
      expect(() => parse([`--branch-ttl=${bad}`])).toThrow(
        `--branch-ttl must be 0 (no expiry) or hours or days such as 24h or 7d, at most 30d, got "${bad}".`,
      );
    }
  });
});
