#!/usr/bin/env bash
# Install the Debian packages the book uses, each only when it is missing, and never one that
# would replace what is already there.
#
#   usage: bash book/system_deps.sh          (what `make system` runs)
#
#   fonts-noto-cjk  Chinese glyphs in the figures notebooks draw (and in the browser check)
#   chromium        only the browser check of the built site (`make browser`) needs it
#   npm             fetches MathJax and the widget scripts at build time (book/fetch_assets.sh);
#                   Node.js builds from nodejs.org bundle their own npm and conflict with
#                   Debian's, so Debian's npm is installed only where no npm exists at all
#
# Each package is installed on its own: one that apt cannot install does not take the others
# down. A failure is reported with the package's name, apt's reason and what it costs, and the
# script still exits 0, so that `make book` goes on: the site builds without chromium or the
# fonts; `make browser` fails with its own clear message if chromium is missing then.
set -uo pipefail

have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
# (not `fc-list | grep -q`: with pipefail, grep's early exit can fail the pipeline on SIGPIPE)
have_fonts() { [ -n "$(fc-list : family 2>/dev/null | grep 'Noto Sans CJK')" ]; }
have_npm() { command -v npm >/dev/null 2>&1; }

missing=()
have_fonts || missing+=(fonts-noto-cjk)
have_chromium || missing+=(chromium)
have_npm || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "system_deps.sh: missing Debian packages: ${missing[*]}"
  echo "  not root, so nothing was installed; run:  sudo apt-get install -y ${missing[*]}"
  echo "  (chromium is only for the browser check; the site builds without it)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system_deps.sh: missing ${missing[*]}, and this system has no apt-get: install them with"
  echo "  your package manager (the site builds without chromium; npm is needed for its assets)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! apt-get update -qq >"$log" 2>&1; then
  echo "system_deps.sh: apt-get update failed (no package mirror reachable?):"
  tail -n 3 "$log" | sed 's/^/  /'
fi

failed=()
for pkg in "${missing[@]}"; do
  start=$SECONDS
  if apt-get install -y -qq "$pkg" >"$log" 2>&1; then
    echo "system_deps.sh: installed $pkg ($((SECONDS - start)) s)"
    if [ "$pkg" = fonts-noto-cjk ]; then
      # matplotlib caches the font list; a stale cache would not see the new fonts
      rm -f "$HOME"/.cache/matplotlib/fontlist-*.json
    fi
  else
    failed+=("$pkg")
    echo "system_deps.sh: apt-get could not install $pkg; apt said:"
    grep -E '^(E:|W:| [a-z0-9.+-]+ :)' "$log" | head -n 6 | sed 's/^/  /'
  fi
done

for pkg in "${failed[@]}"; do
  case "$pkg" in
    chromium) echo "  without chromium the site still builds; only 'make browser' cannot run" ;;
    fonts-noto-cjk) echo "  without fonts-noto-cjk the site still builds; figures drawn now show boxes for Chinese" ;;
    npm) echo "  without npm the offline MathJax and widget scripts cannot be fetched: install Node.js with npm" ;;
  esac
done
exit 0
