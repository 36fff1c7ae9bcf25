// Lint rules that guard what the type checker cannot: above all, that workflow code stays
// deterministic by importing only the workflow SDK and pure modules.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.data/**', '.test-data/**', 'bench-results/**', '.scratch/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: it may import only @temporalio/workflow (and @temporalio/common), other workflow files and
    // the pure domain modules in lib/domain. Types from activities are fine (erased at build time).
    files: ['workflows/**/*.ts', 'lib/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/(workflow|common)$|\\./[\\w-]+$|\\.\\./lib/domain/[\\w-]+$)',
              allowTypeImports: true,
              message: 'Workflow code may import only @temporalio/workflow, @temporalio/common and pure modules (workflows/, lib/domain/).',
            },
          ],
        },
      ],
      // Node globals do not exist in the workflow sandbox (Date, Math.random and timers are made deterministic by the SDK).
      'no-restricted-globals': ['error', 'fetch', 'process', 'Buffer', 'require'],
    },
  },
);
