// The panel in headless Chromium, hosted as VS Code hosts it: the same CSP as src/extension/html.ts (nonce scripts,
// style-src the resource origin plus the toolkit's one hash), dist/webview.js and media/panel.css served from a
// resource origin, a fake acquireVsCodeApi that records what the panel posts, and theme variables on the body.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { FromWebview, ToWebview } from '../../src/protocol';
import { type ThemeName, themeCss } from './webview-themes';

// dist/test/ → the repository root.
export const ROOT = join(__dirname, '..', '..');

const ORIGIN = 'https://webview.test';
const TOOLKIT_STYLE_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='";
const NONCE = 'dGVzdC1ub25jZQ==';

const CHROMIUM = '/usr/bin/chromium';

/** Debian's chromium through playwright-core, loaded at run time: esbuild cannot bundle it (it resolves its own files). */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the webview tests need Debian's chromium (bash scripts/setup-browser.sh as root)`);
  const { chromium } = createRequire(__filename)('playwright-core') as typeof import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/** What the test page's window holds besides the DOM (declared here: the test's lib has no DOM types). */
interface TestWindow {
  posted: FromWebview[];
  problems: string[];
  postMessage(message: unknown, origin: string): void;
  document: { body: { className: string; setAttribute(name: string, value: string): void } };
}

function pageHtml(theme: ThemeName): string {
  const csp = ["default-src 'none'", `img-src ${ORIGIN} data:`, `font-src ${ORIGIN}`, `style-src ${ORIGIN} ${TOOLKIT_STYLE_HASH}`, `script-src 'nonce-${NONCE}'`].join('; ');
  // The fake host: VS Code allows one acquireVsCodeApi() per page; messages are copied as postMessage would.
  const fakeHost = `
    window.posted = [];
    window.problems = [];
    document.addEventListener('securitypolicyviolation', (e) => window.problems.push('CSP ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')));
    let acquired = false;
    window.acquireVsCodeApi = () => {
      if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
      acquired = true;
      let state;
      return { postMessage: (m) => window.posted.push(JSON.parse(JSON.stringify(m))), getState: () => state, setState: (s) => { state = s; } };
    };`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="${ORIGIN}/theme.css">
<link rel="stylesheet" href="${ORIGIN}/media/panel.css">
<title>Sparsity Lens: test</title>
</head>
<body class="vscode-${theme}" data-vscode-theme-kind="vscode-${theme}">
<div id="app" aria-busy="true"></div>
<script nonce="${NONCE}">${fakeHost}</script>
<script nonce="${NONCE}" src="${ORIGIN}/dist/webview.js"></script>
</body>
</html>`;
}

export class PanelPage {
  /** Page errors and console errors, for the test to assert there are none. */
  readonly errors: string[] = [];

  private constructor(readonly page: Page) {}

  static async open(browser: Browser, theme: ThemeName = 'light'): Promise<PanelPage> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(5000);
    const panel = new PanelPage(page);
    page.on('pageerror', (err) => panel.errors.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') panel.errors.push(`console: ${msg.text()}`);
    });
    const files: Record<string, { body: string | Buffer; contentType: string }> = {
      '/index.html': { body: pageHtml(theme), contentType: 'text/html' },
      '/theme.css': { body: themeCss(), contentType: 'text/css' },
      '/media/panel.css': { body: readFileSync(join(ROOT, 'media', 'panel.css')), contentType: 'text/css' },
      '/dist/webview.js': { body: readFileSync(join(ROOT, 'dist', 'webview.js')), contentType: 'text/javascript' },
    };
    await page.route(`${ORIGIN}/**`, (route) => {
      const file = files[new URL(route.request().url()).pathname];
      return file ? route.fulfill({ status: 200, contentType: file.contentType, body: file.body }) : route.fulfill({ status: 404, body: '' });
    });
    await page.goto(`${ORIGIN}/index.html`);
    await panel.waitForMessage('ready');
    return panel;
  }

  /** Posts a message to the panel as the extension host does. */
  async send(message: ToWebview): Promise<void> {
    await this.page.evaluate((m) => (globalThis as unknown as TestWindow).postMessage(m, '*'), message);
  }

  /** Everything the panel has posted so far. */
  posted(): Promise<FromWebview[]> {
    return this.page.evaluate(() => (globalThis as unknown as TestWindow).posted);
  }

  /** Waits for the panel to post a message of `type`, and returns the last such message. */
  async waitForMessage<T extends FromWebview['type']>(type: T, count = 1): Promise<Extract<FromWebview, { type: T }>> {
    await this.page.waitForFunction(([t, n]) => (globalThis as unknown as TestWindow).posted.filter((m) => m.type === t).length >= (n as number), [type, count] as const, { timeout: 5000 });
    const all = (await this.posted()).filter((m) => m.type === type);
    return all[all.length - 1] as Extract<FromWebview, { type: T }>;
  }

  async countPosted(type: FromWebview['type']): Promise<number> {
    return (await this.posted()).filter((m) => m.type === type).length;
  }

  /** CSP violations seen by the page. */
  problems(): Promise<string[]> {
    return this.page.evaluate(() => (globalThis as unknown as TestWindow).problems);
  }

  /** Switches the theme as VS Code does: the body's class and theme kind. */
  async setTheme(theme: ThemeName): Promise<void> {
    await this.page.evaluate((t) => {
      const body = (globalThis as unknown as TestWindow).document.body;
      body.className = `vscode-${t}`;
      body.setAttribute('data-vscode-theme-kind', `vscode-${t}`);
    }, theme);
  }

  close(): Promise<void> {
    return this.page.close();
  }
}
