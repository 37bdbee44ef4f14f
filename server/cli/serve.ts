import type { Command } from 'commander';

export function registerServeCommands(program: Command): void {
  void program; // subcommands are added by their concern
}
