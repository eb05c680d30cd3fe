// End-to-end harness: a real VS Code (the one inside code-server 4.139.1 = Code 1.139.1) served on 127.0.0.1 and
// driven in Debian's chromium through playwright-core. Offline: everything comes from scripts/setup-e2e.sh's cache.
//
//   startWorkbench()     the full workbench with the packaged .vsix (or a development folder) loaded, for UI tests
//   runExtensionTests()  a test module run inside the extension host, the offline stand-in for @vscode/test-electron
//   UI helpers           command palette, explorer, context menu, webview frames, screenshots
//
// Every process started here runs in its own process group and is killed (group and descendants) by stop(), by the end
// of runExtensionTests(), and, as a last resort, when the test process exits or is interrupted.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'];
const VIEWPORT = { width: 1400, height: 900 };
const ACTIVATION_SETTLE_MS = 500;

// Settings that keep the workbench quiet and predictable: no welcome page, no chat side bar, no update or gallery polls.
const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'chat.disableAIFeatures': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
};

// ---------------------------------------------------------------------------------------------------------------------
// The provisioned tools

export interface E2ETools {
  cacheDir: string;
  /** Node 24, which code-server 4.139 requires (the test process itself may run on Node 20). */
  node: string;
  /** code-server's CLI: serves the workbench, installs .vsix files. */
  codeServerEntry: string;
  /** VS Code's own server inside code-server: the one that accepts --enable-smoke-test-driver. */
  serverMain: string;
  chromium: string;
}

