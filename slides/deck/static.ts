// Static pictures of the live demos: used in print export, in the speaker
// view's copies of the deck, and wherever the live widgets cannot run. The
// pictures are rendered from the recorded runs (slides/snapshots/, made by
// slides/tools/snapshot.ts); until one exists, the dual-transport diagram
// stands in.
import { DEMOS, type DemoName } from './demos.js';
import { diagramSvg } from './assemble.js';

const snapshots = import.meta.glob('../snapshots/*.png', { query: '?url', import: 'default', eager: true }) as Record<string, string>;

export function snapshotUrl(name: DemoName): string | null {
  for (const [path, url] of Object.entries(snapshots)) if (path.endsWith(`/${name}.png`)) return url;
  return null;
}

export function renderStaticDemo(el: HTMLElement, name: DemoName, why: string): void {
  const demo = DEMOS[name];
  const url = snapshotUrl(name);
  el.classList.add('live-static');
  el.innerHTML = '';
  const fig = document.createElement('figure');
  fig.className = 'live-picture';
  if (url) {
    const img = document.createElement('img');
    img.src = url;
    img.alt = demo.caption;
    fig.append(img);
  } else {
    const d = document.createElement('div');
    d.className = 'diagram';
    d.innerHTML = diagramSvg('dual-transport') ?? '';
    fig.append(d);
  }
  const cap = document.createElement('figcaption');
  cap.textContent = `${why} ${demo.caption}.`;
  fig.append(cap);
  el.append(fig);
}
