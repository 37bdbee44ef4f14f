// Vite builds every browser page of the project into dist/web, which the lab
// server serves. Pages are discovered, so a concern adds its page by adding
// the HTML file; nothing here needs editing.
import { defineConfig } from 'vite';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const pages = [
  'index.html',
  'slides/index.html',
  'labs/index.html',
  'widgets/pages/flow.html',
  'widgets/pages/terminal.html',
  'widgets/pages/workshop-host.html',
].filter((p) => existsSync(resolve(import.meta.dirname, p)));

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  publicDir: false, // public/ is served by the lab server as it is
  build: {
    outDir: 'dist/web',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: Object.fromEntries(pages.map((p) => [p.replace(/\/index\.html$|\.html$/, '').replace(/\//g, '-') || 'index', resolve(import.meta.dirname, p)])),
    },
  },
});
