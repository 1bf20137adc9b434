import nx from '@nx/eslint-plugin';

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', '**/generated/**', 'tmp/**'] },
  {
    files: ['**/*.ts', '**/*.js'],
    rules: {
      // Dependencies point one way: apps → io (servers, sources, proxy) → core (pure translators) → api (types).
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          allow: [],
          depConstraints: [
            { sourceTag: 'layer:api', onlyDependOnLibsWithTags: ['layer:api'] },
            { sourceTag: 'layer:core', onlyDependOnLibsWithTags: ['layer:api', 'layer:core'] },
            { sourceTag: 'layer:io', onlyDependOnLibsWithTags: ['layer:api', 'layer:core', 'layer:io'] },
            { sourceTag: 'layer:testing', onlyDependOnLibsWithTags: ['layer:api', 'layer:core', 'layer:io', 'layer:testing'] },
            { sourceTag: 'type:lib', notDependOnLibsWithTags: ['type:app'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
          ],
        },
      ],
    },
  },
  {
    // Tests may use the test-only helpers in libs/testing (echo backends, harnesses).
    files: ['**/test/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['layer:api', 'layer:core', 'layer:io', 'layer:testing'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests assert on what they just built; a non-null assertion there reads better than a guard.
    files: ['**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
