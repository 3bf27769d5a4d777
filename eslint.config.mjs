// @ts-check
import eslint from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

// The layers, as the design draws them: imports point down only.
//   functions/ -> src/api/ -> src/pipeline/ -> src/{connections,segments,exports,sources}/
//     -> src/{domain,storage,secrets,providers} (and config, errors, log, schedule, app, hashing)
// Each folder gets one block naming what it may not import; nothing in src/ imports dev/ or test/.
const RESOURCES = ['connections', 'segments', 'exports', 'sources', 'audit', 'privacy'];
const forbid = (folders, message) => ({ regex: `^\\.{1,2}/(.*/)?(${folders.join('|')})(/|$)`, message });
const NOT_DEV = forbid(['dev', 'test', 'functions', 'scripts'], 'What ships (src/) never imports dev/, test/ or functions/.');
const layerBlock = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [...patterns, NOT_DEV] }] },
});
const layers = [
  layerBlock(['src/domain/**/*.ts'], [
    { regex: '^(?!zod$)(?!\\./)', message: 'src/domain/ imports nothing but zod (and itself).' },
  ]),
  ...RESOURCES.map((resource) =>
    layerBlock([`src/${resource}/**/*.ts`], [
      forbid(['api', 'pipeline'], `A resource (src/${resource}/) never imports src/api/ or src/pipeline/: the API composes them.`),
      forbid(RESOURCES.filter((other) => other !== resource), `A resource (src/${resource}/) never imports another resource: the API composes them.`),
    ]),
  ),
  layerBlock(['src/pipeline/**/*.ts'], [forbid(['api'], 'src/pipeline/ never imports src/api/: the API calls the pipeline.')]),
  layerBlock(['src/api/**/*.ts'], []),
  layerBlock(['src/{storage,secrets,providers,app,schedule,hashing}/**/*.ts', 'src/*.ts'], [
    forbid(['api', 'pipeline', ...RESOURCES], 'The bottom layer (storage, secrets, providers, app, config, errors, log) imports no resource, pipeline or API.'),
  ]),
  {
    files: ['dev/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [forbid(['test'], 'dev/ never imports test/: tests import dev/, not the other way.')] }] },
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.mjs', '**/*.cjs', '**/*.mts'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  ...layers,
  {
    // Small functions, one level of abstraction each (what ships; tests may read as long tables).
    files: ['src/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  {
    // The admin web app (src/web/tsconfig.json): browser code, React components.
    files: ['src/web/**/*.{ts,tsx}'],
    ...reactHooks.configs.flat.recommended,
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // Asymmetric matchers (expect.any, expect.stringContaining) are typed `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
