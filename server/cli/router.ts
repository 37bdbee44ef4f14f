import type { Command } from 'commander';

export function registerRouterCommands(program: Command): void {
  void program; // subcommands are added by their concern
}
