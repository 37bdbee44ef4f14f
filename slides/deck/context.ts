// Where this copy of the deck runs. The speaker view loads the deck again in
// iframes (reveal's notes plugin adds ?receiver); print export adds
// ?print-pdf. Only the presenter's own window may open live sessions, so a
// second copy never starts a second terminal or event stream.
export type DeckMode = 'present' | 'receiver' | 'print';

export function deckMode(loc: Pick<Location, 'search'> = window.location): DeckMode {
  const q = loc.search;
  if (/[?&]print-pdf\b/i.test(q)) return 'print';
  if (/[?&]receiver\b/i.test(q)) return 'receiver';
  // A deck opened inside the speaker window by other means is a copy too.
  try {
    if (window.self !== window.top) return 'receiver';
  } catch {
    return 'receiver';
  }
  return 'present';
}

/**
 * The slide height reveal.js lays out: 720 (16:9 at 1280 wide), except in
 * the speaker view's copies, whose current-slide pane is taller than 16:9:
 * there the slide takes the pane's shape, so its title sits at the top of
 * the pane instead of letterboxed halfway down.
 */
export function deckHeight(mode: DeckMode, view: { innerWidth: number; innerHeight: number } = window): number {
  if (mode !== 'receiver' || !view.innerWidth || !view.innerHeight) return 720;
  return Math.max(720, Math.min(2000, Math.round((1280 * view.innerHeight) / view.innerWidth)));
}
