import viteFastify from '@fastify/vite/plugin';
import { defineConfig } from 'vite';

// The client (islands) and the SSR bundle (pages) are both built from client/; the server
// (src/) is plain TypeScript that Node runs directly and reads dist/vite.config.json.
export default defineConfig({
  root: 'client',
  plugins: [viteFastify()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: '../dist', emptyOutDir: true, assetsInlineLimit: 0 },
  logLevel: 'warn',
});
