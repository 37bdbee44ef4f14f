// `hmlab relay --config FILE`: one relay process of a Unix-socket bridge
// (server/isolation/bridge.ts), run by the lab inside a namespace. Not a
// command people type: the lab writes its config and supervises it.
import type { Command } from 'commander';
import { readRelayConfig, runRelay } from '../isolation/index.js';
import { CliError } from './errors.js';

export function registerRelayCommands(program: Command): void {
  program
    .command('relay')
    .description('carry TCP connections over Unix sockets between network namespaces (started by "hmlab up" for multi-region labs)')
    .requiredOption('-c, --config <file>', 'relay configuration (JSON, written by the lab)')
    .action(async (opts: { config: string }) => {
      let relay;
      try {
        relay = await runRelay(readRelayConfig(opts.config));
      } catch (err) {
        throw new CliError(`relay: ${(err as Error).message}`);
      }
      process.stderr.write(`relay: ready (pid ${process.pid})\n`);
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, resolve);
      });
      await relay.close();
      process.exit(0);
    });
}
