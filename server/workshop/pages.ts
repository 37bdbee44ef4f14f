// The few pages the workshop server writes itself (join, waiting, full,
// not joined): plain HTML with no script, so they work before any seat runs.
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function page(title: string, body: string, warnings: string[] = []): string {
  const banner = warnings.map((w) => `<p class="warn">${escapeHtml(w)}</p>`).join('');
  const subtitle = '<p class="sub">Hybrid Messaging Solutions for Large Scale OpenStack Deployments: hands-on workshop</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · hybrid-messaging-lab workshop</title>
<style>
body { font: 18px/1.5 system-ui, sans-serif; max-width: 40em; margin: 3em auto; padding: 0 1em; color: #1d2733; background: #f6f8fa; }
h1 { font-size: 1.6em; margin-bottom: .3em; }
form { display: grid; gap: 1em; margin-top: 1.5em; }
input { font: inherit; padding: .4em .6em; width: 100%; box-sizing: border-box; }
button { font: inherit; padding: .5em 1.2em; background: #0b5fad; color: white; border: 0; border-radius: 4px; cursor: pointer; justify-self: start; }
.warn { background: #fff3cd; border: 1px solid #d9a400; padding: .5em .8em; border-radius: 4px; }
.sub { color: #5b6673; }
</style></head>
<body>${banner}<h1>${escapeHtml(title)}</h1>${subtitle}${body}</body></html>
`;
}
