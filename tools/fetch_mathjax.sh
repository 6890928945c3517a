#!/usr/bin/env bash
# Fetch a local copy of MathJax 3 so that the built book typesets math offline.
#
# The default Sphinx page loads MathJax from a CDN and shows raw TeX when there is
# no network. Instead, `_config.yml` sets `mathjax_path: mathjax/tex-chtml.js` and
# `html_static_path: [vendor]`, so Sphinx copies vendor/mathjax/ to
# _build/html/_static/mathjax/ and every page loads it from there.
#
# We keep only what the book uses: the combined component tex-chtml.js (TeX input,
# CommonHTML output), the CHTML woff fonts, and the TeX extensions that tex-chtml.js
# autoloads on demand (\boldsymbol, for one). The folder is git-ignored.
#
# Usage: tools/fetch_mathjax.sh [DEST]   (default DEST: vendor/mathjax)
set -euo pipefail

VERSION=3.2.2
# sha512 of mathjax-3.2.2.tgz as published on the npm registry
SHA512=06df9249553c7811b6ef30a155ec0e89c62ced7b1db78d2a9b8f94a47c97ee4d3f3bd36588f73ec7bee4d7f144b0fb2328f64626fb5164cd6f3be81e5b43a11b

DEST=${1:-vendor/mathjax}

command -v npm >/dev/null || { echo "fetch_mathjax: npm is required (to run 'npm pack mathjax@$VERSION')" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "mathjax@$VERSION" >/dev/null)
tarball="$tmp/mathjax-$VERSION.tgz"
echo "$SHA512  $tarball" | sha512sum --check --quiet -

tar -xzf "$tarball" -C "$tmp" \
    package/LICENSE \
    package/es5/tex-chtml.js \
    package/es5/output/chtml/fonts/woff-v2 \
    package/es5/input/tex/extensions

staged="$tmp/mathjax"
mkdir -p "$staged"
cp "$tmp/package/LICENSE" "$staged/LICENSE"
cp "$tmp/package/es5/tex-chtml.js" "$staged/tex-chtml.js"
mkdir -p "$staged/output/chtml/fonts" "$staged/input/tex"
cp -r "$tmp/package/es5/output/chtml/fonts/woff-v2" "$staged/output/chtml/fonts/woff-v2"
cp -r "$tmp/package/es5/input/tex/extensions" "$staged/input/tex/extensions"
echo "MathJax $VERSION (npm package 'mathjax'), trimmed by tools/fetch_mathjax.sh" > "$staged/VERSION"

# Replace DEST only once everything is in place, so a failed fetch leaves no half copy.
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$staged" "$DEST"
echo "fetch_mathjax: MathJax $VERSION in $DEST ($(du -sh "$DEST" | cut -f1))"
