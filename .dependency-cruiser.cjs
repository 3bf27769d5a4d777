// Dependency checks run by `npm test` (`npm run deps`): no import cycle anywhere in what ships
// (functions/ and src/), and nothing that ships reaches dev-only code. The layer rules themselves
// are ESLint's `no-restricted-imports` blocks (eslint.config.mjs).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle means two modules own each other: one of them is in the wrong layer.',
      from: { path: '^(functions|src)/' },
      to: { circular: true },
    },
    {
      name: 'ships-without-dev-code',
      severity: 'error',
      comment: 'What ships (functions/, src/) never imports dev/, test/ or scripts/.',
      from: { path: '^(functions|src)/' },
      to: { path: '^(dev|test|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
