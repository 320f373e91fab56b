// Drives the server's HTML pages in a real Chromium, as an MCP client's user
// would see them: the consent page (GET /authorize), the AuthKit emulator's
// sign-in page, and the error pages that must never redirect.
//
// Usage: node signin.mjs http://127.0.0.1:PORT
//
// The server must run in development mode (no WorkOS account), so that the
// sign-in page is the emulator's. The script plays an MCP client: it
// registers a public client (RFC 7591), listens on a loopback redirect URI
// (RFC 8252 s7.3), sends the browser to /authorize with PKCE S256 (RFC 7636
// s4.2), and once the browser lands back with a code it redeems the code at
// /token (RFC 6749 s4.1.3) and lists the tools over MCP Streamable HTTP.
//
// Environment:
//   MCP_BROWSER_SCREENSHOTS  directory for PNG screenshots for a person to
//                            look at (default: a new temporary directory)
//   MCP_BROWSER_CHROMIUM     the browser binary (default /usr/bin/chromium);
//                            the script never downloads a browser.
//
// It prints one line per check and exits non-zero on the first failure.

import { chromium } from 'playwright-core';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const server = (process.argv[2] || '').replace(/\/$/, '');
if (!/^https?:\/\/[^/]+$/.test(server)) {
  console.error('usage: node signin.mjs http://127.0.0.1:PORT');
  process.exit(2);
}
const executablePath = process.env.MCP_BROWSER_CHROMIUM || '/usr/bin/chromium';
const shots = process.env.MCP_BROWSER_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'mcp-browser-shots-'));
mkdirSync(shots, { recursive: true });

// Everything must finish well inside the Go test's own deadline.
const watchdog = setTimeout(() => {
  console.error('FAIL: the browser run took longer than 150 s');
  process.exit(1);
}, 150_000);
watchdog.unref();

let checks = 0;
function ok(cond, what, detail) {
  if (!cond) {
    throw new Error(what + (detail === undefined ? '' : ': ' + (typeof detail === 'string' ? detail : JSON.stringify(detail))));
  }
  checks++;
  console.log('ok - ' + what);
}

const b64url = (buf) => buf.toString('base64url');

// The MCP client's loopback redirect URI (RFC 8252 s7.3). It records every
// authorization response it receives and shows a plain page.
function startRedirectListener() {
  const hits = [];
  const srv = createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname === '/cb') {
      hits.push(Object.fromEntries(u.searchParams));
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end('<!doctype html><meta charset="utf-8"><title>Done</title><p>You can close this window.</p>');
      return;
    }
    if (u.pathname === '/frame') {
      // A hostile page that tries to show the consent page in a frame.
      const target = u.searchParams.get('target') || '';
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>Framer</title>' +
        '<iframe id="f" width="600" height="400" src="' + target.replace(/[&"<>]/g, (c) => '&#' + c.charCodeAt(0) + ';') + '"></iframe>');
      return;
    }
    if (u.pathname === '/attack') {
      // A hostile page on another local port: cookies do not keep ports
      // apart, so it plants the attacker's nonce cookie for the server's
      // host and auto-posts the attacker's consent form.
      const esc = (v) => (v || '').replace(/[&"<>']/g, (c) => '&#' + c.charCodeAt(0) + ';');
      const p = u.searchParams;
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>Attack</title>' +
        '<form method="post" action="' + esc(p.get('target')) + '">' +
        '<input type="hidden" name="pending" value="' + esc(p.get('pending')) + '">' +
        '<input type="hidden" name="csrf_token" value="' + esc(p.get('csrf')) + '">' +
        '<input type="hidden" name="decision" value="approve"></form>' +
        '<script>document.cookie = ' + JSON.stringify(p.get('cookie')).replace(/</g, '\\u003c') + ' + "; path=/authorize";' +
        'document.forms[0].submit();</script>');
      return;
    }
    res.writeHead(204);
    res.end();
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({ srv, hits, base: 'http://127.0.0.1:' + srv.address().port });
    });
  });
}

