// `hmlab router -c FILE`: one router process in the foreground, like
// `qdrouterd -c`. SIGTERM closes connections cleanly and exits 0.
import { readFileSync } from 'node:fs';
import { ConfigError, parseConfig } from './config.js';
import { RouterLog } from './log.js';
import { Router } from './router.js';

export async function runRouter(configFile: string): Promise<void> {
  let text: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(`cannot read config file ${configFile}: ${why}`);
  }
  const config = parseConfig(text, configFile);
  const log = new RouterLog();
  log.configure(config.logs);
  if (process.env.HMLAB_ROUTER_DEBUG) log.configure([{ module: 'DEFAULT', enable: 'debug+', includeTimestamp: true, line: 0 }]);
  for (const w of config.warnings) log.warning('CONFIG', w);
  const router = new Router(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.notice('SERVER', `${signal} received, shutting down`);
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    router.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A reader that went away (closed pipe) must not stop the router either.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  // A bug handling one connection must not take the whole router down.
  process.on('uncaughtException', (err) => log.error('SERVER', `Unexpected error (router keeps running): ${err.stack ?? err.message}`));
  try {
    await router.start();
  } catch (err) {
    await router.stop().catch(() => undefined);
    throw new ConfigError((err as Error).message);
  }
}
