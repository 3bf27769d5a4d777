import { defineConfig } from 'vite';

// The admin web app: built by `npm run build` into dist/web, which the `web` function serves at `/`.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  // Every file the page loads is under /assets (content-hashed), the one folder App Service
  // Authentication lets through besides the page itself.
  publicDir: false,
  logLevel: 'warn',
  // Always React's production build and JSX, whatever NODE_ENV the build runs under (vitest sets 'test').
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  oxc: { jsx: { runtime: 'automatic', development: false } },
  build: {
    outDir: '../../dist/web',
    assetsInlineLimit: 0,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // The page's content security policy allows scripts of its own origin only: no inline polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 700,
  },
});
