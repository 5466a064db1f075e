#!/usr/bin/env node
// Opens one notebook in a running JupyterLab with Debian's headless Chromium
// (playwright-core, no browser download), runs all its cells through the
// Run menu as a student would, and reports what the page shows.
//
//   node run_notebook.js --base-url http://127.0.0.1:PORT --token TOKEN \
//        --notebook 06_dashboard.ipynb --screenshot out.png [--run-timeout 240] [--focus-trace NAME]
//
// Progress goes to stderr; the last stdout line is `RESULT {json}` with the
// facts (cell prompts, error outputs, Plotly traces, console errors). The
// pytest test makes the assertions. Exit code 0 when the result was written.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROME_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function parseArgs(argv) {
  const args = { runTimeout: 240, kernelTimeout: 120, executable: process.env.CHROMIUM || '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    args[key] = argv[i + 1];
  }
  for (const k of ['baseUrl', 'token', 'notebook', 'screenshot']) {
    if (!args[k]) throw new Error(`missing --${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);
  }
  args.runTimeout = Number(args.runTimeout);
  args.kernelTimeout = Number(args.kernelTimeout);
  return args;
}

const log = (msg) => process.stderr.write(`[browser ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Everything the page shows about the notebook's state, read in the page.
function readNotebookState() {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const codeCells = [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  // JupyterLab renders an error output as text/stderr, like a warning: the
  // kernel's own `error` messages (see watchKernel) tell them apart.
  const stderr = panel.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  return {
    status: indicator ? indicator.getAttribute('data-status') : null,
    kernel: ((panel.querySelector('.jp-KernelName') || {}).textContent || '').trim(),
    prompts: codeCells.map((c) => ((c.querySelector('.jp-InputPrompt') || {}).textContent || '').trim()),
    emptyCells: codeCells.map((c) => [...c.querySelectorAll('.jp-InputArea-editor .cm-line')].every((l) => !l.textContent.trim())),
    errors: window.__browserTestKernelErrors || [],
    stderrOutputs: stderr.length,
    sawBusy: Boolean(window.__browserTestSawBusy),
  };
}

// Listens to the notebook's kernel as a second client: every `error` message
// on iopub is an error output of a cell (a traceback, not a warning).
async function watchKernel({ token, notebook }) {
  const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
  const base = config.baseUrl || '/';
  const reply = await fetch(`${base}api/sessions`, { headers: { Authorization: `token ${token}` } });
  const sessions = await reply.json();
  const session = sessions.find((s) => s.path === notebook && s.kernel);
  if (!session) throw new Error(`no kernel session for ${notebook}: ${JSON.stringify(sessions.map((s) => s.path))}`);
  window.__browserTestKernelErrors = [];
  const url = `${location.origin.replace(/^http/, 'ws')}${base}api/kernels/${session.kernel.id}/channels`
    + `?session_id=browser-test-${Date.now()}&token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  window.__browserTestKernelSocket = ws;
  ws.onmessage = (event) => {
    if (typeof event.data !== 'string') return;
    const msg = JSON.parse(event.data);
    if (msg.channel === 'iopub' && msg.header && msg.header.msg_type === 'error') {
      const c = msg.content;
      window.__browserTestKernelErrors.push(`${c.ename}: ${c.evalue}\n${(c.traceback || []).join('\n')}`.slice(-4000));
    }
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot listen to kernel ${session.kernel.id}`));
  });
  return session.kernel.id;
}

