// The shell a lab terminal runs: bash in the lab home, a prompt that names
// the lab, and the lab's tools first on PATH (hmlab, qdstat, rabbitmqctl)
// as small wrapper scripts in <home>/bin that point at this lab's router and
// broker. The wrappers read <home>/state.json each time they run, so they
// follow the lab as it goes up, down or fails over.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';

export interface ShellSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

export interface ShellOptions {
  /** Shown in the prompt: [hmlab:<labName>]. Default: the lab home's folder name. */
  labName?: string;
  /** Run this instead of the lab's bash (argv). The environment and cwd stay the lab's. */
  shell?: string[];
}

/** Single-quote for sh: the only character to escape is the quote itself. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// Reads state.json for the wrappers. Written by the lab environment; its
// exact shape is not ours, so look for what we need in the places it may be
// and print nothing rather than fail when it is not there. .cjs so it runs
// as CommonJS whatever package.json sits above the lab home.
const STATE_HELPER = `'use strict';
// Prints what this lab's tool wrappers need from state.json, as shell
// assignments. Prints nothing when the lab (or that part of it) is not up.
const fs = require('fs');
const path = require('path');
const what = process.argv[2];
let s = null;
try { s = JSON.parse(fs.readFileSync(path.join(process.env.HMLAB_HOME || '.', 'state.json'), 'utf8')); } catch (e) { s = null; }
const q = (v) => "'" + String(v).replace(/'/g, "'\\\\''") + "'";
const obj = (v) => v !== null && typeof v === 'object';
function hostPort(url) {
  const m = /^(?:amqps?:\\/\\/)?(?:[^@/]*@)?([^/:]+|\\[[^\\]]+\\]):(\\d+)/.exec(String(url || ''));
  return m ? m[1] + ':' + m[2] : null;
}
function components() {
  return Array.isArray(s.components) ? s.components : obj(s.components) ? Object.values(s.components) : [];
}
function routerAddress() {
  if (!obj(s)) return null;
  // A running router first (router-a before router-b), then any planned one.
  const rs = components().filter((c) => obj(c) && (c.kind === 'router' || /^router/.test(String(c.name || ''))));
  rs.sort((a, b) => (a.state === 'running' ? 0 : 1) - (b.state === 'running' ? 0 : 1) || String(a.name).localeCompare(String(b.name)));
  for (const r of rs) { const hp = hostPort(r.endpoint); if (hp) return hp; }
  const routers = obj(s.ports) && obj(s.ports.routers) ? s.ports.routers : null;
  if (routers) {
    for (const name of Object.keys(routers).sort()) {
      const p = obj(routers[name]) ? routers[name].normal : null;
      if (Number.isInteger(p)) return '127.0.0.1:' + p;
    }
  }
  return null;
}
function brokerEnv() {
  if (!obj(s)) return null;
  const env = {};
  let node = typeof s.nodeName === 'string' && s.nodeName.includes('@') ? s.nodeName : null;
  let home = null;
  // Other places a node name, its HOME or RABBITMQ_* settings may be kept.
  const walk = (o, depth, brokerish) => {
    if (!obj(o) || depth > 5) return;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string') {
        if (/^RABBITMQ_[A-Z_]+$/.test(k)) env[k] = v;
        else if (/^node_?name$/i.test(k) && v.includes('@')) node = node || v;
        else if (brokerish && /^home$/i.test(k)) home = home || v;
      } else if (obj(v)) {
        walk(v, depth + 1, brokerish || /broker|rabbit/i.test(k) || v.kind === 'broker');
      }
    }
  };
  walk(s, 0, false);
  if (!env.RABBITMQ_NODENAME && node) env.RABBITMQ_NODENAME = node;
  if (!env.RABBITMQ_NODENAME) return null;
  // The node's HOME holds its Erlang cookie; the lab keeps it in data/broker.
  const dataHome = path.join(process.env.HMLAB_HOME || '.', 'data', 'broker');
  if (!home && fs.existsSync(dataHome)) home = dataHome;
  if (home) env.HOME = home;
  return env;
}
if (what === 'router-address') {
  const a = routerAddress();
  if (a) process.stdout.write(a + '\\n');
} else if (what === 'broker-namespace') {
  // multi-region: the broker runs in region 1's network namespace.
  const b = obj(s) ? components().find((c) => obj(c) && c.name === 'broker') : null;
  if (b && typeof b.namespace === 'string' && /^hmlab-[a-z0-9-]+$/.test(b.namespace)) process.stdout.write(b.namespace + '\\n');
} else if (what === 'broker-env') {
  const env = brokerEnv();
  if (env) for (const [k, v] of Object.entries(env)) process.stdout.write('export ' + k + '=' + q(v) + '\\n');
}
`;

/** Writes <home>/bin (the tools) and the shell's rc file; returns how to start the shell. */
export function prepareShell(home: string, opts: ShellOptions = {}): ShellSpec {
  const bin = join(home, 'bin');
  const own = join(home, 'server', 'terminal');
  mkdirSync(bin, { recursive: true });
  mkdirSync(own, { recursive: true });
  const labName = (opts.labName ?? basename(home)).replace(/[^A-Za-z0-9._-]/g, '-') || 'lab';
  const node = process.execPath;
  const helper = join(own, 'lab-state.cjs');
  const hmlabJs = join(PACKAGE_ROOT, 'bin', 'hmlab.js');

  const script = (name: string, body: string) => {
    const f = join(bin, name);
    writeFileSync(f, body, { mode: 0o755 });
    chmodSync(f, 0o755);
  };
  // Every wrapper defaults HMLAB_HOME to this lab, and finds the real tools
  // on PATH without finding itself again. The home is a plain single-quoted
  // assignment: inside "\${VAR:=...}" quotes would stay literal and $(...)
  // would run, whatever the home's name holds.
  const prelude = `#!/bin/sh
if [ -z "\${HMLAB_HOME:-}" ]; then HMLAB_HOME=${q(home)}; fi; export HMLAB_HOME
others=$(printf '%s' "$PATH" | tr ':' '\\n' | grep -vxF ${q(bin)} | paste -sd: -)
`;

  writeFileSync(helper, STATE_HELPER);
  script('hmlab', `${prelude}# hmlab for this lab: HMLAB_HOME makes this lab the default home.
exec ${q(node)} ${q(hmlabJs)} "$@"
`);
  script('qdstat', `${prelude}# qdstat for this lab: the real qdstat when the qdrouterd tools are
# installed, "hmlab qdstat" otherwise; both talk to this lab's first router
# unless -b/--bus says otherwise.
addr=""
has_bus=no
for a in "$@"; do case "$a" in -b|-b*|--bus|--bus=*) has_bus=yes;; esac; done
if [ "$has_bus" = no ]; then addr=$(${q(node)} ${q(helper)} router-address); fi
real=$(PATH="$others" command -v qdstat 2>/dev/null || true)
if [ -n "$real" ]; then
  if [ -n "$addr" ]; then exec "$real" -b "$addr" "$@"; fi
  exec "$real" "$@"
fi
if [ -n "$addr" ]; then exec ${q(join(bin, 'hmlab'))} qdstat -b "$addr" "$@"; fi
exec ${q(join(bin, 'hmlab'))} qdstat "$@"
`);
  script('rabbitmqctl', `${prelude}# rabbitmqctl for this lab's broker: the node name and HOME (hence the
# Erlang cookie) of the node the lab started, from state.json.
envs=$(${q(node)} ${q(helper)} broker-env)
if [ -z "$envs" ]; then
  echo "rabbitmqctl: this lab's broker is not up (no broker node in $HMLAB_HOME/state.json); start the lab first, e.g. \\"hmlab up --topology hybrid\\"" >&2
  exit 69
fi
eval "$envs"
# multi-region: the node, its epmd and its ports live in region 1's namespace.
ns=$(${q(node)} ${q(helper)} broker-namespace)
run() { if [ -n "$ns" ]; then exec ip netns exec "$ns" "$@"; else exec "$@"; fi; }
if [ -x /usr/lib/rabbitmq/bin/rabbitmqctl ]; then run /usr/lib/rabbitmq/bin/rabbitmqctl "$@"; fi
real=$(PATH="$others" command -v rabbitmqctl 2>/dev/null || true)
if [ -n "$real" ]; then run "$real" "$@"; fi
echo "rabbitmqctl: RabbitMQ is not installed (Debian: apt-get install rabbitmq-server)" >&2
exit 127
`);

  const rc = join(own, 'bashrc');
  writeFileSync(rc, `# The lab terminal's shell. Written by the lab server on each start.
export HMLAB_HOME=${q(home)}
case ":$PATH:" in *:${q(bin)}:*) ;; *) export PATH=${q(bin)}:"$PATH" ;; esac
export EDITOR=nano VISUAL=nano
HISTFILE=${q(join(own, 'history'))}
HISTCONTROL=ignoreboth
PROMPT_DIRTRIM=3
PS1='[hmlab:${labName}] \\w $ '
alias ls='ls --color=auto'
alias grep='grep --color=auto'
`);

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // npm's variables describe how the server was started, not the lab.
    if (v === undefined || k.startsWith('npm_') || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  Object.assign(env, {
    HMLAB_HOME: home,
    PATH: `${bin}:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
    TERM: 'xterm-256color',
    COLORTERM: 'truecolor',
    EDITOR: 'nano',
    VISUAL: 'nano',
    LANG: process.env.LANG && process.env.LANG !== 'C' ? process.env.LANG : 'C.UTF-8',
  });
  const [file, ...args] = opts.shell && opts.shell.length ? opts.shell : ['bash', '--rcfile', rc, '-i'];
  return { file: file!, args, cwd: home, env };
}
