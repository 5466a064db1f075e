#!/usr/bin/env node
// Opens one notebook in a running JupyterLab with Debian's headless Chromium
// (playwright-core, no browser download), runs all its cells through the
// Run menu as a student would, and reports what the page shows.
//
//   node run_notebook.js --base-url http://127.0.0.1:PORT --token TOKEN \
//        --notebook 07_dashboard.ipynb --screenshot out.png [--run-timeout 240] [--focus-trace NAME]
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

// The widget dashboards of the notebook: the interactive one (live=false) or the live view (live=true):
// panel titles, traces, the pair picker's options and, for the live view, its status line.
function readDashboard(live) {
  const all = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .workbook-dashboard')];
  const el = all.find((d) => Boolean(d.closest('.workbook-live')) === live);
  if (!el) return null;
  const gd = el.querySelector('.js-plotly-plot');
  const select = el.querySelector('.workbook-pair-picker select');
  const titles = ((gd && gd.layout && gd.layout.annotations) || []).map((a) => a.text || '')
    .filter((t) => t.startsWith('<b>')).map((t) => t.replace(/<\/?b>/g, ''));
  const box = gd ? gd.getBoundingClientRect() : { width: 0, height: 0 };
  const statusEl = el.closest('.workbook-live') && el.closest('.workbook-live').querySelector('.workbook-live-status');
  return {
    titles,
    candleTitle: titles.find((t) => t.startsWith('Candlesticks')) || null,
    traces: gd ? (gd._fullData || []).map((t) => ({ type: t.type, name: t.name, points: t._length || 0 })) : [],
    width: Math.round(box.width),
    height: Math.round(box.height),
    // ipywidgets shows option labels with non-breaking spaces
    options: select ? [...select.options].map((o) => o.textContent.replace(/\u00a0/g, ' ')) : [],
    selected: select ? ((select.options[select.selectedIndex] || {}).textContent || '').replace(/\u00a0/g, ' ') : null,
    status: statusEl ? statusEl.textContent : null,
    message: (el.querySelector('.workbook-dashboard-message') || {}).textContent || '',
  };
}

// A code cell (the last one by default): its prompt and output text.
function readLastCell(index) {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell')];
  const cell = cells[index == null ? cells.length - 1 : index];
  return {
    prompt: ((cell.querySelector('.jp-InputPrompt') || {}).textContent || '').trim(),
    output: [...cell.querySelectorAll('.jp-OutputArea-output')].map((o) => o.textContent).join('\n').trim(),
  };
}

const refreshCount = (dash) => {
  const m = dash && dash.status && dash.status.match(/refresh (\d+)/);
  return m ? Number(m[1]) : 0;
};

// Waits (bounded) until `test(value)` holds for page.evaluate(fn, arg); returns the last value.
async function waitFor(page, fn, arg, test, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let value = await page.evaluate(fn, arg);
  while (!test(value) && Date.now() < deadline) {
    await sleep(500);
    value = await page.evaluate(fn, arg);
  }
  return value;
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

    if (args.focusTrace) {
      // A notebook without the dashboard widgets (e.g. the watermark lab): the screenshot is of the focused chart.
      result.stage = 'screenshot';
      if (!candle) throw new Error(`no chart with a '${args.focusTrace}' trace in the page`);
      const chart = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .js-plotly-plot').nth(candle.index);
      fs.mkdirSync(path.dirname(args.screenshot), { recursive: true });
      await chart.screenshot({ path: args.screenshot, timeout: 20000 });
      log(`chart screenshot: ${args.screenshot}`);
      result.ok = true;
      result.stage = 'done';
      return;
    }

    result.stage = 'pick a pair';
    let dash = await waitFor(page, readDashboard, false, (d) => d && d.candleTitle, 60000);
    result.picker = { before: dash };
    if (dash && dash.options.length > 1) {
      const other = dash.options.find((o) => o !== dash.selected);
      log(`picking '${other}' instead of '${dash.selected}'`);
      const labels = await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .workbook-pair-picker select').first()
        .locator('option').allTextContents();
      await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .workbook-pair-picker select').first()
        .selectOption({ label: labels.find((l) => l.replace(/\u00a0/g, ' ') === other) });
      dash = await waitFor(page, readDashboard, false, (d) => d && d.candleTitle && d.candleTitle.includes(other), 60000);
      result.picker.picked = other;
      result.picker.after = dash;
      log(`candlestick title now '${dash && dash.candleTitle}'`);
    }
    const element = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .workbook-dashboard').first();
    // The whole dashboard in one shot: a viewport as tall as it (the notebook scrolls inside the page).
    const box = await element.boundingBox();
    if (box) await page.setViewportSize({ width: 1400, height: Math.max(1000, Math.ceil(box.height) + 300) });
    await element.scrollIntoViewIfNeeded();
    await sleep(1500);
    fs.mkdirSync(path.dirname(args.screenshot), { recursive: true });
    await element.screenshot({ path: args.screenshot, timeout: 20000 });
    await page.setViewportSize({ width: 1400, height: 1000 });
    log(`dashboard screenshot: ${args.screenshot}`);

    result.stage = 'live';
    const live0 = await waitFor(page, readDashboard, true, (d) => refreshCount(d) >= 1, 60000);
    const cellIndex = await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell').count() - 1;
    const cellBefore = await page.evaluate(readLastCell, cellIndex);
    const ranAt = Date.now();
    const lastCell = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell').nth(cellIndex);
    await lastCell.locator('.jp-InputArea-editor').click();
    await page.keyboard.press('Control+Enter');  // run it and stay on it
    const cellAfter = await waitFor(page, readLastCell, cellIndex,
      (c) => c.prompt !== cellBefore.prompt && /\[\d+\]/.test(c.prompt) && c.output, 60000);
    const cellSeconds = (Date.now() - ranAt) / 1000;
    const live1 = await waitFor(page, readDashboard, true, (d) => refreshCount(d) > refreshCount(live0), 40000);
    result.live = { before: live0, after: live1, refreshesBefore: refreshCount(live0), refreshesAfter: refreshCount(live1),
      cellBefore, cellAfter, cellSeconds };
    log(`live refresh ${refreshCount(live0)} -> ${refreshCount(live1)}; other cell ${cellBefore.prompt} -> ${cellAfter.prompt} in ${cellSeconds}s`);
    result.ok = true;
    result.stage = 'done';
  } catch (err) {
    result.error = String((err && err.message) || err).slice(0, 2000);
    log(`failed while '${result.stage}': ${result.error}`);
  } finally {
    if (page) {
      try {
        fs.mkdirSync(path.dirname(args.screenshot), { recursive: true });
        const pageShot = path.join(path.dirname(args.screenshot), 'page.png');
        await page.screenshot({ path: pageShot, timeout: 20000 });
        log(`page screenshot: ${pageShot}`);
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
