// Live terminals: named shell sessions in the lab home, shared by every
// client that attaches (reload, second tab, speaker view), reachable over
// WebSocket and the run-in-terminal API. Public face of server/terminals.
export { terminalsPlugin } from './plugin.js';
export type { TerminalsPlugin, TerminalsPluginOptions } from './plugin.js';
export { TerminalManager, TooManySessions } from './manager.js';
export type { TerminalManagerOptions } from './manager.js';
export { prepareShell } from './shell.js';
export type { ShellSpec, ShellOptions } from './shell.js';
export type { SessionLimits } from './session.js';
export * from '../../widgets/terminal/protocol.js';
