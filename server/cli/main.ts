// hmlab: one command for the whole lab. Each concern registers its own
// subcommands; this entry only assembles them and turns errors into a clear
// message and a non-zero exit, never a stack trace.
import { Command, CommanderError } from 'commander';
import { registerLabCommands } from './lab.js';
import { registerRouterCommands } from './router.js';
import { registerServeCommands } from './serve.js';
import { registerRelayCommands } from './relay.js';
import { registerWanCommands } from './wan.js';
import { registerWorkshopCommands } from './workshop.js';
import { CliError } from './errors.js';
import { VERSION } from '../version.js';

const program = new Command('hmlab')
  .description('hybrid-messaging-lab: oslo.messaging RPC over a router mesh, notifications over RabbitMQ')
  .version(VERSION)
  .showHelpAfterError('(run "hmlab --help" for the commands)')
  .exitOverride();

registerLabCommands(program);
registerRouterCommands(program);
registerServeCommands(program);
registerRelayCommands(program);
registerWanCommands(program);
registerWorkshopCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode);
  }
  if (err instanceof CliError) {
    process.stderr.write(`hmlab: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`hmlab: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}
