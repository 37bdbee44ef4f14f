// A live demo slide: the flow view and the backend panel on one event
// stream, the presenter's terminal below, and the demo's steps as buttons
// that type their command into that terminal. Loaded only when a demo slide
// is shown, so the deck's first slide never waits for this code.
import { LabClient } from '../../widgets/api/index.js';
import { mountFlowView } from '../../widgets/flow/index.js';
import { mountBackendPanel } from '../../widgets/panel/index.js';
import { mountTerminal, runInTerminal, type TerminalHandle } from '../../widgets/terminal/index.js';
import { DEMOS, PRESENTER_TERMINAL, type DemoName } from '../deck/demos.js';
import { demoStream } from './stream.js';

// One terminal widget per page: both demo slides show the same shell, so the
// widget moves to whichever demo slide is on screen.
let terminal: { handle: TerminalHandle; host: HTMLElement } | null = null;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export async function mountDemo(root: HTMLElement, name: DemoName): Promise<void> {
  const demo = DEMOS[name];
  root.innerHTML = '';
  const grid = el('div', 'live-grid');
  const bar = el('div', 'live-bar');
  const flow = el('div', 'live-flow');
  const panel = el('div', 'live-panel');
  const term = el('div', 'live-term');
  const source = el('span', 'live-source', 'connecting…');
  source.setAttribute('data-testid', 'live-source');
  grid.append(bar, flow, panel, term);
  root.append(grid);
  // The slide's title joins the step buttons in one row: the widgets get the height.
  const title = root.closest('section')?.querySelector('h2.live-title');
  if (title) bar.append(title);
  root.classList.add('live-mounted');

  const created = await demoStream(name, demo.recording);
  const { stream } = created;
  const isLive = created.mode === 'live';
  root.dataset.liveMode = created.mode;
  source.classList.toggle('replay', !isLive);
  // Which router runs is in the flow view's header; this says where the events come from.
  source.textContent = isLive ? 'live' : 'recorded run';
  source.title = created.reason;

  demo.steps.forEach((step, i) => {
    const b = el('button', 'live-step');
    b.type = 'button';
    b.dataset.command = step.command;
    b.title = step.command;
    b.append(el('span', 'n', String(i + 1)), document.createTextNode(step.label));
    if (!isLive) {
      b.disabled = true;
      b.title = `${step.command} (needs the lab server: ${created.reason})`;
    }
    b.addEventListener('click', () => {
      if (terminal && terminal.host.isConnected) terminal.handle.run(step.command);
      else void runInTerminal(PRESENTER_TERMINAL, step.command).catch((err: Error) => { source.textContent = err.message; });
    });
    bar.append(b);
  });
  bar.append(source);

  mountFlowView(flow, stream, { charts: false, title: demo.name === 'failover' ? 'Message flow: failover' : 'Message flow' });
  mountBackendPanel(panel, new LabClient(), stream);

  if (isLive) {
    root.addEventListener('hm-demo-shown', () => attachTerminal(term));
    attachTerminal(term);
  } else {
    term.classList.add('unavailable');
    term.textContent = `Terminal: needs the lab server ("hmlab serve"). Showing the recorded run of this demo.`;
  }
}

function attachTerminal(host: HTMLElement): void {
  if (terminal && terminal.host === host) return;
  if (!terminal) {
    const handle = mountTerminal(host, { name: PRESENTER_TERMINAL, fontSize: 16 });
    terminal = { handle, host };
    return;
  }
  // Move the one terminal widget here: same session, same screen.
  const node = terminal.host.firstElementChild;
  if (node) host.append(node);
  terminal.host = host;
}

/** The deck calls this each time a demo slide comes on screen. */
export function demoShown(root: HTMLElement): void {
  root.dispatchEvent(new Event('hm-demo-shown'));
}