async function postJSON(path, body) {
  const res = await fetch(server + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

// Dynamic client registration, RFC 7591 s3.1, as an MCP client does it.
async function registerClient(name, redirectURI) {
  const { status, body } = await postJSON('/register', {
    client_name: name,
    redirect_uris: [redirectURI],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  });
  ok(status === 201 && typeof body.client_id === 'string', `register "${name}"`, { status, body });
  return body.client_id;
}

// A fresh authorization request with PKCE S256 (RFC 7636 s4.1, s4.2).
function authorization(clientID, redirectURI, extra = {}) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(16));
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientID,
    redirect_uri: redirectURI,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: server + '/mcp',
    ...extra,
  });
  return { url: server + '/authorize?' + q, verifier, state, clientID, redirectURI };
}

// Console errors, uncaught exceptions and CSP violations on our own pages.
const consoleOf = new WeakMap();
function watchConsole(page) {
  const errors = [];
  consoleOf.set(page, errors);
  page.on('console', (m) => {
    // The browser's own favicon probe is not the page's doing, and an
    // error page's own 4xx status is asserted where it is loaded; any other
    // failed load, script error or CSP violation counts.
    const where = m.location().url || '';
    if (/\/favicon\.ico$/.test(where)) return;
    if (m.text().startsWith('Failed to load resource') && where === page.url()) return;
    if (m.type() === 'error' || m.type() === 'warning') {
      errors.push(`${m.type()}: ${m.text()} (${m.location().url || page.url()})`);
    }
  });
  page.on('pageerror', (e) => errors.push('exception: ' + e.message));
  return errors;
}

function checkPageHeaders(res, what) {
  const h = res.headers();
  const csp = h['content-security-policy'] || '';
  ok(/frame-ancestors 'none'/.test(csp), `${what}: CSP frame-ancestors 'none'`, csp);
  ok((h['x-frame-options'] || '').toUpperCase() === 'DENY', `${what}: X-Frame-Options DENY`, h['x-frame-options']);
  ok(/no-store/.test(h['cache-control'] || ''), `${what}: Cache-Control no-store`, h['cache-control']);
}

// A page is usable on a narrow screen when nothing scrolls sideways and
// every button lies inside the viewport and is big enough to tap
// (WCAG 2.2 s2.5.8: at least 24 by 24 CSS pixels).
async function checkNarrow(page, what) {
  // The device's width, not window.innerWidth: a phone zooms out to fit a
  // page that is too wide, which widens innerWidth with it.
  const width = page.viewportSize().width;
  const m = await page.evaluate(() => {
    const de = document.documentElement;
    return {
      innerWidth: window.innerWidth,
      scrollWidth: Math.max(de.scrollWidth, document.body.scrollWidth),
      viewportMeta: !!document.querySelector('meta[name=viewport]'),
      fontSize: parseFloat(getComputedStyle(document.body).fontSize),
      buttons: [...document.querySelectorAll('button')].map((b) => {
        const r = b.getBoundingClientRect();
        return { text: b.innerText.trim().split('\n')[0], left: r.left, right: r.right, width: r.width, height: r.height };
      }),
    };
  });
  ok(m.viewportMeta, `${what}: has a viewport meta tag`);
  ok(m.innerWidth === width && m.scrollWidth <= width, `${what}: laid out at ${width}px with no horizontal scroll`, m);
  ok(m.fontSize >= 14, `${what}: body text at least 14px`, m.fontSize);
  for (const b of m.buttons) {
    ok(b.left >= 0 && b.right <= width && b.width >= 24 && b.height >= 24,
      `${what}: button "${b.text}" inside the viewport and at least 24x24`, b);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, name + '.png'), fullPage: true });
}

