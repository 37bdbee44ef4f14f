// Where this package's own files are (labs/, public/, dist/web, bin/,
// openstack/), whether the server runs from server/ via tsx or from
// dist/server. Node-only, so it lives here and not in common/.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Root of this package: the nearest folder above this module with a package.json. */
export const PACKAGE_ROOT = (() => {
  let d = here;
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  return resolve(here, '..');
})();

/** The OpenStack services' Python package lives in openstack/ of the package. */
export const OPENSTACK_DIR = join(PACKAGE_ROOT, 'openstack');
export const HMLAB_BIN = join(PACKAGE_ROOT, 'bin', 'hmlab.js');
