// Lint keeps two promises: no promise is left floating anywhere, and workflow
// code stays deterministic (Temporal replays it), so it may not reach for I/O,
// Node built-ins, the database or connectors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs', 'fs/promises', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'dgram',
  'dns', 'tls', 'worker_threads', 'cluster', 'process', 'timers', 'stream', 'zlib', 'util',
];

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', '.tools/', 'core/db/generated/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The agent page's script runs in the browser as served: no types, browser globals.
    files: ['api/agent-page/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'script',
      parserOptions: { projectService: false },
      globals: Object.fromEntries(['window', 'document', 'location', 'fetch', 'console'].map((name) => [name, 'readonly'])),
    },
  },
  {
    ignores: ['api/agent-page/**/*.js'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['**/workflows.ts', 'workflows/index.ts', 'workflows/**/shared.ts', 'workflows/clock.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.flatMap((name) => [name, `node:${name}`]).map((name) => ({
          name, message: 'Workflow code is replayed: no Node built-ins, do I/O in an activity.',
        })),
        patterns: [
          { group: ['@prisma/*', 'pg', 'ioredis', 'bottleneck', 'drachtio-srf', '@temporalio/client', '@temporalio/worker'],
            message: 'Workflow code is replayed: reach this through an activity.' },
          { group: ['**/connectors/**', '**/core/db/**', '**/telephony/**', '**/api/**', '**/worker/**', '**/activities.js'],
            allowTypeImports: true,
            message: 'Workflows import activities and adapters as types only (proxyActivities).' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'process', message: 'Workflow code must not read the environment.' },
        { name: 'fetch', message: 'Workflow code is replayed: do I/O in an activity.' },
        { name: 'require', message: 'Use ESM imports.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Use workflow time only where the SDK makes it safe; pass times in as inputs.' },
      ],
    },
  },
  {
    // The dialer's pacer also runs inside the campaign workflow: same determinism rules, and no
    // clock or randomness at all (time and outcomes come in as inputs).
    files: ['telephony/dialer/pacer.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.flatMap((name) => [name, `node:${name}`]),
        patterns: [{ group: ['*', '!./*'], message: 'The pacer is a pure module: no imports.' }],
      }],
      'no-restricted-globals': ['error', 'process', 'fetch', 'require', 'setTimeout', 'setInterval', 'performance'],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Time comes in as an input.' },
        { object: 'Math', property: 'random', message: 'The pacer is deterministic.' },
      ],
    },
  },
);
