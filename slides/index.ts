// The talk as a reveal.js deck. The slides come from sections/*.html; the
// live demo and measurement slides load their widgets only when shown, so the
// first slide appears without waiting for the lab's code.
import 'reveal.js/reveal.css';
import '@fontsource-variable/source-sans-3';
import '@fontsource-variable/source-code-pro';
import '../widgets/common/theme.css';
import './styles/deck.css';
import './styles/live.css';
import Reveal from 'reveal.js';
import Notes from 'reveal.js/plugin/notes';
import { assembleSlides, deckHeight, deckMode, isDemoName, renderStaticDemo } from './deck/index.js';

const mode = deckMode();
document.documentElement.dataset.deckMode = mode;

const root = document.querySelector<HTMLElement>('.reveal');
if (!root) throw new Error('slides/index.html lost its <div class="reveal">');
const slideCount = assembleSlides(root);

// Copies of the deck (speaker view, print) show pictures, never live sessions.
if (mode !== 'present') {
  const why = mode === 'print' ? 'Recorded run.' : 'Live in the presenter window.';
  for (const el of root.querySelectorAll<HTMLElement>('[data-live]')) {
    const name = el.dataset.live;
    if (isDemoName(name)) renderStaticDemo(el, name, why);
  }
}

const deck = new Reveal(root, {
  width: 1280,
  height: deckHeight(mode),
  margin: 0, // one CSS pixel is one screen pixel at 1280x720
  minScale: 0.2,
  maxScale: 2.0,
  center: false,
  hash: true,
  history: false,
  controls: true,
  progress: true,
  slideNumber: 'c/t',
  showSlideNumber: 'all',
  transition: 'fade',
  transitionSpeed: 'fast',
  pdfSeparateFragments: false,
  pdfMaxPagesPerSlide: 1,
  plugins: [Notes],
});

const mounted = new WeakSet<HTMLElement>();

function activate(slide: Element | undefined): void {
  if (mode !== 'present' || !slide) return;
  for (const el of slide.querySelectorAll<HTMLElement>('[data-live]')) {
    if (mounted.has(el)) {
      void import('./live/index.js').then((m) => m.demoShown(el));
      continue;
    }
    mounted.add(el);
    const name = el.dataset.live;
    if (!isDemoName(name)) continue;
    import('./live/index.js')
      .then((m) => m.mountDemo(el, name))
      .catch((err: unknown) => renderStaticDemo(el, name, `Live widgets failed to load (${(err as Error).message}).`));
  }
  for (const el of slide.querySelectorAll<HTMLElement>('[data-measure]')) {
    if (mounted.has(el)) continue;
    mounted.add(el);
    import('./live/measure.js')
      .then((m) => m.mountMeasurements(el))
      .catch(() => { /* the slide keeps its "run lab 7" text */ });
  }
}

deck.on('slidechanged', (e) => activate((e as unknown as { currentSlide?: Element }).currentSlide));
// No top-level await: the offline build is a classic script.
void deck.initialize().then(() => {
  activate(deck.getCurrentSlide());
  // For the console and for tests: the deck API and how many slides it built.
  Object.assign(window, { Reveal: deck, hmDeck: { mode, slideCount, ready: true } });
});
