/**
 * Builds the live dashboard (`dashboard/`) into `dist/dashboard`, served by the `dashboard`
 * function at /api/dashboard/. `base` is that prefix, so asset URLs resolve under it.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export const dashboardBase = '/api/dashboard/';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: dashboardBase,
  // No public/ folder: everything the page needs is imported, hashed and under assets/.
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    assetsInlineLimit: 0,
    rollupOptions: {
      // equipment.html mounts the equipment page on its own until the dashboard routes to it.
      input: {
        index: fileURLToPath(new URL('index.html', import.meta.url)),
        equipment: fileURLToPath(new URL('equipment.html', import.meta.url)),
      },
    },
  },
});
