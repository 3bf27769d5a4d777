import { defineConfig } from 'vite';

// The admin web app: built by `npm run build` into dist/web, which the `web` function serves at `/`.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  publicDir: 'public',
  logLevel: 'warn',
  build: {
    outDir: '../../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // The page's content security policy allows scripts of its own origin only: no inline polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 700,
  },
});
