// The lab file format: Markdown with front matter (gray-matter, validated by
// zod) and fenced action blocks (markdown-it). Every error names the file and
// the line, so a broken lab fails the build where the author can fix it.
import matter from 'gray-matter';
import MarkdownIt, { type Token } from 'markdown-it';
import { z } from 'zod';
import { topologySchema } from '../../common/rules.js';

type Md = ReturnType<typeof MarkdownIt>;

/** One problem in a lab file, located for the author. */
export class LabFileError extends Error {
  constructor(readonly file: string, readonly line: number, readonly problem: string) {
    super(`${file}:${line}: ${problem}`);
  }
}

export const FrontMatterSchema = z.object({
  title: z.string().min(3, 'title is required: a short sentence naming the lab'),
  minutes: z.number().int().min(1).max(240),
  topology: topologySchema(),
  // up: reset brings the environment up; down: the learner starts it (lab 1 teaches `hmlab up`)
  start: z.enum(['up', 'down']).default('up'),
  summary: z.string().min(10, 'summary is required: one or two sentences for the lab list'),
  // After the topology is up: settings of etc/openstack.conf to change (then the
  // services restart) and components to stop, so a lab can start half-way.
  setup: z.object({
    edit: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/, 'section names: letters, digits, _ . -'),
      z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'keys: letters, digits, _ . -'), z.union([z.string(), z.number(), z.boolean()]).transform(String)),
    ).optional(),
    stop: z.array(z.string().regex(/^[a-z0-9-]{1,32}$/, 'component names like router-a, telemetry')).optional(),
  }).strict().optional(),
}).strict();
export type FrontMatter = z.infer<typeof FrontMatterSchema>;

/** Names an edit block may use as ${name}: filled from the learner's port plan. */
export const PLACEHOLDERS = ['broker', 'broker-management', 'router-a', 'router-b', 'router-c'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
/** Run blocks may also name the learner's port block, so every seat starts its own lab. */
export const RUN_PLACEHOLDERS = ['base-port', ...PLACEHOLDERS] as const;

/** Fences shown as plain code: anything else in an info string is a typo to report. */
const DISPLAY_LANGUAGES = new Set(['', 'ini', 'sh', 'console', 'text', 'json', 'yaml', 'conf', 'python']);

export interface IniSetting { section: string; key: string; value: string; line: number }

export type LabAction =
  | { kind: 'run'; index: number; step: number; line: number; terminal: string; command: string }
  | { kind: 'edit'; index: number; step: number; line: number; file: string; settings: IniSetting[] }
  | { kind: 'check'; index: number; step: number; line: number; id: string; description: string };

export interface LabStep {
  index: number;
  title: string;
  html: string;
  actions: LabAction[];
}

export interface LabFile {
  id: string; // folder name, e.g. 01-one-broker
  file: string; // for messages
  meta: FrontMatter;
  introHtml: string; // text before the first step
  steps: LabStep[];
  actions: LabAction[]; // all actions in order; edits and checks are addressed by their index in their kind
}

const INFO_ATTR = /([a-z]+)=("([^"]*)"|[^\s"]+)/g;
const TERMINAL_NAME = /^[a-z0-9-]{1,32}$/;
const EDIT_FILE = /^etc\/[a-z0-9._-]+\.conf$/;

function parseInfo(info: string): { kind: string; attrs: Record<string, string>; rest: string } {
  const trimmed = info.trim();
  const sp = trimmed.search(/\s/);
  const kind = sp < 0 ? trimmed : trimmed.slice(0, sp);
  const restText = sp < 0 ? '' : trimmed.slice(sp + 1);
  const attrs: Record<string, string> = {};
  const rest = restText.replace(INFO_ATTR, (_m, k: string, _v: string, q: string | undefined, _o: number) => {
    attrs[k] = q ?? _v;
    return '';
  }).trim();
  return { kind, attrs, rest };
}

/** Parse the body of an edit block: section headers and key = value lines. */
export function parseIniSettings(body: string, firstLine: number, file: string): IniSetting[] {
  const out: IniSetting[] = [];
  let section: string | null = null;
  body.split('\n').forEach((raw, i) => {
    const line = firstLine + i;
    const text = raw.trim();
    if (!text || text.startsWith('#') || text.startsWith(';')) return;
    const sec = /^\[([A-Za-z0-9_.-]+)\]$/.exec(text);
    if (sec) { section = sec[1]; return; }
    const kv = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(text);
    if (!kv) throw new LabFileError(file, line, `edit block: "${text}" is neither a [section] header nor "key = value"`);
    if (!section) throw new LabFileError(file, line, `edit block: "${kv[1]}" comes before any [section] header; put e.g. [DEFAULT] above it`);
    const value = kv[2].trim();
    for (const m of value.matchAll(/\$\{([^}]*)\}/g)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(m[1])) {
        throw new LabFileError(file, line, `edit block: unknown placeholder \${${m[1]}}; use one of ${PLACEHOLDERS.map((p) => '${' + p + '}').join(', ')}`);
      }
    }
    out.push({ section, key: kv[1], value, line });
  });
  if (!out.length) throw new LabFileError(file, firstLine, 'edit block sets nothing: add a [section] and key = value lines');
  return out;
}

