// The deck as files to open from disk (file://), no server at all: relative
// paths, one classic script (browsers refuse module scripts from file://),
// the recordings inside the bundle. Build with
//   npx vite build -c slides/vite.offline.config.ts
// and open dist/deck/slides/index.html. The lab server's build (vite.config.ts
// at the top) stays the one to present from.
import { defineConfig, type Plugin } from 'vite';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function classicScript(): Plugin {
  return {
    name: 'hmlab-deck-classic-script',
    enforce: 'post',
    transformIndexHtml: {
      order: 'post',
      handler: (html) => html
        .replace(/<script type="module" crossorigin src=/g, '<script defer src=')
        .replace(/<link rel="modulepreload"[^>]*>\s*/g, '')
        .replace(/ crossorigin/g, ''),
    },
  };
}

export default defineConfig({
  root,
  base: './',
  publicDir: false,
  plugins: [classicScript()],
  resolve: {
    alias: [{ find: /^\.\/recordings\.js$/, replacement: resolve(root, 'slides/live/recordings.offline.ts') }],
  },
  build: {
    outDir: resolve(root, 'dist/deck'),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: false,
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: resolve(root, 'slides/index.html'),
      output: { format: 'iife' }, // one file: iife builds do not split code
    },
  },
});
