import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The output lands where Maven packs classpath resources: ConsoleHandler serves it from
// dev/flint/cloud/console/web/ in the jar. FLINT_CONSOLE_OUT overrides it (build.sh sets it).
const outDir = process.env.FLINT_CONSOLE_OUT
  ?? fileURLToPath(new URL('../../../target/classes/dev/flint/cloud/console/web', import.meta.url));

export default defineConfig({
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    // One module per page load is plenty for a console; no inline assets (the CSP allows 'self' only).
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800,
    sourcemap: false,
  },
});
