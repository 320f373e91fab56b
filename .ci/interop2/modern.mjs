// Interoperability check with the official MCP TypeScript SDK v2 client
// (@modelcontextprotocol/client), which speaks the stateless 2026-07-28
// revision, against the product's own /mcp.
//
// Usage: node modern.mjs http://127.0.0.1:PORT/mcp
//
// The server must run in development mode (the AuthKit emulator's sign-in
// page, its demo users ada@example.com with image_generation and
// grace@example.com without). Everything MCP and OAuth is done by the SDK:
// version negotiation (server/discover), discovery from the 401, dynamic
// client registration, PKCE, the token request. The person at the browser
// is played by the distribution's Chromium through playwright-core: the
// SDK's redirectToAuthorization opens the authorization URL in it, the
// consent page is approved and the user's button pressed on the emulator's
// sign-in page, and the browser lands on a loopback redirect URI (RFC 8252
// s7.3) served here, whose code goes to finishAuth.
//
// For each negotiation mode ('auto', which must pick the modern era, and
// the pin to 2026-07-28) it signs in as Ada and as Grace, lists the tools
// (Grace must not see generateImage), calls add, and, as Ada, calls
// generateImage with progress. SDK 2.4.0 has no client for the tasks
// extension (io.modelcontextprotocol/tasks: it refuses a result of
// resultType "task"), so the task run is the same requests by hand with the
// SDK's access token: tools/call declaring the extension answers a task,
// polled with tasks/get until its image is there; Grace's tasks/get of
// Ada's task is "unknown task".
//
// Environment: MCP_BROWSER_CHROMIUM, the browser (default /usr/bin/chromium;
// nothing is downloaded).
//
// It prints one line per check and "interop-v2: ok" at the end; any
// mismatch exits non-zero.

import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';

const TIMEOUT_MS = 150_000;
const executablePath = process.env.MCP_BROWSER_CHROMIUM || '/usr/bin/chromium';

setTimeout(() => {
  console.error(`interop-v2: timed out after ${TIMEOUT_MS} ms`);
  process.exit(3);
}, TIMEOUT_MS).unref();

function fail(msg) {
  throw new Error(msg);
}

// The client's loopback redirect URI: it records each authorization
// response and shows a plain page.
function startRedirectListener() {
  const waiting = [];
  const srv = createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname !== '/cb') {
      // The browser also asks for /favicon.ico; only /cb is an answer.
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><meta charset="utf-8"><title>Done</title><p>You can close this window.');
    waiting.shift()?.(u.searchParams);
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${srv.address().port}/cb`,
        next: () => new Promise((r) => waiting.push(r)),
        close: () => srv.close(),
      });
    });
  });
}

// A fresh browser profile per user, so that no cookie or remembered
// consent crosses from one to the other.
async function launch() {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-interop-v2-profile-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
  context.setDefaultTimeout(15_000);
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Provider is an in-memory OAuthClientProvider whose user agent is a real
// browser. The registration is shared (one client application), tokens
// are per user.
class Provider {
  constructor(shared, listener, browser, email) {
    Object.assign(this, { shared, listener, browser, email });
    this.pages = [];
  }
  get redirectUrl() {
    return this.listener.url;
  }
  get clientMetadata() {
    return {
      client_name: 'TypeScript SDK v2 interop client',
      redirect_uris: [this.listener.url],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this._state = randomBytes(16).toString('hex');
    return this._state;
  }
  clientInformation() {
    return this.shared.client;
  }
  saveClientInformation(info) {
    this.shared.client = info;
    this.shared.registrations++;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    this._tokens = tokens;
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  // Kept with the code verifier, so that the SDK can bind the callback to
  // the authorization server it sent the browser to (SEP-2352).
  saveDiscoveryState(state) {
    this._discovery = state;
  }
  discoveryState() {
    return this._discovery;
  }
  codeVerifier() {
    return this._verifier ?? fail('no code verifier saved');
  }
  async redirectToAuthorization(authorizationUrl) {
    const p = authorizationUrl.searchParams;
    if (p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge') || !p.get('resource')) {
      fail(`authorization URL lacks PKCE S256 or resource: ${authorizationUrl}`);
    }
    const back = this.listener.next();
    const page = await this.browser.context.newPage();
    await page.goto(authorizationUrl.href);
    const allow = page.getByRole('button', { name: /allow/i });
    if (await allow.isVisible()) {
      this.pages.push('consent');
      await allow.click();
    }
    await page.getByRole('button', { name: new RegExp(this.email.replace('.', '\\.')) }).click();
    this.pages.push('signin');
    this.callback = await back;
    // Not awaited: closing a tab whose favicon request is still in flight
    // can hang until the SDK's 60 s request timeout, and the tab goes with
    // its browser at the end anyway.
    page.close().catch(() => {});
    if (this.callback.get('error')) fail(`authorization refused: ${this.callback.get('error')}`);
    if (this.callback.get('state') !== this._state) fail('state mismatch');
  }
}

// signIn connects a Client in the given negotiation mode: the first
// connect meets 401, the SDK discovers, registers and sends the browser to
// authorize; finishAuth redeems the code; a fresh client then connects.
async function signIn(url, mode, provider) {
  const newClient = () => new Client({ name: 'remote-mcp-authkit-interop-v2', version: '1.0.0' }, { versionNegotiation: { mode } });
  let client = newClient();
  let transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  try {
    await client.connect(transport);
    fail('connected without signing in');
  } catch (e) {
    if (!(e instanceof UnauthorizedError) && !provider.callback) throw e;
  }
  await client.close().catch(() => {});
  if (!provider.callback) fail('the SDK did not send the browser to authorize');
  await transport.finishAuth(provider.callback);
  client = newClient();
  transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await client.connect(transport);
  return client;
}

// modern sends one 2026-07-28 request by hand with the user's token.
async function modern(url, token, method, params, capabilities, mcpName) {
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
  };
  if (mcpName) headers['mcp-name'] = mcpName;
  const _meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'remote-mcp-authkit-interop-v2', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta } }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!(res.headers.get('content-type') || '').startsWith('text/event-stream')) return JSON.parse(text);
  const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
  return data.find((m) => 'id' in m) ?? fail(`${method}: no response in the stream`);
}

const TASKS = { extensions: { 'io.modelcontextprotocol/tasks': {} } };

async function taskRun(label, url, adaToken, graceToken) {
  const created = await modern(url, adaToken, 'tools/call', { name: 'generateImage', arguments: { prompt: 'a lighthouse', steps: 4 } }, TASKS, 'generateImage');
  const task = created.result;
  if (task?.resultType !== 'task' || !task.taskId || task.status !== 'working' || !Number.isInteger(task.ttlMs)) {
    fail(`${label}: generateImage as a task: ${JSON.stringify(created)}`);
  }
  const stolen = await modern(url, graceToken, 'tasks/get', { taskId: task.taskId }, TASKS, task.taskId);
  if (stolen.error?.code !== -32602) fail(`${label}: grace's tasks/get of ada's task: ${JSON.stringify(stolen)}`);
  let got = task;
  for (let i = 0; got.status !== 'completed'; i++) {
    if (i > 100 || ['failed', 'cancelled'].includes(got.status)) fail(`${label}: task ${JSON.stringify(got)}`);
    await new Promise((r) => setTimeout(r, Math.min(task.pollIntervalMs ?? 100, 200)));
    const r = await modern(url, adaToken, 'tasks/get', { taskId: task.taskId }, TASKS, task.taskId);
    got = r.result ?? fail(`${label}: tasks/get: ${JSON.stringify(r)}`);
  }
  const image = got.result?.content?.find((c) => c.type === 'image');
  if (!image?.data) fail(`${label}: completed task without an image: ${JSON.stringify(got).slice(0, 300)}`);
  console.log(`${label}: generateImage as a task: ${task.status} -> completed, ${image.mimeType}; grace's tasks/get: ${stolen.error.code}`);
}

