// The lab runs qdrouterd whenever one is on PATH, the embedded router
// otherwise. Lab tests run once per router: the embedded variant hides
// qdrouterd from PATH while its tests run; the qdrouterd variant runs only
// where one is installed, and says so where it is not.
import { after, before } from 'node:test';
import { delimiter, join } from 'node:path';
import { accessSync, constants } from 'node:fs';
import { embeddedRouterAvailable, findOnPath } from '../../server/backends/index.js';

export type LabRouter = 'embedded' | 'qdrouterd';

export interface RouterChoice {
  router: LabRouter;
  /** Why this variant is skipped here, or false. */
  skip: string | false;
}

const installed = findOnPath('qdrouterd');

/** Both routers: the embedded one always, qdrouterd where it is installed. */
export function routerChoices(): RouterChoice[] {
  return [
    { router: 'embedded', skip: embeddedRouterAvailable() ? false : 'the embedded router is not built here (npm run build)' },
    {
      router: 'qdrouterd',
      skip: installed ? false : 'qdrouterd is not installed here (Debian 12 has no package): the lab is checked with the embedded router only',
    },
  ];
}

/** One of the two, with its skip reason. */
export function routerChoice(router: LabRouter): RouterChoice {
  return routerChoices().find((c) => c.router === router)!;
}

function hasQdrouterd(dir: string): boolean {
  try { accessSync(join(dir, 'qdrouterd'), constants.X_OK); return true; } catch { return false; }
}

/** Call inside a describe(): while its tests run, the lab finds the chosen router. */
export function useLabRouter(router: LabRouter): void {
  let saved: string | undefined;
  before(() => {
    saved = process.env.PATH;
    if (router === 'embedded') process.env.PATH = (saved ?? '').split(delimiter).filter((d) => !d || !hasQdrouterd(d)).join(delimiter);
  });
  after(() => { process.env.PATH = saved; });
}