// Waits until the browser is at the client's redirect URI and returns the
// authorization response's parameters, as the listener received them.
async function landed(page, listener, what) {
  try {
    await page.waitForURL((u) => u.href.startsWith(listener.base + '/cb'), { timeout: 15_000 });
  } catch (e) {
    throw new Error(`${what}: the browser did not reach the redirect URI; it is at ${page.url()}; ` +
      `console: ${JSON.stringify(consoleOf.get(page) || [])}`);
  }
  const params = Object.fromEntries(new URL(page.url()).searchParams);
  const last = listener.hits[listener.hits.length - 1];
  ok(last && last.state === params.state, `${what}: the redirect listener received the response`, { params, last });
  return params;
}

// Token request, RFC 6749 s4.1.3 with RFC 7636 s4.5 and RFC 8707 s2.2.
async function redeem(auth, code) {
  const res = await fetch(server + '/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: auth.redirectURI,
      code_verifier: auth.verifier,
      client_id: auth.clientID,
      resource: server + '/mcp',
    }),
  });
  const body = await res.json();
  ok(res.status === 200 && typeof body.access_token === 'string' && /^bearer$/i.test(body.token_type),
    'token endpoint issues a bearer token for the code', { status: res.status, error: body.error, description: body.error_description });
  return body.access_token;
}

// One JSON-RPC request over Streamable HTTP; the answer may come as JSON or
// as an SSE stream (MCP transports, "Sending Messages to the Server").
async function mcpCall(token, sessionID, msg) {
  const headers = {
    Authorization: 'Bearer ' + token,
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
  };
  if (sessionID) {
    headers['Mcp-Session-Id'] = sessionID;
    headers['MCP-Protocol-Version'] = '2025-11-25';
  }
  const res = await fetch(server + '/mcp', { method: 'POST', headers, body: JSON.stringify(msg) });
  const text = await res.text();
  let reply = null;
  if ((res.headers.get('content-type') || '').startsWith('text/event-stream')) {
    for (const line of text.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const m = JSON.parse(line.slice(5));
      if (m.id === msg.id) reply = m;
    }
  } else if (text) {
    reply = JSON.parse(text);
  }
  return { status: res.status, session: res.headers.get('mcp-session-id'), reply, text };
}

async function listTools(token) {
  const init = await mcpCall(token, null, {
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'browser-test', version: '1' } },
  });
  ok(init.status === 200 && init.session && init.reply?.result, 'MCP initialize with the token', { status: init.status, text: init.text });
  const note = await mcpCall(token, init.session, { jsonrpc: '2.0', method: 'notifications/initialized' });
  ok(note.status === 202, 'MCP notifications/initialized accepted', note.status);
  const list = await mcpCall(token, init.session, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
  const names = (list.reply?.result?.tools || []).map((t) => t.name);
  return names;
}

const BROWSER_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// A browser with a fresh profile of its own, so no cookie or consent
// survives from another run.
async function launch(options) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-browser-profile-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath, headless: true, args: BROWSER_ARGS, ...options,
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