async function main() {
  const arg = process.argv[2] || fail('usage: node modern.mjs http://HOST:PORT/mcp');
  const url = new URL(arg);
  const pkg = JSON.parse(readFileSync(new URL('../node_modules/@modelcontextprotocol/client/package.json', import.meta.url), 'utf8'));
  console.log(`interop-v2: @modelcontextprotocol/client ${pkg.version} on Node ${process.version}`);
  const listener = await startRedirectListener();
  const shared = { client: undefined, registrations: 0 };
  const browsers = [];
  try {
    for (const [label, mode] of [['auto', 'auto'], ['pinned', { pin: '2026-07-28' }]]) {
      const tokens = {};
      for (const email of ['ada@example.com', 'grace@example.com']) {
        const browser = await launch();
        browsers.push(browser);
        const provider = new Provider(shared, listener, browser, email);
        const client = await signIn(url, mode, provider);
        const who = `${label} ${email.split('@')[0]}`;
        const era = client.getProtocolEra();
        const version = client.getNegotiatedProtocolVersion();
        console.log(`${who}: signed in via ${provider.pages.join(',')}; era ${era}, protocol ${version}`);
        if (era !== 'modern' || version !== '2026-07-28') fail(`${who}: negotiated ${era} ${version}`);
        if (client.getServerVersion()?.name !== 'remote-mcp-authkit') fail(`${who}: serverInfo ${JSON.stringify(client.getServerVersion())}`);

        const { tools } = await client.listTools();
        const names = tools.map((t) => t.name).sort().join(',');
        console.log(`${who}: tools=${names}`);
        const want = email.startsWith('ada') ? 'add,generateImage,whoami' : 'add,whoami';
        if (names !== want) fail(`${who}: tools ${names}, want ${want}`);

        const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
        console.log(`${who}: add(2, 3) = ${sum.content?.[0]?.text}`);
        if (sum.isError || sum.content?.[0]?.text !== '5') fail(`${who}: add returned ${JSON.stringify(sum)}`);

        if (email.startsWith('ada')) {
          const progress = [];
          const img = await client.callTool(
            { name: 'generateImage', arguments: { prompt: 'a red fox', steps: 4 } },
            { onprogress: (p) => progress.push(p.progress) },
          );
          const image = img.content?.find((c) => c.type === 'image');
          console.log(`${who}: generateImage: ${image?.mimeType}, progress notifications ${progress.length}`);
          if (img.isError || !image?.data || progress.length < 2) fail(`${who}: generateImage ${JSON.stringify(img).slice(0, 300)}, progress ${progress}`);
        }
        tokens[email] = provider.tokens().access_token;
        await client.close();
      }
      await taskRun(label, url, tokens['ada@example.com'], tokens['grace@example.com']);
    }
    if (shared.registrations !== 1) fail(`registered ${shared.registrations} times, want once`);
    console.log('interop-v2: ok');
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    listener.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`interop-v2: FAILED: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
