// Where the recordings of the demos are fetched from. Recordings present at
// build time are bundled, so a static copy of dist/web replays them too; the
// lab server also serves them at /recordings/.
const bundled = import.meta.glob('../../public/recordings/*.jsonl', { query: '?url', import: 'default', eager: true }) as Record<string, string>;

export function recordingUrl(name: string): string {
  for (const [path, url] of Object.entries(bundled)) if (path.endsWith(`/${name}.jsonl`)) return url;
  return `/recordings/${name}.jsonl`;
}
