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