// Each Plotly chart in the notebook: its traces (type, number of points) and
// how many candlestick boxes plotly.js drew in the SVG.
function readPlots() {
  return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .js-plotly-plot')].map((gd, index) => {
    const full = gd._fullData || [];
    const rect = gd.getBoundingClientRect();
    return {
      index,
      width: Math.round(rect.width),
      height: Math.round(rect.height),
      traces: full.map((t) => ({ type: t.type, name: t.name, points: t._length || 0 })),
      candlestickBoxes: gd.querySelectorAll('g.trace.boxes path.box').length,
      barPoints: gd.querySelectorAll('g.trace.bars g.point').length,
    };
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const result = { ok: false, stage: 'launch', error: null, consoleErrors: [], screenshot: args.screenshot };
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-chromium-'));
  let context;
  let page;
  const t0 = Date.now();
  const timings = {};
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: args.executable,
      headless: true,
      args: CHROME_FLAGS,
      viewport: { width: 1400, height: 1000 },
    });
    page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => result.consoleErrors.push(`pageerror: ${e.message}`));
    // Set before any page script runs: remembers whether the kernel went busy.
    await page.addInitScript(() => {
      window.__browserTestSawBusy = false;
      new MutationObserver((records) => {
        for (const r of records) {
          if (r.target.getAttribute && r.target.getAttribute('data-status') === 'busy') window.__browserTestSawBusy = true;
        }
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-status'] });
    });

    result.stage = 'open';
    const url = `${args.baseUrl}/lab/tree/${encodeURIComponent(args.notebook)}?token=${encodeURIComponent(args.token)}`;
    log(`opening ${url.replace(args.token, '***')}`);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60000 });
    // The notebook's tab is the current one and shows its cells.
    await page.waitForFunction((name) => {
      const tab = document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel');
      return tab && tab.textContent.trim() === name
        && document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
    }, path.basename(args.notebook), { timeout: 90000, polling: 250 });

    result.stage = 'kernel';
    const kernelDeadline = Date.now() + args.kernelTimeout * 1000;
    for (;;) {
      // A notebook without kernel metadata asks which kernel: take the default.
      const dialog = page.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept');
      if (await dialog.count()) { log('accepting the kernel dialog'); await dialog.first().click(); }
      const state = await page.evaluate(readNotebookState);
      if (state && state.status === 'idle' && state.kernel && state.kernel !== 'No Kernel') break;
      if (Date.now() > kernelDeadline) {
        throw new Error(`no idle kernel after ${args.kernelTimeout}s (kernel '${state && state.kernel}', status ${state && state.status})`);
      }
      await sleep(500);
    }
    timings.kernelIdle = (Date.now() - t0) / 1000;
    log(`kernel '${(await page.evaluate(readNotebookState)).kernel}' idle after ${timings.kernelIdle}s`);

    result.stage = 'run';
    const kernelId = await page.evaluate(watchKernel, { token: args.token, notebook: args.notebook });
    log(`listening to kernel ${kernelId}`);
    await page.evaluate(() => { window.__browserTestSawBusy = false; });
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
    await page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click();
    log('Run > Run All Cells');
    const runStart = Date.now();
    let state;
    let stableSince = null;
    for (;;) {
      state = await page.evaluate(readNotebookState);
      const done = state && state.sawBusy && state.status === 'idle' && !state.prompts.some((p) => p.includes('*'));
      if (done) {
        stableSince = stableSince || Date.now();
        if (Date.now() - stableSince >= 1500) break;
      } else {
        stableSince = null;
      }
      if (Date.now() - runStart > args.runTimeout * 1000) {
        result.notebook = state;
        throw new Error(`the notebook was still running after ${args.runTimeout}s (kernel ${state && state.status}, prompts ${JSON.stringify(state && state.prompts)})`);
      }
      await sleep(500);
    }
    timings.run = (Date.now() - runStart) / 1000;
    log(`all cells ran in ${timings.run}s: ${JSON.stringify(state.prompts)}`);
    result.notebook = state;

    result.stage = 'chart';
    // The renderer draws asynchronously; wait (bounded) for a candlestick.
    const chartDeadline = Date.now() + 30000;
    let plots = await page.evaluate(readPlots);
    const wanted = (t) => (args.focusTrace ? t.name === args.focusTrace : t.type === 'candlestick');
    while (!plots.some((p) => p.traces.some(wanted)) && state.errors.length === 0 && Date.now() < chartDeadline) {
      await sleep(500);
      plots = await page.evaluate(readPlots);
    }
    // The candlestick chart with the most points (the latest one on a tie); with --focus-trace NAME,
    // the first chart with a trace of that name instead (e.g. the watermark lab's timeline).
    const candlePoints = (p) => Math.max(-1, ...p.traces.filter((t) => t.type === 'candlestick').map((t) => t.points));
    const candle = args.focusTrace
      ? plots.find((p) => p.traces.some((t) => t.name === args.focusTrace)) || null
      : plots.reduce((best, p) => (candlePoints(p) >= 0 && (!best || candlePoints(p) >= candlePoints(best)) ? p : best), null);
    if (candle) {
      // Bring the candlestick chart into view for the screenshot.
      await page.evaluate((i) => {
        const gd = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .js-plotly-plot')[i];
        gd.scrollIntoView({ block: gd.getBoundingClientRect().height < window.innerHeight - 150 ? 'center' : 'start' });
      }, candle.index);
      await sleep(1000);
      plots = await page.evaluate(readPlots);
    }
    result.plots = plots;
    result.ok = true;
    result.stage = 'done';
  } catch (err) {
    result.error = String((err && err.message) || err).slice(0, 2000);
    log(`failed while '${result.stage}': ${result.error}`);
  } finally {
    if (page) {
      try {
        fs.mkdirSync(path.dirname(args.screenshot), { recursive: true });
        await page.screenshot({ path: args.screenshot, timeout: 20000 });
        log(`screenshot: ${args.screenshot}`);
      } catch (err) {
        result.screenshot = null;
        log(`no screenshot: ${err}`);
      }
      if (!result.notebook) result.notebook = await page.evaluate(readNotebookState).catch(() => null);
    }
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
    result.timings = { ...timings, total: (Date.now() - t0) / 1000 };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  }
}

main().catch((err) => { log(String(err)); process.exit(2); });
