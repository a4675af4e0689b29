#!/usr/bin/env bash
# Fails when a C file of the project does not match .clang-format.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find plugin elements server-glue tests bench -name '*.[ch]')
[ -n "$files" ] || { echo "no C files?"; exit 1; }
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "$(echo "$files" | wc -w) files formatted"
