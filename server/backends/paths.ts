// Where a lab lives: one folder with etc/, logs/, events/, run/, data/ and
// state.json. Other concerns read these paths through LabPaths.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
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
