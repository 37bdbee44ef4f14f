// One event stream for the whole deck: both demo slides and the measurement
// slide read the same WebSocket when a lab server is there. Without one, each
// demo replays its own recording, looping, and says so.
import { createStream, type CreatedStream } from '../../widgets/api/index.js';
import type { DemoName } from '../deck/demos.js';
import { recordingUrl } from './recordings.js';

let live: Promise<CreatedStream> | null = null;
const replays = new Map<string, Promise<CreatedStream>>();

/** ?replay in the deck's URL forces the recordings (rehearsal, or a lab that failed on stage). */
function forcedReplay(): boolean {
  return /[?&]replay\b/.test(window.location.search) || opened();
}

/** A deck opened from disk has no lab server to ask. */
function opened(): boolean {
  return window.location.protocol === 'file:';
}

/**
 * Ask once whether a lab server is there. The client's probe hands back a
 * replay when it is not; each demo opens its own replay, so that one is
 * closed at once (and a live stream is never left retrying against nothing).
 */
function probe(): Promise<CreatedStream> {
  live ??= createStream({ fallbackReplay: recordingUrl('dual-backends') }).then((c) => {
    if (c.mode !== 'live') c.stream.close();
    return c;
  });
  return live;
}

export function demoStream(name: DemoName, recording: string): Promise<CreatedStream> {
  if (!forcedReplay()) {
    // Both demo slides share the live stream: a widget mounted later catches up from it.
    return probe().then((c) => (c.mode === 'live' ? c : replayFor(name, recording, c.reason)));
  }
  return replayFor(name, recording, opened() ? 'opened from disk, no lab server' : 'replay requested in the URL');
}

function replayFor(name: DemoName, recording: string, why: string): Promise<CreatedStream> {
  let r = replays.get(name);
  if (!r) {
    const reason = `${why.replace(/: replaying recording .*$/, '')}; replaying the recorded run "${recording}"`;
    r = createStream({ replay: recordingUrl(recording), loop: true }).then((c) => ({ ...c, reason }));
    replays.set(name, r);
  }
  return r;
}

/** The live stream only (measurements never come from a recording). */
export async function liveStream(): Promise<CreatedStream | null> {
  if (forcedReplay()) return null;
  const c = await probe();
  return c.mode === 'live' ? c : null;
}