async function desktop(listener) {
  const redirectURI = listener.base + '/cb';
  const clientName = 'Browser Test Client';
  const clientID = await registerClient(clientName, redirectURI);
  const { context, close } = await launch({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    const consoleErrors = watchConsole(page);

    // 1. Consent page.
    const auth = authorization(clientID, redirectURI);
    const res = await page.goto(auth.url);
    ok(res.status() === 200, 'GET /authorize shows a page', res.status());
    checkPageHeaders(res, 'consent page');
    const text = await page.locator('body').innerText();
    ok(text.includes(clientName), 'consent page names the client', text);
    ok(await page.locator('h1 bdi').innerText() === clientName, 'consent page isolates the client name in <bdi>');
    ok(text.includes(new URL(redirectURI).host), 'consent page shows the redirect host', text);
    const approve = page.getByRole('button', { name: /allow/i });
    const deny = page.getByRole('button', { name: /deny/i });
    ok(await approve.isVisible() && await deny.isVisible(), 'consent page has visible Allow and Deny buttons');
    await shot(page, 'consent-desktop');

    // 2. Approve: on to the AuthKit emulator's sign-in page.
    const [signInRes] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/user_management/authorize') && r.request().method() === 'GET'),
      approve.click(),
    ]);
    await page.waitForLoadState();
    ok(signInRes.status() === 200, 'Approve leads to the sign-in page', signInRes.status());
    ok((signInRes.headers()['x-frame-options'] || '').toUpperCase() === 'DENY', 'sign-in page: X-Frame-Options DENY');
    const ada = page.getByRole('button', { name: /ada@example\.com/ });
    ok(await ada.isVisible(), 'sign-in page shows a button for ada@example.com');
    await shot(page, 'signin-desktop');

    // 3. Sign in as Ada: back at the client with a code and our state.
    await ada.click();
    const params = await landed(page, listener, 'sign-in');
    ok(typeof params.code === 'string' && params.code.length > 0, 'redirect URI receives a code', params);
    ok(params.state === auth.state, 'redirect URI receives the same state', params);
    ok(params.iss === server, 'redirect URI receives iss (RFC 9207)', params);

    // 4. The code buys a token, and the token lists Ada's tools.
    const token = await redeem(auth, params.code);
    const tools = await listTools(token);
    ok(tools.includes('generateImage'), 'tools/list with the token includes generateImage', tools);

    // 4b. The account page (/account): Ada signs in with the same
    //     AuthKit, sees the client she connected, and revokes it, which
    //     ends its token at once.
    await page.goto(server + '/account');
    ok(new URL(page.url()).pathname.endsWith('/user_management/authorize'),
      'the account page sends a signed-out browser to the AuthKit sign-in', page.url());
    const [accountRes] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/account' && r.status() === 200),
      page.getByRole('button', { name: /ada@example\.com/ }).click(),
    ]);
    await page.waitForLoadState();
    checkPageHeaders(accountRes, 'account page');
    const accountText = await page.locator('body').innerText();
    ok(accountText.includes('ada@example.com'), 'account page names the signed-in person', accountText);
    ok(await page.locator('.grant bdi').first().innerText() === clientName, 'account page lists the client by its name, in <bdi>', accountText);
    ok(/self-declared/.test(accountText), 'account page marks the name as self-declared', accountText);
    ok(accountText.includes(redirectURI), 'account page shows where the client returns to', accountText);
    ok(accountText.includes('image_generation'), 'account page shows the permissions the client carries', accountText);
    ok(await page.locator('.grant').count() === 1, 'account page lists one grant', await page.locator('.grant').count());
    await shot(page, 'account-desktop');
    const initMsg = {
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'browser-test', version: '1' } },
    };
    const before = await mcpCall(token, null, initMsg);
    ok(before.status === 200, 'the token works before revocation', before.status);
    await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/account' && r.status() === 200),
      page.getByRole('button', { name: /revoke access/i }).click(),
    ]);
    await page.waitForLoadState();
    const revokedText = await page.locator('body').innerText();
    ok(/disconnected/i.test(revokedText) && !revokedText.includes(clientName) && await page.locator('.grant').count() === 0,
      'after Revoke the client is gone from the account page', revokedText);
    await shot(page, 'account-revoked-desktop');
    const after = await fetch(server + '/mcp', {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify(initMsg),
    });
    ok(after.status === 401, 'the revoked grant\'s token is refused at once', after.status);

    // 5. Second authorization in the same browser: consent is remembered.
    const again = authorization(clientID, redirectURI);
    await page.goto(again.url);
    ok(new URL(page.url()).pathname.endsWith('/user_management/authorize'),
      'second authorization skips consent and goes straight to sign-in', page.url());
    await page.getByRole('button', { name: /ada@example\.com/ }).click();
    const params2 = await landed(page, listener, 'second sign-in');
    ok(params2.state === again.state && params2.code && params2.code !== params.code,
      'second sign-in returns a fresh code with its own state', params2);
    await redeem(again, params2.code);

    // ...unless the client asks for consent again (OpenID Connect Core
    // s3.1.2.1 prompt=consent).
    await page.goto(authorization(clientID, redirectURI, { prompt: 'consent' }).url);
    ok(await page.getByRole('button', { name: /allow/i }).isVisible(),
      'prompt=consent shows the consent page although consent is remembered', page.url());

    // 6. Error pages, shown instead of redirecting (RFC 6749 s4.1.2.1).
    const unknown = authorization('no-such-client', redirectURI);
    const errRes = await page.goto(unknown.url);
    ok(errRes.status() === 400, 'unknown client gets a 400 page, not a redirect', errRes.status());
    checkPageHeaders(errRes, 'unknown-client error page');
    ok(/unknown application/i.test(await page.locator('h1').innerText()), 'unknown-client page says so in its heading');
    ok(listener.hits.length === 2, 'nothing was sent to the redirect URI for the unknown client', listener.hits.length);
    await shot(page, 'error-unknown-client-desktop');

    const cbRes = await page.goto(server + '/callback?state=' + b64url(randomBytes(32)) + '&code=forged');
    ok(cbRes.status() === 400, '/callback with a foreign state gets a 400 page', cbRes.status());
    checkPageHeaders(cbRes, 'callback error page');
    ok(/sign-in started elsewhere/i.test(await page.locator('h1').innerText()), 'callback error page explains itself');
    await shot(page, 'error-callback-desktop');

    ok(consoleErrors.length === 0, 'no console errors on any page (desktop)', consoleErrors);

    // 7. A hostile page cannot frame the consent page (clickjacking,
    //    RFC 9700 s4.16): the browser itself refuses. A client this
    //    browser has not approved, so that the frame gets the consent page.
    const framedID = await registerClient('Framed Client', redirectURI);
    const framer = await context.newPage();
    const framed = authorization(framedID, redirectURI);
    const [framedRes] = await Promise.all([
      framer.waitForResponse((r) => r.url() === framed.url),
      framer.goto(listener.base + '/frame?target=' + encodeURIComponent(framed.url)),
    ]);
    ok(framedRes.status() === 200, 'the framed request was answered with the consent page', framedRes.status());
    const frame = await (await framer.waitForSelector('#f')).contentFrame();
    await frame.waitForLoadState('load');
    const framedButtons = await frame.locator('button').count();
    ok(framedButtons === 0 && frame.url().startsWith('chrome-error:'),
      'the browser refuses to show the consent page in a frame', { url: frame.url(), framedButtons });
    await framer.close();
  } finally {
    await close();
  }
}

