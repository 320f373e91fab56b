// Step-up authorization with the MCP TypeScript SDK v2 client and a real
// browser (MCP 2026-07-28 "Scope Challenge Handling", SEP-2350).
//
// Usage: node stepup.mjs [--untick] http://127.0.0.1:PORT/mcp
//
// Against a server started with -initial-scope baseline the SDK asks for
// the baseline scope first. With --untick (for a server on the default,
// -initial-scope all) the SDK asks for every scope and the person unticks
// all but the baseline on the first consent page; the step-up is the same.
//
// The server must sign in through the AuthKit emulator, whose demo user
// ada@example.com holds the image_generation permission. Everything MCP and
// OAuth is the SDK's: @modelcontextprotocol/client's Client and
// StreamableHTTPClientTransport, with its OAuth support (discovery from the
// 401, dynamic client registration, PKCE, scope selection from the
// challenge, offline_access, the step-up on 403 insufficient_scope with the
// union of scopes). The person is a real Chromium driven by playwright-core:
// the OAuthClientProvider's redirectToAuthorization opens the URL the SDK
// built, reads the consent page (which scopes it asks about), presses Allow
// and Ada's button on the emulator's sign-in page, and waits for the browser
// to reach the loopback redirect URI served here.
//
// Checks: the first sign-in asks for the baseline scope only; generateImage
// is not listed; calling it makes the SDK step up, and the consent page then
// asks about image_generation alone; after finishAuth the retried call
// returns an image. It prints one line per check and "interop2: ok".

import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { chromium } from 'playwright-core';

const TIMEOUT_MS = 120_000;
const EMAIL = 'ada@example.com';
const executablePath = process.env.MCP_BROWSER_CHROMIUM || '/usr/bin/chromium';

setTimeout(() => {
  console.error(`interop2: timed out after ${TIMEOUT_MS} ms`);
  process.exit(3);
}, TIMEOUT_MS).unref();

function fail(msg) {
  throw new Error(msg);
}

function check(cond, what, detail) {
  if (!cond) fail(what + (detail === undefined ? '' : ': ' + JSON.stringify(detail)));
  console.log(what);
}

// The client's loopback redirect URI (RFC 8252 s7.3): each authorization
// response wakes whoever waits for it.
function startRedirectListener() {
  let waiter;
  const srv = createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('You can close this window.');
    if (u.pathname === '/cb' && waiter) waiter(u.searchParams);
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        redirectURI: `http://127.0.0.1:${srv.address().port}/cb`,
        next: () => new Promise((r) => (waiter = r)),
        close: () => srv.close(),
      });
    }),
  );
}

