// `hmlab router` (an embedded router in the foreground, like qdrouterd -c)
// and `hmlab qdstat` (qdstat's tables over AMQP management).
import type { Command } from 'commander';
import { z } from 'zod';
import { endpointOf } from '../../common/endpoint.js';
import { CliError } from './errors.js';
import { ConfigError, qdstat, runRouter, type QdstatView } from '../router/index.js';

const busSchema = z.string().regex(/^(amqp:\/\/)?[^:/\s]+:\d{1,5}\/?$/, 'give HOST:PORT, e.g. 127.0.0.1:15810');

export function registerRouterCommands(program: Command): void {
  program
    .command('router')
    .description('run one embedded AMQP 1.0 router in the foreground, configured by a qdrouterd.conf file')
    .requiredOption('-c, --config <file>', 'qdrouterd.conf-style configuration file')
    .action(async (opts: { config: string }) => {
      try {
        await runRouter(opts.config);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(`router: ${err.message}`);
        throw err;
      }
    });

  program
    .command('qdstat')
    .description("print qdstat's tables for a router (embedded or qdrouterd) over AMQP management")
    .option('-b, --bus <host:port>', 'router to query', '127.0.0.1:5672')
    .option('-g, --general', 'router statistics')
    .option('-c, --connections', 'connections')
    .option('-l, --links', 'links')
    .option('-a, --address', 'addresses')
    .option('-n, --nodes', 'routers in the mesh')
    .option('-t, --timeout <seconds>', 'management timeout in seconds', '5')
    .action(async (opts: { bus: string; general?: boolean; connections?: boolean; links?: boolean; address?: boolean; nodes?: boolean; timeout: string }) => {
      const bus = busSchema.safeParse(opts.bus);
      if (!bus.success) throw new CliError(`qdstat: --bus "${opts.bus}" is invalid: ${bus.error.issues[0].message}`);
      const where = endpointOf(bus.data);
      if (!where) throw new CliError(`qdstat: --bus "${opts.bus}" names a port out of range (1-65535)`);
      const { host, port } = where;
      const timeout = z.coerce.number().positive().max(600).safeParse(opts.timeout);
      if (!timeout.success) throw new CliError('qdstat: --timeout must be a number of seconds between 0 and 600');
      const views: QdstatView[] = [];
      if (opts.general) views.push('general');
      if (opts.connections) views.push('connections');
      if (opts.links) views.push('links');
      if (opts.address) views.push('addresses');
      if (opts.nodes) views.push('nodes');
      if (views.length === 0) throw new CliError('qdstat: choose a table: -g (general), -c (connections), -l (links), -a (addresses) or -n (nodes)');
      try {
        for (const [i, v] of views.entries()) {
          process.stdout.write(await qdstat(host, port, v, { timeoutMs: timeout.data * 1000, header: i === 0 }) + (views.length > 1 ? '\n' : ''));
        }
      } catch (err) {
        throw new CliError(`qdstat: ${(err as Error).message}`);
      }
    });
}
