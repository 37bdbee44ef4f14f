import type { Command } from 'commander';

export function registerLabCommands(program: Command): void {
  void program; // subcommands are added by their concern
}
