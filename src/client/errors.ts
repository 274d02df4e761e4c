/**
 * Errors the Neon client throws. Every message is written for whoever has to act on it (usually an
 * AI agent): what failed, why, and what to do next. No message ever contains the API key.
 */

/** Base class of every error raised by the Neon client. */
export class NeonError extends Error {
  override name = 'NeonError';
}

const accountedFor = new WeakSet<object>();

/**
 * Marks an error whose message already says what became of the writes Neon accepted during the call
 * (e.g. "the temporary branch was deleted"), so no generic "may have been applied" is added to it.
 */
export function markAccountedFor<E>(error: E): E {
  if (error && typeof error === 'object') accountedFor.add(error);
  return error;
}

/** Whether {@link markAccountedFor} marked `error`. */
export function isAccountedFor(error: unknown): boolean {
  return Boolean(error && typeof error === 'object' && accountedFor.has(error));
}

/** No API key was configured; raised before any request is sent. */
export class MissingApiKeyError extends NeonError {
  override name = 'MissingApiKeyError';
  constructor() {
    super(
      'No Neon API key is configured. Set the NEON_API_KEY environment variable (or pass --api-key) in the ' +
        'MCP client configuration of neon-mcp and restart the server. Keys are created in the Neon Console ' +
        'under Account settings > API keys.',
    );
  }
}

/** The request was refused before sending because an argument cannot be used in a URL path. */
export class InvalidArgumentError extends NeonError {
  override name = 'InvalidArgumentError';
}

/** Facts about the request that failed, shared by the HTTP-level errors. */
export interface RequestInfo {
  method: string;
  /** The path template, e.g. `/projects/{project_id}/branches`. */
  route: string;
  /** The concrete path that was requested. */
  path: string;
}

/** Neon answered with a non-2xx status. */
export class NeonApiError extends NeonError {
  override name = 'NeonApiError';
  readonly status: number;
  /** Neon's machine-readable error code, when the body had one. */
  readonly code: string | undefined;
  /** Neon's human-readable message, when the body had one. */
  readonly neonMessage: string | undefined;
  readonly requestId: string | undefined;
  readonly method: string;
  readonly route: string;
  readonly path: string;
  /** Whether the client retried before giving up. */
  readonly attempts: number;

  constructor(
    info: RequestInfo & {
      status: number;
      code?: string;
      neonMessage?: string;
      requestId?: string;
      attempts: number;
    },
  ) {
    super(describeApiError(info));
    this.status = info.status;
    this.code = info.code;
    this.neonMessage = info.neonMessage;
    this.requestId = info.requestId;
    this.method = info.method;
    this.route = info.route;
    this.path = info.path;
    this.attempts = info.attempts;
  }
}

/** The request could not be completed at the network level (refused, reset, DNS, TLS). */
export class NeonNetworkError extends NeonError {
  override name = 'NeonNetworkError';
  constructor(
    readonly info: RequestInfo,
    cause: unknown,
    sent: 'maybe' | 'no',
    /** `answer`: the connection broke while Neon's answer was being read (so the request did arrive). */
    during?: 'answer',
  ) {
    const why =
      cause instanceof Error
        ? cause.cause instanceof Error
          ? cause.cause.message
          : cause.message
        : String(cause);
    super(
      `${info.method} ${info.path} failed: ` +
        (during === 'answer'
          ? `the connection to the Neon API broke while its answer was being read (${why}). `
          : `could not reach the Neon API (${why}). `) +
        (sent === 'maybe'
          ? 'The request may have reached Neon: check the resource (list or get it) before trying again, so nothing is done twice.'
          : 'Check the network connection and NEON_API_URL, then try again.'),
      { cause },
    );
  }
}

/** The request took longer than the per-request timeout. */
export class NeonTimeoutError extends NeonError {
  override name = 'NeonTimeoutError';
  constructor(
    readonly info: RequestInfo,
    timeoutMs: number,
  ) {
    super(
      `${info.method} ${info.path} timed out after ${timeoutMs} ms.` +
        (info.method === 'GET'
          ? ' The Neon API is slow or unreachable; try again later.'
          : ' The request may still complete on Neon: check the resource (list or get it) before trying again.'),
    );
  }
}

/** Neon answered with a redirect; it is not followed (it would re-send the request and the key). */
export class NeonRedirectError extends NeonError {
  override name = 'NeonRedirectError';
  constructor(
    readonly info: RequestInfo,
    readonly status: number,
    /** Origin and path of the Location header. */
    readonly target: string,
  ) {
    super(
      `${info.method} ${info.path} was answered with a redirect (HTTP ${status}) to ${target}, which neon-mcp ` +
        'does not follow: it would send the request and the API key there. Check NEON_API_URL (or --api-url): ' +
        'it must be the API base URL itself, ending in /api/v2.' +
        (info.method === 'GET' ? '' : ' Nothing was sent to the redirect target.'),
    );
  }
}

