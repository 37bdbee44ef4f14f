// One event stream for the whole deck: both demo slides and the measurement
// slide read the same WebSocket when a lab server is there. Without one, each
// demo replays its own recording, looping, and says so.
import { createStream, type CreatedStream } from '../../widgets/api/index.js';
import type { DemoName } from '../deck/demos.js';

// Recordings bundled with the build, so a static copy of dist/web replays
// them too; the lab server also serves them at /recordings/.
const bundled = import.meta.glob('../../public/recordings/*.jsonl', { query: '?url', import: 'default', eager: true }) as Record<string, string>;

function recordingUrl(name: string): string {
  for (const [path, url] of Object.entries(bundled)) if (path.endsWith(`/${name}.jsonl`)) return url;
  return `/recordings/${name}.jsonl`;
}

let live: Promise<CreatedStream> | null = null;
const replays = new Map<string, Promise<CreatedStream>>();

/** ?replay in the deck's URL forces the recordings (rehearsal, or a lab that failed on stage). */
function forcedReplay(): boolean {
  return /[?&]replay\b/.test(window.location.search);
}

export function demoStream(name: DemoName, recording: string): Promise<CreatedStream> {
  if (!forcedReplay()) {
    live ??= createStream({ fallbackReplay: recordingUrl(recording), loop: true });
    return live.then((c) => (c.mode === 'live' ? c : replayFor(name, recording, c.reason)));
  }
  return replayFor(name, recording, 'replay requested in the URL');
}

function replayFor(name: DemoName, recording: string, why: string): Promise<CreatedStream> {
  let r = replays.get(name);
  if (!r) {
    r = createStream({ replay: recordingUrl(recording), loop: true }).then((c) => ({ ...c, reason: `${why.replace(/: replaying recording .*$/, '')}; replaying the recorded run "${recording}"` }));
    replays.set(name, r);
  }
  return r;
}

/** The live stream only (measurements never come from a recording). */
export async function liveStream(): Promise<CreatedStream | null> {
  if (forcedReplay()) return null;
  live ??= createStream({});
  const c = await live;
  return c.mode === 'live' ? c : null;
}
