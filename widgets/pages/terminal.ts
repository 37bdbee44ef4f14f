// /terminal?name=NAME: one terminal, full window. ?readonly=1 watches
// without typing. Run-in-terminal buttons on the page work too.
import '../common/theme.css';
import { mountTerminal, installRunButtons, TERMINAL_NAME_PATTERN, TERMINAL_NAME_HINT, DEFAULT_TERMINAL } from '../terminal/index.js';

const params = new URLSearchParams(location.search);
const name = params.get('name') ?? DEFAULT_TERMINAL;
const readOnly = params.get('readonly') === '1';
const host = document.getElementById('terminal')!;

if (!TERMINAL_NAME_PATTERN.test(name)) {
  const p = document.createElement('p');
  p.className = 'hm-terminal-error';
  p.textContent = `The terminal name "${name}" is not valid: ${TERMINAL_NAME_HINT}.`;
  host.replaceWith(p);
} else {
  document.title = `${name} — terminal — hybrid-messaging-lab`;
  const handle = mountTerminal(host, { name, readOnly });
  installRunButtons(document, name);
  handle.focus();
  // For automation and the deck's speaker view: the page's terminal.
  (window as unknown as { hmlabTerminal: typeof handle }).hmlabTerminal = handle;
}