/** Why the e2e tests cannot run here, or undefined when scripts/setup-e2e.sh has provisioned everything. */
export function e2eToolsMissing(): string | undefined {
  try {
    e2eTools();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export function e2eTools(): E2ETools {
  const cacheDir = process.env.SPARSITY_LENS_CACHE || join(homedir(), '.cache', 'sparsity-lens');
  const marker = join(cacheDir, '.e2e-installed');
  const setup = 'run `bash scripts/setup-e2e.sh` first';
  if (!existsSync(marker)) throw new Error(`VS Code for the e2e tests is not provisioned in ${cacheDir}: ${setup}`);
  const nodeVersion = /node=(\S+)/.exec(readFileSync(marker, 'utf8'))?.[1];
  const tools: E2ETools = {
    cacheDir,
    node: join(cacheDir, `node-${nodeVersion}`, 'bin', 'node'),
    codeServerEntry: join(cacheDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    serverMain: join(cacheDir, 'node_modules', 'code-server', 'lib', 'vscode', 'out', 'server-main.js'),
    chromium: CHROMIUM,
  };
  for (const [what, path] of Object.entries(tools)) {
    if (!existsSync(path)) throw new Error(`e2e tools: ${what} is missing (${path}): ${setup}`);
  }
  return tools;
}

// ---------------------------------------------------------------------------------------------------------------------
// Processes and temporary folders, always cleaned up

interface Resource {
  children: ChildProcess[];
  tempDirs: string[];
}
const live = new Set<Resource>();
let exitHooksInstalled = false;

function track(): Resource {
  if (!exitHooksInstalled) {
    exitHooksInstalled = true;
    // The servers run in their own process groups, so an interrupted test run would not take them down by itself.
    process.once('exit', () => live.forEach(releaseNow));
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        live.forEach(releaseNow);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    }
  }
  const resource: Resource = { children: [], tempDirs: [] };
  live.add(resource);
  return resource;
}

/** Every pid under `root` (children of children...), read from /proc. */
function descendantsOf(root: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]); // "pid (comm) state ppid ..."
      childrenOf.set(ppid, [...(childrenOf.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length) {
    for (const child of childrenOf.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signal(pids: number[], groups: number[], sig: NodeJS.Signals): void {
  for (const group of groups) {
    try {
      process.kill(-group, sig);
    } catch {
      // group already gone
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM to each started process group and every descendant, SIGKILL to what is left after a grace period. */
async function release(resource: Resource): Promise<void> {
  const groups = resource.children.map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
  const pids = [...groups, ...groups.flatMap(descendantsOf)];
  signal(pids, groups, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(100);
  signal(pids.filter(isAlive), groups, 'SIGKILL');
  for (const dir of resource.tempDirs) rmSync(dir, { recursive: true, force: true });
  live.delete(resource);
}

function releaseNow(resource: Resource): void {
  const groups = resource.children.map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
  signal([...groups, ...groups.flatMap(descendantsOf)], groups, 'SIGKILL');
  for (const dir of resource.tempDirs) rmSync(dir, { recursive: true, force: true });
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (!address || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}

/** Environment that keeps code-server and chromium from writing config, logs and caches into the home folder. */
function scratchEnv(root: string): NodeJS.ProcessEnv {
  const xdg = join(root, 'xdg');
  mkdirSync(xdg, { recursive: true });
  return { ...process.env, XDG_CONFIG_HOME: xdg, XDG_DATA_HOME: xdg, XDG_CACHE_HOME: xdg, VSCODE_CLI: undefined };
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts a server in its own process group with its output in `logFile`; resolves once it answers HTTP. */
async function startServer(resource: Resource, command: string, args: string[], env: NodeJS.ProcessEnv, port: number, logFile: string, timeoutMs: number): Promise<void> {
  const log = createWriteStream(logFile);
  const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  resource.children.push(child);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = `exited with ${sig ?? code}`));
  child.once('error', (error) => (exited = `did not start: ${error.message}`));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${command} ${args[0]} ${exited}; its log:\n${tail(logFile)}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server on port ${port} did not answer within ${timeoutMs} ms; its log:\n${tail(logFile)}`);
    await sleep(250);
  }
}

async function launchChromium(env: NodeJS.ProcessEnv): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, env: env as Record<string, string> });
}

function remoteUri(port: number, path: string): string {
  return `vscode-remote://127.0.0.1:${port}${resolve(path)}`;
}

function workbenchUrl(port: number, workspace: string | undefined, payload: [string, string][]): string {
  const query = new URLSearchParams();
  if (workspace) query.set('folder', resolve(workspace));
  if (payload.length) query.set('payload', JSON.stringify(payload));
  return `http://127.0.0.1:${port}/?${query}`;
}

// ---------------------------------------------------------------------------------------------------------------------
// The workbench

export interface WorkbenchOptions {
  /** A packaged extension, installed with code-server's --install-extension into a fresh extensions folder. */
  vsix?: string;
  /** Or an extension folder (with package.json and its built main), loaded as an extension development path. */
  extensionDir?: string;
  /** The folder the window opens. */
  workspace: string;
  /** User settings on top of the harness's quiet defaults. */
  settings?: Record<string, unknown>;
  /** For start-up as a whole (server, browser, workbench, extension host). Default 120 s. */
  timeoutMs?: number;
}

export interface Workbench {
  page: Page;
  browser: Browser;
  port: number;
  url: string;
  /** The server's user data folder: logs/<session>/exthost1/remoteexthost.log is the extension host's log. */
  userDataDir: string;
  /** The extension host's log so far (activation lines, errors thrown by extensions). */
  extensionHostLog(): string;
  /**
   * Resolves once the extension host has started activating `extensionId` (publisher.name), e.g. after opening a file,
   * and half a second has passed without the log reporting that activation failed (then it rejects with the log).
   * Commands run after this wait for activate() to finish; for an exact "activate() finished" see waitForExtensionLog.
   */
  waitForExtensionActivated(extensionId: string, timeoutMs?: number): Promise<void>;
  /**
   * Resolves with the first line matching `pattern` in the extension's own log output channels
   * (vscode.window.createOutputChannel(name, { log: true }), written to logs/<session>/exthost1/<extensionId>/<name>.log).
   * An extension that logs "activated" at the end of activate() gives tests an exact ready signal.
   */
  waitForExtensionLog(extensionId: string, pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Copies the server and extension host logs into test-artifacts/<name>/ (call it when a test fails). */
  saveLogs(name: string): string;
  /** Closes the browser, kills every process started (by process group and pid) and removes the temp folders. */
  stop(): Promise<void>;
}

export async function startWorkbench(options: WorkbenchOptions): Promise<Workbench> {
  if (!options.vsix === !options.extensionDir) throw new Error('startWorkbench: give exactly one of vsix and extensionDir');
  const tools = e2eTools();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const resource = track();
  const root = mkdtempSync(join(tmpdir(), 'sparsity-lens-e2e-'));
  resource.tempDirs.push(root);
  let browser: Browser | undefined;
  try {
    const env = scratchEnv(root);
    const userDataDir = join(root, 'user-data');
    const extensionsDir = join(root, 'extensions');
    const config = join(root, 'config.yaml');
    const serverLog = join(root, 'code-server.log');
    mkdirSync(join(userDataDir, 'User'), { recursive: true });
    mkdirSync(extensionsDir);
    writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...options.settings }, null, 2));
    const port = await freePort();
    // Always our own --config: without one code-server writes a config (with a password) into the home folder.
    writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
    const common = ['--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];

    if (options.vsix) {
      const install = spawnSync(tools.node, [tools.codeServerEntry, ...common, '--install-extension', resolve(options.vsix)], { env, encoding: 'utf8', timeout: 60_000 });
      if (install.status !== 0 || !/successfully installed/.test(install.stdout)) {
        throw new Error(`installing ${options.vsix} failed (exit ${install.status ?? install.signal}):\n${install.stdout}${install.stderr}`);
      }
    }

    await startServer(
      resource,
      tools.node,
      [
        tools.codeServerEntry, ...common,
        '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
        '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
        // A built VS Code honours extensionDevelopmentPath only with the smoke-test driver on. The driver also turns off
        // notification toasts, so it stays off for a packaged extension: tests then see what a user sees.
        ...(options.extensionDir ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
        resolve(options.workspace),
      ],
      env, port, serverLog, deadline - Date.now(),
    );

    browser = await launchChromium(env);
    const page = await browser.newPage({ viewport: VIEWPORT });
    const payload: [string, string][] = options.extensionDir ? [['extensionDevelopmentPath', remoteUri(port, options.extensionDir)]] : [];
    const url = workbenchUrl(port, options.workspace, payload);
    await page.goto(url, { timeout: deadline - Date.now() });
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: deadline - Date.now() });
    if (options.extensionDir) await page.evaluate('window.driver.whenWorkbenchRestored()');

    const extensionHostLog = () =>
      readLogs(join(userDataDir, 'logs'))
        .filter((log) => log.path.endsWith('remoteexthost.log'))
        .map((log) => log.contents)
        .join('\n');
    const logTail = () => extensionHostLog().split('\n').slice(-30).join('\n');
    const waitForLog = async (pattern: RegExp, what: string, waitMs: number, failure?: RegExp) => {
      const until = Date.now() + waitMs;
      for (;;) {
        const log = extensionHostLog();
        if (failure?.test(log)) throw new Error(`${what} failed; extension host log:\n${logTail()}`);
        if (pattern.test(log)) return;
        if (Date.now() > until) throw new Error(`${what} did not happen within ${waitMs} ms; extension host log:\n${logTail()}`);
        await sleep(200);
      }
    };
    // Before this the extension host has not read the extensions' contributions: menus would lack their items.
    await waitForLog(/Eager extensions activated/, 'extension host start-up', Math.max(deadline - Date.now(), 1000));

    const browserForStop = browser;
    let stopped = false;
    return {
      page,
      browser,
      port,
      url,
      userDataDir,
      extensionHostLog,
      async waitForExtensionActivated(extensionId, waitMs = 30_000) {
        const failed = new RegExp(`Activating extension ${escapeRegExp(extensionId)} failed`, 'i');
        const what = `activation of ${extensionId}`;
        await waitForLog(new RegExp(`_doActivateExtension ${escapeRegExp(extensionId)},`, 'i'), what, waitMs, failed);
        // The log has no line for a finished activation; an activate() that throws says so within milliseconds.
        await sleep(ACTIVATION_SETTLE_MS);
        if (failed.test(extensionHostLog())) throw new Error(`${what} failed; extension host log:\n${logTail()}`);
      },
      async waitForExtensionLog(extensionId, pattern, waitMs = 30_000) {
        const folder = `${extensionId.toLowerCase()}/`;
        const until = Date.now() + waitMs;
        for (;;) {
          const logs = readLogs(join(userDataDir, 'logs')).filter((log) => log.path.toLowerCase().includes(folder));
          const line = logs.flatMap((log) => log.contents.split('\n')).find((text) => pattern.test(text));
          if (line) return line;
          if (Date.now() > until) {
            throw new Error(`no line matching ${pattern} in the logs of ${extensionId} within ${waitMs} ms; they hold:\n${logs.map((log) => `${log.path}:\n${log.contents}`).join('\n') || '(no log file)'}`);
          }
          await sleep(200);
        }
      },
      saveLogs(name) {
        const target = join(artifactsDir(), name);
        mkdirSync(target, { recursive: true });
        writeFileSync(join(target, 'code-server.log'), existsSync(serverLog) ? readFileSync(serverLog) : '');
        for (const log of readLogs(join(userDataDir, 'logs'))) {
          const file = join(target, 'logs', log.path);
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, log.contents);
        }
        return target;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await browserForStop.close().catch(() => undefined);
        await release(resource);
      },
    };
  } catch (error) {
    await browser?.close().catch(() => undefined);
    await release(resource);
    throw error;
  }
}

function readLogs(dir: string, prefix = ''): { path: string; contents: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) return readLogs(join(dir, entry.name), path);
    return entry.name.endsWith('.log') ? [{ path, contents: readFileSync(join(dir, entry.name), 'utf8') }] : [];
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------------------------------
// Tests inside the extension host

export interface ExtensionTestsOptions {
  /** The extension folder (package.json and its built main). */
  extensionDir: string;
  /** The built test module: exports run(): Promise<void>, rejecting on failure (VS Code's extensionTestsPath contract). */
  testsEntry: string;
  /** The folder the window opens, if any. */
  workspace?: string;
  /** Default 120 s; on time-out everything is torn down and the promise rejects with the log so far. */
  timeoutMs?: number;
  /** Each log line as it arrives (e.g. to echo it while debugging). */
  onLog?: (line: string) => void;
}

export interface ExtensionTestsResult {
  /** What the extension host exited with: 0 when run() resolved, 1 when it rejected. */
  exitCode: number;
  /**
   * The window's log lines, "[level] message", including what the tests printed with console.log and errors they threw.
   * console.log's arguments arrive joined by commas ("a =,1" for console.log('a =', 1)): log one string.
   */
  log: string[];
  durationMs: number;
}

export async function runExtensionTests(options: ExtensionTestsOptions): Promise<ExtensionTestsResult> {
  const tools = e2eTools();
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const resource = track();
  const root = mkdtempSync(join(tmpdir(), 'sparsity-lens-e2e-tests-'));
  resource.tempDirs.push(root);
  const log: string[] = [];
  let browser: Browser | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const env = scratchEnv(root);
    const port = await freePort();
    const serverLog = join(root, 'server.log');
    const run = (async () => {
      await startServer(
        resource,
        tools.node,
        [
          tools.serverMain,
          '--host', '127.0.0.1', '--port', String(port),
          '--without-connection-token', '--accept-server-license-terms', '--enable-smoke-test-driver',
          '--telemetry-level', 'off',
          '--server-data-dir', join(root, 'server'), '--user-data-dir', join(root, 'data'), '--extensions-dir', join(root, 'extensions'),
        ],
        env, port, serverLog, timeoutMs,
      );
      browser = await launchChromium(env);
      const page = await browser.newPage({ viewport: VIEWPORT });
      let exit!: (code: number) => void;
      const exited = new Promise<number>((done) => (exit = done));
      // Must be exposed before the page loads: the workbench looks these up when its log and extension host start.
      await page.exposeFunction('codeAutomationLog', (level: string, message: string) => {
        const line = `[${level}] ${message}`;
        log.push(line);
        options.onLog?.(line);
      });
      await page.exposeFunction('codeAutomationExit', (code: number) => exit(code));
      const url = workbenchUrl(port, options.workspace, [
        ['extensionDevelopmentPath', remoteUri(port, options.extensionDir)],
        ['extensionTestsPath', remoteUri(port, options.testsEntry)],
      ]);
      await page.goto(url);
      return exited;
    })();
    const timedOut = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`extension tests did not finish within ${timeoutMs} ms; last log lines:\n${log.slice(-40).join('\n')}\nserver log:\n${tail(serverLog)}`)), timeoutMs);
    });
    run.catch(() => undefined); // after a time-out, tearing down makes the abandoned run reject: not an unhandled rejection
    const exitCode = await Promise.race([run, timedOut]);
    return { exitCode, log, durationMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
    await (browser as Browser | undefined)?.close().catch(() => undefined);
    await release(resource);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Workbench UI helpers

const QUICK_INPUT = '.quick-input-widget';
const QUICK_INPUT_ROWS = `${QUICK_INPUT} .quick-input-list .monaco-list-row`;
const CONTEXT_MENU = '.context-view .monaco-menu';

/** The titles ("Category: Title") the command palette lists for `query`; the palette is closed again. */
export async function searchCommands(page: Page, query: string): Promise<string[]> {
  await openCommandPalette(page, query);
  await page.waitForTimeout(300); // the list filters asynchronously after each keystroke
  const titles = await page.locator(`${QUICK_INPUT_ROWS} .label-name`).allTextContents();
  await closeQuickInput(page);
  return titles;
}

/** Runs a command by its title as the palette shows it, e.g. "Sparsity Lens: Inspect Model". */
export async function runCommand(page: Page, title: string, timeoutMs = 10_000): Promise<void> {
  await openCommandPalette(page, title);
  const row = page.locator(QUICK_INPUT_ROWS).filter({ has: page.locator('.label-name', { hasText: exactText(title) }) }).first();
  try {
    await row.waitFor({ timeout: timeoutMs });
  } catch {
    const listed = await page.locator(`${QUICK_INPUT_ROWS} .label-name`).allTextContents();
    await closeQuickInput(page);
    throw new Error(`command "${title}" is not in the command palette; it lists: ${JSON.stringify(listed)}`);
  }
  await row.click();
  await page.locator(QUICK_INPUT).waitFor({ state: 'hidden', timeout: timeoutMs });
}

async function openCommandPalette(page: Page, query: string): Promise<void> {
  await closeQuickInput(page); // a fresh palette: another quick pick may be open
  await page.keyboard.press('F1');
  const input = page.locator(`${QUICK_INPUT} input.input`);
  await input.waitFor();
  await input.fill(`>${query}`);
}

async function closeQuickInput(page: Page): Promise<void> {
  const widget = page.locator(QUICK_INPUT);
  if (await widget.isVisible()) {
    await page.locator(`${QUICK_INPUT} input.input`).focus();
    await page.keyboard.press('Escape');
    await widget.waitFor({ state: 'hidden' });
  }
}

function exactText(text: string): RegExp {
  return new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`);
}

/** The explorer row of a file or folder shown in the tree, by its name. */
export function explorerItem(page: Page, name: string) {
  return page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name.replace(/"/g, '\\"')}"]`);
}

/** Opens a file shown in the explorer (by name) and waits for its editor tab to be active. */
export async function openFileFromExplorer(page: Page, name: string, timeoutMs = 15_000): Promise<void> {
  await showExplorer(page);
  await explorerItem(page, name).dblclick({ timeout: timeoutMs }); // a double click pins the editor (no preview tab)
  // The tab's aria-label is the file name (then ", preview" and the like); its visible label splits off the extension.
  const quoted = name.replace(/"/g, '\\"');
  await page.locator(`.tabs-container .tab.active:is([aria-label="${quoted}"], [aria-label^="${quoted},"])`).waitFor({ timeout: timeoutMs });
}

/** Right-clicks a file in the explorer; returns the labels of its context menu (left open: pick or press Escape). */
export async function explorerContextMenu(page: Page, name: string, timeoutMs = 10_000): Promise<string[]> {
  await showExplorer(page);
  await explorerItem(page, name).click({ button: 'right', timeout: timeoutMs });
  await page.locator(CONTEXT_MENU).first().waitFor({ timeout: timeoutMs });
  const labels = await page.locator(`${CONTEXT_MENU} .action-item:not(.disabled) .action-label`).allTextContents();
  return labels.map((label) => label.trim()).filter(Boolean);
}

/** Right-clicks a file in the explorer and picks the context-menu item with this exact label. */
export async function pickExplorerContextMenuItem(page: Page, name: string, label: string, timeoutMs = 10_000): Promise<void> {
  const labels = await explorerContextMenu(page, name, timeoutMs);
  if (!labels.includes(label)) {
    await page.keyboard.press('Escape');
    throw new Error(`the context menu of ${name} has no "${label}"; it has: ${JSON.stringify(labels)}`);
  }
  // With the keyboard: a mouse click on a menu that has just opened is sometimes ignored by the workbench (flaky).
  const focused = page.locator(`${CONTEXT_MENU} .action-item.focused .action-label`);
  for (let step = 0; step <= labels.length; step++) {
    await page.keyboard.press('ArrowDown');
    if (((await focused.textContent({ timeout: 1000 }).catch(() => '')) ?? '').trim() === label) {
      await page.keyboard.press('Enter');
      await page.locator(CONTEXT_MENU).first().waitFor({ state: 'hidden', timeout: timeoutMs });
      return;
    }
  }
  await page.keyboard.press('Escape');
  throw new Error(`could not reach "${label}" in the context menu of ${name} with the keyboard`);
}

async function showExplorer(page: Page): Promise<void> {
  if (!(await page.locator('.explorer-folders-view').isVisible())) {
    await page.keyboard.press('Control+Shift+E');
    await page.locator('.explorer-folders-view').waitFor();
  }
}

export interface WebviewQuery {
  /** Only a webview whose content has an element matching this selector. */
  selector?: string;
  /** Only webviews of this extension (publisher.name). */
  extensionId?: string;
  /** Default 15 s: the first webview of a session takes seconds (its service worker registers). */
  timeoutMs?: number;
}

/**
 * The frame of a webview (custom editor or panel) holding the extension's HTML: the child frame of VS Code's webview
 * host iframe. Polls until one matches `options`.
 */
export async function findWebviewFrame(page: Page, options: WebviewQuery = {}): Promise<Frame> {
  const until = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    for (const frame of page.frames()) {
      if (!isWebviewContent(frame)) continue;
      if (options.extensionId && new URL(frame.parentFrame()!.url()).searchParams.get('extensionId')?.toLowerCase() !== options.extensionId.toLowerCase()) continue;
      if (!options.selector) return frame;
      if ((await frame.locator(options.selector).count().catch(() => 0)) > 0) return frame;
    }
    if (Date.now() > until) {
      const urls = page.frames().map((frame) => frame.url());
      throw new Error(`no webview frame${options.selector ? ` with "${options.selector}"` : ''}; frames: ${JSON.stringify(urls)}`);
    }
    await sleep(200);
  }
}

// VS Code hosts each webview in an iframe (pre/index.html) whose child frame (pre/fake.html) holds the extension's HTML.
function isWebviewContent(frame: Frame): boolean {
  const host = frame.parentFrame();
  return !!host && /\/webview\/browser\/pre\/index\.html/.test(host.url()) && /\/webview\/browser\/pre\/fake\.html/.test(frame.url());
}

/** Evaluates in the webview's content frame (see findWebviewFrame); `expression` is a function or a JS expression string. */
export async function evaluateInWebview<R>(page: Page, expression: string | (() => R | Promise<R>), options: WebviewQuery = {}): Promise<R> {
  const frame = await findWebviewFrame(page, options);
  return frame.evaluate(expression as () => R | Promise<R>);
}

/** The messages of the notification toasts shown now (none with extensionDir: the smoke-test driver turns toasts off). */
export async function toasts(page: Page): Promise<string[]> {
  return page.locator('.notifications-toasts .notification-list-item-message').allTextContents();
}

/** Every notification message of the session, from the notification center (opened, read, closed again). */
export async function allNotifications(page: Page): Promise<string[]> {
  const center = page.locator('.notifications-center');
  const wasVisible = await center.isVisible();
  if (!wasVisible) {
    await runCommand(page, 'Notifications: Show Notifications');
    await center.waitFor();
  }
  const messages = await center.locator('.notification-list-item-message').allTextContents();
  if (!wasVisible) {
    await center.click({ position: { x: 5, y: 5 } }); // focus it: Escape closes the center only when it has focus
    await page.keyboard.press('Escape');
    await center.waitFor({ state: 'hidden' });
  }
  return messages;
}

/** Where screenshots and saved logs go: <repo>/test-artifacts (ignored by git). */
export function artifactsDir(): string {
  let dir = __dirname;
  while (dirname(dir) !== dir && !existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(existsSync(join(dir, 'package.json')) ? dir : process.cwd(), 'test-artifacts');
}

/** Saves a full-page screenshot as test-artifacts/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(artifactsDir(), `${name}.png`);
  mkdirSync(dirname(path), { recursive: true });
  // Let finite animations (a context menu fading in, a toast sliding in) finish, for at most a second.
  await page
    .evaluate(
      `Promise.race([
        Promise.all(document.getAnimations()
          .filter((animation) => animation.effect && animation.effect.getComputedTiming().endTime !== Infinity)
          .map((animation) => animation.finished.catch(() => undefined))),
        new Promise((done) => setTimeout(done, 1000)),
      ]).then(() => true)`,
    )
    .catch(() => undefined);
  await page.screenshot({ path });
  return path;
}
