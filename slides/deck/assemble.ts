// Builds the slides from their sources: one HTML file per part of the talk
// (sections/NN-name.html, in file-name order) and the SVG diagrams they name
// with <div class="diagram" data-diagram="name">. Diagrams are inlined so the
// deck's fonts and colours apply and nothing is fetched at run time.
const sections = import.meta.glob('../sections/*.html', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const diagrams = import.meta.glob('../diagrams/*.svg', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

function baseName(path: string): string {
  return path.replace(/^.*\//, '').replace(/\.[^.]+$/, '');
}

export function diagramSvg(name: string): string | null {
  for (const [path, svg] of Object.entries(diagrams)) if (baseName(path) === name) return svg;
  return null;
}

/** Fills the reveal .slides container; returns the number of slides. */
export function assembleSlides(reveal: HTMLElement): number {
  const slides = reveal.querySelector<HTMLElement>('.slides');
  if (!slides) throw new Error('slides/index.html must contain <div class="reveal"><div class="slides">');
  const html = Object.keys(sections).sort().map((k) => sections[k]).join('\n');
  slides.innerHTML = html;
  const defs = diagramSvg('_defs');
  if (defs) reveal.insertAdjacentHTML('afterbegin', defs);
  for (const el of slides.querySelectorAll<HTMLElement>('[data-diagram]')) {
    const name = el.dataset.diagram ?? '';
    const svg = diagramSvg(name);
    el.innerHTML = svg ?? `<p class="bad">missing diagram: ${name}</p>`;
  }
  return slides.querySelectorAll(':scope > section').length;
}
