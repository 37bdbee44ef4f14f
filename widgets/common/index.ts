// Small browser utilities shared by every widget: element building, number
// and time formatting, theme colours for canvas drawing (which cannot read
// CSS variables by itself).
import './theme.css';
export { fmtCount, fmtRate, fmtMs, fmtUptime } from './format.js';
export { percentile } from '../../common/stats.js';

type Attrs = Record<string, string | number | boolean | null | undefined>;

/** Create an element with attributes and children; `class` and `data-*` work as in HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** Read the theme's colours once, for canvas and chart drawing. */
export function themeColors(el: Element = document.documentElement) {
  const cs = getComputedStyle(el);
  const v = (name: string, fallback: string) => cs.getPropertyValue(name).trim() || fallback;
  return {
    bg: v('--hm-bg', '#0d1117'),
    fg: v('--hm-fg', '#e6edf3'),
    muted: v('--hm-fg-muted', '#9aa7b4'),
    border: v('--hm-border', '#30363d'),
    rpc: v('--hm-rpc', '#39c5ff'),
    reply: v('--hm-reply', '#3fdc7a'),
    cast: v('--hm-cast', '#7aa2ff'),
    fanout: v('--hm-fanout', '#d58cff'),
    notify: v('--hm-notify', '#ffb224'),
    failed: v('--hm-failed', '#ff5a5f'),
    running: v('--hm-running', '#3fdc7a'),
    dead: v('--hm-dead', '#ff5a5f'),
  };
}
export type ThemeColors = ReturnType<typeof themeColors>;

// One-call teardown for every widget controller.
export { Disposable, DisposableStore, interval, listen, observeSize, type IDisposable, type Teardown } from './disposable.js';