function yamlLine(err: unknown): number | null {
  const m = (err as { mark?: { line?: number } }).mark;
  return m && typeof m.line === 'number' ? m.line : null;
}

export interface ParseOptions {
  /** Check ids that exist; an unknown id is an error. */
  checkIds?: ReadonlySet<string>;
}

let mdInstance: Md | null = null;
function markdown(): Md {
  if (mdInstance) return mdInstance;
  // No raw HTML in lab text: the page puts rendered labs into the DOM as they are.
  const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
  const escape = md.utils.escapeHtml;
  md.renderer.rules.fence = (tokens, idx, _opts, envIn) => {
    const env = envIn as { actions?: Map<Token, LabAction> };
    const tok = tokens[idx];
    const action = env.actions?.get(tok);
    if (!action) {
      const lang = parseInfo(tok.info).kind;
      return `<pre class="code"${lang ? ` data-lang="${escape(lang)}"` : ''}><code>${escape(tok.content)}</code></pre>\n`;
    }
    const data = `data-kind="${action.kind}" data-index="${action.index}"`;
    if (action.kind === 'run') {
      return `<div class="action run" ${data} data-terminal="${escape(action.terminal)}">` +
        `<pre class="code"><code>${escape(action.command)}</code></pre>` +
        `<div class="buttons"><button type="button" class="do-run" title="Type this command into the ${escape(action.terminal)} terminal and run it">Run in `
          + `terminal</button></div></div>\n`;
    }
    if (action.kind === 'edit') {
      return `<div class="action edit" ${data} data-file="${escape(action.file)}">` +
        `<div class="label">Edit <code>${escape(action.file)}</code></div>` +
        `<pre class="code"><code>${escape(tok.content)}</code></pre>` +
        `<div class="diff" hidden></div>` +
        `<div class="buttons"><button type="button" class="do-preview">Show the change</button>` +
        `<button type="button" class="do-apply">Apply edit</button></div></div>\n`;
    }
    return `<div class="action check" ${data} data-check="${escape(action.id)}">` +
      `<div class="label">Check</div><p>${escape(action.description)}</p>` +
      `<div class="buttons"><button type="button" class="do-check">Check</button></div>` +
      `<div class="result" role="status" aria-live="polite"></div></div>\n`;
  };
  mdInstance = md;
  return md;
}

