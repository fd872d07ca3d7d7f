// ESLint flat config: typescript-eslint's type-checked recommended rules for the TypeScript
// sources, ESLint's recommended rules for the few plain JavaScript files.
//
// typescript-eslint needs TypeScript's JavaScript compiler API, which TypeScript 7 (the native
// compiler) does not ship. So the package named "typescript" is the TypeScript 6 API package
// (@typescript/typescript6, whose binary is tsc6), and TypeScript 7 is installed as
// "@typescript/native" and owns the `tsc` binary that builds and type-checks.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  globalIgnores(["gen/", "dist/"]),
  {
    files: ["**/*.{js,mjs,cjs}"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ["src/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "console/build.ts"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // The browser console (console/src/tsconfig.json: DOM, Preact's JSX).
    files: ["console/src/**/*.{ts,tsx}"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
);
