// Interoperability check with the official MCP TypeScript SDK.
//
// Usage: node client.mjs [--permission-change] http://127.0.0.1:PORT/mcp
//
// The server must sign in through the AuthKit emulator (its development
// sign-in, or one it is configured with) with the demo user ada@example.com
// holding the image_generation permission. Everything MCP and OAuth is done
// by the SDK: its Client, StreamableHTTPClientTransport and SSEClientTransport,
// and its OAuth support (discovery from the 401's WWW-Authenticate, RFC 9728
// and RFC 8414 metadata, dynamic client registration, PKCE, the token
// request). The only part written here is the person at the browser: the
// OAuthClientProvider's redirectToAuthorization approves our consent page and
// presses Ada's button on the sign-in page, following redirects with a small
// cookie jar until the redirect URI, whose code it hands to finishAuth.
//
// With --permission-change, once Streamable HTTP works the script prints
// "streamable-http: waiting for a permission change" and reads a line from
// standard input: the test driving it takes image_generation away from Ada
// in the emulator, then writes that line. The SDK's next refresh must bring
// notifications/tools/list_changed on the session's GET stream, and the
// tools then listed must lack generateImage.
//
// It prints one line per check and "interop: ok" at the end; any mismatch
// exits non-zero.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createInterface } from 'node:readline';

const TIMEOUT_MS = 45_000;
const EMAIL = 'ada@example.com';
const REDIRECT_URL = 'http://127.0.0.1:1/callback'; // never contacted: the code is read from the redirect

setTimeout(() => {
  console.error(`interop: timed out after ${TIMEOUT_MS} ms`);
  process.exit(3);
}, TIMEOUT_MS).unref();

function fail(msg) {
  throw new Error(msg);
}