/** Neon's answer was longer than the client reads; it was not buffered. */
export class NeonResponseTooLargeError extends NeonError {
  override name = 'NeonResponseTooLargeError';
  constructor(
    readonly info: RequestInfo,
    readonly limitBytes: number,
    declaredBytes?: number,
  ) {
    super(
      `${info.method} ${info.path}: Neon's answer is larger than neon-mcp reads (` +
        (declaredBytes ? `${declaredBytes} bytes announced, ` : '') +
        `limit ${limitBytes} bytes), so it was not read.` +
        (info.method === 'GET'
          ? ' Ask for less: a smaller limit, a filter, or one resource at a time.'
          : ' Neon did accept the request, so the change may have been applied: check the resource (list or get it) before trying again.'),
    );
  }
}

/** The caller aborted the request (e.g. the MCP client cancelled the tool call). */
export class NeonAbortedError extends NeonError {
  override name = 'NeonAbortedError';
  constructor(what: string) {
    super(`${what} was cancelled by the client.`);
  }
}

/** A Neon operation ended in `failed`, `error` or `cancelled`. */
export class NeonOperationFailedError extends NeonError {
  override name = 'NeonOperationFailedError';
  constructor(
    readonly operation: { id: string; action: string; status: string; error?: string; project_id: string },
  ) {
    super(
      `Neon operation ${operation.id} (${operation.action}) ended with status "${operation.status}"` +
        (operation.error ? `: ${operation.error}` : '.') +
        ` Inspect it with get_operation (project_id ${operation.project_id}, operation_id ${operation.id}).`,
    );
  }
}

/** Neon accepted a change, but following its operations failed (the polls errored). */
export class NeonOperationCheckError extends NeonError {
  override name = 'NeonOperationCheckError';
  constructor(
    readonly pending: { id: string; action: string; status: string; project_id: string }[],
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `Neon accepted the change, but checking its progress failed (${why}). It was most likely applied or is ` +
        `still running: ${pending.map((op) => `${op.id} (${op.action})`).join(', ')}. Check with get_operation ` +
        `(project_id ${pending[0]?.project_id}) before trying anything again.`,
      { cause },
    );
  }
}

/** Operations were still running when the overall wait timed out. */
export class NeonOperationTimeoutError extends NeonError {
  override name = 'NeonOperationTimeoutError';
  constructor(
    readonly pending: { id: string; action: string; status: string; project_id: string }[],
    timeoutMs: number,
  ) {
    super(
      `Gave up waiting after ${duration(timeoutMs)}; these Neon operations are still running: ` +
        pending.map((op) => `${op.id} (${op.action}, ${op.status})`).join(', ') +
        `. The change was accepted by Neon and will most likely complete. Check later with get_operation ` +
        `(project_id ${pending[0]?.project_id}) before retrying anything.`,
    );
  }
}

/** A limit as the user set it: whole seconds in s, anything else in ms (a 500 ms limit is not "0 s"). */
function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function describeApiError(
  info: RequestInfo & { status: number; neonMessage?: string; requestId?: string },
): string {
  const what = `${info.method} ${info.path} failed with HTTP ${info.status}`;
  const neon = info.neonMessage ? `: ${info.neonMessage}` : '';
  const ref = info.requestId ? ` (request_id ${info.requestId})` : '';
  let hint = '';
  switch (info.status) {
    case 401:
      hint =
        ' The Neon API key was rejected. Check NEON_API_KEY (or --api-key) in the MCP client configuration: ' +
        'the key may be mistyped, revoked or expired. Create a new one in the Neon Console under Account settings > API keys.';
      break;
    case 403:
      hint =
        ' The API key is valid but not allowed to do this. Use a key with access to this project or ' +
        'organization (a personal or organization key rather than a project-scoped one), or ask an admin.';
      break;
    case 404:
      hint = ` ${describeNotFound(info.route, info.path)}`;
      break;
    case 409:
      hint =
        ' It conflicts with the current state (for example a name already in use). Pick another name or check the current state.';
      break;
    case 422:
      hint = ' Neon rejected the arguments: fix them as the message says and try again.';
      break;
    case 423:
      hint =
        ' The project is locked by another operation in progress. Wait for running operations to finish ' +
        '(list_operations) and try again.';
      break;
    case 429:
      hint = ' Neon rate limit reached even after retries; wait a minute before trying again.';
      break;
    default:
      if (info.status >= 500) {
        hint =
          info.method === 'GET'
            ? ' Neon had a server error; it was retried. Try again in a little while.'
            : ' Neon had a server error. The change may or may not have been applied: check the resource before ' +
              'retrying (list or get it); it was not sent again, so nothing is done twice.';
      }
  }
  return `${what}${neon}.${hint}${ref}`;
}

/** Names what was not found from the route, e.g. "branch br-x in project p-y". */
function describeNotFound(route: string, path: string): string {
  const names = route.match(/\{[a-z_]+\}/g) ?? [];
  const values = path.split('/');
  const templ = route.split('/');
  const parts: string[] = [];
  for (let i = 0; i < templ.length; i++) {
    const m = /^\{([a-z_]+)\}$/.exec(templ[i]);
    if (m)
      parts.push(
        `${m[1].replace(/_id$|_name$/, '').replace(/_/g, ' ')} "${decodeURIComponent(values[i] ?? '')}"`,
      );
  }
  if (names.length === 0) return 'The resource does not exist.';
  return `Not found: ${parts.reverse().join(' in ')}. Check the IDs (list the parent resource to see valid ones).`;
}