async function mobile(listener) {
  const redirectURI = listener.base + '/cb';
  const clientName = 'Phone Client';
  const clientID = await registerClient(clientName, redirectURI);
  const { context, close } = await launch({
    viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  try {
    const page = await context.newPage();
    const consoleErrors = watchConsole(page);
    const before = listener.hits.length;

    // Deny: the client hears access_denied (RFC 6749 s4.1.2.1).
    const denied = authorization(clientID, redirectURI);
    await page.goto(denied.url);
    await checkNarrow(page, 'consent page (375px)');
    await shot(page, 'consent-mobile');
    await page.getByRole('button', { name: /deny/i }).tap();
    const dparams = await landed(page, listener, 'deny');
    ok(dparams.error === 'access_denied' && dparams.state === denied.state && !dparams.code,
      'Deny ends at the redirect URI with error=access_denied and the state', dparams);

    // Denial is not remembered: the next request asks again.
    const auth = authorization(clientID, redirectURI);
    await page.goto(auth.url);
    ok(await page.getByRole('button', { name: /allow/i }).isVisible(), 'after Deny the consent page is shown again');
    await page.getByRole('button', { name: /allow/i }).tap();
    await page.waitForURL((u) => u.pathname.endsWith('/user_management/authorize'));
    await checkNarrow(page, 'sign-in page (375px)');
    await shot(page, 'signin-mobile');
    await page.getByRole('button', { name: /grace@example\.com/ }).tap();
    const params = await landed(page, listener, 'mobile sign-in');
    ok(params.code && params.state === auth.state, 'mobile sign-in returns a code and the state', params);
    const token = await redeem(auth, params.code);
    const tools = await listTools(token);
    ok(tools.length > 0 && !tools.includes('generateImage'),
      'tools/list for Grace (no image_generation permission) omits generateImage', tools);

    await page.goto(authorization('no-such-client', redirectURI).url);
    await checkNarrow(page, 'error page (375px)');
    await shot(page, 'error-unknown-client-mobile');

    // An unregistered redirect URI gets a page that does not repeat it
    // (anyone's text would read as ours); the page fits a phone.
    const longURI = listener.base + '/not-registered/' + 'x'.repeat(150);
    const badRes = await page.goto(authorization(clientID, longURI).url);
    ok(badRes.status() === 400 && /redirect uri not registered/i.test(await page.locator('h1').innerText()),
      'unregistered redirect URI gets a 400 page, not a redirect', badRes.status());
    await checkNarrow(page, 'redirect-URI error page (375px)');
    await shot(page, 'error-redirect-uri-mobile');
    ok(listener.hits.length === before + 2, 'exactly two responses reached the redirect URI (mobile)', listener.hits.length - before);

    ok(consoleErrors.length === 0, 'no console errors on any page (mobile)', consoleErrors);
  } finally {
    await close();
  }
}

// A page on another local port plants the attacker's own nonce cookie in a
// browser that has none of its own (a fresh profile) and posts the
// attacker's consent form: the browser says the post is not same-origin,
// and the server refuses it.
async function crossPortConsent(listener) {
  const redirectURI = listener.base + '/cb';
  const attackedID = await registerClient('Attacked Client', redirectURI);
  const { context, close } = await launch({ viewport: { width: 1280, height: 800 } });
  try {
    const attackRes = await fetch(authorization(attackedID, redirectURI).url, { redirect: 'manual' });
    const attackPage = await attackRes.text();
    const hidden = (name) => (attackPage.match(new RegExp('name="' + name + '" value="([^"]+)"')) || [])[1];
    const nonce = (attackRes.headers.getSetCookie?.() || []).map((c) => c.split(';')[0]).find((c) => c.startsWith('mcp_browser_'));
    ok(attackRes.status === 200 && hidden('pending') && hidden('csrf_token') && nonce, 'the attacker got a consent form and its nonce', attackRes.status);
    const attacker = await context.newPage();
    const q = new URLSearchParams({ target: server + '/authorize', pending: hidden('pending'), csrf: hidden('csrf_token'), cookie: nonce });
    const [postRes] = await Promise.all([
      attacker.waitForResponse((r) => r.url() === server + '/authorize' && r.request().method() === 'POST'),
      attacker.goto(listener.base + '/attack?' + q),
    ]);
    const sent = await postRes.request().allHeaders();
    ok(sent['sec-fetch-site'] === 'same-site' && sent.origin === listener.base, 'the browser marked the post same-site, from the other port', sent);
    ok(sent.cookie?.includes(nonce), 'the planted nonce went with it', sent.cookie);
    ok(postRes.status() === 403, 'a consent form posted from another local port with a planted nonce is refused', postRes.status());
  } finally {
    await close();
  }
}

const listener = await startRedirectListener();
try {
  await desktop(listener);
  await mobile(listener);
  await crossPortConsent(listener);
  console.log(`screenshots: ${shots}`);
  console.log(`browser: all ${checks} checks passed`);
} catch (e) {
  console.error('FAIL: ' + (e && e.stack || e));
  console.log(`screenshots: ${shots}`);
  process.exitCode = 1;
} finally {
  listener.srv.close();
  listener.srv.closeAllConnections?.();
}
