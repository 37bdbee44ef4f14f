// Public face of the deck's own code: building the slides, where this copy
// of the deck runs, the demos and their static pictures.
export { assembleSlides, diagramSvg } from './assemble.js';
export { deckMode, deckHeight, type DeckMode } from './context.js';
export { DEMOS, PRESENTER_TERMINAL, isDemoName, type DemoDef, type DemoName, type DemoStep } from './demos.js';
export { renderStaticDemo, snapshotUrl } from './static.js';
