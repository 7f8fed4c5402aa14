import { defineConfig } from 'vite';

// Preact's JSX runtime through esbuild; no framework plugin is needed.
// `npm run dev` proxies the API to a local `tenantatlas serve`.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', assetsDir: 'assets', emptyOutDir: true, chunkSizeWarningLimit: 300 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
