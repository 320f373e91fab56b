// The MCP Inspector's web UI (the one `npx @modelcontextprotocol/inspector`
// starts) driven as README.md's steps tell a person to: Add Servers → Add
// manually, transport streamable-http or sse with the server's URL, then
// the Connect switch, which starts the OAuth flow in the same tab: our
// consent page, the AuthKit emulator's sign-in page (Ada), back to the
// Inspector, connected; then Tools → add with a=20, b=22 → Execute Tool
// shows 42. If the Inspector's UI changes, this fails, and so the README's
// steps cannot go stale silently.
//
// Usage: node inspector-web.mjs INSPECTOR_URL MCP_URL TRANSPORT
//   INSPECTOR_URL  the URL the Inspector printed (with its API token)
//   MCP_URL        http://localhost:PORT/mcp (or /sse)
//   TRANSPORT      streamable-http or sse
// Environment: MCP_BROWSER_CHROMIUM (default /usr/bin/chromium; nothing
// is downloaded), MCP_BROWSER_SCREENSHOTS (a directory for a screenshot
// when a step fails).
//
// The browser may only reach loopback: any other request (the Inspector's
// web fonts) is refused. It prints one line per step and
// "inspector-web: ok" at the end.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const TIMEOUT_MS = 150_000;
setTimeout(() => {
  console.error(`inspector-web: timed out after ${TIMEOUT_MS} ms`);
  process.exit(3);
}, TIMEOUT_MS).unref();

const [inspectorURL, mcpURL, transport] = process.argv.slice(2);
if (!inspectorURL || !mcpURL || !['streamable-http', 'sse'].includes(transport)) {
  console.error('usage: node inspector-web.mjs INSPECTOR_URL MCP_URL streamable-http|sse');
  process.exit(2);
}
const serverID = `remote-mcp-authkit-${transport}`;
const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);

const profile = mkdtempSync(join(tmpdir(), 'mcp-inspector-web-profile-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.MCP_BROWSER_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  viewport: { width: 1400, height: 900 },
});
context.setDefaultTimeout(20_000);
await context.route('**', (route) => {
  const u = new URL(route.request().url());
  if (loopback.has(u.hostname) || u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
  return route.abort();
});
const page = await context.newPage();
const step = (s) => console.log(`inspector-web: ${transport}: ${s}`);

try {
  await page.goto(inspectorURL);
  // 1. Add Servers → Add manually: an id, the transport, the URL.
  await page.getByRole('button', { name: 'Add Servers' }).click();
  await page.getByRole('menuitem', { name: 'Add manually' }).click();
  await page.getByLabel('Server ID').fill(serverID);
  await page.getByRole('textbox', { name: 'Transport' }).click();
  await page.getByRole('option', { name: transport === 'sse' ? /^sse/ : 'streamable-http' }).click();
  await page.getByRole('textbox', { name: 'URL' }).fill(mcpURL);
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByText(mcpURL, { exact: true }).waitFor();
  step('server added');

  // 2. The Connect switch: the Inspector meets our 401, discovers,
  // registers and sends this tab to /authorize.
  const sw = page.getByRole('switch', { name: `Connect or disconnect "${serverID}"` });
  await page.locator(`label[for="${await sw.getAttribute('id')}"]`).click();
  // Waiting for the consent page's button rather than with waitForURL:
  // the Inspector may start a navigation and replace it, and waitForURL
  // fails on the aborted one (net::ERR_ABORTED) although the tab arrives.
  const allow = page.getByRole('button', { name: /allow/i });
  await allow.waitFor();
  const authorize = new URL('/authorize', mcpURL).href;
  if (!page.url().startsWith(authorize)) throw new Error(`Connect led to ${page.url()}, want ${authorize}`);
  step('Connect opened our consent page');

  // 3. Consent, then the emulator's sign-in page: Ada.
  await allow.click();
  await page.getByRole('button', { name: /ada@example\.com/ }).click();
  await page.getByText('Connected', { exact: true }).waitFor();
  const back = new URL(page.url()).origin;
  if (back !== new URL(inspectorURL).origin) throw new Error(`signed in, but the tab is at ${page.url()}`);
  step('signed in as Ada; connected');

  // 4. Tools → add(20, 22): a sum that appears nowhere else on the page.
  await page.getByText('Tools', { exact: true }).click();
  await page.getByRole('button', { name: /Add two numbers/ }).click();
  await page.getByLabel(/^a \*?$/).fill('20');
  await page.getByLabel(/^b \*?$/).fill('22');
  await page.getByRole('button', { name: 'Execute Tool' }).click();
  await page.getByText('Results', { exact: true }).waitFor();
  await page.getByText('42', { exact: true }).first().waitFor();
  step('add(20, 22) = 42 in the results');
  console.log('inspector-web: ok');
} catch (err) {
  const dir = process.env.MCP_BROWSER_SCREENSHOTS;
  if (dir) {
    const shot = join(dir, `inspector-web-${transport}-failed.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`inspector-web: screenshot ${shot}`);
  }
  console.error(`inspector-web: at ${page.url()}\n${(await page.locator('body').innerText().catch(() => '')).slice(0, 2000)}`);
  throw err;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
