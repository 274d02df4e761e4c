// A minimal stdio-to-HTTP bridge for running the MCP conformance suite's server scenarios against the
// built stdio server: one child per session (a new `initialize`), every POSTed JSON-RPC message
// written to its stdin, the answer with the same id (after any notifications) sent back as SSE.
//
//   npm run build && node scripts/conformance-bridge.mjs dist/index.js 3999 &
//   npx @modelcontextprotocol/conformance server --url http://localhost:3999/mcp --scenario tools-list
//
// The suite needs Node 22 (fs.globSync). NEON_API_KEY / NEON_API_URL are passed to the children.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';

const [, , entry, port = '3999'] = process.argv;
const sessions = new Map();

function start() {
  const child = spawn(process.execPath, [entry], {
    env: {
      PATH: process.env.PATH,
      ...(process.env.NEON_API_KEY ? { NEON_API_KEY: process.env.NEON_API_KEY } : {}),
      ...(process.env.NEON_API_URL ? { NEON_API_URL: process.env.NEON_API_URL } : {}),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiters = new Map();
  const pending = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      const msg = JSON.parse(line);
      if (
        msg.id !== undefined &&
        (msg.result !== undefined || msg.error !== undefined) &&
        waiters.has(msg.id)
      ) {
        waiters.get(msg.id)(msg);
        waiters.delete(msg.id);
      } else pending.push(msg);
    }
  });
  return { child, waiters, pending };
}

http
  .createServer((req, res) => {
    if (req.method !== 'POST') {
      if (req.method === 'DELETE') {
        const s = sessions.get(req.headers['mcp-session-id']);
        s?.child.stdin.end();
        res.writeHead(200).end();
        return;
      }
      res.writeHead(405).end();
      return;
    }
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const msg = JSON.parse(body);
      let id = req.headers['mcp-session-id'];
      let s = id && sessions.get(id);
      if (msg.method === 'initialize') {
        id = randomUUID();
        s = start();
        sessions.set(id, s);
      }
      if (!s) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'no session' } }));
        return;
      }
      s.child.stdin.write(`${JSON.stringify(msg)}\n`);
      if (msg.id === undefined) {
        res.writeHead(202, { 'mcp-session-id': id }).end();
        return;
      }
      s.waiters.set(msg.id, (answer) => {
        // Notifications sent during the request go first, as an SSE stream would carry them.
        const notes = s.pending.splice(0);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': id });
        for (const n of [...notes, answer]) res.write(`event: message\ndata: ${JSON.stringify(n)}\n\n`);
        res.end();
      });
    });
  })
  .listen(Number(port), () => process.stderr.write(`bridge on ${port}\n`));
