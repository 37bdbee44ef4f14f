// Run-in-terminal for buttons anywhere (slides, lab steps): types a command
// into a named terminal through the API, whether or not a terminal widget
// is on the page. Any element with data-terminal-run="COMMAND" (and
// optionally data-terminal="NAME") becomes such a button.
import { TERMINAL_NAME_HINT, TERMINAL_NAME_PATTERN } from './protocol.js';

export const DEFAULT_TERMINAL = 'main';

export class RunInTerminalError extends Error {
  constructor(readonly status: number, message: string) { super(message); this.name = 'RunInTerminalError'; }
}

/** Type `command` and Enter into terminal `name` (started if not running). */
export async function runInTerminal(name: string, command: string, base = ''): Promise<void> {
  if (!TERMINAL_NAME_PATTERN.test(name)) throw new RunInTerminalError(0, `terminal name "${name}" is not valid: ${TERMINAL_NAME_HINT}`);
  const data = command.endsWith('\r') ? command : command + '\r';
  let res: Response;
  try {
    res = await fetch(`${base}/api/terminals/${encodeURIComponent(name)}/input`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data }),
    });
  } catch (err) {
    throw new RunInTerminalError(0, `lab server unreachable: ${(err as Error).message}`);
  }
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { const b = (await res.json()) as { error?: unknown }; if (typeof b.error === 'string') msg = b.error; } catch { /* keep the status */ }
    throw new RunInTerminalError(res.status, msg);
  }
}

/**
 * Make every [data-terminal-run] element under `root` (now or added later)
 * run its command on click. Returns a function that stops listening.
 */
export function installRunButtons(root: Document | HTMLElement = document, defaultTerminal = DEFAULT_TERMINAL): () => void {
  const onClick = (ev: Event) => {
    const target = ev.target instanceof Element ? ev.target.closest<HTMLElement>('[data-terminal-run]') : null;
    if (!target) return;
    ev.preventDefault();
    const command = target.dataset.terminalRun ?? '';
    const name = target.dataset.terminal || defaultTerminal;
    target.dataset.runState = 'running';
    runInTerminal(name, command).then(
      () => { target.dataset.runState = 'sent'; target.removeAttribute('title'); },
      (err: Error) => { target.dataset.runState = 'failed'; target.title = err.message; },
    );
  };
  root.addEventListener('click', onClick);
  return () => root.removeEventListener('click', onClick);
}
