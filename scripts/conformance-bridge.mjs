// A minimal stdio-to-HTTP bridge for running the MCP conformance suite's server scenarios against the
// built stdio server: one child per session (a new `initialize`), every POSTed JSON-RPC message
// written to its stdin; a request's POST is answered with an SSE stream that carries what the server
// sends meanwhile (progress, log messages, its own requests such as elicitation) and then the answer.
// `npm run conformance` (scripts/conformance.mjs) starts it in-process; by hand:
//
//   npm run build && node scripts/conformance-bridge.mjs dist/index.js 3999 &
//   (Node >= 22) npx @modelcontextprotocol/conformance server --url http://127.0.0.1:3999/mcp --scenario tools-list
//
// Port 0 picks a free port; the line `bridge on <port>` on stderr says which. Only NEON_API_KEY,
// NEON_API_URL, NEON_MCP_DOCS_URL, PATH and HOME are passed to the children.
//
// Hand-written rather than a library: the SDK's own StreamableHTTPServerTransport would need the
// server in-process, and the point is to test the built `neon-mcp` command exactly as a client
// spawns it (stdio), so the bridge only moves lines between HTTP bodies and a child's pipes.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const PASSED_ENV = ['PATH', 'HOME', 'NEON_API_KEY', 'NEON_API_URL', 'NEON_MCP_DOCS_URL'];

const sse = (msg) => `event: message\ndata: ${JSON.stringify(msg)}\n\n`;

function rpcError(res, status, code, message, id = null) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } }));
}

/**
 * Starts the bridge on 127.0.0.1. `entry` is the server's script (run with this Node), `args` its
 * flags, `env` the variables handed to each child (default: those of PASSED_ENV set here).
 * Resolves to `{ port, url, notJson, close() }`; close() ends every child and the HTTP server.
 */
export function startBridge({ entry, args = [], port = 0, env, stderr = 'inherit' }) {
  const childEnv =
    env ?? Object.fromEntries(PASSED_ENV.filter((k) => process.env[k]).map((k) => [k, process.env[k]]));
  const sessions = new Map();
  /** Lines a server wrote to stdout that are not JSON (stdout must carry JSON-RPC only). */
  const notJson = [];

  function start() {
    const child = spawn(process.execPath, [entry, ...args], {
      env: childEnv,
      stdio: ['pipe', 'pipe', stderr],
    });
    const waiters = new Map();
    // Messages from the server outside an answer (notifications, its own requests such as
    // elicitation): written to an open request stream at once, else kept for the next one.
    const pending = [];
    const streams = new Set();
    const emit = (msg) => {
      const open = [...streams].at(-1);
      if (open) open.write(sse(msg));
      else pending.push(msg);
    };
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) {
        if (!line.trim()) continue;
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          // stdout must carry JSON-RPC only: anything else is the server's bug, kept and shown.
          notJson.push(line.slice(0, 200));
          process.stderr.write(`bridge: not JSON on the server's stdout: ${line.slice(0, 200)}\n`);
          continue;
        }
        if (
          msg.id !== undefined &&
          (msg.result !== undefined || msg.error !== undefined) &&
          waiters.has(msg.id)
        ) {
          waiters.get(msg.id)(msg);
          waiters.delete(msg.id);
        } else emit(msg);
      }
    });
    // A server that dies answers its open requests with an error instead of leaving them hanging.
    child.on('exit', (code, signal) => {
      for (const [id, answer] of waiters)
        answer({
          jsonrpc: '2.0',
          id,
          error: { code: -32603, message: `server exited (${signal ?? code})` },
        });
      waiters.clear();
    });
    child.stdin.on('error', () => {}); // writes after an exit: the exit handler answers
    return { child, waiters, pending, streams };
  }

  const server = http.createServer((req, res) => {
    if (req.method === 'DELETE') {
      const s = sessions.get(req.headers['mcp-session-id']);
      s?.child.stdin.end();
      sessions.delete(req.headers['mcp-session-id']);
      res.writeHead(s ? 200 : 404).end();
      return;
    }
    // No server-initiated SSE stream on GET: the Streamable HTTP spec allows answering 405.
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST, DELETE' }).end();
      return;
    }
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      let msg;
      try {
        msg = JSON.parse(body);
      } catch {
        rpcError(res, 400, -32700, 'Parse error');
        return;
      }
      let id = req.headers['mcp-session-id'];
      let s = id && sessions.get(id);
      if (msg.method === 'initialize') {
        id = randomUUID();
        s = start();
        sessions.set(id, s);
      }
      if (!s) {
        rpcError(res, 400, -32000, 'no session', msg.id ?? null);
        return;
      }
      // Notifications and the client's answers to the server's requests get 202 and no stream.
      if (msg.method === undefined || msg.id === undefined) {
        s.child.stdin.write(`${JSON.stringify(msg)}\n`);
        res.writeHead(202, { 'mcp-session-id': id }).end();
        return;
      }
      // A request: an SSE stream that carries what the server sends meanwhile (kept messages first),
      // then the answer, and closes.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': id });
      for (const m of s.pending.splice(0)) res.write(sse(m));
      s.streams.add(res);
      res.on('close', () => s.streams.delete(res)); // a client that went away gets nothing more
      s.waiters.set(msg.id, (answer) => {
        s.streams.delete(res);
        res.end(sse(answer));
      });
      s.child.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), '127.0.0.1', () => {
      const actual = server.address().port;
      resolve({
        port: actual,
        url: `http://127.0.0.1:${actual}/mcp`,
        notJson,
        async close() {
          for (const s of sessions.values()) s.child.kill();
          sessions.clear();
          server.closeAllConnections();
          await new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [, , entry, port = '3999', ...args] = process.argv;
  if (!entry) {
    process.stderr.write('usage: node scripts/conformance-bridge.mjs <server.js> [port] [server flags]\n');
    process.exit(2);
  }
  const bridge = await startBridge({ entry, port, args });
  process.stderr.write(`bridge on ${bridge.port}\n`);
}
