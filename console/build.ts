// Builds the browser console into dist/console (or the folder given as the
// first argument): one ES module bundled by esbuild from console/src, with
// the page, the stylesheet and the icon beside it. `npm run build` runs it
// after tsc; tests that need the console call buildConsole().
import * as esbuild from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export const defaultConsoleOutDir = path.join(here, "..", "dist", "console");

const staticFiles = ["index.html", "console.css", "favicon.svg"];

export async function buildConsole(outDir: string = defaultConsoleOutDir): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(here, "src", "main.tsx")],
    outfile: path.join(outDir, "console.js"),
    tsconfig: path.join(here, "src", "tsconfig.json"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: true,
    sourcemap: "linked",
    legalComments: "linked",
    logLevel: "warning",
  });
  await Promise.all(staticFiles.map((name) => copyFile(path.join(here, name), path.join(outDir, name))));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // No top-level await: tests import this module, and mocha loads them as CommonJS.
  buildConsole(process.argv[2] === undefined ? undefined : path.resolve(process.argv[2])).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