// A browser's cookie jar, reduced to what our pages need: one host, cookies
// by name, deletion by Max-Age<=0 or an empty value.
class CookieJar {
  #cookies = new Map();
  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*(-\d+|0)\s*$/i.test(a));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function unescapeHTML(s) {
  return s
    .replaceAll('&#34;', '"')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

// parseForm reads the one POST form of our consent page or the emulator's
// sign-in page: action, hidden inputs and ticked checkboxes (what a browser
// sends: the consent page's scope boxes), submit buttons.
function parseForm(html) {
  const form = html.match(/<form\b[^>]*\bmethod="post"[^>]*\baction="([^"]*)"/);
  if (!form) return null;
  const hidden = new URLSearchParams();
  for (const m of html.matchAll(/<input\b[^>]*\btype="hidden"[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"/g)) {
    hidden.set(unescapeHTML(m[1]), unescapeHTML(m[2]));
  }
  for (const m of html.matchAll(/<input\b[^>]*\btype="checkbox"[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"[^>]*\bchecked/g)) {
    hidden.append(unescapeHTML(m[1]), unescapeHTML(m[2]));
  }
  const buttons = [...html.matchAll(/<button\b[^>]*\btype="submit"[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"/g)].map(
    (m) => [unescapeHTML(m[1]), unescapeHTML(m[2])],
  );
  return { action: unescapeHTML(form[1]), hidden, buttons };
}

// browse plays the person: from the authorization URL to the redirect URI.
async function browse(jar, authorizationUrl, seen) {
  let url = new URL(authorizationUrl);
  let init = { method: 'GET' };
  for (let step = 0; step < 12; step++) {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers || {}), cookie: jar.header() },
      signal: AbortSignal.timeout(10_000),
    });
    jar.store(res);
    if (res.status === 302 || res.status === 303) {
      const next = new URL(res.headers.get('location'), url);
      await res.arrayBuffer();
      if (next.href.startsWith(REDIRECT_URL + '?')) return next.searchParams;
      url = next;
      init = { method: 'GET' };
      continue;
    }
    const body = await res.text();
    if (res.status !== 200) fail(`${init.method} ${url}: ${res.status}: ${body}`);
    const form = parseForm(body);
    if (!form) fail(`no form on ${url}`);
    let button;
    if (form.hidden.has('pending')) {
      if (!form.hidden.get('csrf_token')) fail('consent form without a CSRF token');
      seen.push('consent');
      button = ['decision', 'approve'];
    } else if (form.hidden.has('sign_in')) {
      seen.push('signin');
      button = ['email', EMAIL];
    } else {
      fail(`unexpected form on ${url}`);
    }
    if (!form.buttons.some(([n, v]) => n === button[0] && v === button[1])) {
      fail(`no button ${button.join('=')} on ${url}`);
    }
    const fields = new URLSearchParams(form.hidden);
    fields.set(button[0], button[1]);
    url = new URL(form.action, url);
    init = {
      method: 'POST',
      body: fields.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
  }
  fail('too many steps before the redirect URI');
}

// Provider is an in-memory OAuthClientProvider. Client registration is
// shared (one MCP client application), tokens are per resource.
class Provider {
  constructor(shared) {
    this.shared = shared;
    this.seen = [];
    this.code = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this._state = undefined;
  }
  get redirectUrl() {
    return REDIRECT_URL;
  }
  get clientMetadata() {
    return {
      client_name: 'TypeScript SDK interop client',
      redirect_uris: [REDIRECT_URL],
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
  codeVerifier() {
    if (!this._verifier) fail('no code verifier saved');
    return this._verifier;
  }
  async redirectToAuthorization(authorizationUrl) {
    const u = new URL(authorizationUrl);
    const p = u.searchParams;
    if (p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge') || !p.get('resource')) {
      fail(`authorization URL lacks PKCE S256 or resource: ${u}`);
    }
    this.resource = p.get('resource');
    const back = await browse(this.shared.jar, u, this.seen);
    if (back.get('error')) fail(`authorization refused: ${back.get('error')}: ${back.get('error_description')}`);
    if (back.get('state') !== this._state) fail(`state ${back.get('state')} != ${this._state}`);
    this.code = back.get('code');
    if (!this.code) fail('redirect without a code');
  }
}

// connect runs the SDK's sign-in: the first connect is refused (401), the
// SDK discovers, registers and calls redirectToAuthorization; finishAuth
// redeems the code; a fresh client and transport then connect with the
// token.
async function connect(name, makeTransport, provider) {
  const newClient = () => new Client({ name: 'remote-mcp-authkit-interop', version: '1.0.0' });
  let client = newClient();
  let transport = makeTransport();
  try {
    await client.connect(transport);
    fail(`${name}: connected without signing in`);
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  await client.close().catch(() => {});
  if (!provider.code) fail(`${name}: the SDK did not send the browser to authorize`);
  await transport.finishAuth(provider.code);
  const tokens = provider.tokens();
  if (!tokens?.access_token || !tokens?.refresh_token || tokens.token_type?.toLowerCase() !== 'bearer') {
    fail(`${name}: token response ${JSON.stringify(tokens)}`);
  }
  client = newClient();
  transport = makeTransport();
  await client.connect(transport);
  const info = client.getServerVersion();
  if (info?.name !== 'remote-mcp-authkit') fail(`${name}: serverInfo ${JSON.stringify(info)}`);
  const version = transport.protocolVersion ? `; protocol ${transport.protocolVersion}` : '';
  console.log(`${name}: signed in via ${provider.seen.join(',')}${version}`);
  return client;
}

async function toolNames(client) {
  const { tools } = await client.listTools();
  return tools.map((t) => t.name).sort().join(',');
}

async function check(name, client, wantTools) {
  const names = await toolNames(client);
  console.log(`${name}: tools=${names}`);
  if (names !== wantTools) fail(`${name}: tools ${names}, want ${wantTools}`);

  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  const text = sum.content?.[0]?.type === 'text' ? sum.content[0].text : undefined;
  console.log(`${name}: add(2, 3) = ${text}`);
  if (sum.isError || text !== '5') fail(`${name}: add returned ${JSON.stringify(sum)}`);

  // whoami declares an outputSchema, which the SDK validates the result against.
  const who = await client.callTool({ name: 'whoami', arguments: {} });
  const email = who.structuredContent?.user?.email;
  console.log(`${name}: whoami = ${email}`);
  if (who.isError || email !== EMAIL) fail(`${name}: whoami returned ${JSON.stringify(who)}`);
}

async function main() {
  const args = process.argv.slice(2);
  const permissionChange = args[0] === '--permission-change';
  if (permissionChange) args.shift();
  const arg = args[0];
  if (!arg) fail('usage: node client.mjs [--permission-change] http://HOST:PORT/mcp');
  const mcpURL = new URL(arg);
  const sseURL = new URL('sse', mcpURL); // beside /mcp, also under a base path
  const sdk = JSON.parse(
    readFileSync(new URL('../node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url), 'utf8'),
  );
  console.log(`interop: @modelcontextprotocol/sdk ${sdk.version} on Node ${process.version}`);

  const shared = { jar: new CookieJar(), client: undefined, registrations: 0 };

  const httpProvider = new Provider(shared);
  const http = await connect(
    'streamable-http',
    () => new StreamableHTTPClientTransport(mcpURL, { authProvider: httpProvider }),
    httpProvider,
  );
  if (httpProvider.resource !== mcpURL.href) fail(`resource ${httpProvider.resource}, want ${mcpURL.href}`);
  await check('streamable-http', http, 'add,generateImage,whoami');
  await http.close();

  // An access token the server no longer accepts: the SDK meets 401
  // invalid_token, refreshes with the refresh token (RFC 6749 s6) without
  // sending anyone to a browser, and retries.
  const before = httpProvider.tokens();
  httpProvider.saveTokens({ ...before, access_token: 'mcp_at_not_a_token' });
  const again = new Client({ name: 'remote-mcp-authkit-interop', version: '1.0.0' });
  await again.connect(new StreamableHTTPClientTransport(mcpURL, { authProvider: httpProvider }));
  const after = httpProvider.tokens();
  if (after.access_token === 'mcp_at_not_a_token' || after.refresh_token === before.refresh_token) {
    fail(`streamable-http: tokens not refreshed: ${JSON.stringify(after)}`);
  }
  if (httpProvider.seen.join(',') !== 'consent,signin') fail(`streamable-http: refresh went to the browser: ${httpProvider.seen}`);
  const sum = await again.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
  console.log(`streamable-http: refreshed; add(20, 22) = ${sum.content?.[0]?.text}`);
  if (sum.content?.[0]?.text !== '42') fail(`streamable-http: add after refresh returned ${JSON.stringify(sum)}`);

  let sseTools = 'add,generateImage,whoami';
  if (permissionChange) {
    // The session's GET stream (the SDK opens it after initialization)
    // carries the server's notification once the refresh shows the
    // permission gone.
    let heard;
    const listChanged = new Promise((resolve) => (heard = resolve));
    again.setNotificationHandler(ToolListChangedNotificationSchema, () => heard());
    console.log('streamable-http: waiting for a permission change');
    const rl = createInterface({ input: process.stdin });
    const line = await new Promise((resolve) => rl.once('line', resolve));
    rl.close();
    if (line.trim() !== 'changed') fail(`expected "changed" on standard input, got ${line}`);
    httpProvider.saveTokens({ ...httpProvider.tokens(), access_token: 'mcp_at_not_a_token' });
    const names = await toolNames(again); // 401, refresh, retry
    await Promise.race([
      listChanged,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('no notifications/tools/list_changed within 10 s')), 10_000).unref(),
      ),
    ]);
    console.log(`streamable-http: after the permission change: list_changed heard; tools=${names}`);
    if (names !== 'add,whoami') fail(`streamable-http: tools after the change ${names}, want add,whoami`);
    sseTools = 'add,whoami';
  }
  await again.close();

  // The SSE endpoint is a resource of its own (its token is bound to it),
  // so the SDK signs in again, reusing the registration; the browser's
  // remembered consent skips the consent page.
  const sseProvider = new Provider(shared);
  const sse = await connect('sse', () => new SSEClientTransport(sseURL, { authProvider: sseProvider }), sseProvider);
  if (sseProvider.resource !== sseURL.href) fail(`resource ${sseProvider.resource}, want ${sseURL.href}`);
  await check('sse', sse, sseTools);
  await sse.close();

  if (shared.registrations !== 1) fail(`registered ${shared.registrations} times, want once`);
  if (httpProvider.seen.join(',') !== 'consent,signin' || sseProvider.seen.join(',') !== 'signin') {
    fail(`pages seen: ${httpProvider.seen} then ${sseProvider.seen}`);
  }
  console.log('interop: ok');
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`interop: FAILED: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
