#!/usr/bin/env bash
# Rebuilds quire's pages from web/ui's sources and fails if the result
# differs from the committed bundle in web/ui/dist (which go:embed serves).
# Fix a failure with: (cd web/ui && npm ci && npm run build) and commit dist.
set -euo pipefail
cd "$(dirname "$0")/../web/ui"
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.package-lock.json.src 2>/dev/null; then
	npm ci --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.package-lock.json.src
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx --no-install vite build --outDir "$out/dist" --emptyOutDir --logLevel warn
if ! diff -r "$out/dist" dist >"$out/diff" 2>&1; then
	echo "ui-check: web/ui/dist is not what web/ui/src builds:" >&2
	head -n 40 "$out/diff" >&2
	echo "ui-check: run (cd web/ui && npm ci && npm run build) and commit web/ui/dist" >&2
	exit 1
fi
echo "ui-check: web/ui/dist matches its sources ($(find dist -type f | wc -l) files, $(du -sk dist | cut -f1) KiB)"
