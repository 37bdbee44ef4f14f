// Live terminals in the browser: the terminal widget, and run-in-terminal
// for clickable commands in slides and lab steps.
export { mountTerminal } from './terminal.js';
export type { MountTerminalOptions, TerminalHandle, TerminalState } from './terminal.js';
export { runInTerminal, installRunButtons, RunInTerminalError, DEFAULT_TERMINAL } from './run.js';
export { TERMINAL_NAME_PATTERN, TERMINAL_NAME_HINT } from './protocol.js';
export type { TerminalInfo } from './protocol.js';
