// Where a lab lives: one folder with etc/, logs/, events/, run/, data/ and
// state.json. Other concerns read these paths through LabPaths.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabPaths } from './types.js';

export function defaultHome(): string {
  const env = process.env.HMLAB_HOME;
  return resolve(env && env.trim() ? env : join(homedir(), '.hmlab', 'lab'));
}

export function labPaths(home: string): LabPaths {
  const h = resolve(home);
  return {
    home: h,
    etc: join(h, 'etc'),
    openstackConf: join(h, 'etc', 'openstack.conf'),
    logs: join(h, 'logs'),
    events: join(h, 'events'),
    run: join(h, 'run'),
    state: join(h, 'state.json'),
  };
}

/** Root of this package, from server/backends (tsx) or dist/server/backends. */
export const PACKAGE_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../..');
})();

/** The OpenStack services' Python package lives in openstack/ of the package. */
export const OPENSTACK_DIR = join(PACKAGE_ROOT, 'openstack');
export const HMLAB_BIN = join(PACKAGE_ROOT, 'bin', 'hmlab.js');
