// The offline deck (opened from disk, file://) cannot fetch files, so its
// build carries the recordings inside the bundle and hands the replay a
// blob: URL. The "#NAME.jsonl" tail only names the recording for display.
const inline = import.meta.glob('../../public/recordings/*.jsonl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const urls = new Map<string, string>();

export function recordingUrl(name: string): string {
  let url = urls.get(name);
  if (!url) {
    const text = Object.entries(inline).find(([path]) => path.endsWith(`/${name}.jsonl`))?.[1];
    url = text === undefined ? `../recordings/${name}.jsonl` : `${URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }))}#${name}.jsonl`;
    urls.set(name, url);
  }
  return url;
}
