#!/usr/bin/env bash
# Scaffolds an Nx project (lib or app) with the workspace's conventions:
# project.json (lint, typecheck, test targets), jest.config.js, tsconfig.json, src/index.ts.
# usage: tools/new-project.sh libs/NAME "layer:io" | apps/NAME "type:app"
set -euo pipefail
dir=$1; tag=$2
name=$(basename "$dir")
kind=$(dirname "$dir")
projname=$name; [ "$kind" = apps ] && projname="app-$name"
up=$(echo "$dir" | sed 's#[^/]*#..#g')
mkdir -p "$dir/src"
typetag=type:lib; [ "$kind" = apps ] && typetag=type:app
cat > "$dir/project.json" <<JSON
{
  "name": "$projname",
  "\$schema": "$up/node_modules/nx/schemas/project-schema.json",
  "sourceRoot": "$dir/src",
  "projectType": "$([ "$kind" = apps ] && echo application || echo library)",
  "tags": ["$typetag", "$tag"],
  "targets": {
    "lint": { "executor": "@nx/eslint:lint" },
    "typecheck": { "executor": "nx:run-commands", "options": { "command": "tsc -p $dir/tsconfig.json --noEmit" } },
    "test": { "executor": "nx:run-commands", "options": { "command": "jest -c $dir/jest.config.js" } }
  }
}
JSON
cat > "$dir/jest.config.js" <<JS
module.exports = {
  displayName: '$projname',
  preset: '$up/jest.preset.js',
  rootDir: '.',
};
JS
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "$up/tsconfig.base.json",
  "compilerOptions": { "noEmit": true },
  "include": ["src/**/*.ts", "test/**/*.ts"]
}
JSON
[ -f "$dir/src/index.ts" ] || echo "export {};" > "$dir/src/index.ts"
if [ "$kind" = libs ]; then
  node -e '
    const fs=require("fs"); const t=JSON.parse(fs.readFileSync("tsconfig.base.json","utf8"));
    t.compilerOptions.paths["@tendril/'"$name"'"]=["'"$dir"'/src/index.ts"];
    t.compilerOptions.paths=Object.fromEntries(Object.entries(t.compilerOptions.paths).sort());
    fs.writeFileSync("tsconfig.base.json", JSON.stringify(t,null,2)+"\n");'
fi