// Provider is an in-memory OAuthClientProvider whose person is a browser.
class Provider {
  constructor(page, listener) {
    this.page = page;
    this.listener = listener;
    this.visits = []; // per authorization: the scope asked for and the consent page's boxes
    this.callback = undefined;
  }
  get redirectUrl() {
    return this.listener.redirectURI;
  }
  get clientMetadata() {
    return {
      client_name: 'TypeScript SDK v2 step-up client',
      redirect_uris: [this.listener.redirectURI],
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
    return this._client;
  }
  saveClientInformation(info) {
    this._client = info;
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
    return this._verifier;
  }
  // SEP-2352: the authorization server this authorization began with, so
  // the SDK can check the callback comes from the same one.
  saveDiscoveryState(state) {
    this._discovery = state;
  }
  discoveryState() {
    return this._discovery;
  }
  async redirectToAuthorization(authorizationUrl) {
    const url = new URL(authorizationUrl);
    const visit = { scope: url.searchParams.get('scope'), boxes: null, pages: [] };
    this.visits.push(visit);
    const back = this.listener.next();
    await this.page.goto(url.href);
    const allow = this.page.getByRole('button', { name: /allow/i });
    if (await allow.isVisible()) {
      visit.pages.push('consent');
      visit.boxes = await this.page
        .locator('input[type=checkbox][name=scope]')
        .evaluateAll((els) => els.map((e) => `${e.value}${e.checked ? '' : '(unticked)'}`));
      if (this.untick && this.visits.length === 1) {
        // The person allows the basic tools only.
        for (const box of await this.page.locator('input[type=checkbox][name=scope]').all()) {
          if ((await box.getAttribute('value')) !== 'tools:basic') await box.uncheck();
        }
      }
      await allow.click();
    }
    await this.page.waitForLoadState();
    const ada = this.page.getByRole('button', { name: new RegExp(EMAIL.replace('.', '\\.')) });
    await ada.waitFor();
    visit.pages.push('signin');
    await ada.click();
    const params = await back;
    if (params.get('error')) fail(`authorization refused: ${params.get('error')}: ${params.get('error_description')}`);
    if (params.get('state') !== this._state) fail(`state ${params.get('state')} != ${this._state}`);
    this.callback = params;
  }
}

const names = async (client) =>
  (await client.listTools()).tools
    .map((t) => t.name)
    .sort()
    .join(',');

async function main() {
  const args = process.argv.slice(2);
  const untick = args[0] === '--untick';
  if (untick) args.shift();
  const mcpURL = new URL(args[0] || fail('usage: node stepup.mjs [--untick] http://HOST:PORT/mcp'));
  const pkg = JSON.parse(
    readFileSync(new URL('../node_modules/@modelcontextprotocol/client/package.json', import.meta.url), 'utf8'),
  );
  console.log(`interop2: @modelcontextprotocol/client ${pkg.version} on Node ${process.version}`);

  const listener = await startRedirectListener();
  const profile = mkdtempSync(join(tmpdir(), 'mcp-interop2-profile-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-sync'],
  });
  browser.setDefaultTimeout(15_000);
  try {
    const page = await browser.newPage();
    const provider = new Provider(page, listener);
    provider.untick = untick;
    const transport = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
    let client = new Client({ name: 'remote-mcp-authkit-interop2', version: '1.0.0' });

    // 1. Sign in: the SDK asks for the scope the 401 names.
    try {
      await client.connect(transport);
      fail('connected without signing in');
    } catch (e) {
      if (!(e instanceof UnauthorizedError)) throw e;
    }
    await transport.finishAuth(provider.callback);
    const first = provider.visits[0];
    check(
      first?.scope?.split(' ').includes('tools:basic') && first.scope.includes('image_generation') === untick,
      `sign-in: scope requested "${first?.scope}"`,
      first,
    );
    const firstBoxes = untick ? 'tools:basic,image_generation' : 'tools:basic';
    check(first.boxes?.join(',') === firstBoxes, `sign-in: consent page asks about ${first.boxes}`, first);
    check(!provider.tokens().scope.includes('image_generation'), `sign-in: token scope "${provider.tokens().scope}"`);

    client = new Client({ name: 'remote-mcp-authkit-interop2', version: '1.0.0' });
    const transport2 = new StreamableHTTPClientTransport(mcpURL, { authProvider: provider });
    await client.connect(transport2);
    const listed = await names(client);
    check(listed === 'add,whoami', `baseline: tools=${listed}`);
    const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    check(sum.content?.[0]?.text === '5', `baseline: add(2, 3) = ${sum.content?.[0]?.text}`);

    // 2. generateImage: 403 insufficient_scope; the SDK steps up through the
    // browser, which sees the consent page for the new scope only.
    const args = { name: 'generateImage', arguments: { prompt: 'a lighthouse at dusk' } };
    try {
      await client.callTool(args);
      fail('generateImage succeeded without its scope');
    } catch (e) {
      if (!(e instanceof UnauthorizedError)) throw e;
    }
    const second = provider.visits[1];
    check(
      second?.scope?.split(' ').includes('image_generation') && second.scope.split(' ').includes('tools:basic'),
      `step-up: scope requested "${second?.scope}"`,
      second,
    );
    check(second.pages.join(',') === 'consent,signin', `step-up: pages ${second.pages}`, second);
    check(second.boxes?.join(',') === 'image_generation', `step-up: consent page asks about ${second.boxes}`, second);
    await transport2.finishAuth(provider.callback);
    check(provider.tokens().scope.split(' ').includes('image_generation'), `step-up: token scope "${provider.tokens().scope}"`);

    // 3. The retried call works.
    const img = await client.callTool(args);
    const kinds = (img.content || []).map((c) => c.type).join(',');
    check(!img.isError && kinds.includes('image'), `stepped up: generateImage returned ${kinds}`, img.isError ? img : undefined);
    const after = await names(client);
    check(after === 'add,generateImage,whoami', `stepped up: tools=${after}`);
    await client.close();
    console.log('interop2: ok');
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
    listener.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`interop2: FAILED: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