/** Parse and validate one lab file. Throws LabFileError with file:line. */
export function parseLab(id: string, file: string, source: string, opts: ParseOptions = {}): LabFile {
  let parsed: matter.GrayMatterFile<string>;
  try {
    // gray-matter caches by content; pass a fresh options object to avoid stale results across edits
    parsed = matter(source, {});
  } catch (err) {
    const l = yamlLine(err);
    throw new LabFileError(file, l === null ? 1 : l + 1, `front matter is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!source.startsWith('---')) throw new LabFileError(file, 1, 'front matter is missing: start the file with --- and title, minutes, topology, summary');
  const fmLines = parsed.matter.split('\n');
  const fm = FrontMatterSchema.safeParse(parsed.data);
  if (!fm.success) {
    const issue = fm.error.issues[0];
    const key = String(issue.path[0] ?? '');
    const at = key ? fmLines.findIndex((l) => l.startsWith(key + ':')) : -1;
    // the matter string starts with the newline that ends the opening "---", so index i is file line i + 1
    const line = at >= 0 ? at + 1 : 1;
    const what = issue.code === 'unrecognized_keys'
      ? `front matter: unknown field(s) ${(issue as { keys?: string[] }).keys?.join(', ')}; allowed: title, minutes, topology, start, summary, setup`
      : `front matter field "${key || '?'}": ${issue.message}`;
    throw new LabFileError(file, line, what);
  }
  for (const [section, keys] of Object.entries(fm.data.setup?.edit ?? {})) {
    for (const [key, value] of Object.entries(keys)) {
      for (const m of value.matchAll(/\$\{([^}]*)\}/g)) {
        if (!(PLACEHOLDERS as readonly string[]).includes(m[1])) {
          const at = fmLines.findIndex((l) => l.trim().startsWith(key + ':'));
          throw new LabFileError(file, at >= 0 ? at + 1 : 1, `front matter setup.edit.${section}.${key}: unknown placeholder \${${m[1]}}; use one of `
            + `${PLACEHOLDERS.map((p) => '${' + p + '}').join(', ')}`);
        }
      }
    }
  }
  if (fm.data.setup && fm.data.start === 'down') throw new LabFileError(file, 1, 'front matter: setup needs start: up (it changes a running lab)');
  // Lines of the body are counted from the first line after the front matter.
  const bodyOffset = source.endsWith(parsed.content) ? source.slice(0, source.length - parsed.content.length).split('\n').length - 1 : 0;

  const md = markdown();
  const tokens = md.parse(parsed.content, {});
  const actions: LabAction[] = [];
  const byToken = new Map<Token, LabAction>();
  const counters = { run: 0, edit: 0, check: 0 };
  const stepStarts: { at: number; title: string }[] = [];
  const seenChecks = new Set<string>();

  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    const line = (tok.map?.[0] ?? 0) + bodyOffset + 1;
    if (tok.type === 'heading_open' && tok.tag === 'h2') {
      stepStarts.push({ at: i, title: tokens[i + 1]?.content ?? '' });
      continue;
    }
    if (tok.type === 'html_block' || tok.type === 'html_inline') throw new LabFileError(file, line, 'raw HTML is not allowed in lab files; use Markdown');
    if (tok.type !== 'fence') continue;
    const { kind, attrs, rest } = parseInfo(tok.info);
    const step = stepStarts.length - 1;
    const needStep = () => { if (step < 0) throw new LabFileError(file, line, `${kind} block before the first step: put a "## Step title" heading above it`); };
    const noExtra = (allowed: string[]) => {
      for (const k of Object.keys(attrs)) if (!allowed.includes(k)) throw new LabFileError(file, line, `${kind} block: unknown attribute "${k}"; allowed: `
        + `${allowed.join(', ')}`);
      if (rest) throw new LabFileError(file, line, `${kind} block: cannot read "${rest}" in the info string; write attributes as key=value`);
    };
    if (kind === 'run') {
      needStep(); noExtra(['terminal']);
      const terminal = attrs.terminal ?? 'main';
      if (!TERMINAL_NAME.test(terminal)) throw new LabFileError(file, line, `run block: terminal="${terminal}" is not a terminal name (a-z, 0-9, -; up to 32)`);
      const command = tok.content.replace(/\n+$/, '');
      if (!command.trim()) throw new LabFileError(file, line, 'run block is empty: write the command to run');
      for (const m of command.matchAll(/\$\{([^}]*)\}/g)) {
        if (!(RUN_PLACEHOLDERS as readonly string[]).includes(m[1])) {
          throw new LabFileError(file, line, `run block: unknown placeholder \${${m[1]}}; use one of `
            + `${RUN_PLACEHOLDERS.map((p) => '${' + p + '}').join(', ')} (or $NAME for a shell variable)`);
        }
      }
      const a: LabAction = { kind: 'run', index: counters.run++, step, line, terminal, command };
      actions.push(a); byToken.set(tok, a);
    } else if (kind === 'edit') {
      needStep(); noExtra(['file']);
      const f = attrs.file;
      if (!f) throw new LabFileError(file, line, 'edit block needs file=etc/NAME.conf (the file of the lab home to change)');
      if (!EDIT_FILE.test(f)) throw new LabFileError(file, line, `edit block: file="${f}" must be a .conf file under etc/, e.g. file=etc/openstack.conf`);
      const settings = parseIniSettings(tok.content, line + 1, file);
      const a: LabAction = { kind: 'edit', index: counters.edit++, step, line, file: f, settings };
      actions.push(a); byToken.set(tok, a);
    } else if (kind === 'check') {
      needStep(); noExtra(['id']);
      const cid = attrs.id;
      if (!cid) throw new LabFileError(file, line, 'check block needs id=CHECK (one of the checks in server/labs/checks)');
      if (opts.checkIds && !opts.checkIds.has(cid)) {
        throw new LabFileError(file, line, `check block: unknown check id "${cid}"; known: ${[...opts.checkIds].sort().join(', ')}`);
      }
      if (seenChecks.has(cid)) throw new LabFileError(file, line, `check block: id "${cid}" is used twice in this lab; each check appears once`);
      seenChecks.add(cid);
      const description = tok.content.trim().replace(/\s+/g, ' ');
      if (!description) throw new LabFileError(file, line, 'check block is empty: say in a sentence what the check verifies');
      const a: LabAction = { kind: 'check', index: counters.check++, step, line, id: cid, description };
      actions.push(a); byToken.set(tok, a);
    } else if (!DISPLAY_LANGUAGES.has(kind)) {
      throw new LabFileError(file, line, `unknown block type "${kind}": use run, edit or check, or a code language `
        + `(${[...DISPLAY_LANGUAGES].filter(Boolean).join(', ')})`);
    }
  }
  if (!stepStarts.length) throw new LabFileError(file, bodyOffset + 1, 'a lab needs at least one step: a "## Step title" heading');
  if (!counters.check) throw new LabFileError(file, bodyOffset + 1, 'a lab needs at least one check block, so the learner knows the steps worked');

  const env = { actions: byToken };
  const render = (from: number, to: number) => md.renderer.render(tokens.slice(from, to), md.options, env);
  const steps: LabStep[] = stepStarts.map((s, i) => {
    const end = i + 1 < stepStarts.length ? stepStarts[i + 1].at : tokens.length;
    return { index: i, title: s.title, html: render(s.at, end), actions: actions.filter((a) => a.step === i) };
  });
  return { id, file, meta: fm.data, introHtml: render(0, stepStarts[0].at), steps, actions };
}
