// A lab page's live parts: one terminal ("main") sized so its widest tables
// fit beside the text, and the flow view of this lab server.
import { h } from '../../widgets/common/index.js';
import { Disposable, listen } from '../../widgets/common/disposable.js';
import { mountTerminal, type TerminalHandle } from '../../widgets/terminal/index.js';
import { mountFlowView } from '../../widgets/flow/index.js';
import { createStream } from '../../widgets/api/index.js';

/** Columns the lab terminal holds whole: qdstat's widest table (addresses) and hmlab status fit. */
const TERMINAL_COLUMNS = 132;
/** The monospace font's advance per em (Source Code Pro: 600/1000). */
const MONO_ADVANCE = 0.6;
/** Padding, the screen's inset and xterm's scrollbar around the character cells. */
const TERMINAL_CHROME_PX = 44;
const TEXT_MIN_PX = 360;
/** A window being resized settles for this long before the terminal follows. */
const RESIZE_SETTLE_MS = 250;

/**
 * The terminal's font size and the side column's width for this window: the
 * largest size from 14 px down to 10.5 px at which TERMINAL_COLUMNS fit next to a
 * text column of at least TEXT_MIN_PX (or 30% of the window, when wider).
 */
function terminalFit(viewport: number): { fontSize: number; sidePx: number } {
  const text = Math.max(TEXT_MIN_PX, Math.round(viewport * 0.3));
  const cells = (viewport - text - TERMINAL_CHROME_PX) / (TERMINAL_COLUMNS * MONO_ADVANCE);
  const fontSize = Math.min(14, Math.max(10.5, Math.floor(cells * 2) / 2));
  const sidePx = Math.ceil(TERMINAL_COLUMNS * MONO_ADVANCE * fontSize + TERMINAL_CHROME_PX);
  return { fontSize, sidePx: Math.min(sidePx, Math.max(0, viewport - TEXT_MIN_PX)) };
}

/** Where something could not be shown: the reason, in its place. */
export function fail(where: HTMLElement, err: unknown): void {
  where.replaceChildren(h('p', { class: 'hm-error', role: 'alert' }, (err as Error).message ?? String(err)));
}

/**
 * The lab terminal. Its font size is fixed per terminal: a window resized
 * across sizes gets a fresh terminal (the same shell, its screen kept by the server).
 */
export class LabTerminal extends Disposable {
  private term: TerminalHandle | null = null;
  private fit = terminalFit(window.innerWidth);
  private resizeTimer = 0;

  /** layout: the element whose --wb-side-width the terminal's width sets. */
  constructor(private readonly el: HTMLElement, private readonly layout: HTMLElement) {
    super();
    this.mount();
    this.register(() => this.term?.dispose());
    this.register(listen(window, 'resize', () => {
      window.clearTimeout(this.resizeTimer);
      this.resizeTimer = window.setTimeout(() => this.refit(), RESIZE_SETTLE_MS);
    }));
    this.register(() => window.clearTimeout(this.resizeTimer));
  }

  get state(): TerminalHandle['state'] | null { return this.term?.state ?? null; }

  focus(): void { this.term?.focus(); }

  /** A fresh terminal widget on the same session. */
  mount(): void {
    this.term?.dispose();
    this.el.replaceChildren();
    this.layout.style.setProperty('--wb-side-width', `${this.fit.sidePx}px`);
    try {
      this.term = mountTerminal(this.el, { name: 'main', fontSize: this.fit.fontSize });
    } catch (err) {
      this.term = null;
      fail(this.el, err);
    }
  }

  private refit(): void {
    const next = terminalFit(window.innerWidth);
    const remount = next.fontSize !== this.fit.fontSize;
    this.fit = next;
    if (remount) this.mount(); else this.layout.style.setProperty('--wb-side-width', `${this.fit.sidePx}px`);
  }
}

/** The flow view of this lab server, without its charts: the side column is narrow. */
export class LabFlow extends Disposable {
  constructor(el: HTMLElement) {
    super();
    void (async () => {
      try {
        const { stream } = await createStream();
        this.register(() => stream.close());
        if (this.isDisposed) return;
        this.register(mountFlowView(el, stream, { charts: false, title: 'Message flow' }));
      } catch (err) {
        fail(el, err);
      }
    })();
  }
}
